"""Options shared by several commands, declared once (sqlite-utils' habit)."""

import click

from checker.contention import MIN_OVERLAPS
from racelab.cli.errors import parsed_option


def store_options(skus: int, stock: int, each: str = "a fresh store"):
    """--skus and --stock: how a fresh store is seeded."""

    def apply(command):
        command = click.option(
            "--stock",
            type=click.IntRange(0, 10**12),
            default=stock,
            show_default=True,
            help=f"Units of each item in {each}.",
        )(command)
        return click.option(
            "--skus",
            type=click.IntRange(1, 10_000),
            default=skus,
            show_default=True,
            help=f"Items in {each}.",
        )(command)

    return apply


threads_option = click.option(
    "--threads",
    type=click.IntRange(1, 256),
    default=16,
    show_default=True,
    help="Threads per gunicorn worker.",
)
retries_option = click.option(
    "--retries",
    type=click.IntRange(0, 10),
    default=0,
    show_default=True,
    help="Resend the same token after a timeout or reset, up to N times.",
)
max_requests_option = click.option(
    "--max-requests",
    type=click.IntRange(1, 100_000_000),
    default=1_000_000,
    show_default=True,
    help="Stop after this many requests, whatever the duration.",
)
min_overlaps_option = click.option(
    "--min-overlaps",
    type=click.IntRange(0, 10**12),
    default=MIN_OVERLAPS,
    show_default=True,
    help="Overlapping write pairs on one sku needed to call a clean store held, not inconclusive.",
)
timeout_option = click.option(
    "--timeout", default="5s", show_default=True, help="Per-request timeout."
)


def mix_option(help_text: str):
    """--mix: operation weights (unset: the --workload's own)."""
    from loadtests.plan import WORKLOADS  # the load's plan, which racelab serve never needs

    defaults = "; ".join(f"{name}: {mix}" for name, mix in WORKLOADS.items())
    return click.option("--mix", help=f"{help_text} Default by workload ({defaults}).")


def chosen_mix(text: str | None, workload: str) -> dict:
    """Return --mix parsed (naming it if bad), or the workload's own mix when it is unset."""
    from loadtests.plan import default_mix, parse_mix

    return parsed_option(parse_mix, text, "--mix") if text else default_mix(workload)


def workload_option(command):
    """--workload: the orders, or the on-call leaves."""
    from loadtests.plan import WORKLOADS

    return click.option(
        "--workload",
        type=click.Choice(list(WORKLOADS)),
        default=next(iter(WORKLOADS)),
        show_default=True,
        help="orders: create, cancel and read orders; oncall: doctors leave shifts (write skew).",
    )(command)


def repeat_option(default: int, help_text: str):
    """Return the --repeat option: how many times to run each stepped permutation."""
    return click.option(
        "--repeat",
        type=click.IntRange(1, 100),
        default=default,
        show_default=True,
        help=help_text,
    )


# A stepped session not at its next point within this is taken as blocked (racelab step,
# racelab explore): what a lock wait looks like when the server sends no wait notice.
block_wait_option = click.option(
    "--block-wait",
    default="1s",
    show_default=True,
    help="How long a step may take to reach its next point before it counts as blocked.",
)


# Load only ever targets loopback unless the user says the server is theirs.
allow_remote_option = click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a target outside loopback (127.0.0.1, ::1, localhost).",
)
