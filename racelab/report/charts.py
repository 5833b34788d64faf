"""Charts for the compare report, written as inline SVG text.

Drawn by hand rather than with a plotting library: the report is the last wait of a
compare, and matplotlib took 5-6 s of it (1.6 s to import, the rest to lay out text).
Every bar and point carries an SVG <title>, so hovering shows its value with no script.
Each chart is Markup from racelab.report.svg's escaping primitives.
"""

import math

from markupsafe import Markup

from checker.checks import CHECKS
from racelab.report.svg import (
    AMBER,
    GREEN,
    GREY,
    GRID,
    RED,
    WIDTH,
    Scale,
    SymlogScale,
    bar,
    caption,
    document,
    error_bar,
    grid,
    number,
    tag,
    text,
    ticks,
)
from racelab.report.verdicts import label
from shapes.reports import CompareEntry, Verdict

ANOMALIES = tuple(CHECKS)
COLORS = {
    Verdict.HELD: GREEN,
    Verdict.FAILED: RED,
    Verdict.INCONCLUSIVE: AMBER,
    Verdict.UNKNOWN: GREY,
}
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)  # one colour per anomaly class
KILL = RED
_SMALL = Markup(" font-size='9'")


# --- timeline: Locust's three charts for one target -------------------------------------

PANEL_H, TOP, LEFT, RIGHT = 104, 22, 62, 14
# The timeline's elements, filled in by svg.tag (which escapes every value).
KILL_LINE = (
    "<line class='kill' x1='{0:.1f}' x2='{0:.1f}' y1='{1}' y2='{2}' stroke='{3}' "
    "stroke-dasharray='4 3'/>"
)
SERIES = (
    "<polyline fill='none' stroke='{}' stroke-width='1.6' points='{}'><title>{}</title></polyline>"
)
SWATCH = "<line x1='{0:.1f}' x2='{1:.1f}' y1='{2}' y2='{2}' stroke='{3}' stroke-width='2'/>"


def timeline_chart(rows: list[dict], title: str, kills: tuple = ()) -> Markup:
    """Locust's three charts for one target: requests/s, response times, users.

    Kills (seconds into the run) are marked on every chart.
    """
    seconds = [r["second"] for r in rows] + list(kills) or [0]
    first, last = min(seconds), max(seconds)
    x = Scale(first, max(last, first + 1), LEFT, WIDTH - RIGHT)
    panels = (
        (
            "per second",
            (("requests", "requests/s", "#1565c0"), ("errors", "errors/s", RED)),
            False,
        ),
        (
            "response time (ms)",
            (
                ("p50_ms", "p50", "#7cb342"),
                ("p95_ms", "p95", "#fb8c00"),
                ("p99_ms", "p99", "#8e24aa"),
            ),
            False,
        ),
        ("users", (("vus", "users", "#455a64"),), True),
    )
    body = [text(4, 14, title, extra=Markup(" font-weight='bold' font-size='12'"))]
    for n, (y_label, series, steps) in enumerate(panels):
        top = TOP + n * (PANEL_H + 12)
        body += _panel(rows, x, top, y_label, series, steps, kills)
    bottom = TOP + 3 * PANEL_H + 2 * 12
    body += _x_axis(x, bottom + 14, "seconds into the run")
    if kills:
        body.append(text(x(kills[0]) + 3, TOP + 10, "SIGKILL", extra=tag(" fill='{}'", KILL)))
    return document(
        WIDTH, bottom + 38, f"{title}: requests, response times and users each second", body
    )


def _panel(rows, x: Scale, top: float, y_label: str, series, steps: bool, kills) -> list[Markup]:
    """One chart of the timeline: grid, y axis, a line per series, its legend, the kills."""
    marks = ticks(max((r[key] for r in rows for key, _, _ in series), default=0))
    y = Scale(0, marks[-1], top + PANEL_H, top)
    parts = _y_axis(y, marks, y_label)
    parts += [tag(KILL_LINE, x(at), top, top + PANEL_H, KILL) for at in kills]
    legend_x = WIDTH - RIGHT
    for key, name, color in reversed(series):
        parts.append(tag(SERIES, color, _points(rows, key, x, y, steps), name))
        legend_x -= 10 + 7 * len(name)
        parts.append(tag(SWATCH, legend_x, legend_x + 14, top + 4, color))
        parts.append(text(legend_x + 17, top + 8, name))
        legend_x -= 14
    return parts


def _y_axis(y: Scale, marks: list[float], caption: str) -> list[Markup]:
    """Horizontal grid lines at marks, their labels, and the caption turned on its side."""
    parts = []
    for mark in marks:
        parts.append(
            tag(
                "<line x1='{}' x2='{}' y1='{:.1f}' y2='{:.1f}' stroke='{}'/>",
                LEFT,
                WIDTH - RIGHT,
                y(mark),
                y(mark),
                GRID,
            )
        )
        parts.append(text(LEFT - 4, y(mark) + 4, number(mark), "end"))
    middle = (y.start + y.end) / 2
    turned = tag(" transform='rotate(-90 12 {:.1f})'", middle)
    return parts + [text(12, middle, caption, "middle", turned)]


def _points(rows, key: str, x: Scale, y: Scale, steps: bool) -> str:
    """The polyline's points; steps hold each value until the next second."""
    points = []
    for n, row in enumerate(rows):
        points.append((x(row["second"]), y(row[key])))
        if steps and n + 1 < len(rows):
            points.append((x(rows[n + 1]["second"]), y(row[key])))
    return " ".join(f"{px:.1f},{py:.1f}" for px, py in points)


def _x_axis(x: Scale, y: float, caption: str) -> list[Markup]:
    """Tick labels under the last chart, and the axis caption."""
    marks = [m + x.low for m in ticks(x.high - x.low, 8)]
    parts = [text(x(m), y, number(m), "middle") for m in marks if m <= x.high + 1e-9]
    parts.append(text((x.start + x.end) / 2, y + 16, caption, "middle"))
    return parts


# --- side by side: every target's anomalies, throughput and p99 --------------------------

ROW_H, NAMES_W = 30, 170


def anomaly_chart(entries: list[CompareEntry]) -> Markup:
    """Anomaly counts of every target side by side (log scale: counts span decades)."""
    present = [a for a in ANOMALIES if any(e.anomalies.get(a, 0) for e in entries)]
    top = (18 if present else 0) + 4  # the legend's row, when there is anything to name
    highest = max((e.anomalies.get(a, 0) for e in entries for a in present), default=1)
    decades = math.ceil(math.log10(max(highest, 1) + 1e-9))
    x = SymlogScale(0, 10**decades, NAMES_W, WIDTH - RIGHT - 30)
    axis_y = top + ROW_H * len(entries)
    body = _names(entries, top) + _legend(present, 14)
    body += grid(x, [0] + [10**p for p in range(decades + 1)], top, axis_y)  # under the bars
    bar_h = (ROW_H - 8) / max(len(present), 1)
    for row, entry in enumerate(entries):
        for k, anomaly in enumerate(present):
            count = entry.anomalies.get(anomaly, 0)
            if count:
                y = top + row * ROW_H + 4 + k * bar_h
                tip = f"{label(entry)}: {count:,} {anomaly}"
                body.append(bar(x, count, y, bar_h, _color(anomaly), tip))
                body.append(text(x(count) + 3, y + bar_h / 2 + 4, f"{count:,}", extra=_SMALL))
    body.append(caption(x, axis_y + 30, "anomalies found by the checker (0 = held; log scale)"))
    return document(WIDTH, axis_y + 40, "Anomalies found in each target", body)


def _color(anomaly: str) -> str:
    """The anomaly class's own colour, the same in every chart."""
    return PALETTE[ANOMALIES.index(anomaly) % len(PALETTE)]


def throughput_chart(entries: list[CompareEntry]) -> Markup:
    """Requests/s and p99 of every target: the cost of safety."""
    half = (WIDTH - NAMES_W - RIGHT) / 2
    rps = [e.load.rps for e in entries]
    p99 = [e.load.latency_ms.p99 for e in entries]
    bands = [e.load.p99_band_ms or [v, v] for e, v in zip(entries, p99, strict=True)]
    left = Scale(0, ticks(max(rps, default=0))[-1], NAMES_W, NAMES_W + half - 24)
    highest = max(p99 + [high for _, high in bands], default=0)
    right = Scale(0, ticks(highest)[-1], NAMES_W + half + 8, WIDTH - RIGHT - 8)
    axis_y = 4 + ROW_H * len(entries)
    body = _names(entries, 4)
    body += grid(left, ticks(left.high), 4, axis_y) + grid(right, ticks(right.high), 4, axis_y)
    for row, entry in enumerate(entries):
        y, color, name = 10 + row * ROW_H, COLORS.get(entry.verdict, GREY), label(entry)
        (low, high), height = bands[row], ROW_H - 12
        body.append(bar(left, rps[row], y, height, color, f"{name}: {rps[row]:,.0f} requests/s"))
        tip = f"{name}: p99 {p99[row]:,.1f} ms (95% band {low:,.1f}-{high:,.1f} ms)"
        body.append(bar(right, p99[row], y, height, color, tip))
        body += error_bar(right, low, high, y + height / 2)
    body.append(caption(left, axis_y + 30, "requests/s"))
    body.append(caption(right, axis_y + 30, "p99 response time (ms), with its 95% band"))
    height = ROW_H * len(entries) + 44
    return document(WIDTH, height, "Requests per second and p99 of each target", body)


def _names(entries: list[CompareEntry], top: float) -> list[Markup]:
    """Each target's name at the left of its row, coloured by its verdict."""
    return [
        text(
            NAMES_W - 8,
            top + row * ROW_H + ROW_H / 2 + 4,
            label(entry),
            "end",
            tag(" fill='{}'", COLORS.get(entry.verdict, "#000000")),
        )
        for row, entry in enumerate(entries)
    ]


def _legend(present: list[str], y: float) -> list[Markup]:
    """A swatch and name per anomaly class shown, in one row."""
    parts, at = [], float(NAMES_W)
    for anomaly in present:
        parts.append(
            tag(
                "<rect x='{}' y='{}' width='10' height='10' fill='{}'/>", at, y - 9, _color(anomaly)
            )
        )
        parts.append(text(at + 14, y, anomaly))
        at += 24 + 6.5 * len(anomaly)
    return parts
