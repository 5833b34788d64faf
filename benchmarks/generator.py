"""Benchmark 1: generator efficiency against a fast fixed endpoint, side by side in one run.

Each tool in turn drives GET /items at the same concurrency for the same time; the server
is pinned to core 0 and the generator to core 1 where taskset works. Reported: requests/s
and the generator's CPU milliseconds per request (user + system, from the OS).
"""

import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.tools import BIN, free_port, median, pinned, print_table, run_measured, save

HERE = Path(__file__).resolve().parent


def start_fast_server() -> tuple[subprocess.Popen, str]:
    """Start the fixed endpoint on core 0; return (process, base URL)."""
    port = free_port()
    process = subprocess.Popen(
        pinned([sys.executable, "-m", "benchmarks.bare", "server", str(port)], 0), cwd=HERE.parent
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{url}/items", timeout=1).read()
            return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the fast endpoint did not start")


def _wrk(url, vus, seconds, work):
    if not Path("/usr/bin/wrk").exists():
        return None
    command = ["wrk", "-t1", f"-c{vus}", f"-d{seconds}s", f"{url}/items"]
    return command, lambda out: int(re.search(r"(\d+) requests in", out).group(1))


def _k6(url, vus, seconds, work, rate=None):
    if not (BIN / "k6").exists():
        return None
    summary = work / "k6.json"
    command = [
        str(BIN / "k6"),
        "run",
        "--no-usage-report",
        "--quiet",
        "-e",
        f"BASE_URL={url}",
        "-e",
        f"VUS={vus}",
        "-e",
        f"DURATION={seconds}s",
        "-e",
        f"RATE={rate or ''}",
        "--summary-export",
        str(summary),
        str(HERE / "k6_items.js"),
    ]
    return command, lambda out: json.loads(summary.read_text())["metrics"]["http_reqs"]["count"]


def _locust(user_class):
    def build(url, vus, seconds, work):
        if not (BIN / "locust").exists():
            return None
        prefix = work / f"locust-{user_class}"
        command = [
            str(BIN / "locust"),
            "-f",
            str(HERE / "locust_items.py"),
            user_class,
            "--headless",
            "-u",
            str(vus),
            "-r",
            str(vus),
            "-t",
            f"{seconds}s",
            "-H",
            url,
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "WARNING",
        ]

        def count(out):
            for line in Path(f"{prefix}_stats.csv").read_text().splitlines():
                if ",Aggregated," in line:
                    return int(line.split(",")[2])
            raise ValueError("no Aggregated row in Locust's CSV")

        return command, count

    return build


def _racelab(history: bool, loop: str = "uvloop"):
    def build(url, vus, seconds, work, rate=None):
        summary = work / "racelab.json"
        command = [
            str(BIN / "racelab"),
            "load",
            url,
            "--mix",
            "items=1",
            "--vus",
            str(vus),
            "--duration",
            f"{seconds}s",
            "--quiet",
            "--summary-json",
            str(summary),
            "--loop",
            loop,
        ]
        if history:
            command += ["--history", str(work / "racelab.jsonl")]
        if rate:
            command += ["--rate", f"{rate}/s"]
        return command, lambda out: json.loads(summary.read_text())["requests"]

    return build


def _bare(loop: str, path: str):
    def build(url, vus, seconds, work):
        command = [sys.executable, "-m", "benchmarks.bare", loop, f"{url}{path}"]
        command += [str(vus), str(seconds)]
        return command, lambda out: int(out.split()[-1])

    return build


TOOLS = {
    "wrk": _wrk,
    "k6": _k6,
    "locust-fast": _locust("FastItems"),
    "locust-http": _locust("SlowItems"),
    "aiohttp-bare": _bare("aiohttp", "/items"),
    "fasthttp-bare": _bare("fasthttp", ""),
    "racelab-asyncio-loop": _racelab(history=True, loop="asyncio"),
    "racelab-no-history": _racelab(history=False),
    "racelab": _racelab(history=True),
}


# At a fixed arrival rate every tool sends the same requests, so CPU a request compares the
# tools alone; in the closed loop a saturated endpoint adds the cost of waiting for it.
RATE_TOOLS = ("k6", "racelab-asyncio-loop", "racelab")
RATE, RATE_VUS = 5000, 200


def measure(tool: str, url: str, vus: int, seconds: int, rate=None) -> dict | None:
    """Run one tool once; return requests, rps and CPU ms per request, or None if missing."""
    with tempfile.TemporaryDirectory() as work:
        built = TOOLS[tool](url, vus, seconds, Path(work), **({"rate": rate} if rate else {}))
        if built is None:
            return None
        command, count_requests = built
        status, cpu, wall, output = run_measured(
            pinned(command, 1), timeout=seconds * 4 + 60, cwd=HERE.parent
        )
        if status != 0:
            raise RuntimeError(f"{tool} failed ({status}): {output[-500:]}")
        requests = count_requests(output)
    return {
        "requests": requests,
        "rps": requests / seconds,
        "cpu_s": cpu,
        "cpu_ms_per_request": 1000 * cpu / requests,
    }


def run(runs: int = 3, vus: int = 50, seconds: int = 10) -> dict:
    """Measure every tool `runs` times, interleaved; print and save the medians."""
    server, url = start_fast_server()
    try:
        closed, missing = _sample(TOOLS, url, vus, seconds, runs)
        at_rate, _ = _sample(RATE_TOOLS, url, RATE_VUS, seconds, runs, RATE)
    finally:
        server.kill()
        server.wait()
    summary = _summarize(closed)
    rate_summary = _summarize(at_rate)
    print_table(
        f"Generator efficiency: GET /items, {vus} connections, {seconds} s, median of {runs}",
        ["tool", "req/s", "CPU ms/req", "racelab CPU / tool CPU"],
        _rows(summary),
        f"python -m benchmarks generator --runs {runs}",
    )
    print_table(
        f"At a fixed arrival rate: {RATE:,} GET /items a second, up to {RATE_VUS} connections",
        ["tool", "req/s", "CPU ms/req", "racelab CPU / tool CPU"],
        _rows(rate_summary),
        f"python -m benchmarks generator --runs {runs}",
    )
    save(
        "generator",
        {
            "vus": vus,
            "seconds": seconds,
            "runs": runs,
            "tools": summary,
            "at_rate": {"rate": RATE, "vus": RATE_VUS, "tools": rate_summary},
            "missing": sorted(missing),
        },
    )
    return summary


def _sample(tools, url, vus, seconds, runs, rate=None) -> tuple[dict, set]:
    """Run each tool `runs` times, interleaved; return its results and the tools missing."""
    samples: dict[str, list] = {tool: [] for tool in tools}
    missing = set()
    for _ in range(runs):
        for tool in tools:
            if tool in missing:
                continue
            result = measure(tool, url, vus, seconds, rate)
            if result is None:
                missing.add(tool)
                print(f"  {tool}: not installed here, skipped")
            else:
                samples[tool].append(result)
    return samples, missing


def _summarize(samples: dict) -> dict:
    """Return each tool's medians, and racelab's CPU a request over the tool's."""
    base = median([s["cpu_ms_per_request"] for s in samples["racelab"]])
    summary = {}
    for tool, results in samples.items():
        if results:
            cpu = median([r["cpu_ms_per_request"] for r in results])
            summary[tool] = {
                "rps": round(median([r["rps"] for r in results])),
                "cpu_ms_per_request": round(cpu, 4),
                "racelab_cpu_ratio": round(base / cpu, 2),
                "runs": results,
            }
    return summary


def _rows(summary: dict) -> list[list[str]]:
    return [
        [tool, f"{s['rps']:,}", f"{s['cpu_ms_per_request']:.4f}", f"{s['racelab_cpu_ratio']:.2f}"]
        for tool, s in summary.items()
    ]
