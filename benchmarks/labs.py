"""Labs: read a lab's commands and expected outcome, run them, and tally outcomes over N runs.

A lab promises an outcome; `python -m benchmarks labs --runs 20` measures how often each
promise holds (the figure each lab records), and tests/test_labs.py runs each lab once.
A lab that promises a failure is sized by requests (`--max-requests`), not by the clock,
so it sends the same load on a slow machine as on a fast one; a lab without a request
bound only promises `held` and is shortened to SHORT for the test.
"""

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from racelab.report.verdicts import label
from shapes.reports import CompareReport, read_shape

LAB_DIR = Path(__file__).resolve().parent.parent / "docs" / "labs"
LABS = sorted(LAB_DIR.glob("[0-9][0-9]-*.md"))  # every numbered lab, README.md left out
SHORT = "3s"
OUT = re.compile(r"runs/([\w-]+)")
# A row names a built-in target (json:naive@4) or an --external one by its name.
ROW = re.compile(
    r"^\| (?!target |permutation )([a-z]+:[a-z-]+@\d+|[a-z][a-z0-9-]*) \| (\w+) \| ([^|]+) \|$",
    flags=re.M,
)
REPO = Path(__file__).resolve().parent.parent
BY_HAND = re.compile(r"`([A-Z ]+)` (?:fails with `(\w+)`|holds)")
# An explore row: the --external target, the exit, a line its output holds, its anomalies.
EXPLORE_ROW = re.compile(r"^\| ([a-z][a-z0-9-]*) \| (\d) \| `([^`|]+)` \| ([^|]+) \|$", flags=re.M)
EXTERNAL = re.compile(r"--external '([\w-]+)=")


def lab_commands(text: str) -> list[str]:
    """Return the racelab compare, check, step and explore lines of a lab's shell blocks."""
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith(
            ("racelab compare", "racelab check", "racelab step", "racelab explore")
        )
    ]


def expected_tables(text: str) -> list[dict[str, tuple[str, list[str]]]]:
    """Return, per table under "Expected outcome", {target: (verdict, anomalies that show)}."""
    section = text.split("## Expected outcome", 1)[1]
    found = []
    for table in re.split(r"\n\n(?=\|)", section):
        rows = ROW.findall(table)
        if rows:
            found.append(
                {
                    # "none" (held) and "any" (failed, by whichever class) promise no class
                    t: (
                        v,
                        [
                            a.strip()
                            for a in anomalies.split(",")
                            if a.strip() not in ("none", "any")
                        ],
                    )  # fmt: skip
                    for t, v, anomalies in rows
                }
            )
    return found


def adapt(command: str, out_root: Path) -> list[str]:
    """Send the output to out_root; shorten a load that no request bound sizes."""
    if "--max-requests" not in command:
        command = re.sub(r"--duration \S+", f"--duration {SHORT}", command)
    command = OUT.sub(lambda m: str(out_root / m.group(1)), command)
    return [sys.executable, "-m", "racelab", *shlex.split(command)[1:]]


def run_command(command: str, out_root: Path, keys: str = "") -> subprocess.CompletedProcess:
    """Run one lab command as a user would, from the repository (keys: what they type)."""
    # As after `source .venv/bin/activate`: racelab, node and npm come from the venv.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(adapt(command, out_root), input=keys, capture_output=True, text=True,
                          timeout=300, cwd=REPO, env=env)  # fmt: skip


def compares(text: str) -> list[tuple[str, dict]]:
    """Return each compare command of a lab with its expected table."""
    commands = [c for c in lab_commands(text) if c.startswith("racelab compare")]
    tables = expected_tables(text)
    if len(tables) != len(commands):
        raise ValueError("a lab needs one expected table per compare")
    return list(zip(commands, tables, strict=True))


def matrix_tables(text: str) -> list[dict[str, dict[str, str]]]:
    """Return, per matrix table under "Expected outcome", {steps: {target: cell}}."""
    section = text.split("## Expected outcome", 1)[1]
    found = []
    for table in re.findall(r"^\| permutation \|.*?(?=\n\n|\Z)", section, flags=re.M | re.S):
        lines = [[c.strip() for c in line.strip("| ").split(" | ")] for line in table.splitlines()]
        targets = lines[0][1:]
        found.append({row[0]: dict(zip(targets, row[1:], strict=True)) for row in lines[2:]})
    return found


def steppings(text: str) -> list[tuple[str, dict]]:
    """Return each `racelab step ... --json` command of a lab with its expected matrix."""
    commands = [c for c in lab_commands(text) if c.startswith("racelab step") and "--json" in c]
    tables = matrix_tables(text)
    if len(tables) != len(commands):
        raise ValueError("a lab needs one expected matrix per step command with --json")
    return list(zip(commands, tables, strict=True))


def by_hand(text: str) -> list[tuple[str, str, str | None]]:
    """Return (interactive command, keys, the anomaly it must show or None: held) pairs."""
    command = next(c for c in lab_commands(text) if "--interactive" in c)
    sentence = next(line for line in text.splitlines() if line.startswith("By hand on"))
    return [(command, keys.replace(" ", ""), anomaly or None) for keys, anomaly in
            BY_HAND.findall(sentence)]  # fmt: skip


def matrix_mismatches(doc: dict, expected: dict) -> list[str]:
    """Return every way a step matrix (its --json) misses the expected one."""
    found = {
        " ".join(p["steps"]): {c["target"]: c["label"] for c in p["cells"]}
        for p in doc["permutations"]
    }
    if set(found) != set(expected):
        return [f"permutations {sorted(found)} != {sorted(expected)}"]
    return [
        f"{steps} on {target}: {found[steps].get(target)}, not {cell}"
        for steps, cells in expected.items()
        for target, cell in cells.items()
        if found[steps].get(target) != cell
    ]


def run_step(command: str, out_root: Path) -> dict:
    """Run a lab's step command and return its --json matrix."""
    result = run_command(command, out_root)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"{command} exited {result.returncode}: {result.stderr[-2000:]}")
    args = adapt(command, out_root)
    matrix = Path(args[args.index("--json") + 1])
    if not matrix.exists():
        raise RuntimeError(
            f"{command} wrote no matrix: {result.stdout[-1000:]}{result.stderr[-2000:]}"
        )
    return json.loads(matrix.read_text())


def hand_mismatches(command: str, keys: str, anomaly: str | None, out_root: Path) -> list[str]:
    """Type the keys into an interactive step; return how its verdict missed the promise."""
    result = run_command(command, out_root, keys=keys + "\n")
    verdict = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    wanted = f"verdict: failed, {anomaly}" if anomaly else "verdict: held"
    return [] if verdict.startswith(wanted) else [f"{keys}: {verdict!r}, not {wanted!r}"]


def explore_table(text: str) -> dict[str, tuple[int, str, list[str]]]:
    """Return, from "Expected outcome"'s explore table, {target: (exit, line, anomalies)}."""
    section = text.split("## Expected outcome", 1)[1]
    return {
        name: (int(code), line, [a.strip() for a in anomalies.split(",") if a.strip() != "none"])
        for name, code, line, anomalies in EXPLORE_ROW.findall(section)
    }


def explorations(text: str) -> list[tuple[str, tuple[int, str, list[str]]]]:
    """Return each `racelab explore` command of a lab with what its explore row promises."""
    commands = [c for c in lab_commands(text) if c.startswith("racelab explore")]
    table = explore_table(text)
    names = [EXTERNAL.search(c).group(1) for c in commands]
    if sorted(names) != sorted(table):
        raise ValueError(f"a lab needs one explore row per explore command: {names}, {table}")
    return [(c, table[name]) for c, name in zip(commands, names, strict=True)]


def explore_mismatches(
    command: str, expected: tuple[int, str, list[str]], out_root: Path
) -> list[str]:
    """Run a lab's explore command; return how its exit, output or schedules missed the promise."""
    return explored_mismatches(run_command(command, out_root), command, expected, out_root)


def explored_mismatches(
    result: subprocess.CompletedProcess, command: str, expected: tuple[int, str, list[str]],
    out_root: Path,
) -> list[str]:  # fmt: skip
    """Return how a lab's explore command, run into out_root, missed the promise."""
    code, line, anomalies = expected
    if result.returncode != code:
        return [f"exit {result.returncode}, not {code}: {result.stderr[-500:]}"]
    args = adapt(command, out_root)
    failing = json.loads(Path(args[args.index("--json") + 1]).read_text())["failing"]
    found = {a for schedule in failing for a in schedule["anomalies"]}
    missed = [f"no {a} among the failing schedules" for a in anomalies if a not in found]
    if found and not anomalies:
        missed.append(f"failing schedules show {sorted(found)}, none promised")
    if line not in result.stdout:
        missed.append(f"no {line!r} in its output")
    return missed


def promises(text: str) -> list[tuple[str, object]]:
    """Return (name, run once into a work dir -> mismatches) for every promise of a lab."""
    found = [
        (OUT.search(c).group(1), lambda work, c=c, e=e: mismatches(run_compare(c, work), e))
        for c, e in compares(text)
    ]
    found += [
        (OUT.search(c).group(1), lambda work, c=c, e=e: matrix_mismatches(run_step(c, work), e))
        for c, e in steppings(text)
    ]
    found += [
        (OUT.search(c).group(1), lambda work, c=c, e=e: explore_mismatches(c, e, work))
        for c, e in explorations(text)
    ]
    if "--interactive" in text:
        found += [
            (f"by hand {keys}", lambda work, c=c, k=keys, a=a: hand_mismatches(c, k, a, work))
            for c, keys, a in by_hand(text)
        ]
    return found


def mismatches(report: CompareReport, expected: dict) -> list[str]:
    """Return every way a compare report misses the expected table (empty: as promised)."""
    found = {label(t): t for t in report.targets}
    if set(found) != set(expected):
        return [f"targets {sorted(found)} != {sorted(expected)}"]
    missed = []
    for target, (verdict, anomalies) in expected.items():
        entry = found[target]
        if entry.verdict != verdict:
            missed.append(f"{target}: {entry.verdict}, not {verdict} {entry.anomalies}")
        counts = entry.anomalies
        missed += [f"{target}: no {a} in {counts}" for a in anomalies if not counts.get(a)]
    return missed


def run_compare(command: str, out_root: Path) -> CompareReport:
    """Run a lab's compare command and return its report."""
    result = run_command(command, out_root)
    if result.returncode != 0:
        raise RuntimeError(f"{command} exited {result.returncode}: {result.stderr[-2000:]}")
    return read_shape(out_root / OUT.search(command).group(1) / "report.json", CompareReport)


def tally(runs: int, labs=LABS) -> dict[str, Counter]:
    """Run each lab's promises `runs` times; count, per promise, the runs that kept it."""
    counts: dict[str, Counter] = {}
    for lab in labs:
        for what, run_once in promises(lab.read_text()):
            name = f"{lab.stem}: {what}"
            while name in counts:  # a lab's compare and step may write under one folder
                name += " (again)"
            counts[name] = Counter()
            for _ in range(runs):
                with tempfile.TemporaryDirectory() as work:
                    missed = run_once(Path(work))
                counts[name]["as promised" if not missed else "missed"] += 1
                counts[name].update(missed)
    return counts


def run(runs: int = 20) -> dict:
    """Print and save how often each lab's expected outcome held."""
    from benchmarks.tools import print_table, save

    counts = tally(runs)
    rows = [
        [
            name,
            c["as promised"],
            runs,
            "; ".join(k for k in c if k not in ("as promised", "missed")),
        ]
        for name, c in counts.items()
    ]
    print_table(
        f"Labs: each lab's compare run {runs} times, as written",
        ["lab", "as promised", "runs", "what missed"],
        rows,
        f"python -m benchmarks labs --runs {runs}",
    )
    save("labs", {"runs": runs, "labs": {name: dict(c) for name, c in counts.items()}})
    return counts
