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


def lab_commands(text: str) -> list[str]:
    """Return the racelab compare and check lines of a lab's shell blocks, in order."""
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines()
            if line.strip().startswith(("racelab compare", "racelab check"))]


def expected_outcome(text: str) -> dict[str, tuple[str, list[str]]]:
    """Return {target: (verdict, anomalies that must show)} from the lab's table."""
    section = text.split("## Expected outcome", 1)[1]
    rows = re.findall(r"^\| ([a-z]+:[a-z-]+@\d+) \| (\w+) \| ([^|]+) \|$", section, flags=re.M)
    return {target: (verdict, [a.strip() for a in anomalies.split(",") if a.strip() != "none"])
            for target, verdict, anomalies in rows}


def adapt(command: str, out: Path) -> list[str]:
    """Shorten the load and send the output to a temporary folder."""
    command = re.sub(r"--duration \S+", f"--duration {SHORT}", command)
    command = re.sub(r"runs/lab\d+", str(out), command)
    return [sys.executable, "-m", "racelab", *shlex.split(command)[1:]]


@pytest.mark.parametrize("lab", LABS, ids=[lab.stem for lab in LABS])
def test_lab_outcome(lab, tmp_path):
    text = lab.read_text()
    commands, expected = lab_commands(text), expected_outcome(text)
    assert commands and expected, "a lab needs commands and an expected-outcome table"
    results = [subprocess.run(adapt(c, tmp_path), capture_output=True, text=True, timeout=180)
               for c in commands]
    assert results[0].returncode == 0, results[0].stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    found = {f"{t['target']}@{t['workers']}": t for t in report["targets"]}
    assert set(found) == set(expected)
    for target, (verdict, anomalies) in expected.items():
        entry = found[target]
        assert entry["verdict"] == verdict, (target, entry["anomalies"])
        for anomaly in anomalies:
            assert entry["anomalies"][anomaly] > 0, (target, anomaly, entry["anomalies"])
    for command, result in zip(commands[1:], results[1:], strict=True):
        checked = next(t for t in found.values() if f"/{t['dir']}/data" in command)
        assert result.returncode == (0 if checked["verdict"] == "held" else 1), result.stderr
        assert "verdict:" in result.stdout
