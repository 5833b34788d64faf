"""Shared helpers: free ports, pinned processes with their CPU time, medians, results."""

import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
BIN = Path(sys.executable).parent


def free_port() -> int:
    """Return a free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def can_pin() -> bool:
    """Say whether taskset works here (two cores and permission)."""
    if not shutil.which("taskset") or (os.cpu_count() or 1) < 2:
        return False
    return subprocess.run(["taskset", "-c", "1", "true"], capture_output=True).returncode == 0


def pinned(command: list[str], core: int) -> list[str]:
    """Prefix a command with taskset when pinning works."""
    return ["taskset", "-c", str(core), *command] if can_pin() else command


def children_cpu() -> float:
    """Return the CPU seconds of every child process reaped so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(command: list[str], timeout: float, **kwargs) -> tuple[int, float, float, str]:
    """Run a command; return (exit status, its CPU seconds, wall seconds, output).

    The CPU time is the OS's accounting of the child (user + system, all its threads),
    read as the growth of RUSAGE_CHILDREN across its life: nothing else is reaped meanwhile.
    """
    cpu_before, started = children_cpu(), time.monotonic()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return process.returncode, children_cpu() - cpu_before, time.monotonic() - started, output


def median(values: list[float]) -> float:
    """Return the median, or nan for no values."""
    return statistics.median(values) if values else float("nan")


def machine() -> dict:
    """Describe the machine the figures come from."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "pinned": can_pin(),
    }


def save(name: str, data: dict) -> Path:
    """Write a result file in benchmarks/results/."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2))
    return path


def print_table(title: str, header: list[str], rows: list[list], repeat: str) -> None:
    """Print a result table and the command that repeats it."""
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=False)]
    print(f"\n{title}")
    print("  " + "  ".join(f"{h:>{w}}" for h, w in zip(header, widths, strict=True)))
    for row in rows:
        print("  " + "  ".join(f"{c!s:>{w}}" for c, w in zip(row, widths, strict=True)))
    print(f"  repeat: {repeat}")
