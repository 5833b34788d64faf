"""Why a command stopped, said once: one line on stderr, and the exit status that fits.

2 means the input cannot be used (a value, a file, a spec): the user fixes the command.
1 means the machine's state stopped the run (a port in use, a target that does not answer).
click's own usage errors (a bad option value) exit 2 as well, with the usage line.
"""

import contextlib

import click


class CommandError(click.ClickException):
    """A run that cannot go on: `racelab VERB: message` on stderr, exit 1."""

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            # click types exit_code as a class variable; one error may still exit its own way.
            self.exit_code = exit_code  # type: ignore[misc]
        # Raised inside the command; shown by click after its context has closed.
        self.command = " ".join(["racelab", *_verbs(click.get_current_context(silent=True))])

    def show(self, file=None) -> None:
        """Print the one line, named after the command that failed."""
        click.echo(f"{self.command}: {self.format_message()}", err=True)


def _verbs(context) -> list[str]:
    """Return the subcommand names of context ("history", "merge"), not the program's."""
    names: list[str] = []
    while context is not None and context.parent is not None:
        names.insert(0, context.info_name)
        context = context.parent
    return names


class InputError(CommandError):
    """Input the command cannot use: exit 2."""

    exit_code = 2


@contextlib.contextmanager
def bad_input(*errors: type[Exception], prefix: str = ""):
    """Turn the given exceptions, raised inside, into an InputError (exit 2)."""
    try:
        yield
    except errors as e:
        raise InputError(f"{prefix}{e}") from None


def parsed_option(parser, text, hint):
    """Parse an option value, or fail naming it (exit 2).

    Every racelab parser (shapes, mixes, thresholds, targets, addresses) refuses a value
    with a ValueError subclass that says what is wrong with it.
    """
    try:
        return parser(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=hint) from None
