"""Which targets a load may hit: loopback only, unless the user says otherwise."""

import ipaddress
from urllib.parse import urlsplit

from racelab.exceptions import BadInput


class TargetError(BadInput, ValueError):
    """A target URL that is malformed or outside loopback."""


def check_target(url: str, allow_remote: bool = False) -> str:
    """Return url without a trailing slash, or raise TargetError saying why not."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"{url!r} is not an http:// URL")
    if not allow_remote and not is_loopback(parts.hostname):
        raise TargetError(
            f"{parts.hostname!r} is not a loopback address; racelab loads only 127.0.0.1, ::1 "
            "or localhost, so that a typo never floods someone else's server. "
            "Pass --allow-remote if this server is yours."
        )
    return url.rstrip("/")


def is_loopback(host: str) -> bool:
    """Say whether host is localhost or a loopback address (no DNS lookup)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
