"""`racelab compare` end to end: real servers, real load, the checker, the report."""

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest


class ResourceFinder(HTMLParser):
    """Collect every attribute that could fetch something from elsewhere."""

    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """One short compare of an unsafe and a safe target."""
    out = tmp_path_factory.mktemp("compare")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "racelab",
            "compare",
            "--targets",
            "json:naive@1,sqlite:transactional@2",
            "--max-requests",
            "600",
            "--duration",
            "60s",
            "--vus",
            "20",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    return result, out


def test_compare_prints_the_verdict_table(compared):
    result, out = compared
    assert result.returncode == 0, result.stderr
    rows = {
        line.split()[0]: line.split()
        for line in result.stdout.splitlines()
        if line.startswith(("json:", "sqlite:"))
    }
    assert rows["json:naive"][-1] == "FAILED" and rows["sqlite:transactional"][-1] == "held"
    assert rows["sqlite:transactional"][1] == "2"
    assert "- json:naive@1: " in result.stdout and "No lock at all" in result.stdout
    assert "[1/2] json:naive@1" in result.stderr and "[2/2] sqlite:transactional@2" in result.stderr
    assert f"report: {out / 'report.html'}" in result.stdout


def test_report_json_has_every_target_and_its_files(compared):
    _, out = compared
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["targets"] == ["json:naive@1", "sqlite:transactional@2"]
    assert report["settings"]["seed"] == 42 and report["settings"]["duration"] == 60.0
    assert report["settings"]["max_requests"] == 600
    naive, safe = report["targets"]
    assert (naive["target"], naive["backend"], naive["strategy"], naive["workers"]) == (
        "json:naive",
        "json",
        "naive",
        1,
    )
    assert naive["verdict"] == "failed" and safe["verdict"] == "held"
    assert safe["anomalies"] == dict.fromkeys(safe["anomalies"], 0)
    assert safe["load"]["requests"] > 100 and safe["load"]["seed"] == 42
    for entry in report["targets"]:
        for name in ("history.jsonl", "load.json", "timeline.csv", "check.json", "server.log"):
            assert (out / entry["dir"] / name).is_file()


def test_every_number_can_be_rechecked_from_the_files(compared):
    _, out = compared
    report = json.loads((out / "report.json").read_text())
    for entry in report["targets"]:
        target = out / entry["dir"]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "racelab",
                "check",
                str(target / "data"),
                "--history",
                str(target / "history.jsonl"),
                "--json",
            ],
            capture_output=True,
            text=True,
        )
        assert json.loads(result.stdout)["anomalies"] == entry["anomalies"]
        assert result.returncode == (0 if entry["verdict"] == "held" else 1)


def test_report_html_is_self_contained_with_charts(compared):
    _, out = compared
    page = (out / "report.html").read_text()
    finder = ResourceFinder()
    finder.feed(page)
    # The only links are to the run's own pages (each failed target's examples), offline.
    assert finder.links and all(not re.match(r"^(/|\w+:)", link) for link in finder.links)
    assert all((out / link).is_file() for link in finder.links)
    # XML namespace names are identifiers, never fetched; nothing else may name a site.
    without_namespaces = re.sub(r'xmlns(:\w+)?="[^"]*"', "", page)
    assert not re.search(r"url\((?!#)|@import|https?://", without_namespaces)
    svgs = re.findall(r"<svg.*?</svg>", page, flags=re.S)
    charts = [svg for svg in svgs if "class='swimlane'" not in svg]
    assert len(charts) == 4  # anomalies, throughput, and one timeline per target
    assert len(svgs) > len(charts)  # and a swimlane per anomaly class of the failed target
    for svg in svgs:
        ET.fromstring(svg)  # each chart is well-formed SVG
    for text in ("json:naive@1", "sqlite:transactional@2", "FAILED", "held", "Settings"):
        assert text in page


def test_a_target_that_cannot_run_exits_1_and_the_rest_still_run(tmp_path):
    (tmp_path / "json-naive-1w").mkdir()
    (tmp_path / "json-naive-1w" / "data").write_text("in the way")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "racelab",
            "compare",
            "--targets",
            "json:naive,json:thread-lock",
            "--duration",
            "1s",
            "--vus",
            "4",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "json:naive@1 could not be run: cannot create" in result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert [t["target"] for t in report["targets"]] == ["json:thread-lock"]
    assert report["could_not_run"] == ["json:naive@1"]
