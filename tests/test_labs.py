"""Each lab's commands run (with a short duration) and give the outcome the lab states."""

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

LABS = sorted((Path(__file__).resolve().parent.parent / "docs" / "labs").glob("0*.md"))
SHORT = "3s"
OUT = re.compile(r"runs/([\w-]+)")
ROW = re.compile(r"^\| ([a-z]+:[a-z-]+@\d+) \| (\w+) \| ([^|]+) \|$", flags=re.M)


def lab_commands(text: str) -> list[str]:
    """Return the racelab compare and check lines of a lab's shell blocks, in order."""
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [
        line.strip()
        for block in blocks
        for line in block.splitlines()
        if line.strip().startswith(("racelab compare", "racelab check"))
    ]


def expected_tables(text: str) -> list[dict[str, tuple[str, list[str]]]]:
    """Return, per table under "Expected outcome", {target: (verdict, anomalies that show)}."""
    section = text.split("## Expected outcome", 1)[1]
    tables = re.split(r"\n\n(?=\|)", section)
    found = []
    for table in tables:
        rows = ROW.findall(table)
        if rows:
            found.append(
                {
                    t: (v, [a.strip() for a in anomalies.split(",") if a.strip() != "none"])
                    for t, v, anomalies in rows
                }
            )
    return found


def adapt(command: str, tmp_path: Path) -> list[str]:
    """Shorten the load and send the output to a temporary folder."""
    command = re.sub(r"--duration \S+", f"--duration {SHORT}", command)
    command = OUT.sub(lambda m: str(tmp_path / m.group(1)), command)
    return [sys.executable, "-m", "racelab", *shlex.split(command)[1:]]


def run(command: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """Run one lab command as a user would."""
    return subprocess.run(adapt(command, tmp_path), capture_output=True, text=True, timeout=240)


def assert_outcome(report: dict, expected: dict) -> None:
    """Every target the table names has its verdict and shows its anomalies."""
    found = {f"{t['target']}@{t['workers']}": t for t in report["targets"]}
    assert set(found) == set(expected)
    for target, (verdict, anomalies) in expected.items():
        entry = found[target]
        assert entry["verdict"] == verdict, (target, entry["anomalies"])
        for anomaly in anomalies:
            assert entry["anomalies"][anomaly] > 0, (target, anomaly, entry["anomalies"])


@pytest.mark.parametrize("lab", LABS, ids=[lab.stem for lab in LABS])
def test_lab_outcome(lab, tmp_path):
    text = lab.read_text()
    commands = lab_commands(text)
    compares = [c for c in commands if c.startswith("racelab compare")]
    tables = expected_tables(text)
    assert compares and len(tables) == len(compares), "one expected table per compare"
    reports = {}
    for command, expected in zip(compares, tables, strict=True):
        result = run(command, tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        out = OUT.search(command).group(1)
        reports[out] = json.loads((tmp_path / out / "report.json").read_text())
        assert_outcome(reports[out], expected)
    # Checks of a compare's output; the by-hand ones need a server of the reader's own.
    for command in (c for c in commands if c.startswith("racelab check") and OUT.search(c)):
        out, target_dir = OUT.search(command).group(1), command.split("/")[2]
        entry = next(t for t in reports[out]["targets"] if t["dir"] == target_dir)
        result = run(command, tmp_path)
        assert result.returncode == (0 if entry["verdict"] == "held" else 1), result.stderr
        assert "verdict:" in result.stdout
