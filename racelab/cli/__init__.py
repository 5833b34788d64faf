"""The racelab command line: one group, and one module per verb (serve, load, check, compare,
step, explore, conform, history, ui)."""

import importlib
import signal

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
    "explore": "racelab.cli.explore:explore_command",
    "conform": "racelab.cli.conform:conform_command",
    "history": "racelab.cli.history:history_group",
    "ui": "racelab.cli.ui:ui_command",
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

    def invoke(self, ctx):
        """Run the verb; a Ctrl-C, SIGTERM or SIGHUP that unwound it ends in one line."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted(ctx.invoked_subcommand) from None


class Interrupted(click.ClickException):
    """A signal stopped the verb once its finally blocks had stopped what it started."""

    def __init__(self, verb: str | None):
        from racelab.process_exit import stop_signal, stop_status

        super().__init__(f"stopped by {signal.Signals(stop_signal()).name}")
        # 130, 143 or 129, as a shell reports a signal (click types it a class variable).
        self.exit_code = stop_status()  # type: ignore[misc]
        self.verb = " ".join(filter(None, ["racelab", verb]))

    def show(self, file=None) -> None:
        """Print the one line, without click's "Error:"."""
        click.echo(f"{self.verb}: {self.format_message()}", err=True)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="racelab")
def cli():
    """Make write races visible: serve a target, load it, check what it stored."""


def main():
    """Run the racelab command line; SIGTERM and SIGHUP unwind it as Ctrl-C does."""
    from racelab.process_exit import unwind_on_signals

    unwind_on_signals()
    cli()


if __name__ == "__main__":
    main()
