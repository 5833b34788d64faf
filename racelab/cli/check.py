"""`racelab check`: the oracle, on a store and a history."""

import os

import click

from racelab.cli.options import allow_remote_option, min_overlaps_option, repeat_option


@click.command("check")
@click.argument("store", required=False)
@click.option(
    "--url",
    help="Read the final state from the server at URL through the API (GET /items and every "
    "page of GET /orders) instead of a store file: for a server in any language.",
)
@allow_remote_option
@click.option(
    "--read-timeout",
    type=click.FloatRange(0.1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds each --url read may take before the final state counts as unreadable.",
)
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
@click.option(
    "--partitions",
    type=click.IntRange(1, 10_000),
    help="Check the history this many partitions of its tokens at a time, on disk under "
    "TMPDIR, in bounded memory (1: all in memory). By default one per 112 MB of a history "
    "of 448 MB or more; the report is the same either way.",
)
@min_overlaps_option
@click.option(
    "--repro",
    "repro_dir",
    type=click.Path(file_okay=False),
    help="Write a step spec for each anomaly example into DIR, then replay it.",
)
@click.option(
    "--target",
    help="BACKEND:STRATEGY[@WORKERS] to replay on (read from a compare run if left out).",
)
@click.option(
    "--external",
    metavar="NAME=COMMAND",
    help="With --repro: a server of yours to replay on (started as racelab step --external "
    "starts it), its reproductions stepped at the points its create reaches.",
)
@repeat_option(5, "Replays of each reproduction.")
def check_command(
    store, url, allow_remote, read_timeout, history_path, as_json, explain, examples, lenient,
    partitions, min_overlaps, repro_dir, target, external, repeat,
):  # fmt: skip
    """Check STORE (store.json, store.db, a PostgreSQL URL, or their data dir), or the server
    at --url, for lost, duplicated and corrupt writes.

    Through --url only what the API answers is known: a torn file behind a server that still
    answers is not checked, and final reads that fail make the verdict unknown.

    Exit 0 if the store held, 1 if anomalies were found or it is unreadable, 2 on bad usage
    or an unreadable history, 3 if inconclusive: no anomaly, but the writes in the history
    hardly overlapped, so no race was exercised.
    """
    import contextlib

    from checker import check, exit_code
    from history import HistoryError, open_history
    from racelab.cli.errors import bad_input

    path = _store_or_url(store, url, allow_remote)
    if repro_dir and not history_path:
        raise click.UsageError("--repro needs --history: the requests come from it")
    replay_on = _replay_target(store or url, target, external) if repro_dir else None
    with bad_input(HistoryError, prefix="unreadable history: "):
        # Streamed: the history's records are read once and not kept (see checker/facts.py).
        history = open_history(history_path, lenient) if history_path else None
        with contextlib.closing(history) if history is not None else contextlib.nullcontext():
            report = check(path, history, examples, min_overlaps, read_timeout=read_timeout,
                           partitions=partitions)  # fmt: skip
            writes = _writes(history, replay_on) if repro_dir or (explain and history) else None
    _print_report(report, as_json, _picker(writes) if explain else False)
    if repro_dir:
        _reproduce(report, writes, replay_on, repro_dir, repeat, history_path)
    raise SystemExit(exit_code(report))


def _print_report(report, as_json: bool, picker) -> None:
    """Print the report (a CheckReport) as JSON or as the table, then the examples explained
    (picker False: not asked for; None: asked for, with no history to pick requests from)."""
    from checker.text import explain_lines, table_lines
    from shapes.reports import to_json

    if as_json:
        click.echo(to_json(report))
        return
    _echo("\n".join(table_lines(report)))
    if picker is not False:
        _echo("\n" + "\n".join(explain_lines(report, picker)))


def _echo(text: str) -> None:
    """Print text, escaping what stdout cannot encode (a lone surrogate in a sku or token)."""
    import sys

    encoding = getattr(sys.stdout, "encoding", None) or "utf-8"
    click.echo(text.encode(encoding, "backslashreplace").decode(encoding))


def _store_or_url(store, url, allow_remote):
    """Return the store file to read, or the server URL; exactly one must be given."""
    from checker.stores import resolve_store_path
    from loadtests.target import TargetError, check_target

    if (store is None) == (url is None):
        raise click.UsageError("give a STORE or --url URL (one of them)")
    if url is not None:
        try:
            return check_target(url, allow_remote)
        except TargetError as e:
            raise click.BadParameter(str(e), param_hint="--url") from None
    try:
        return resolve_store_path(store)
    except FileNotFoundError as e:
        if not os.path.exists(store):
            raise click.BadParameter(f"{store!r} does not exist.", param_hint="STORE") from None
        raise click.BadParameter(str(e), param_hint="STORE") from None


def _replay_target(store, target, external=None):
    """Return (target, killed on purpose) from --target, --external or the compare run
    around STORE."""
    from pathlib import Path

    from racelab.compare.targets import TargetSpecError, parse_spec
    from racelab.repro.run import compare_entry

    if external is not None:
        if target is not None:
            raise click.UsageError("--repro replays on one --target or one --external")
        return _external_target(external), False
    entry = compare_entry(Path(store))
    if target is None and entry is None:
        raise click.UsageError(
            "--repro needs --target BACKEND:STRATEGY[@WORKERS] or --external NAME=COMMAND to "
            "replay on"
        )
    try:
        name = target or f"{entry.target}@{entry.workers}"
        spec = parse_spec(name)
    except TargetSpecError as e:
        raise click.BadParameter(str(e), param_hint="--target") from None
    return spec, bool(entry and entry.faults)


def _external_target(text: str):
    """Return the --external target, or exit 2 naming what is wrong with it."""
    from racelab.compare.external import TargetError, parse_external

    try:
        return parse_external(text)
    except TargetError as e:
        raise click.BadParameter(str(e), param_hint="--external") from None


def _writes(history, replay_on):
    from racelab.repro.pick import read_writes

    writes = read_writes(history)
    writes.faults = bool(replay_on and replay_on[1])
    return writes


def _picker(writes):
    """Return requests(anomaly, example): the few requests that explain an example."""
    if writes is None:
        return None
    from racelab.repro.pick import pick

    return lambda anomaly, example: pick(anomaly, example, writes)


def _reproduce(report, writes, replay_on, repro_dir, repeat, history_path) -> None:
    """Write the reproductions, replay them, and say how each went."""
    from pathlib import Path

    from racelab.repro.run import build, replay, write_all

    target, faults = replay_on
    points = _points(target) if target.backend == "external" and report.examples else None
    repros = build(report, writes, target, f"{history_path} ({target.name})", points)
    write_all(repros, Path(repro_dir))
    if not repros:
        click.echo("repro: no anomalies, nothing to reproduce.", err=True)
    for repro in repros:
        if repro.kind == "none":
            click.echo(f"repro: {repro.summary()}", err=True)
    replay(repros, target, repeat, faults, lambda line: click.echo(f"repro: {line}", err=True))


def _points(target) -> tuple:
    """Return the points a create passes on a server of yours; one line, exit 2, if it
    cannot be started or passes none."""
    from racelab.cli.errors import InputError
    from racelab.compare.process import TargetFailed
    from racelab.explore.engine import NothingToInterleave, create_points

    try:
        return create_points(target)
    except TargetFailed as e:
        raise InputError(str(e)) from None
    except NothingToInterleave:
        raise InputError(f"{target.name}: a create reached no pause point, so there is "
                         "nothing to step (does its code call pause()?)") from None  # fmt: skip
