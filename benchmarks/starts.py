"""What one run of each command the tests start many times costs, in CPU seconds.

Each command runs as the tests run it (`python -m racelab ...`): a server until it prints
its URL, then SIGTERM; every other command to its end. CPU is the user + system time of
the command and of every child it reaps (its servers, gunicorn's workers). With
RACELAB_BASELINE set to another checkout, its code (PYTHONPATH and the working directory
set to it) runs alternately with this one's, for a before and after in the same minutes.
"""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.tools import children_cpu, median, print_table, save

ROOT = Path(__file__).resolve().parent.parent
SERVE = ("--port", "0", "--data-dir", "{tmp}/data")
TWO_CREATES = ("--request", "A: create sku-1 1", "--request", "B: create sku-1 1")
COMMANDS = {
    "serve --help": ("serve", "--help"),
    "serve json": ("serve", "json", *SERVE),
    "serve json, 4 workers": ("serve", "json", "--strategy", "file-lock", "--workers", "4",
                              *SERVE),
    "serve sqlite": ("serve", "sqlite", "--strategy", "transactional", *SERVE),
    "serve sqlite, 4 workers": ("serve", "sqlite", "--strategy", "transactional", "--workers",
                                "4", *SERVE),
    "load, 300 requests": ("load", "{url}", "--vus", "4", "--duration", "60s",
                           "--max-requests", "300", "--history", "{tmp}/history.jsonl"),
    "check, 500 requests' history": ("check", "{fixture}/data", "--history",
                                     "{fixture}/history.jsonl"),
    "step cancel-twice, json:naive@1": ("step", "specs/cancel-twice.toml", "--target",
                                        "json:naive@1"),
    "step cancel-twice, sqlite:naive@1": ("step", "specs/cancel-twice.toml", "--target",
                                          "sqlite:naive@1"),
    "explore two creates, json:naive@1": ("explore", "--target", "json:naive@1", *TWO_CREATES,
                                          "--block-wait", "10s", "--out", "{tmp}/specs"),
    "compare json:naive@1, sqlite:transactional@2": (
        "compare", "--targets", "json:naive@1,sqlite:transactional@2", "--max-requests",
        "600", "--duration", "60s", "--vus", "20", "--out", "{tmp}/out"),
}  # fmt: skip


def racelab(tree: Path, args, **popen) -> subprocess.Popen:
    """Start `python -m racelab ARGS` on tree's code."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.Popen([sys.executable, "-m", "racelab", *args], cwd=tree, env=env,
                            stdin=subprocess.DEVNULL, text=True, **popen)  # fmt: skip


@contextlib.contextmanager
def served(tree: Path, data_dir: Path, *options: str):
    """Serve sqlite:transactional from data_dir until the block ends; yield its URL."""
    args = ("serve", "sqlite", "--strategy", "transactional", "--port", "0", "--data-dir",
            str(data_dir), "--stock", "1000000000", *options)  # fmt: skip
    server = racelab(tree, args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        yield server.stdout.readline().split(" on ")[1].split()[0]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)


def cpu_of(tree: Path, args: tuple, values: dict) -> float:
    """Run one command on tree's code; return its CPU seconds and its children's."""
    with tempfile.TemporaryDirectory() as tmp:
        filled = [arg.format(tmp=tmp, **values) for arg in args]
        before = children_cpu()
        if filled[0] == "serve" and "--help" not in filled:
            server = racelab(tree, filled, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            server.stdout.readline()  # its URL: it is listening
            server.send_signal(signal.SIGTERM)
            server.wait(60)
        else:
            racelab(tree, filled, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).wait(600)
        return children_cpu() - before


def check_fixture(work: Path) -> Path:
    """Write a store and the history of 500 requests that made it; return their folder."""
    with served(ROOT, work / "data") as url:
        load = ("load", url, "--vus", "10", "--duration", "60s", "--max-requests", "500",
                "--history", str(work / "history.jsonl"))  # fmt: skip
        racelab(ROOT, load, stdout=subprocess.DEVNULL).wait(120)
    return work


def trees() -> list[Path]:
    """Return the checkouts to measure: RACELAB_BASELINE's first if set, then this one."""
    baseline = os.environ.get("RACELAB_BASELINE")
    return [Path(baseline).resolve(), ROOT] if baseline else [ROOT]


def measure_starts(runs: int = 5) -> dict:
    """Measure each command's CPU on each checkout, alternating; print and save the medians."""
    checkouts = trees()
    samples: dict = {(name, tree): [] for name in COMMANDS for tree in checkouts}
    with tempfile.TemporaryDirectory() as work:
        fixture = check_fixture(Path(work) / "fixture")
        with served(ROOT, Path(work) / "target") as url:
            values = {"url": url, "fixture": fixture}
            for name, args in COMMANDS.items():
                for _ in range(runs):
                    for tree in checkouts:
                        samples[name, tree].append(cpu_of(tree, args, values))
    medians = {name: [round(median(samples[name, t]), 3) for t in checkouts] for name in COMMANDS}
    header = ["command", *(str(tree) for tree in checkouts)]
    baseline = f"RACELAB_BASELINE={checkouts[0]} " if len(checkouts) > 1 else ""
    print_table("CPU s a run, median (the command and the children it reaps)", header,
                [[name, *cells] for name, cells in medians.items()],
                f"{baseline}python -m benchmarks starts --runs {runs}")  # fmt: skip
    save("starts", {"runs": runs, "checkouts": [str(t) for t in checkouts], "medians": medians})
    return medians
