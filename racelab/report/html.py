"""The self-contained compare report: tables, charts and settings in one HTML file."""

import csv
import html
from pathlib import Path

from racelab.report.charts import anomaly_chart, throughput_chart, timeline_chart
from racelab.report.swimlane import state_html, swimlane_svg
from racelab.report.verdicts import COLUMNS, described, explanation_lines, label, row_values

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#212121;line-height:1.45;padding:0 1rem}
h1{margin-bottom:.2rem}.sub{color:#616161;margin-top:0}
table{border-collapse:collapse;margin:1rem 0;font-size:.92rem}
th,td{padding:.35rem .6rem;border-bottom:1px solid #e0e0e0;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#fafafa}
.held{color:#2e7d32;font-weight:700}.failed{color:#c62828;font-weight:700}
.inconclusive{color:#b26a00;font-weight:700}
.unknown{color:#757575;font-weight:700}
.card{border:1px solid #e0e0e0;border-radius:8px;padding:1rem;margin:1.2rem 0}
.why{background:#fff8e1;border-left:4px solid #ffb300;padding:.5rem .8rem;margin:.4rem 0}
code{background:#f5f5f5;padding:0 .25rem;border-radius:3px}svg{max-width:100%;height:auto}
svg.swimlane rect.bar:hover{stroke:#1565c0;stroke-width:3}.state{color:#424242}
"""


def read_timeline(path: Path) -> list[dict]:
    """Read a timeline.csv written by racelab load."""
    with open(path, newline="") as f:
        return [
            {k: float(v) if "." in v else int(v) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def _verdict_table(entries: list[dict]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in COLUMNS)
    rows = []
    for entry in entries:
        cells = row_values(entry)
        css = entry["verdict"]
        tds = "".join(f"<td>{html.escape(str(c))}</td>" for c in cells[:-1])
        rows.append(f"<tr>{tds}<td class='{css}'>{html.escape(cells[-1])}</td></tr>")
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def _faults_note(entry: dict) -> str:
    """Say when the target was killed, whether it came back, and which kills were not made."""
    events, unmade = entry.get("faults", []), entry.get("kills_unmade", [])
    parts = [
        f"{e['at_s']:.1f} s (back after {e['down_s']:.1f} s)"
        if e["restarted"]
        else f"{e['at_s']:.1f} s (did not come back: {html.escape(e['error'])})"
        for e in events
    ]
    note = f"Killed with SIGKILL at {', '.join(parts)}. " if parts else ""
    if unmade:
        planned = ", ".join(f"{at:.1f} s" for at in unmade)
        note += (f"{len(unmade)} planned kill(s), due at {planned}, not made: the load ended "
                 "first (a slow restart delays the kills after it).")  # fmt: skip
    return f"<p>{note.strip()}</p>" if note else ""


def _contention_note(entry: dict) -> str:
    """Say how hard the writes contended: the evidence a `held` rests on."""
    c = entry.get("contention")
    if not c:
        return ""
    return (
        f"<p>Contention: {c['overlaps']} overlapping write pairs on one sku "
        f"({c['store_overlaps']} in the store), at most {c['max_depth']} writes on one sku "
        f"at once, over {c['writes']} writes.</p>"
    )


def _example_html(lanes) -> str:
    """Return one example: its class and sentence, its swimlane, the store's state."""
    return (
        f"<div class='example'><p><b>{html.escape(lanes.anomaly)}</b>: "
        f"{html.escape(lanes.text)}</p>{swimlane_svg(lanes)}{state_html(lanes)}</div>"
    )


def _swimlanes(entry: dict, lanes: list) -> str:
    """Return the first example of each class as a swimlane, and a link to all of them."""
    if not lanes:
        return ""
    firsts = {}
    for one in lanes:
        firsts.setdefault(one.anomaly, one)
    return (
        "<p>What happened, one example per anomaly (a lane per virtual user, a bar per "
        "request; the example's requests outlined; hover a bar for its answer):</p>"
        + "".join(_example_html(one) for one in firsts.values())
        + f"<p>Every example: <a href='{entry['dir']}/examples.html'>"
        f"{entry['dir']}/examples.html</a>.</p>"
    )


def _repro_item(r: dict) -> str:
    """A reproduction's link and replays, or why it has none."""
    if not r["file"]:
        return html.escape(r["summary"])
    link = f"<a href='{html.escape(r['file'])}'>{html.escape(r['file'])}</a>"
    if not r["runs"]:  # written, but it could not be replayed
        return f"{link}: {html.escape(r['summary'].split(': ', 1)[-1])}"
    return f"{link}, reproduced {r['reproduced']}/{r['runs']}"


def _repro_list(entry: dict) -> str:
    """Link each reproduction `compare --repro` wrote, with how its replays went."""
    repros = entry.get("repro")
    if not repros:
        return ""
    items = "".join(
        f"<li><b>{html.escape(r['anomaly'])}</b>: {_repro_item(r)}</li>" for r in repros
    )
    return (
        f"<p>Two-request reproductions (replay one with <code>racelab step FILE --target "
        f"{html.escape(entry['target'])}@{entry['workers']}</code>):</p><ul>{items}</ul>"
    )


def examples_page(entry: dict, lanes: list) -> str:
    """Return a target's page: every anomaly example it kept, each as a swimlane."""
    name = label(entry)
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(name)}: anomaly examples</title><style>{STYLE}</style></head>"
        f"<body><h1>{html.escape(name)}: what happened</h1><p class='sub'>"
        f"{html.escape(described(entry, 'why'))}</p>"
        + "".join(_example_html(one) for one in lanes)
        + "</body></html>"
    )


def _claims(entry: dict) -> str:
    return described(entry, "claims")


def _measured(entry: dict) -> str:
    """Return what this run showed, each class by the name people know it by."""
    from checker.checks import CHECKS

    found = [k for k, v in entry.get("anomalies", {}).items() if v]
    if not found:
        return entry["verdict"]
    return "; ".join(f"{k} — {CHECKS[k].known_as}" for k in found)


def _target_card(entry: dict, out_dir: Path, lanes: list) -> str:
    rows = read_timeline(out_dir / entry["dir"] / "timeline.csv")
    name = label(entry)
    css = entry["verdict"]
    examples = "".join(
        f"<li><b>{html.escape(k)}</b>: {html.escape(v[0])}</li>"
        for k, v in entry.get("examples", {}).items()
        if v
    )
    files = ", ".join(
        f"<code>{entry['dir']}/{f}</code>"
        for f in ("history.jsonl", "load.json", "timeline.csv", "check.json", "server.log")
    )
    return (
        f"<div class='card'><h3>{html.escape(name)} — "
        f"<span class='{css}'>{html.escape(entry['verdict'])}</span></h3>"
        f"<p>Claims: {html.escape(_claims(entry))}. Measured here: "
        f"{html.escape(_measured(entry))}.</p>"
        f"{timeline_chart(rows, name, tuple(e['at_s'] for e in entry.get('faults', [])))}"
        f"{_faults_note(entry)}"
        + _contention_note(entry)
        + (f"<p>One example per anomaly:</p><ul>{examples}</ul>" if examples else "")
        + _swimlanes(entry, lanes)
        + _repro_list(entry)
        + f"<p>Files: {files}, and the store in <code>{entry['dir']}/data/</code>. "
        f"Re-check with <code>racelab check {entry['dir']}/data --history "
        f"{entry['dir']}/history.jsonl --explain</code>.</p></div>"
    )


def render(report: dict, out_dir: Path, lanes: dict | None = None) -> str:
    """Return the whole report page as one HTML string (no external resources)."""
    entries, settings = report["targets"], report["settings"]
    why = "".join(
        f"<div class='why'>{html.escape(line)}</div>" for line in explanation_lines(entries)
    )
    settings_rows = "".join(
        f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in settings.items()
    )
    lanes = lanes or {}
    cards = "".join(_target_card(e, out_dir, lanes.get(e["dir"], [])) for e in entries)
    charts = (anomaly_chart(entries) + throughput_chart(entries)) if entries else ""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>racelab compare</title><style>{STYLE}</style></head><body>"
        "<h1>racelab compare</h1><p class='sub'>The same seeded load against each target; "
        "the checker reads each store and the client's history and counts what went wrong."
        "</p><h2>Verdicts</h2>"
        + _verdict_table(entries)
        + why
        + "<h2>Side by side</h2>"
        + charts
        + "<h2>Each target</h2>"
        + cards
        + f"<h2>Settings</h2><table>{settings_rows}</table></body></html>"
    )
