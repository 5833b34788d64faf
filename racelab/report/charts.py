"""Charts for the compare report, drawn with matplotlib and kept as inline SVG text."""

import io
import re

import matplotlib

matplotlib.use("Agg")  # no display: render to files only
import matplotlib.pyplot as plt  # noqa: E402

from checker.checks import CHECKS  # noqa: E402
from racelab.report.verdicts import label  # noqa: E402

ANOMALIES = tuple(CHECKS)
COLORS = {"held": "#2e7d32", "failed": "#c62828", "inconclusive": "#b26a00", "unknown": "#9e9e9e"}
plt.rcParams.update(
    {
        "svg.fonttype": "path",
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "svg.hashsalt": "racelab",
    }
)


def to_svg(figure) -> str:
    """Render a figure as an SVG document string and free it."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    # Drop the XML prologue and the RDF metadata (a date and licence links): a report
    # page needs neither, and without them nothing in it even names another site.
    return re.sub(r"<metadata>.*?</metadata>", "", text[text.index("<svg") :], flags=re.S)


def timeline_chart(rows: list[dict], title: str, kills: tuple = ()) -> str:
    """Locust's three charts for one target: requests/s, response times, users.

    Kills (seconds into the run) are marked on every chart.
    """
    seconds = [r["second"] for r in rows]
    figure, (rps, latency, users) = plt.subplots(3, 1, figsize=(7.5, 5.2), sharex=True)
    rps.plot(seconds, [r["requests"] for r in rows], color="#1565c0", label="requests/s")
    rps.plot(seconds, [r["errors"] for r in rows], color="#c62828", label="errors/s")
    rps.set_ylabel("per second")
    rps.legend(loc="upper right", frameon=False)
    rps.set_title(title, loc="left", fontweight="bold")
    for key, color in (("p50_ms", "#7cb342"), ("p95_ms", "#fb8c00"), ("p99_ms", "#8e24aa")):
        latency.plot(seconds, [r[key] for r in rows], color=color, label=key[:-3])
    latency.set_ylabel("response time (ms)")
    latency.legend(loc="upper right", frameon=False, ncol=3)
    users.plot(seconds, [r["vus"] for r in rows], color="#455a64", drawstyle="steps-post")
    users.set_ylabel("users")
    users.set_xlabel("seconds into the run")
    for axis in (rps, latency, users):
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        for at in kills:
            axis.axvline(at, color="#c62828", linestyle="--", linewidth=1)
    if kills:
        rps.text(kills[0], rps.get_ylim()[1], " SIGKILL", color="#c62828", va="top", fontsize=8)
    return to_svg(figure)


def anomaly_chart(entries: list[dict]) -> str:
    """Anomaly counts of every target side by side (log scale: counts span decades)."""
    names = [label(e) for e in entries]
    figure, axis = plt.subplots(figsize=(7.5, 0.45 * len(entries) + 1.4))
    height = 0.8 / len(ANOMALIES)
    cmap = plt.get_cmap("tab10")
    for k, anomaly in enumerate(ANOMALIES):
        counts = [e["anomalies"].get(anomaly, 0) for e in entries]
        if any(counts):
            positions = [i + k * height for i in range(len(entries))]
            axis.barh(positions, counts, height=height, color=cmap(k), label=anomaly)
    axis.set_yticks([i + 0.4 - height / 2 for i in range(len(entries))], names)
    axis.invert_yaxis()
    axis.set_xscale("symlog", linthresh=1)
    axis.set_xlabel("anomalies found by the checker (0 = held)")
    for tick, entry in zip(axis.get_yticklabels(), entries, strict=True):
        tick.set_color(COLORS.get(entry["verdict"], "black"))
    if axis.get_legend_handles_labels()[0]:
        axis.legend(loc="lower right", frameon=False, fontsize=8)
    return to_svg(figure)


def throughput_chart(entries: list[dict]) -> str:
    """Requests/s and p99 of every target: the cost of safety."""
    names = [label(e) for e in entries]
    figure, (rps, p99) = plt.subplots(1, 2, figsize=(7.5, 0.4 * len(entries) + 1.2), sharey=True)
    colors = [COLORS.get(e["verdict"], "gray") for e in entries]
    rps.barh(names, [e["load"]["rps"] for e in entries], color=colors)
    rps.set_xlabel("requests/s")
    rps.invert_yaxis()
    values = [e["load"]["latency_ms"]["p99"] for e in entries]
    bands = [e["load"].get("p99_band_ms") or [v, v] for e, v in zip(entries, values, strict=True)]
    below = [max(0.0, v - low) for v, (low, _) in zip(values, bands, strict=True)]
    above = [max(0.0, high - v) for v, (_, high) in zip(values, bands, strict=True)]
    p99.barh(names, values, color=colors, xerr=[below, above], capsize=3, ecolor="#333")
    p99.set_xlabel("p99 response time (ms), with its 95% band")
    return to_svg(figure)
