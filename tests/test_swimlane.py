"""The swimlane of an anomaly example: drawn right in SVG, and rendered by a real browser."""

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

from racelab.report.swimlane import COLORS, LANE_H, example_lanes, swimlane_svg
from racelab.repro.pick import read_writes
from shapes.reports import Example
from tests.builders import cancel, create, history

ITEMS = {"sku-1": 10}
SVG = "{http://www.w3.org/2000/svg}"


def planted_lanes():
    records = [
        create("a", order_id=1, t0=0.00, t1=0.40, vu=3),
        create("b", order_id=1, t0=0.10, t1=0.50, vu=7),  # the rival: same id, overlapping
        create("c", "info", t0=0.20, t1=0.60, vu=1),  # beside them, no answer
        cancel("z", 9, "fail", t0=0.05, t1=0.15, vu=2),
        {**create("d", "info", t0=0.45, t1=0.55, vu=3), "attempt": 1},  # a retry
    ]
    writes = read_writes(history(ITEMS, records))
    example = Example(text="token a was acknowledged but is not in the store.", tokens=["a"])
    return example_lanes("lost", example, writes, kills=(0.3,), initial=ITEMS)


def test_a_store_whose_items_were_lost_but_orders_salvaged_still_gets_its_lanes():
    # A torn store.json can keep whole orders and lose its items (CI saw the report crash).
    from checker.stores import read_json

    torn = b'{"version": 3, "next_id": 2, "orders": [{"id": 1, "sku": "sku-1", "qty": 1, "toke'
    salvaged = read_json("store.json", torn + b'n": "a", "created_at": "x"}], "items": {"sku-')
    assert salvaged.items is None and salvaged.orders == [(1, "sku-1", 1, "a")]
    records = [create("a", order_id=1, t0=0.0, t1=0.4), create("b", order_id=1, t0=0.1, t1=0.5)]
    writes = read_writes(history(ITEMS, records))
    example = Example(text="id 1 went to a and b", tokens=["a", "b"])
    lanes = example_lanes("id_collision", example, writes, (), ITEMS, salvaged)
    assert (
        lanes.after[0].startswith("the store is unreadable") or "a: stored as id 1" in lanes.after
    )


def bars(svg: str) -> list:
    return ET.fromstring(svg).findall(f"{SVG}rect")


def test_the_example_is_its_requests_outlined_in_their_own_lanes_in_their_colours():
    lanes = planted_lanes()
    found = bars(swimlane_svg(lanes))
    example = [b for b in found if "example" in b.get("class")]
    assert sorted(b.get("data-token") for b in example) == ["a", "b"]
    # The example's lanes come first, in the order its requests finished: vu 3, then vu 7.
    lane_of = {b.get("data-token") + b.get("class"): int(float(b.get("y"))) // LANE_H
               for b in found}  # fmt: skip
    assert lane_of["abar ok example"] == 0 and lane_of["bbar ok example"] == 1
    colour = {b.get("data-token") + "/" + b.get("class").split()[1]: b.get("fill") for b in found}
    assert colour["a/ok"] == colour["b/ok"] == COLORS["ok"]
    assert colour["c/info"] == COLORS["info"] and colour["z/fail"] == COLORS["fail"]
    assert len(found) == 5  # every write in the window, one bar each


def test_a_retry_is_dashed_a_kill_is_marked_and_every_bar_says_what_it_was():
    svg = swimlane_svg(planted_lanes())
    retry = [b for b in bars(svg) if "retry" in b.get("class")]
    assert len(retry) == 1 and retry[0].get("stroke-dasharray")
    assert "SIGKILL at 0.300 s" in svg
    titles = [b.find(f"{SVG}title").text for b in bars(svg)]
    assert "vu 3: create a 1 x sku-1 -> ok 201 id 1, 0.000-0.400 s" in titles


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]  # fmt: skip


def test_a_real_browser_renders_the_report_with_the_examples_bars_and_repro_links(tmp_path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Chromium is installed by `make setup` (scripts/system-packages)"
    out = tmp_path / "run"
    run = subprocess.run([sys.executable, "-m", "racelab", "compare", "--targets", "json:naive@1",
                          "--max-requests", "400", "--duration", "60s", "--out", str(out),
                          "--repro"], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    page = out / "json-naive-1w" / "examples.html"
    dom = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         page.as_uri()], capture_output=True, text=True, timeout=120,
    ).stdout  # fmt: skip
    assert dom.count('<svg class="swimlane"') >= 1, dom[:500]
    first = dom.split('<svg class="swimlane"', 2)[1]
    assert len(re.findall(r"<rect class=\"bar \w+ example", first)) >= 2
    shot = tmp_path / "page.png"
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                    f"--screenshot={shot}", "--window-size=1000,1400", page.as_uri()],
                   capture_output=True, timeout=120)  # fmt: skip
    assert shot.stat().st_size > 10_000
    report = (out / "report.html").read_text()
    assert "<svg class='swimlane'" in report and "json-naive-1w/examples.html" in report
    # compare --repro: a spec per example, replayed, linked from the report.
    specs = sorted((out / "json-naive-1w" / "repro").glob("*.toml"))
    assert specs
    for spec in specs:
        assert f"<a href='json-naive-1w/repro/{spec.name}'>" in report
    races = {"lost", "id_collision", "corrupt_store"}  # what stepped specs show on json:naive
    reproducible = [s for s in specs if s.stem.split("-", 1)[0] in races]
    assert reproducible
    for spec in reproducible:
        assert f"{spec.name}</a>, reproduced 5/5</li>" in report
