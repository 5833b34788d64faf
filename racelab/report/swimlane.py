"""A swimlane per anomaly example: one lane per virtual user, a bar per request from t0 to t1.

The example's own requests (the ones its reproduction steps through) are outlined; the
others that ran beside them are drawn faint. ok is green, fail red, info (no answer)
amber; a retry is dashed; a SIGKILL is a red line. Hovering a bar shows the request and
its answer (an SVG title element), so the page needs no script and opens offline.
"""

from dataclasses import dataclass, field

from markupsafe import Markup

from racelab.pages import render
from racelab.report.svg import GREEN, RED, WIDTH, YELLOW
from racelab.repro.pick import Writes, pick
from shapes import ID, TOKEN
from shapes.reports import CheckReport, Example, read_shape

MOST_BARS = 12  # the example's requests and the nearest that ran beside them
COLORS = {"ok": GREEN, "fail": RED, "info": YELLOW}
LANE_H, LEFT = 22, 64


@dataclass
class Lanes:
    """What one example's swimlane shows: its requests, their neighbours, and the window."""

    anomaly: str
    text: str
    chosen: list[dict]
    records: list[dict]  # every bar, the chosen ones among them
    start: float
    end: float
    kills: tuple = ()
    before: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)


def example_lanes(anomaly: str, example: Example, writes: Writes, kills=(), initial=None,
                  snapshot=None) -> Lanes:  # fmt: skip
    """Return the lanes for one example: its requests and those that ran beside them."""
    chosen = pick(anomaly, example, writes) or _own_records(example, writes)
    if not chosen:
        return Lanes(anomaly, example.text, [], [], 0.0, 0.0)
    first, last = min(r["t0"] for r in chosen), max(r["t1"] for r in chosen)
    pad = max((last - first) * 0.5, 0.005)
    start, end = max(first - pad, 0.0), last + pad
    near = [r for r in writes.records if r["t1"] >= start and r["t0"] <= end]
    near.sort(key=lambda r: (not any(r is c for c in chosen), abs(r["t0"] - first)))
    records = near[:MOST_BARS]
    for record in chosen:
        if not any(record is r for r in records):
            records.append(record)
    lanes = Lanes(
        anomaly,
        example.text,
        chosen,
        records,
        start,
        end,
        tuple(k for k in kills if start <= k <= end),
    )
    lanes.before, lanes.after = _state(chosen, initial or {}, snapshot)
    return lanes


def target_lanes(target_dir, kills=(), per_class: int = 3, store_file=True) -> list[Lanes]:
    """Return the lanes of each anomaly example a compare target's check.json holds
    (store_file False: the state was read through the API, so no end state is drawn)."""
    from pathlib import Path

    from checker.stores import read_store, resolve_store_path
    from history import HistoryError, open_history
    from racelab.repro.pick import read_writes

    target_dir = Path(target_dir)
    try:
        report = read_shape(target_dir / "check.json", CheckReport)
        with open_history(target_dir / "history.jsonl", lenient=True) as history:
            writes, initial = read_writes(history), dict(history.run["items"])
        snapshot = read_store(resolve_store_path(target_dir / "data")) if store_file else None
    except (OSError, ValueError, HistoryError):
        return []
    return [
        example_lanes(anomaly, example, writes, kills, initial, snapshot)
        for anomaly, examples in report.examples.items()
        for example in examples[:per_class]
    ]


def _own_records(example: Example, writes: Writes) -> list[dict]:
    return [r for t in example.tokens or [] for r in writes.by_token.get(t, [])][:3]


def _state(chosen: list[dict], initial: dict, snapshot) -> tuple[list[str], list[str]]:
    """Return the store's state for these requests' skus and tokens: at the start, at the end."""
    skus = sorted({r["sku"] for r in chosen if r["sku"]})
    tokens = sorted({r["token"] for r in chosen if r["token"]})
    before = [f"{s}: stock {initial[s]}" for s in skus if s in initial]
    if snapshot is None:
        return before, []
    stored: dict = {}
    for order in snapshot.orders:
        stored.setdefault(order[TOKEN], []).append(order[ID])
    items = snapshot.items or {}  # a damaged store may keep its orders but not its items
    after = [f"{s}: stock {items[s]}" for s in skus if s in items]
    after += [
        f"{t}: stored as id {', '.join(map(str, stored[t]))}" if t in stored else f"{t}: not stored"
        for t in tokens
    ]
    if not snapshot.readable:
        after = [f"the store is unreadable: {snapshot.corruption}"]
    return before, after


def swimlane_svg(lanes: Lanes) -> Markup:
    """Return the swimlane as one static SVG element, rendered from its template."""
    if not lanes.records:
        return Markup("")
    return Markup(
        render("swimlane.svg", view=swimlane_view(lanes), lane_h=LANE_H, left=LEFT, width=WIDTH)
    )


def swimlane_view(lanes: Lanes) -> dict:
    """Return what the swimlane draws: its lanes, bars, kills and axis, in pixels."""
    vus = _lane_order(lanes)
    height = LANE_H * len(vus) + 34
    span = max(lanes.end - lanes.start, 1e-6)

    def x(t: float) -> float:
        return LEFT + (t - lanes.start) / span * WIDTH

    middle = (lanes.start + lanes.end) / 2
    marks = ((lanes.start, "start"), (middle, "middle"), (lanes.end, "end"))
    return {
        "anomaly": lanes.anomaly, "text": lanes.text, "vus": vus, "height": height,
        "width": LEFT + WIDTH + 10,
        "bars": [_bar(r, vus.index(r["vu"]), x, any(r is c for c in lanes.chosen))
                 for r in lanes.records],
        "kills": [{"x": x(kill), "at": kill} for kill in lanes.kills],
        "axis": [{"x": x(t), "at": t, "anchor": anchor} for t, anchor in marks],
    }  # fmt: skip


def _lane_order(lanes: Lanes) -> list:
    """Return the lanes' vus: the example's first, then the others by number."""
    own = list(dict.fromkeys(r["vu"] for r in lanes.chosen))
    others = sorted({r["vu"] for r in lanes.records} - set(own), key=lambda v: (v is None, v or 0))
    return own + others


def _bar(record: dict, lane: int, x, chosen: bool) -> dict:
    """Return one request's bar: where it is, how it is drawn, what hovering says."""
    left, right = max(x(record["t0"]), LEFT), min(x(record["t1"]), LEFT + WIDTH)
    retry = record.get("attempt", 0) > 0
    stroke = ("#000000" if chosen else "#424242") if chosen or retry else None
    what = f" {record['qty']} x {record['sku']}" if record["op"] == "create" else ""
    answer = record["status"] if record["status"] is not None else "no answer"
    tip = (
        f"vu {record['vu']}: {record['op']} {record['token']}{what} -> {record['type']} "
        f"{answer}"
        + (f" id {record['order_id']}" if record["order_id"] is not None else "")
        + f", {record['t0']:.3f}-{record['t1']:.3f} s"
        + (f", retry {record['attempt']}" if retry else "")
    )
    css = f"bar {record['type']}" + (" example" if chosen else "") + (" retry" if retry else "")
    return {"css": css, "vu": record["vu"], "token": str(record["token"]), "x": left,
            "y": lane * LANE_H + 4, "width": max(right - left, 2.0), "tip": tip,
            "fill": COLORS.get(record["type"], "#757575"), "opacity": 0.9 if chosen else 0.25,
            "stroke": stroke, "dashed": retry}  # fmt: skip
