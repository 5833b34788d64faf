"""Hand-written SVG for the report's charts: round ticks, scales, text, grids.

A few primitives instead of a plotting library: see racelab/report/charts.py for why.
"""

import html
import math

GRID = "#e0e0e0"
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


def document(width: float, height: float, title: str, body: list[str]) -> str:
    """One SVG element of the given size, titled (what a screen reader says), holding body."""
    return (
        f"<svg class='chart' xmlns=\"http://www.w3.org/2000/svg\" viewBox='0 0 {width:.0f} "
        f"{height:.0f}' role='img' {FONT}><title>{html.escape(title)}</title>"
        + "".join(body)
        + "</svg>"
    )


def text(x: float, y: float, text: str, anchor="start", extra="") -> str:
    return f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}'{extra}>{html.escape(text)}</text>"


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


def grid(x: Scale, marks, top: float, bottom: float) -> list[str]:
    """Vertical grid lines at marks, labelled under the axis line."""
    parts = [
        f"<line x1='{x.start}' x2='{x.end:.1f}' y1='{bottom}' y2='{bottom}' stroke='#9e9e9e'/>"
    ]
    for mark in marks:
        px = x(mark)
        parts.append(
            f"<line x1='{px:.1f}' x2='{px:.1f}' y1='{top}' y2='{bottom}' stroke='{GRID}'/>"
        )
        parts.append(text(px, bottom + 14, number(mark), "middle"))
    return parts


def error_bar(x: Scale, low: float, high: float, y: float) -> list[str]:
    """A horizontal error bar from low to high with caps."""
    if high <= low:
        return []
    a, b = x(low), x(high)
    return [
        f"<line x1='{a:.1f}' x2='{b:.1f}' y1='{y:.1f}' y2='{y:.1f}' stroke='#333333'/>",
        f"<line x1='{a:.1f}' x2='{a:.1f}' y1='{y - 4:.1f}' y2='{y + 4:.1f}' stroke='#333333'/>",
        f"<line x1='{b:.1f}' x2='{b:.1f}' y1='{y - 4:.1f}' y2='{y + 4:.1f}' stroke='#333333'/>",
    ]


def bar(x: Scale, value: float, y: float, height: float, color: str, tip: str) -> str:
    """A horizontal bar from x's zero to value, with its tip shown on hover."""
    return (
        f"<rect x='{x.start:.1f}' y='{y:.1f}' width='{x(value) - x.start:.1f}' "
        f"height='{height:.1f}' fill='{color}'><title>{html.escape(tip)}</title></rect>"
    )


def caption(x: Scale, y: float, words: str) -> str:
    """An axis caption centred under x's span."""
    return text((x.start + x.end) / 2, y, words, "middle")
