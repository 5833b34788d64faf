"""`racelab check`: the oracle, on a store and a history."""

import click

from racelab.cli.options import min_overlaps_option


@click.command("check")
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
