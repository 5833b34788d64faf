"""`racelab conform`: the contract as a command, for a server in any language."""

import click

from racelab.cli.errors import parsed_option
from racelab.cli.options import allow_remote_option


@click.command("conform")
@click.argument("url")
@allow_remote_option
@click.option("--no-load", is_flag=True, help="Check the rules only, without the concurrent run.")
@click.option("--duration", default="3s", show_default=True, help="The concurrent run's length.")
@click.option(
    "--vus",
    type=click.IntRange(1, 500),
    default=20,
    show_default=True,
    help="Virtual users in the concurrent run.",
)
@click.option("--seed", type=int, help="Seed of the concurrent run (default: a new one each time).")
def conform_command(url, allow_remote, no_load, duration, vus, seed):
    """Check that the server at URL speaks docs/contract.md, rule by rule, then say whether it
    holds under concurrent writes (checked through the API).

    Every order the rules make is cancelled again. Exit 0 when every rule passes (whatever
    the concurrent run found), 1 when one fails.
    """
    import random

    from loadtests.shapes import parse_duration
    from loadtests.target import check_target
    from racelab.conform.run import concurrent_run, run_rules

    url = parsed_option(lambda u: check_target(u, allow_remote), url, "URL")
    seconds = parsed_option(parse_duration, duration, "--duration")
    click.echo(f"racelab conform {url}")
    results = run_rules(url, _show)
    passed = sum(r.passed for r in results)
    if not no_load and passed:
        seed = random.randrange(1, 10**9) if seed is None else seed
        click.echo(f"\nconcurrent writes: {vus} VUs for {seconds:g} s (seed {seed}) ...")
        _show_concurrent(concurrent_run(url, seed, seconds, vus))
    verdict = "conforms" if passed == len(results) else "does not conform"
    click.echo(f"\n{passed} of {len(results)} rules passed: {verdict}.")
    raise SystemExit(0 if passed == len(results) else 1)


def _show(result) -> None:
    mark = "pass" if result.passed else "FAIL"
    click.echo(f"  {mark}  {result.name:<13} {result.says}")
    if not result.passed:
        click.echo(f"        wanted: {result.want}")
        for line in result.lines:
            click.echo(f"        {line}")


def _show_concurrent(run) -> None:
    from checker.text import contention_line

    report, load = run.report, run.summary
    found = {k: v for k, v in report.anomalies.items() if v}
    click.echo(f"  {load.requests} requests; " + contention_line(report))
    words = ", ".join(f"{v} {k}" for k, v in found.items()) or "no anomaly"
    error = report.store.error if not report.store.readable else ""
    click.echo(f"  verdict: {report.verdict} ({error or words}); "
               "`racelab check --url` can say more")  # fmt: skip
