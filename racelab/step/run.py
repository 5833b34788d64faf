"""Run a spec against one or more targets, each permutation `repeat` times; format it.

Compute (run_matrix), format (table_lines, matrix_lines, as_json, matrix_html: the page's
data, gathered before its template renders it) and write (the CLI) are apart.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from racelab.compare.external import ExternalTarget
from racelab.step.external import run_external
from racelab.step.runner import Outcome, Run, Target, run_many
from racelab.step.spec import Permutation, Spec, step_name


@dataclass
class Cell:
    """One permutation on one target: its runs, and whether they all agreed."""

    target: Target
    permutation: Permutation
    runs: list[Outcome] = field(default_factory=list)

    @property
    def flaky(self) -> bool:
        """Say whether the runs disagreed on the verdict or the anomaly classes."""
        return len({run.key() for run in self.runs}) > 1

    @property
    def verdict(self) -> str:
        """Return held, failed, or flaky."""
        return "flaky" if self.flaky else self.runs[0].verdict

    def label(self) -> str:
        """Return the matrix cell: held, the anomaly classes, or flaky; (blocked) if a step
        had to wait."""
        if self.flaky:
            return "flaky"
        first = self.runs[0]
        text = ", ".join(k for k, v in first.anomalies.items() if v) or first.verdict
        blocked = any(s.outcome in ("blocked", "waiting") for s in first.steps)
        return text + (" (blocked)" if blocked else "")


def run_matrix(spec: Spec, targets: list[Target], repeat: int, block_wait: float,
               progress: Callable[[str], None] | None = None,
               files: bool = False) -> list[list[Cell]]:  # fmt: skip
    """Return cells[permutation][target], each permutation run `repeat` times (one server
    per target, its store reseeded before each run); files: an external target's file
    operations are points too."""
    progress = progress or (lambda text: None)
    rows = [[Cell(target, p) for target in targets] for p in spec.permutations]
    runs = [(spec, p) for p in spec.permutations for _ in range(repeat)]
    for column, target in enumerate(targets):
        outcomes = _run_on(target, runs, block_wait, files)
        for number, row in enumerate(rows):
            cell = row[column]
            cell.runs = outcomes[number * repeat : (number + 1) * repeat]
            progress(f"permutation {number + 1}/{len(rows)} on {target.name}: {cell.label()}")
    return rows


def _run_on(target: Target, runs: list[Run], block_wait: float, files: bool) -> list[Outcome]:
    """Run (spec, permutation) pairs on one target; a user's server cannot be reseeded, so
    it gets a server of its own per permutation."""
    if isinstance(target, ExternalTarget):
        return run_external(target, runs, block_wait, files)
    return run_many(target, runs, block_wait)


def steps_text(outcome: Outcome) -> str:
    """Return the steps as isolationtester prints them: a blocked step `<waiting ...>`, and
    `<... completed>` after the step that freed it."""
    words = []
    for log in outcome.steps:
        if log.outcome == "ran":
            words.append(log.step)
        elif log.outcome == "waiting":
            words.append(f"{log.step} <waiting ...>")
        elif log.outcome == "blocked":
            words.append(f"{log.step} <waiting ...>")
        else:
            words.append(f"({log.step} {log.outcome})")
        for other in outcome.steps:
            if other.outcome == "blocked" and other.completed_after == log.step:
                words.append(f"{other.step} <... completed>")
    return " ".join(words)


def events_lines(outcome: Outcome) -> list[str]:
    """Return an interposed server's statements and file operations, one a line:
    `A.select  SELECT ...`; one no session could be named for says so."""
    lines = []
    for event in outcome.events:
        text = " ".join(event["text"].split())[:200]
        if "unattributed" in event:
            running = " and ".join(event["unattributed"])
            text += f"  (unattributed: {running} were running)"
        lines.append(f"{event['step']:<10} {text}")
    return lines


def table_lines(spec: Spec, rows: list[list[Cell]], column: int = 0) -> list[str]:
    """Return one target's permutations, a block each: steps, answers, verdict."""
    target = rows[0][column].target if rows else None
    lines = [f"{spec.name} on {target.name if target else '?'}", ""]
    for number, row in enumerate(rows, 1):
        cell = row[column]
        first = cell.runs[0]
        lines.append(f"{number:>2}. {steps_text(first)}")
        lines += [f"    {line}" for line in events_lines(first)]
        lines.append("    answers: " + "; ".join(f"{a.session}: {a.text()}" for a in first.answers))
        anomalies = ", ".join(f"{k} {v}" for k, v in first.anomalies.items() if v)
        verdict = cell.verdict.upper() if cell.verdict != "held" else "held"
        runs = f" ({len(cell.runs)} runs)" if len(cell.runs) > 1 else ""
        lines.append(f"    verdict: {verdict}{runs}" + (f": {anomalies}" if anomalies else ""))
        if cell.flaky:
            outcomes = sorted({str(run.key()) for run in cell.runs})
            lines.append(f"    flaky: the runs disagreed: {'; '.join(outcomes)}")
    return lines


def matrix_lines(rows: list[list[Cell]]) -> list[str]:
    """Return the Hermitage-style matrix: permutations down, targets across."""
    if not rows:
        return []
    names = [cell.target.name for cell in rows[0]]
    labels = [[cell.label() for cell in row] for row in rows]
    width = max(12, *(len(n) for n in names), *(len(x) for row in labels for x in row))
    steps = [" ".join(step_name(s) for s in row[0].permutation) for row in rows]
    first = max(len("permutation"), *(len(s) for s in steps)) + 5
    lines = ["permutation".ljust(first) + "".join(n.rjust(width + 2) for n in names)]
    for number, (text, row) in enumerate(zip(steps, labels, strict=True), 1):
        lines.append(f"{number:>2}. {text}".ljust(first) + "".join(x.rjust(width + 2) for x in row))
    return lines


def as_json(spec: Spec, rows: list[list[Cell]]) -> dict:
    """Return the matrix as a JSON-ready document."""
    return {
        "spec": spec.name,
        "path": spec.path,
        "targets": [cell.target.name for cell in rows[0]] if rows else [],
        "permutations": [
            {
                "steps": [step_name(s) for s in row[0].permutation],
                "cells": [
                    {
                        "target": cell.target.name,
                        "verdict": cell.verdict,
                        "label": cell.label(),
                        "runs": [
                            {
                                "verdict": run.verdict,
                                "anomalies": {k: v for k, v in run.anomalies.items() if v},
                                "steps": [vars(s) for s in run.steps],
                                "answers": [f"{a.session}: {a.text()}" for a in run.answers],
                                "events": run.events,
                                "workers": {k: sorted(v) for k, v in run.workers_used.items()},
                            }
                            for run in cell.runs
                        ],
                    }
                    for cell in row
                ],
            }
            for row in rows
        ],
    }


def matrix_html(spec: Spec, rows: list[list[Cell]]) -> str:
    """Return the matrix as one self-contained HTML page (racelab/templates/step_matrix.html):
    the matrix, then each target's permutations step by step."""
    from racelab.pages import render  # jinja2 is loaded for --html alone

    columns = range(len(rows[0]) if rows else 0)
    return render(
        "step_matrix.html",
        spec={"name": spec.name, "path": spec.path},
        rows=[_page_row(row) for row in rows],
        targets=[_page_target(rows, n) for n in columns],
    )


def _page_row(row: list[Cell]) -> dict:
    """Return one permutation's steps and each target's verdict on it."""
    steps = " ".join(step_name(s) for s in row[0].permutation)
    return {"steps": steps, "cells": [{"verdict": c.verdict, "label": c.label()} for c in row]}


def _page_target(rows: list[list[Cell]], column: int) -> dict:
    """Return one target's column: its name, why, and each permutation's first run."""
    target = rows[0][column].target
    return {"name": target.name, "why": target.why,
            "runs": [_page_run(row[column]) for row in rows]}  # fmt: skip


def _page_run(cell: Cell) -> dict:
    """Return a cell's first run: its steps, answers, verdict and anomaly classes."""
    first = cell.runs[0]
    return {
        "steps": steps_text(first),
        "answers": "; ".join(f"{a.session}: {a.text()}" for a in first.answers),
        "over": f" over {len(cell.runs)} runs" if len(cell.runs) > 1 else "",
        "verdict": cell.verdict,
        "anomalies": ", ".join(f"{k} {v}" for k, v in first.anomalies.items() if v),
    }


def exit_status(rows: list[list[Cell]]) -> int:
    """Return 0 if every permutation held everywhere, 1 otherwise."""
    return 0 if all(cell.verdict == "held" for row in rows for cell in row) else 1
