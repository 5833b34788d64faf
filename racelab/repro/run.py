"""Write a reproduction for each anomaly example, then replay each with `racelab step`.

Compute (build), write (write_all) and replay are apart; progress goes through a callback.
"""

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from racelab.compare.external import ExternalTarget
from racelab.compare.process import TargetFailed
from racelab.compare.targets import TargetSpec
from racelab.repro.pick import Writes, is_retry, pick
from racelab.repro.spec_text import file_stem, spec_text
from racelab.step.spec import StepSpecError
from servers.registry import find_strategy
from shapes.reports import (
    CheckReport,
    CompareEntry,
    CompareReport,
    ReproNote,
    Verdict,
    read_shape,
)

if TYPE_CHECKING:
    from racelab.step.runner import StepServer

PER_CLASS = 2  # examples reproduced per anomaly class
REPEAT = 5


@dataclass
class Repro:
    """One example's reproduction: its spec (or why there is none) and how replays went."""

    anomaly: str
    stem: str
    kind: str  # "race", "retry" (one token sent twice), or "none" (nothing to step)
    text: str  # the spec, or the reason there is none
    path: Path | None = None
    reproduced: int = 0
    runs: int = 0
    permutation: int = 0  # the race permutation (1-based, in the spec) replayed
    fault_note: str = ""  # when no replay reproduced it and the run was killed on purpose
    error: str = ""  # why it could not be replayed at all (its spec is still written)

    def summary(self) -> str:
        """Say in one line what was written and whether it reproduced."""
        if self.kind == "none":
            return f"{self.anomaly}: no reproduction: {self.text}"
        if self.error:
            return f"{self.path}: could not be replayed: {self.error}"
        if not self.reproduced:
            line = (f"{self.path}: did not reproduce {self.anomaly} in any of its "
                    f"{self.runs} race permutations")  # fmt: skip
        else:
            verdict = "reproduced" if self.reproduced == self.runs else "reproduced only"
            line = (f"{self.path}: {verdict} {self.anomaly} {self.reproduced}/{self.runs} "
                    f"(permutation {self.permutation})")  # fmt: skip
        return line + (f"; {self.fault_note}" if self.fault_note else "")


def build(report: CheckReport, writes: Writes, target: TargetSpec, origin: str,
          points: tuple[str, ...] | None = None) -> list[Repro]:  # fmt: skip
    """Return a reproduction for each of the first examples of every anomaly class, stepped
    at points (a racelab target's own when None; a server of yours has those it reached)."""
    points = points or find_strategy(target.backend, target.strategy).pause_points
    repros, stems = [], set[str]()
    for anomaly, examples in report.examples.items():
        for example in examples[:PER_CLASS]:
            chosen = pick(anomaly, example, writes)
            stem = _unique(file_stem(anomaly, example, chosen), stems)
            if len(chosen) < 2:
                repros.append(Repro(anomaly, stem, "none", _why_none(writes)))
                continue
            kind = "retry" if is_retry(chosen) else "race"
            text = spec_text(anomaly, example, chosen, writes, points, origin)
            repros.append(Repro(anomaly, stem, kind, text))
    return repros


def _why_none(writes: Writes) -> str:
    if writes.faults:
        return (
            "no write overlapped it; the run was killed on purpose, and a crash explains it "
            "(rerun the same compare with --faults kill and its --seed)"
        )
    return "no other write overlapped it in the history, so there is no interleaving to step"


def _unique(stem: str, taken: set) -> str:
    name, n = stem, 2
    while name in taken:
        name, n = f"{stem}-{n}", n + 1
    taken.add(name)
    return name


def write_all(repros: list[Repro], out_dir: Path) -> None:
    """Write each spec as OUT_DIR/STEM.toml."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for repro in repros:
        if repro.kind != "none":
            repro.path = out_dir / f"{repro.stem}.toml"
            repro.path.write_text(repro.text, encoding="utf-8")


def replay(repros: list[Repro], target: TargetSpec | ExternalTarget, repeat: int = REPEAT,
           faults=False, progress=None) -> None:  # fmt: skip
    """Replay each written spec on target, and say how it went through progress."""
    progress = progress or (lambda text: None)
    with _permutation_runner(target) as run:
        for repro in repros:
            if repro.path is None:
                continue
            try:
                _replay_one(repro, run, repeat)
            except (TargetFailed, StepSpecError, OSError) as e:
                # One reproduction that cannot run must not cost the run its report.
                repro.error = str(e) or type(e).__name__
            if not repro.reproduced and faults:
                repro.fault_note = ("no interleaving reproduced it, and the run was killed "
                                    "on purpose: a crash explains it")  # fmt: skip
            progress(repro.summary())


def _replay_one(repro: Repro, run: Callable, repeat: int) -> None:
    """Try each race permutation once; run the first that shows the anomaly `repeat` times."""
    from racelab.step.spec import load_spec

    spec = load_spec(repro.path)

    def shows(index: int) -> bool:
        outcome = run(spec, spec.permutations[index])
        return bool(outcome.anomalies.get(repro.anomaly))

    races = range(1, len(spec.permutations))
    found = next((i for i in races if shows(i)), None)
    if found is None:  # stepping is deterministic: one try of each race says it all
        repro.runs = len(races)
        return
    repro.permutation, repro.runs = found + 1, repeat
    repro.reproduced = 1 + sum(shows(found) for _ in range(repeat - 1))


@contextlib.contextmanager
def _permutation_runner(target: TargetSpec | ExternalTarget) -> Iterator[Callable]:
    """Yield run(spec, permutation). A racelab target's server serves every permutation,
    its store reseeded before each (racelab step's engine), and is started again only
    after an error or a session left unfinished; a server of yours is started afresh from
    its command each time (racelab step --external's engine)."""
    if isinstance(target, ExternalTarget):
        from racelab.step.external import run_external

        yield lambda spec, permutation: run_external(target, [(spec, permutation)])[0]
        return
    from racelab.step.runner import stepped_server

    with contextlib.ExitStack() as stack:
        servers: list[StepServer] = []  # the one running now, if any

        def run(spec, permutation):
            if not servers:
                servers.append(stack.enter_context(stepped_server(target)))
            try:
                outcome = servers[0].run(spec, permutation)
            except BaseException:
                servers.clear()
                stack.close()
                raise
            if servers[0].spoiled:
                servers.clear()
                stack.close()
            return outcome

        yield run


def compare_entry(store: Path) -> CompareEntry | None:
    """Return the compare report's entry for the target whose store this is, if any."""
    data_dir = store if store.is_dir() else store.parent
    try:
        report = read_shape(data_dir.parent.parent / "report.json", CompareReport)
    except (OSError, ValueError):  # msgspec.ValidationError is a ValueError
        return None
    return next((t for t in report.targets if t.dir == data_dir.parent.name), None)


def reproduce_failed(report: CompareReport, out_dir: Path, progress=None) -> None:
    """Reproduce every failed target of a compare report; note each spec in its entry."""
    from history import open_history
    from racelab.compare.targets import parse_spec
    from racelab.repro.pick import read_writes

    progress = progress or (lambda text: None)
    for entry in report.targets:
        if entry.verdict is not Verdict.FAILED:
            continue
        if entry.backend == "external":  # no pause points racelab can hold it at
            progress(
                f"{entry.target}: not reproduced; step needs a built-in target's pause "
                "points (run its history's requests by hand: racelab check --explain)"
            )
            continue
        target_dir = out_dir / entry.dir
        target = parse_spec(f"{entry.target}@{entry.workers}")
        check = read_shape(target_dir / "check.json", CheckReport)
        with open_history(target_dir / "history.jsonl", lenient=True) as history:
            writes = read_writes(history)
        writes.faults = bool(entry.faults)
        repros = build(check, writes, target, f"{entry.dir}/history.jsonl ({target.name})")
        write_all(repros, target_dir / "repro")
        replay(repros, target, REPEAT, writes.faults, progress)
        entry.repro = [_noted(r, entry.dir) for r in repros]


def _noted(repro: Repro, target_dir: str) -> ReproNote:
    """Return what the report keeps of a reproduction: its file (relative) and its replays."""
    path = f"{target_dir}/repro/{repro.path.name}" if repro.path else None
    return ReproNote(anomaly=repro.anomaly, file=path, reproduced=repro.reproduced,
                     runs=repro.runs, summary=repro.summary())  # fmt: skip
