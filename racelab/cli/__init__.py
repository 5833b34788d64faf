"""The racelab command line: one group, and one module per verb (serve, load, check, compare,
step, conform, history)."""

import click

from racelab import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="racelab")
def cli():
    """Make write races visible: serve a target, load it, check what it stored."""


def register_commands() -> None:
    """Attach the commands that live in their own modules."""
    from racelab.cli.check import check_command
    from racelab.cli.compare import compare_command
    from racelab.cli.conform import conform_command
    from racelab.cli.history import history_group
    from racelab.cli.load import load_command
    from racelab.cli.serve import serve_command
    from racelab.cli.step import step_command

    for command in (
        serve_command,
        load_command,
        check_command,
        compare_command,
        step_command,
        conform_command,
        history_group,
    ):
        cli.add_command(command)


register_commands()


def main():
    """Run the racelab command line."""
    cli()


if __name__ == "__main__":
    main()
