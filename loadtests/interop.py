"""Histories from other tools: k6's JSON output, and Locust workers' history files merged."""

import json
import math
import re
from datetime import datetime, timezone

from history import OPS, WRITE_OPS, HistoryError, op_record, run_record
from loadtests.outcome import classify_status

NANOS = re.compile(r"(\.\d{6})\d+")


def _when(text: str) -> float:
    """Return a k6 timestamp (nanosecond precision) as POSIX seconds."""
    return datetime.fromisoformat(NANOS.sub(r"\1", text).replace("Z", "+00:00")).timestamp()


def _int_tag(tags: dict, name: str):
    value = tags.get(name)
    return int(value) if value not in (None, "") and value.lstrip("-").isdigit() else None


def _k6_type(status: int, error_code: str | None) -> tuple[str, str | None]:
    """Type a k6 request: 2xx ok, 4xx fail; no response: a dial error (121x) never sent it."""
    if status:
        return classify_status(status), None if status < 400 else f"http {status}"
    if error_code and error_code.startswith("121"):
        return "fail", f"k6 error {error_code}"
    return "info", f"k6 error {error_code or 'unknown'}"


def read_k6_points(lines, path="<k6>"):
    """Return (run point, request points, ids by token) from k6 --out json lines."""
    run, requests, ids = None, [], {}
    for lineno, line in enumerate(lines, 1):
        try:
            point = json.loads(line)
        except ValueError:
            raise HistoryError(path, lineno, "not JSON: is this k6's --out json output?") from None
        if not isinstance(point, dict) or point.get("type") != "Point":
            continue
        data = point.get("data") or {}
        tags = data.get("tags") or {}
        if point.get("metric") == "racelab_order_id" and "token" in tags:
            ids[tags["token"]] = int(data["value"])
        elif point.get("metric") == "http_req_duration" and tags.get("op") == "run":
            run = (data, tags)
        elif point.get("metric") == "http_req_duration" and tags.get("op") in OPS:
            requests.append((_when(data["time"]), data["value"] / 1000, tags))
    if run is None:
        raise HistoryError(path, 0, "no run point: was it written by loadtests/k6/orders.js?")
    return run, requests, ids


def history_from_k6(lines, path="<k6>") -> list[dict]:
    """Turn k6 JSON output of loadtests/k6/orders.js into history records, run record first
    (a leave keeps the shift and doctor it was tagged with)."""
    (_, run_tags), requests, ids = read_k6_points(lines, path)
    requests.sort(key=lambda r: r[0] - r[1])
    start = min((end - duration for end, duration, _ in requests), default=0.0)
    target = run_tags.get("url", "").removesuffix("/health")
    started = datetime.fromtimestamp(start, timezone.utc).isoformat(timespec="microseconds")
    records = [
        run_record(
            target,
            started,
            _int_tag(run_tags, "seed"),
            {"model": "k6"},
            json.loads(run_tags["racelab_items"]),
        )
    ]
    for end, duration, tags in requests:
        status = _int_tag(tags, "status") or 0
        type_, error = _k6_type(status, tags.get("error_code"))
        order_id = _int_tag(tags, "order_id")
        if tags["op"] == "create" and type_ == "ok":
            order_id = ids.get(tags.get("token"))
        record = op_record(
            tags["op"],
            _int_tag(tags, "vu") or 0,
            tags.get("token"),
            tags.get("sku"),
            _int_tag(tags, "qty"),
            order_id,
            status or None,
            type_,
            end - duration - start,
            end - start,
            error,
        )
        if tags["op"] == "leave":
            record |= {"shift": tags.get("shift"), "doctor": tags.get("doctor")}
        records.append(record)
    return records


def _stock_from(histories: list, starts: list, default: int) -> int:
    """Return the history whose stock reading no other worker's write can have changed.

    A worker stamps `started` after its stock reading and no later than its t0 = 0, so
    started + t0 is never later than a write began, and never earlier than the reading.
    The worker with the smallest started + t0 over its writes therefore read the stock
    before any worker's write began.
    """
    first_write = [
        started + min((r["t0"] for r in h.ops if r["op"] in WRITE_OPS), default=math.inf)
        for h, started in zip(histories, starts, strict=True)
    ]
    earliest = min(range(len(histories)), key=first_write.__getitem__)
    return default if first_write[earliest] == math.inf else earliest


def merge_histories(histories: list) -> list[dict]:
    """Join several workers' histories into one: one run record, times on one clock.

    Each history's times are relative to its own start; the run records' `started`
    (absolute) puts them on the clock of the earliest. VU numbers are made distinct. The
    stock is the one read by the worker whose first write began first (see _stock_from).
    """
    if not histories:
        return []
    starts = [_when(h.run["started"]) for h in histories]
    origin = min(starts)
    first = min(zip(starts, range(len(histories)), strict=True))[1]
    run = dict(histories[first].run)
    run["items"] = histories[_stock_from(histories, starts, first)].run["items"]
    run["shape"] = {**run.get("shape", {}), "merged": len(histories)}
    merged, vu_offset = [], 0
    for history, started in zip(histories, starts, strict=True):
        shift = started - origin
        for record in history.ops:
            merged.append(
                {
                    **record,
                    "vu": record["vu"] + vu_offset,
                    "t0": round(record["t0"] + shift, 6),
                    "t1": round(record["t1"] + shift, 6),
                }
            )
        vu_offset += 1 + max((r["vu"] for r in history.ops), default=0)
    merged.sort(key=lambda r: r["t0"])
    return [run, *merged]
