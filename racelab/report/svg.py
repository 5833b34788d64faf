"""Hand-written SVG for the report's charts: round ticks, scales, text, grids.

A few primitives instead of a plotting library: see racelab/report/charts.py for why.
Every element is Markup built by Markup.format, which escapes each value it puts in, so the
page templates take the charts as they are.
"""

import math

from markupsafe import Markup

GRID = "#e0e0e0"
GREEN, RED, AMBER, YELLOW, GREY = "#2e7d32", "#c62828", "#b26a00", "#f9a825", "#9e9e9e"
WIDTH = 760  # a page's charts and swimlanes alike, so they line up
NOTHING = Markup("")
FONT = "font-family='sans-serif' font-size='11'"


def ticks(top: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least top, 1, 2 or 5 times a power of ten apart."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw * (1 - 1e-9))
    return [i * step for i in range(math.ceil(top / step - 1e-9) + 1)]


def number(value: float) -> str:
    """A tick or value label: thousands separated, no needless decimals."""
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"


def tag(template: str, *values: object) -> Markup:
    """Return the SVG markup TEMPLATE with VALUES put in, each escaped."""
    return Markup(template).format(*values)


def document(width: float, height: float, title: str, body: list[Markup]) -> Markup:
    """One SVG element of the given size, titled (what a screen reader says), holding body."""
    head = tag(
        "<svg class='chart' xmlns=\"http://www.w3.org/2000/svg\" viewBox='0 0 {:.0f} "
        "{:.0f}' role='img' {}><title>{}</title>",
        width,
        height,
        Markup(FONT),
        title,
    )
    return head + Markup("").join(body) + Markup("</svg>")


def text(x: float, y: float, words: str, anchor="start", extra: Markup = NOTHING) -> Markup:
    """A text element at (x, y); extra is attribute markup the caller wrote."""
    return tag("<text x='{:.1f}' y='{:.1f}' text-anchor='{}'{}>{}</text>",
               x, y, anchor, extra, words)  # fmt: skip


class Scale:
    """Map data values in [low, high] onto pixels [start, end] (linear)."""

    def __init__(self, low: float, high: float, start: float, end: float):
        self.low, self.high, self.start, self.end = low, high, start, end

    def __call__(self, value: float) -> float:
        span = (self.high - self.low) or 1.0
        return self.start + (value - self.low) / span * (self.end - self.start)


class SymlogScale(Scale):
    """Counts that span decades: linear from 0 to 1, logarithmic above (0 stays visible)."""

    def __call__(self, value: float) -> float:
        top = math.log10(1 + self.high) or 1.0
        return self.start + math.log10(1 + max(value, 0)) / top * (self.end - self.start)


def grid(x: Scale, marks, top: float, bottom: float) -> list[Markup]:
    """Vertical grid lines at marks, labelled under the axis line."""
    parts = [tag("<line x1='{}' x2='{:.1f}' y1='{}' y2='{}' stroke='#9e9e9e'/>",
                 x.start, x.end, bottom, bottom)]  # fmt: skip
    for mark in marks:
        px = x(mark)
        parts.append(
            tag(
                "<line x1='{:.1f}' x2='{:.1f}' y1='{}' y2='{}' stroke='{}'/>",
                px,
                px,
                top,
                bottom,
                GRID,
            )
        )
        parts.append(text(px, bottom + 14, number(mark), "middle"))
    return parts


def error_bar(x: Scale, low: float, high: float, y: float) -> list[Markup]:
    """A horizontal error bar from low to high with caps."""
    if high <= low:
        return []
    a, b = x(low), x(high)
    line = "<line x1='{:.1f}' x2='{:.1f}' y1='{:.1f}' y2='{:.1f}' stroke='#333333'/>"
    return [tag(line, a, b, y, y), tag(line, a, a, y - 4, y + 4), tag(line, b, b, y - 4, y + 4)]


def bar(x: Scale, value: float, y: float, height: float, color: str, tip: str) -> Markup:
    """A horizontal bar from x's zero to value, with its tip shown on hover."""
    rect = "<rect x='{:.1f}' y='{:.1f}' width='{:.1f}' height='{:.1f}' fill='{}'>{}</rect>"
    return tag(rect, x.start, y, x(value) - x.start, height, color, tag("<title>{}</title>", tip))


def caption(x: Scale, y: float, words: str) -> Markup:
    """An axis caption centred under x's span."""
    return text((x.start + x.end) / 2, y, words, "middle")
