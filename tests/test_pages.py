"""Pages from templates: what a server or a spec names is escaped in every page, and no
module under racelab builds HTML from strings."""

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

from racelab.compare.targets import parse_specs
from racelab.report.html import examples_page, report_page
from racelab.report.swimlane import example_lanes
from racelab.repro.pick import read_writes
from racelab.step.run import matrix_html, run_matrix
from racelab.step.spec import load_spec
from shapes.reports import (
    CompareEntry,
    CompareReport,
    Example,
    Fault,
    ReproNote,
    Verdict,
    write_shape,
)
from tests.builders import compare_entry, create, history

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "<script>alert('x\")</script>&"
SKU = "sku-\ud800" + HOSTILE  # a lone surrogate, as a server of the user's may name a sku
TOKEN = "tok-" + HOSTILE
ERROR = "died: " + HOSTILE


class Parsed(HTMLParser):
    """What a browser's parser finds in a page: its tags, attributes and text."""

    def __init__(self, page: str):
        super().__init__()
        self.tags, self.attrs, self.text = [], [], []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data):
        self.text.append(data)


def assert_escaped(page: str) -> Parsed:
    """Say the hostile text shows as text: never a tag, never out of its attribute."""
    parsed = Parsed(page)
    assert "script" not in parsed.tags and "<script>" not in page
    assert HOSTILE in "".join(parsed.text)
    return parsed


def hostile_entry() -> CompareEntry:
    """Return a report.json entry of a url: target whose sku, token and error are hostile."""
    load = {"requests": 3, "rps": 1.0, "errors": 0}
    return compare_entry(
        load, target="url:" + HOSTILE, backend="external", strategy="", workers=1,
        why=HOSTILE, claims=HOSTILE, read="api", store_error=ERROR,
        verdict=Verdict.FAILED, dir="t", anomalies={"lost": 1},
        faults=[Fault(at_s=1.0, restarted=False, down_s=0.0, error=ERROR)],
        examples={"lost": [f"token {TOKEN} of {SKU} was lost"]},
        repro=[ReproNote(anomaly="lost", file="t/repro/" + HOSTILE, runs=0,
                         reproduced=0, summary="lost: " + ERROR)],
    )  # fmt: skip


def hostile_lanes() -> list:
    """Return a swimlane whose requests name the hostile sku and token."""
    records = [create(TOKEN, order_id=1, sku=SKU, t0=0.0, t1=0.4, vu=1),
               create("b", order_id=1, sku=SKU, t0=0.1, t1=0.5, vu=2)]  # fmt: skip
    writes = read_writes(history({SKU: 5}, records))
    example = Example(text=f"token {TOKEN} was lost", tokens=[TOKEN])
    return [example_lanes("lost", example, writes, (), {SKU: 5})]


def test_a_hostile_sku_token_and_error_render_escaped_in_report_html():
    entry = hostile_entry()
    report = CompareReport(settings={"note": HOSTILE}, targets=[entry], could_not_run=[],
                           seconds=1.0)  # fmt: skip
    timeline = [{"second": 0, "requests": 3, "errors": 0, "p50_ms": 1.0, "p95_ms": 2.0,
                 "p99_ms": 2.0, "vus": 1}]  # fmt: skip
    lanes = hostile_lanes()
    page = report_page(report, {"t": timeline}, {"t": lanes})
    parsed = assert_escaped(page)
    assert "\ud800" in page
    assert ("data-token", TOKEN) in parsed.attrs and ("href", "t/repro/" + HOSTILE) in parsed.attrs
    assert ("class", "failed") in parsed.attrs  # the verdict's colour, beside the text
    for svg in re.findall(r"<svg.*?</svg>", page, flags=re.S):
        ET.fromstring(svg.replace("\ud800", "?"))  # still well-formed with the names inside
    examples = examples_page(entry, lanes)
    assert_escaped(examples)
    assert "\ud800" in examples


SPEC = """name = "%s"
setup = { skus = 1, stock = 1, orders = [{ sku = "sku-1", qty = 1, token = "%s" }] }
permutations = [["A.read", "A.write", "B.read", "B.write"]]
[[session]]
name = "A"
requests = [{ op = "cancel", token = "%s" }]
[[session]]
name = "B"
requests = [{ op = "cancel", token = "%s" }]
"""


def test_a_hostile_spec_name_path_and_token_render_escaped_in_the_step_page(tmp_path):
    quoted = HOSTILE.replace("\\", "\\\\").replace('"', '\\"')
    # A file name that is not UTF-8 reaches Python as a lone surrogate (\udcff).
    path = Path(str(tmp_path / "spec-\udcff") + HOSTILE.replace("/", "") + ".toml")
    path.write_text(SPEC % (quoted, "o-" + quoted, "o-" + quoted, "o-" + quoted))
    spec = load_spec(str(path))
    rows = run_matrix(spec, parse_specs("json:naive"), 1, 0.5)
    page = matrix_html(spec, rows)
    parsed = assert_escaped(page)
    assert "\udcff" in "".join(parsed.text)
    assert "cancel o-" + HOSTILE in "".join(parsed.text)


HTML_TAGS = re.compile(r"<(td|tr|th|li|ul|ol|div|p|h[1-6]|table|html|a|code|span|b|br|style)[ >/]")
SVG_TAGS = re.compile(r"<(svg|rect|line|polyline|text|title)[ >/]")


def test_no_module_under_racelab_builds_html_from_strings():
    found = []
    for path in sorted((ROOT / "racelab").rglob("*.py")):
        source = path.read_text()
        name = str(path.relative_to(ROOT))
        if "html.escape(" in source or re.search(r"^import html$", source, flags=re.M):
            found.append(f"{name}: html.escape")
        for line in source.splitlines():
            code = line.split("#", 1)[0]
            if HTML_TAGS.search(code) or re.search(r"\bf[\"']<[a-z/!]", code):
                found.append(f"{name}: {line.strip()}")
            # The charts' SVG is Markup built by svg.tag, which escapes what it puts in.
            if SVG_TAGS.search(code) and path.name not in ("svg.py", "charts.py"):
                found.append(f"{name}: {line.strip()}")
    assert found == []


def test_the_ui_renders_from_the_same_templates_with_the_same_escaping(tmp_path):
    from jinja2 import StrictUndefined

    from racelab.pages import STATIC, TEMPLATES, environment
    from racelab.ui import create_app

    run = tmp_path / "runs" / "20260101-000000"
    run.mkdir(parents=True)
    report = CompareReport(settings={}, targets=[hostile_entry()], could_not_run=[], seconds=1)
    write_shape(run / "report.json", report)
    app = create_app({"RUNS_DIR": str(tmp_path / "runs")})
    assert Path(app.template_folder) == TEMPLATES and Path(app.static_folder) == STATIC
    assert app.jinja_env.undefined is StrictUndefined is environment().undefined
    page = app.test_client().get("/past").get_data(as_text=True)
    assert_escaped(page)
