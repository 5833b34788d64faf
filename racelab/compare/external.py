"""Targets racelab did not write: a server already running at a URL, or one started from a command.

Either is loaded like a built-in target and checked through the API (checker/api.py),
since its store's format is its own. Placeholders in a command: {port} (a free loopback
port racelab picked), {data_dir} (a fresh folder for this run's store), and {skus},
{stock}, {shifts} and {doctors} (what compare seeds every built-in store with).
"""

import re
import secrets
import shlex
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from loadtests.target import TargetError, check_target
from racelab.compare.process import TargetFailed, spawn, stop_server, wait_for_health

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
NO_CLAIM = "its own; racelab judges it only by what it stored"


@dataclass(frozen=True)
class ExternalTarget:
    """A server in any language that speaks docs/contract.md."""

    label: str
    url: str | None = None  # already running: loaded and checked, never started or stopped
    command: str | None = None  # started by racelab, with {port} and {data_dir} filled in

    backend = "external"
    workers = 1
    why = "a server racelab did not write: its verdict is what the checker found through the API"
    claims = NO_CLAIM
    expected = None  # no claim to hold it to

    @property
    def name(self) -> str:
        """Return the name the user gave (or url:URL)."""
        return self.label

    @property
    def strategy(self) -> str:
        """Return the name, in the place a built-in target's strategy goes."""
        return self.label

    @property
    def slug(self) -> str:
        """Return a folder name for this target."""
        return "ext-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", self.label.removeprefix("url:"))[:60]


def parse_url_target(text: str, allow_remote: bool = False) -> ExternalTarget:
    """Return the target for 'url:http://127.0.0.1:3000', or raise TargetError."""
    return ExternalTarget(text, url=check_target(text.removeprefix("url:"), allow_remote))


def parse_external(text: str) -> ExternalTarget:
    """Return the target for 'NAME=COMMAND', or raise TargetError naming what is wrong."""
    name, sep, command = text.partition("=")
    name, command = name.strip(), command.strip()
    if not sep or not NAME.match(name):
        raise TargetError(f"{text!r} is not NAME=COMMAND (NAME: letters, digits, _ . -)")
    if "{port}" not in command:
        raise TargetError(f"{text!r}: the command must take its port from {{port}}")
    try:
        shlex.split(command)
    except ValueError as e:
        raise TargetError(f"{text!r}: the command cannot be split into words ({e})") from None
    return ExternalTarget(name, command=command)


def _filled(word: str, values: dict) -> str:
    for key, value in values.items():
        word = word.replace("{" + key + "}", str(value))
    return word


EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
LOWEST_PORT = 10_000
PORT_TRIES = 50


def free_port() -> int:
    """Return a loopback port that was free a moment ago, below the kernel's ephemeral range.

    A port the kernel hands out for port 0 is also what it picks as the local port of an
    outgoing connection, so while a load runs beside it, a port that was free a moment ago
    may be taken before the server binds it. Below the ephemeral range only an explicit
    bind can take it.
    """
    low = _ephemeral_low()
    for _ in range(PORT_TRIES if low > LOWEST_PORT else 0):
        port = LOWEST_PORT + secrets.randbelow(low - LOWEST_PORT)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # no range known, or every try taken: the kernel's choice
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ephemeral_low() -> int:
    """Return the first port of the kernel's ephemeral range (0 where it cannot be read)."""
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def start_external(target: ExternalTarget, data_dir: Path, settings, log_path: Path, port=0):
    """Start a command target on a free loopback port; return (process, base URL)."""
    port = port or free_port()
    values = {"port": port, "data_dir": data_dir, "skus": settings.skus, "stock": settings.stock,
              "shifts": settings.shifts, "doctors": settings.doctors}  # fmt: skip
    words = [_filled(word, values) for word in shlex.split(target.command)]
    with open(log_path, "a") as log:
        try:
            process = spawn(  # it dies with racelab, even when racelab is killed outright
                words, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # a kill fault takes the whole group
            )  # fmt: skip
        except OSError as e:
            raise TargetFailed(f"cannot start {words[0]!r}: {e.strerror}") from None
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, process)
    except TargetFailed:
        stop_server(process)
        raise
    return process, url


__all__ = ["ExternalTarget", "TargetError", "parse_external", "parse_url_target", "start_external"]
