"""Start any target: a built-in one with `racelab serve`, an external one from its command."""

import http.client
from pathlib import Path
from urllib.parse import urlsplit

from checker.stores import resolve_store_path
from checker.untrusted import BadAnswer, fetch, parse_json
from racelab.compare.external import ExternalTarget, start_external
from racelab.compare.process import TargetFailed, start_server


def launch(spec, data_dir: Path, settings, log_path: Path, port: int = 0, reset: bool = True):
    """Start a target (a URL target is already running); return (process or None, base URL)."""
    if isinstance(spec, ExternalTarget):
        if spec.url:
            return None, spec.url
        return start_external(spec, data_dir, settings, log_path, port)
    return start_server(spec, data_dir, settings, log_path, port, reset)


def store_to_check(spec, data_dir: Path, url: str):
    """Return what the checker reads: a built-in target's store, an external one's URL."""
    if isinstance(spec, ExternalTarget):
        return url
    return resolve_store_path(data_dir)


def require_empty(url: str) -> None:
    """Refuse a server that already holds orders: the checker would count them as unexpected."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        _, raw = fetch(conn, "GET", "/orders?limit=1", seconds=10)
        held = parse_json(raw).get("orders")
    except (BadAnswer, AttributeError) as e:
        reason = e if isinstance(e, BadAnswer) else "an answer that is not an object"
        raise TargetFailed(
            f"GET {url}/orders?limit=1 answered no list of orders (got {reason})"
        ) from None
    finally:
        conn.close()
    if held:
        raise TargetFailed(
            f"{url} already holds orders; start it on an empty store (orders from an earlier "
            "run would be counted as unexpected, and a repeated --seed replays their tokens)"
        )
