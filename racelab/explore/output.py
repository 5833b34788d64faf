"""What explore found, as spec files, lines to print and a JSON document.

Format (spec_text, summary_lines, as_json) and write (write_specs) are apart.
"""

from pathlib import Path

import tomlkit

from racelab.explore.engine import Exploration, Tried
from racelab.repro.spec_text import inline_table, one_line_array
from racelab.step.run import steps_text
from racelab.step.spec import Spec


def anomaly_names(tried: Tried) -> list[str]:
    """Return the anomaly classes the checker found in one schedule."""
    return [name for name, count in tried.outcome.anomalies.items() if count]


def spec_text(spec: Spec, tried: Tried, target: str, replay: str) -> str:
    """Return a spec file that replays one schedule with `racelab step FILE REPLAY`."""
    doc = tomlkit.document()
    found = ", ".join(anomaly_names(tried)) or "failed"
    for line in (f"Found by racelab explore on {target}: {found}.",
                 f"Replay it: racelab step THIS_FILE {replay}"):  # fmt: skip
        doc.add(tomlkit.comment(" ".join(line.split())))  # one line, whatever it quotes
    doc.add("name", " ".join(tried.steps()))
    doc.add("setup", inline_table(_setup(spec)))
    doc.add(tomlkit.nl())
    doc.add("permutations", one_line_array([one_line_array(tried.steps())]))
    sessions = tomlkit.aot()
    for session in spec.sessions:
        table = tomlkit.table()
        table.add("name", session.name)
        table.add("requests", one_line_array([inline_table(r) for r in session.requests]))
        sessions.append(table)
    doc.add("session", sessions)
    return tomlkit.dumps(doc)


def _setup(spec: Spec) -> dict:
    setup: dict = {"skus": spec.skus, "stock": spec.stock}
    if spec.orders:
        setup["orders"] = [{k: v for k, v in o.items() if k != "op"} for o in spec.orders]
    if spec.workload == "oncall":
        setup |= {"shifts": spec.shifts, "doctors": spec.doctors}
    return setup


def write_specs(spec: Spec, found: Exploration, out_dir: Path, replay: str) -> list[Path]:
    """Write each failing schedule as OUT_DIR/failing-NN.toml (replayed by `racelab step
    FILE REPLAY`); return the paths in order."""
    paths = []
    for number, tried in enumerate(found.failing(), 1):
        out_dir.mkdir(parents=True, exist_ok=True)
        path = out_dir / f"failing-{number:02d}.toml"
        path.write_text(spec_text(spec, tried, found.target, replay), encoding="utf-8")
        paths.append(path)
    return paths


def summary_lines(found: Exploration, paths: list[Path]) -> list[str]:
    """Return the points learned, the failing schedules shortest first, and the tally."""
    lines = [f"explore on {found.target}"]
    lines += [
        f"  {name} alone: {' '.join(p) or 'no pause point'}" for name, p in found.points.items()
    ]
    failing = found.failing()
    if failing:
        lines.append("failing schedules, fewest switches between sessions first:")
    for number, (tried, path) in enumerate(zip(failing, paths, strict=True), 1):
        answers = "; ".join(f"{a.session}: {a.text()}" for a in tried.outcome.answers)
        anomalies = ", ".join(f"{k} {v}" for k, v in tried.outcome.anomalies.items() if v)
        lines += [f"{number:>3}. {steps_text(tried.outcome)}", f"     answers: {answers}",
                  f"     anomalies: {anomalies}", f"     spec: {path}"]  # fmt: skip
    for tried in found.inconclusive():
        why = tried.outcome.verdict if tried.outcome.finished else "a session had no answer"
        lines.append(f"  inconclusive ({why}): {' '.join(tried.steps())}")
    return lines + [tally(found)]


def tally(found: Exploration) -> str:
    """Say how many schedules ran of how many, and how many failed."""
    ran = len(found.tried)
    if found.sampled:
        which = (f"{ran} of {found.total} interleavings (a sample favouring few "
                 f"preemptions, seed {found.seed})")  # fmt: skip
    else:
        which = f"all {ran} of {found.total} interleavings"
    failed = len(found.failing())
    if failed:
        return f"{failed} failed, of {which}"
    if found.inconclusive():
        return f"none failed, {len(found.inconclusive())} inconclusive, of {which}"
    return f"every one held: {which}"


def as_json(found: Exploration, paths: list[Path]) -> dict:
    """Return the JSON document of docs/contract.md ("racelab explore")."""
    return {
        "target": found.target,
        "points": found.points,
        "schedules": found.total,
        "run": len(found.tried),
        "sampled": found.sampled,
        "seed": found.seed,
        "failing": [
            {
                "steps": tried.steps(),
                "anomalies": anomaly_names(tried),
                "spec": str(path),
                "answers": [f"{a.session}: {a.text()}" for a in tried.outcome.answers],
            }
            for tried, path in zip(found.failing(), paths, strict=True)
        ],
    }


def exit_status(found: Exploration) -> int:
    """Return 1 if a schedule failed, 3 if none did but one was inconclusive, else 0."""
    if found.failing():
        return 1
    return 3 if found.inconclusive() else 0
