"""The racelab command line: serve, load, check, compare."""

import click

from racelab import __version__
from racelab.options import min_overlaps_option, store_options, threads_option
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
@threads_option
@click.option("--reset", is_flag=True, help="Replace an existing store with a fresh one.")
@store_options(skus=5, stock=1000)
@click.option(
    "--delay",
    help="Fault injection: slow every write by a random delay in this range, e.g. 0-200ms.",
)
def serve_command(
    backend, strategy, data_dir, host, port, workers, threads, reset, skus, stock, delay
):
    """Serve BACKEND (json or sqlite) with one locking strategy until interrupted."""
    from loadtests.shapes import parse_duration, parse_range
    from racelab.load_options import parsed_option
    from racelab.serve import LOOPBACK_HOSTS, ServeError, serve

    delay_s = (
        parsed_option(lambda t: parse_range(t, parse_duration), delay, "--delay") if delay else None
    )
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
        serve(
            backend, strategy, data_dir, host, port, workers, threads, reset, skus, stock, delay_s
        )
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
@min_overlaps_option
def check_command(store, history_path, as_json, explain, examples, lenient, min_overlaps):
    """Check STORE (store.json, store.db or their data dir) for lost, duplicated and corrupt writes.

    Exit 0 if the store held, 1 if anomalies were found or it is unreadable, 2 on bad usage
    or an unreadable history, 3 if inconclusive: no anomaly, but the writes in the history
    hardly overlapped, so no race was exercised.
    """
    import contextlib
    import json

    from checker import check, exit_code
    from checker.report import explain_lines, table_lines
    from checker.stores import resolve_store_path
    from history import HistoryError, open_history

    try:
        path = resolve_store_path(store)
    except FileNotFoundError as e:
        raise click.BadParameter(str(e), param_hint="STORE") from None
    try:
        # Streamed: the history's records are read once and not kept (see checker/facts.py).
        history = open_history(history_path, lenient) if history_path else None
        with contextlib.closing(history) if history is not None else contextlib.nullcontext():
            report = check(path, history, examples, min_overlaps)
    except HistoryError as e:
        click.echo(f"racelab check: unreadable history: {e}", err=True)
        raise SystemExit(2) from None
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo("\n".join(table_lines(report)))
        if explain:
            click.echo("\n" + "\n".join(explain_lines(report)))
    raise SystemExit(exit_code(report))


def register_commands() -> None:
    """Attach the commands that live in their own modules."""
    from racelab.cli_compare import compare_command
    from racelab.cli_history import history_group
    from racelab.cli_load import load_command

    for command in (load_command, compare_command, history_group):
        cli.add_command(command)


register_commands()


def main():
    """Run the racelab command line."""
    cli()


if __name__ == "__main__":
    main()
