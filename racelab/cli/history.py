"""`racelab history`: histories from k6, and merged Locust workers' histories."""

import click


@click.group("history")
def history_group():
    """Make histories from other tools' output, or join several into one."""


@history_group.command("from-k6")
@click.argument("k6_json", type=click.Path(exists=True, dir_okay=False))
def from_k6_command(k6_json):
    """Turn K6_JSON (k6 run --out json=..., with loadtests/k6/orders.js) into a history."""
    import json

    from history import HistoryError
    from loadtests.interop import history_from_k6
    from racelab.cli.errors import bad_input

    with bad_input(HistoryError), open(k6_json, "rb") as f:
        records = history_from_k6(f, k6_json)
    for record in records:
        click.echo(json.dumps(record, separators=(",", ":")))


@history_group.command("merge")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def merge_command(files):
    """Join FILES (one history per Locust worker, say) into one history on one clock."""
    import json

    from history import HistoryError, read_history
    from loadtests.interop import merge_histories
    from racelab.cli.errors import bad_input

    with bad_input(HistoryError):
        histories = [read_history(path) for path in files]
    for record in merge_histories(histories):
        click.echo(json.dumps(record, separators=(",", ":")))
