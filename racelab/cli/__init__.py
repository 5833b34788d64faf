"""The racelab command line: one group, and one module per verb (serve, load, check, compare,
step, conform, history)."""

import importlib

import click

from racelab import __version__

# Each verb's module, imported only when that verb runs (or help lists it): `racelab serve`
# starts a target's server, and loading the load generator and the report with it would
# add half a second to every server start (a compare starts seven).
COMMANDS = {
    "serve": "racelab.cli.serve:serve_command",
    "load": "racelab.cli.load:load_command",
    "check": "racelab.cli.check:check_command",
    "compare": "racelab.cli.compare:compare_command",
    "step": "racelab.cli.step:step_command",
    "conform": "racelab.cli.conform:conform_command",
    "history": "racelab.cli.history:history_group",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (click's documented lazy pattern)."""

    def list_commands(self, ctx):
        return list(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attribute = COMMANDS[name].split(":")
        return getattr(importlib.import_module(module), attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="racelab")
def cli():
    """Make write races visible: serve a target, load it, check what it stored."""


def main():
    """Run the racelab command line."""
    cli()


if __name__ == "__main__":
    main()
