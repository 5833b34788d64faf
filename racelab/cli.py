"""The racelab command line: serve, load, check, compare."""

import click

from racelab import __version__
from servers.registry import STRATEGIES


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="racelab")
def cli():
    """Make write races visible: serve a target, load it, check what it stored."""


@cli.command("serve")
@click.argument("backend", type=click.Choice(sorted(STRATEGIES)))
@click.option(
    "--strategy",
    default="naive",
    show_default=True,
    help="Locking strategy; json: naive, thread-lock, file-lock, optimistic; "
    "sqlite: naive, transactional.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    default="data",
    show_default=True,
    help="Folder that holds the store (created if missing).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to bind; 0 picks a free one.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes; more than one runs gunicorn on the same store.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=16,
    show_default=True,
    help="Threads per gunicorn worker.",
)
@click.option("--reset", is_flag=True, help="Replace an existing store with a fresh one.")
@click.option(
    "--skus",
    type=click.IntRange(1, 10_000),
    default=5,
    show_default=True,
    help="Items in a fresh store.",
)
@click.option(
    "--stock",
    type=click.IntRange(0, 10**12),
    default=1000,
    show_default=True,
    help="Units of each item in a fresh store.",
)
def serve_command(backend, strategy, data_dir, host, port, workers, threads, reset, skus, stock):
    """Serve BACKEND (json or sqlite) with one locking strategy until interrupted."""
    from racelab.serve import LOOPBACK_HOSTS, ServeError, serve

    if strategy not in STRATEGIES[backend]:
        names = ", ".join(STRATEGIES[backend])
        raise click.BadParameter(
            f"{strategy!r} is not a {backend} strategy ({names}).", param_hint="--strategy"
        )
    if host not in LOOPBACK_HOSTS:
        click.echo(
            f"warning: binding {host} exposes this deliberately unsafe server beyond this machine.",
            err=True,
        )
    try:
        serve(backend, strategy, data_dir, host, port, workers, threads, reset, skus, stock)
    except ServeError as e:
        click.echo(f"racelab serve: {e}", err=True)
        raise SystemExit(2) from None


@cli.command("check")
@click.argument("store", type=click.Path(exists=True))
@click.option(
    "--history",
    "history_path",
    type=click.Path(dir_okay=False),
    help="History (JSON Lines) of the run that wrote the store.",
)
@click.option("--json", "as_json", is_flag=True, help="Write the report as JSON to stdout.")
@click.option("--explain", is_flag=True, help="Explain each anomaly in plain words.")
@click.option(
    "--examples",
    type=click.IntRange(0, 1000),
    default=3,
    show_default=True,
    help="Examples kept per anomaly class.",
)
@click.option("--lenient", is_flag=True, help="Skip unreadable history lines and count them.")
def check_command(store, history_path, as_json, explain, examples, lenient):
    """Check STORE (store.json, store.db or their data dir) for lost, duplicated and corrupt writes.

    Exit 0 if the store held, 1 if anomalies were found or it is unreadable, 2 on bad usage
    or an unreadable history.
    """
    import json

    from checker import check, exit_code
    from checker.report import explain_lines, table_lines
    from checker.stores import resolve_store_path
    from loadtests.history import HistoryError, read_history

    try:
        path = resolve_store_path(store)
    except FileNotFoundError as e:
        raise click.BadParameter(str(e), param_hint="STORE") from None
    try:
        history = read_history(history_path, lenient) if history_path else None
    except HistoryError as e:
        click.echo(f"racelab check: unreadable history: {e}", err=True)
        raise SystemExit(2) from None
    report = check(path, history, examples)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo("\n".join(table_lines(report)))
        if explain:
            click.echo("\n" + "\n".join(explain_lines(report)))
    raise SystemExit(exit_code(report))


@cli.command("load")
@click.argument("url")
@click.option(
    "--vus",
    type=click.IntRange(1, 10_000),
    default=10,
    show_default=True,
    help="Virtual users (closed model), or the most requests in flight (open model).",
)
@click.option("--duration", help="How long to run, e.g. 30s or 2m (default 30s).")
@click.option("--stages", help="Ramp VUs like k6, e.g. 10s:20,20s:100,10s:0.")
@click.option(
    "--scenario",
    type=click.Choice(["load", "stress", "spike", "soak"]),
    help="A preset shape scaled to --vus and --duration (see docs/contract.md).",
)
@click.option("--rate", help="Open model: a constant arrival rate such as 500/s.")
@click.option(
    "--think",
    default="0",
    show_default=True,
    help="Random wait between a user's operations, e.g. 0.1-0.5s.",
)
@click.option(
    "--mix",
    default="create=70,cancel=10,get=10,list=10",
    show_default=True,
    help="Operation weights; ops are create, cancel, get, list, items.",
)
@click.option("--qty", default="1-3", show_default=True, help="Quantity range per order.")
@click.option("--timeout", default="5s", show_default=True, help="Per-request timeout.")
@click.option("--seed", type=int, help="Seed for every choice; the same seed, the same plan.")
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=0,
    show_default=True,
    help="Resend the same token after a timeout or reset, up to N times.",
)
@click.option(
    "--max-requests",
    type=click.IntRange(1, 100_000_000),
    default=1_000_000,
    show_default=True,
    help="Stop after this many requests, whatever the duration.",
)
@click.option(
    "--history",
    "history_path",
    type=click.Path(dir_okay=False),
    help="Write the history (JSON Lines) here.",
)
@click.option("--summary-json", type=click.Path(dir_okay=False), help="Write the summary here.")
@click.option(
    "--timeline-csv", type=click.Path(dir_okay=False), help="Write one row per second here."
)
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    help="Pass/fail rule such as p99<150ms, errors<1%, rps>200; repeatable.",
)
@click.option("--allow-remote", is_flag=True, help="Allow a target outside loopback.")
@click.option("--quiet", is_flag=True, help="No live line, no summary table.")
def load_command(
    url,
    vus,
    duration,
    stages,
    scenario,
    rate,
    think,
    mix,
    qty,
    timeout,
    seed,
    retries,
    max_requests,
    history_path,
    summary_json,
    timeline_csv,
    thresholds,
    allow_remote,
    quiet,
):
    """Put URL under bounded, seeded load and record the history of every operation.

    Exit 0 when every threshold passed, 1 when one failed, 2 on bad usage.
    """
    from loadtests.console import summary_lines
    from loadtests.run import execute, live_stream
    from loadtests.runner import LoadError
    from racelab.load_options import build_config, parse_thresholds

    config = build_config(
        url,
        vus,
        duration,
        stages,
        scenario,
        rate,
        think,
        mix,
        qty,
        timeout,
        seed,
        retries,
        max_requests,
        allow_remote,
    )
    parsed = parse_thresholds(thresholds)
    try:
        summary, _ = execute(
            config, history_path, parsed, live_stream(quiet), summary_json, timeline_csv
        )
    except LoadError as e:
        raise click.ClickException(str(e)) from None
    if not quiet:
        click.echo(f"racelab load {config.url}  seed {config.seed}")
        click.echo("\n".join(summary_lines(summary)))
    if not all(t["passed"] for t in summary["thresholds"]):
        raise SystemExit(1)


@cli.command("compare")
@click.option(
    "--matrix",
    type=click.Choice(["ladder", "seed", "full"]),
    default="ladder",
    show_default=True,
    help="Which targets to run (see the README).",
)
@click.option("--targets", help="Run these instead, e.g. json:naive,sqlite:transactional@4.")
@click.option(
    "--vus",
    type=click.IntRange(1, 2000),
    default=50,
    show_default=True,
    help="Virtual users for every target.",
)
@click.option("--duration", default="8s", show_default=True, help="Load per target.")
@click.option("--seed", type=int, default=42, show_default=True, help="Seed for every load.")
@click.option(
    "--skus",
    type=click.IntRange(1, 10_000),
    default=10,
    show_default=True,
    help="Items in each fresh store.",
)
@click.option(
    "--stock",
    type=click.IntRange(0, 10**12),
    default=100_000,
    show_default=True,
    help="Units of each item in each fresh store.",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=0,
    show_default=True,
    help="Resend the same token after a timeout or reset, up to N times.",
)
@click.option("--timeout", default="5s", show_default=True, help="Per-request timeout.")
@click.option(
    "--mix",
    default="create=70,cancel=10,get=10,list=10",
    show_default=True,
    help="Operation weights for every load.",
)
@click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=16,
    show_default=True,
    help="Threads per gunicorn worker.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    help="Folder for the report and every target's files (default runs/<time>).",
)
def compare_command(
    matrix, targets, vus, duration, seed, skus, stock, retries, timeout, mix, threads, out
):
    """Serve, load and check each target in turn; print a verdict table, write a report.

    Exit 0 when every target ran (whatever its verdict), 1 when one could not be run.
    """
    from loadtests.plan import parse_mix
    from loadtests.shapes import parse_duration
    from racelab.compare import Settings
    from racelab.compare_command import run_compare
    from racelab.load_options import parsed_option
    from racelab.targets import MATRICES, SpecError, parse_specs

    try:
        specs = parse_specs(targets) if targets else MATRICES[matrix]
    except SpecError as e:
        raise click.BadParameter(str(e), param_hint="--targets") from None
    settings = Settings(
        vus=vus,
        duration=parsed_option(parse_duration, duration, "--duration"),
        seed=seed,
        skus=skus,
        stock=stock,
        threads=threads,
        mix=parsed_option(parse_mix, mix, "--mix"),
        retries=retries,
        timeout=parsed_option(parse_duration, timeout, "--timeout"),
    )
    raise SystemExit(run_compare(specs, settings, out))


@cli.group("history")
def history_group():
    """Make histories from other tools' output, or join several into one."""


@history_group.command("from-k6")
@click.argument("k6_json", type=click.Path(exists=True, dir_okay=False))
def from_k6_command(k6_json):
    """Turn K6_JSON (k6 run --out json=..., with loadtests/k6/orders.js) into a history."""
    import json

    from loadtests.history import HistoryError
    from loadtests.interop import history_from_k6

    try:
        with open(k6_json, "rb") as f:
            records = history_from_k6(f, k6_json)
    except HistoryError as e:
        click.echo(f"racelab history: {e}", err=True)
        raise SystemExit(2) from None
    for record in records:
        click.echo(json.dumps(record, separators=(",", ":")))


@history_group.command("merge")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def merge_command(files):
    """Join FILES (one history per Locust worker, say) into one history on one clock."""
    import json

    from loadtests.history import HistoryError, read_history
    from loadtests.interop import merge_histories

    try:
        histories = [read_history(path) for path in files]
    except HistoryError as e:
        click.echo(f"racelab history: {e}", err=True)
        raise SystemExit(2) from None
    for record in merge_histories(histories):
        click.echo(json.dumps(record, separators=(",", ":")))


def main():
    """Run the racelab command line."""
    cli()


if __name__ == "__main__":
    main()
