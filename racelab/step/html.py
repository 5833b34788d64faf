"""The step matrix as one self-contained HTML page: permutations down, targets across."""

import html

from racelab.report.html import STYLE
from racelab.step.run import Cell, steps_text
from racelab.step.spec import Spec, step_name

EXTRA_STYLE = """
td.cell{text-align:center}.flaky{color:#6a1b9a;font-weight:700}
td.steps{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:nowrap}
"""


def matrix_html(spec: Spec, rows: list[list[Cell]]) -> str:
    """Return the page: the matrix, then each target's permutations step by step."""
    targets = [cell.target.name for cell in rows[0]] if rows else []
    parts = [
        f"<h1>{html.escape(spec.name)}</h1>",
        f"<p class='sub'><code>{html.escape(spec.path)}</code>: {len(rows)} permutation(s) on "
        f"{len(targets)} target(s); each cell is the checker's verdict on that permutation's "
        "store and history, <em>(blocked)</em> when a lock made a step wait.</p>",
        _matrix(rows, targets),
        *(_target_section(rows, column) for column in range(len(targets))),
    ]
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(spec.name)}: racelab step</title>"
        f"<style>{STYLE}{EXTRA_STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )


def _matrix(rows: list[list[Cell]], targets: list[str]) -> str:
    head = "<th>permutation</th>" + "".join(f"<th>{html.escape(t)}</th>" for t in targets)
    body = []
    for number, row in enumerate(rows, 1):
        steps = " ".join(step_name(s) for s in row[0].permutation)
        cells = "".join(
            f"<td class='cell {cell.verdict}'>{html.escape(cell.label())}</td>" for cell in row
        )
        body.append(f"<tr><td class='steps'>{number}. {html.escape(steps)}</td>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _target_section(rows: list[list[Cell]], column: int) -> str:
    target = rows[0][column].target
    items = []
    for row in rows:
        cell = row[column]
        first = cell.runs[0]
        answers = "; ".join(f"{a.session}: {a.text()}" for a in first.answers)
        anomalies = ", ".join(f"{k} {v}" for k, v in first.anomalies.items() if v)
        runs = f" over {len(cell.runs)} runs" if len(cell.runs) > 1 else ""
        items.append(
            f"<li><code>{html.escape(steps_text(first))}</code><br>answers: "
            f"{html.escape(answers)}<br>verdict{runs}: <span class='{cell.verdict}'>"
            f"{html.escape(cell.verdict)}</span> {html.escape(anomalies)}</li>"
        )
    return (
        f"<div class='card'><h2>{html.escape(target.name)}</h2>"
        f"<p class='why'>{html.escape(target.why)}</p><ol>{''.join(items)}</ol></div>"
    )
