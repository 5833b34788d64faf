"""`racelab serve`: run one backend with one strategy until interrupted."""

import click

from racelab.cli.errors import CommandError
from racelab.cli.options import store_options, threads_option
from servers.oncall import DOCTORS_DEFAULT, SHIFTS_DEFAULT
from servers.registry import STRATEGIES


@click.command("serve")
@click.argument("backend", type=click.Choice(sorted(STRATEGIES)))
@click.option(
    "--strategy",
    default="naive",
    show_default=True,
    help="Locking strategy; "
    + "; ".join(f"{backend}: {', '.join(names)}" for backend, names in STRATEGIES.items())
    + ".",
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
    "--shifts",
    type=click.IntRange(1, 10_000),
    default=SHIFTS_DEFAULT,
    show_default=True,
    help="On-call shifts in a fresh store.",
)
@click.option(
    "--doctors",
    type=click.IntRange(1, 1000),
    default=DOCTORS_DEFAULT,
    show_default=True,
    help="Doctors on call in each shift of a fresh store.",
)
@click.option(
    "--delay",
    help="Fault injection: stall one write in ten at its write point for a random delay in "
    "this range, e.g. 0-200ms.",
)
@click.option(
    "--step",
    metavar="SOCKET",
    envvar="RACELAB_STEP_SOCKET",
    help="Pause requests that name a session (X-Racelab-Session) at every pause point, "
    "until the scheduler on this Unix socket lets them go on (racelab step runs one; the "
    "pause protocol is in docs/contract.md).",
)
@click.option(
    "--step-secret",
    metavar="SECRET",
    envvar="RACELAB_STEP_SECRET",
    help="The scheduler's secret for this run, which every pause line carries (with --step).",
)
@click.option(
    "--database-url",
    metavar="URL",
    help="postgres: a PostgreSQL database to use (postgresql://USER@HOST/DB, shared by "
    "several app machines); without it racelab runs a private server in the data dir.",
)
def serve_command(
    backend, strategy, data_dir, host, port, workers, threads, reset, skus, stock, shifts, doctors,
    delay, step, step_secret, database_url,
):  # fmt: skip
    """Serve BACKEND (json, sqlite or postgres) with one locking strategy until interrupted.

    Exit 1 if it cannot listen on the port or start its database, 2 on bad usage or a store
    it cannot use.
    """
    from loadtests.shapes import parse_duration, parse_range
    from racelab.cli.errors import parsed_option
    from racelab.process_exit import exit_now
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
            backend, strategy, data_dir, host, port, workers, threads, reset, skus, stock,
            delay_s, step=_scheduler(step, step_secret) if step else None,
            database_url=database_url, rota=(shifts, doctors),
        )  # fmt: skip
    except ServeError as e:
        raise CommandError(str(e), e.status) from None
    except SystemExit as e:  # how gunicorn's master ends, once its workers are gone
        if e.code not in (None, 0):
            raise
    exit_now(0)


def _scheduler(path: str, secret: str | None) -> tuple[str, str]:
    """Return (socket path, secret) for --step, or fail naming the bad value (exit 2)."""
    from servers.stepping import SECRET_PATTERN

    if len(path.encode()) > 107:  # what a Unix socket address holds
        raise click.BadParameter(f"{path!r} is longer than a Unix socket path may be (107 bytes).",
                                 param_hint="--step")  # fmt: skip
    if secret is None:
        raise click.BadParameter("--step needs --step-secret (or RACELAB_STEP_SECRET).",
                                 param_hint="--step-secret")  # fmt: skip
    if not SECRET_PATTERN.fullmatch(secret):
        raise click.BadParameter("the secret must be 16-128 letters, digits, _ or -.",
                                 param_hint="--step-secret")  # fmt: skip
    return path, secret
