"""Write a step spec (TOML, the format `racelab step` reads) for a few chosen requests."""

import re

import tomlkit

from racelab.repro.pick import Writes, is_retry
from shapes.reports import Example

SESSIONS = "ABC"
AMPLE_STOCK = 100


def session_requests(chosen: list[dict], skus: dict) -> list[dict]:
    """Return each chosen record as a spec request, its sku renamed to sku-1, sku-2, ..."""
    requests = []
    for record in chosen:
        if record["op"] == "create":
            requests.append({"op": "create", "sku": _sku(record["sku"], skus),
                             "qty": record["qty"] or 1, "token": record["token"]})  # fmt: skip
        else:
            requests.append({"op": "cancel", "token": record["token"]})
    return requests


def _sku(name, skus: dict) -> str:
    return skus.setdefault(name or "sku-1", f"sku-{len(skus) + 1}")


def setup_orders(requests: list[dict], writes: Writes, skus: dict) -> list[dict]:
    """Return the orders a cancel needs stored first (those no chosen create makes)."""
    created = {r["token"] for r in requests if r["op"] == "create"}
    orders = []
    for request in requests:
        token = request["token"]
        if request["op"] == "cancel" and token not in created:
            create = next((r for r in writes.by_token.get(token, []) if r["op"] == "create"), {})
            orders.append({"sku": _sku(create.get("sku"), skus), "qty": create.get("qty") or 1,
                           "token": token})  # fmt: skip
            created.add(token)
    return orders


def permutations(sessions: int, points: tuple[str, ...]) -> list[list[str]]:
    """Return [one session after another, every session at each point in lockstep, and in
    lockstep the other way round]: the races write in the order the run finished, or not."""
    names = SESSIONS[:sessions]
    serial = [f"{s}.{p}" for s in names for p in points]
    lockstep = [f"{s}.{p}" for p in points for s in names]
    backwards = [f"{s}.{p}" for p in points for s in reversed(names)]
    return [serial, lockstep, backwards]


def spec_text(anomaly: str, example: Example, chosen: list[dict], writes: Writes,
              points: tuple[str, ...], origin: str) -> str:  # fmt: skip
    """Return the spec: a comment saying where it comes from, the setup, sessions, orders."""
    skus: dict = {}
    requests = session_requests(chosen, skus)
    orders = setup_orders(requests, writes, skus)
    qtys = [r["qty"] for r in requests if r["op"] == "create"]
    setup = {"skus": max(len(skus), 1),
             "stock": max(qtys, default=1) if anomaly == "oversold" else AMPLE_STOCK}  # fmt: skip
    if orders:
        setup["orders"] = orders
    doc = tomlkit.document()
    for line in _comments(anomaly, example, chosen, origin):
        doc.add(tomlkit.comment(line))
    doc.add("name", f"{anomaly}: {_key(example, chosen)}")
    doc.add("setup", inline_table(setup))
    doc.add(tomlkit.nl())
    doc.add("permutations", tomlkit.array().multiline(True))
    for permutation in permutations(len(requests), points):
        doc["permutations"].append(permutation)
    doc.add("session", _sessions(requests))
    return tomlkit.dumps(doc)


def _comments(anomaly: str, example: Example, chosen: list[dict], origin: str) -> list[str]:
    """Return the spec's opening comment: where it comes from, and which permutation races."""
    lines = [f"Reproduction of {anomaly}, from {origin}.",
             f"The checker saw: {_one_line(example.text)}",
             "The requests, from the history:"]  # fmt: skip
    lines += [f"  {SESSIONS[n]}: {_described(r)}" for n, r in enumerate(chosen)]
    if is_retry(chosen):
        lines.append("One token sent twice: the client timed out and sent it again while the "
                     "first was still being served.")  # fmt: skip
    return lines + [
        "The first permutation, one session after the other, should hold. The others are the",
        "race: every session reads, then they write in the order they finished in the run,",
        "or the other way round (an answer's time is not its write's).",
    ]


def _sessions(requests: list[dict]):
    """Return [[session]] tables, one request each, named A, B, C."""
    sessions = tomlkit.aot()
    for n, request in enumerate(requests):
        session = tomlkit.table()
        session.add("name", SESSIONS[n])
        session.add("requests", one_line_array([inline_table(request)]))
        sessions.append(session)
    return sessions


def inline_table(table: dict):
    """Return table as a TOML inline table ({ k = v, ... }), its lists of tables inline too."""
    inline = tomlkit.inline_table()
    for key, value in table.items():
        if isinstance(value, list):
            value = one_line_array([inline_table(v) if isinstance(v, dict) else v for v in value])
        inline[key] = value
    return inline


def one_line_array(items: list):
    """Return items as a one-line TOML array."""
    array = tomlkit.array()
    array.extend(items)
    return array


def _described(record: dict) -> str:
    what = f" {record['qty']} x {record['sku']}" if record["op"] == "create" else ""
    status = record["status"] if record["status"] is not None else "no answer"
    return (f"vu {record['vu']}, {record['op']} {record['token']}{what}, "
            f"{record['t0']:.3f}-{record['t1']:.3f} s, {record['type']} {status}")  # fmt: skip


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _key(example: Example, chosen: list[dict]) -> str:
    if example.tokens:
        return example.tokens[0]
    if example.sku:
        return example.sku
    return chosen[0]["token"] if chosen and chosen[0]["token"] else "store"


def file_stem(anomaly: str, example: Example, chosen: list[dict]) -> str:
    """Return a file name for the example: lost-t-812, stock_mismatch-sku-3."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", f"{anomaly}-{_key(example, chosen)}")[:80]
