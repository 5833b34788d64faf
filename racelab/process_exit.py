"""End a server process at once, once everything it must do before exiting is done."""

import os
import sys


def exit_now(status: int) -> None:
    """Flush what was printed and end the process without tearing the interpreter down.

    Freeing a loaded server's heap object by object took 0.2-0.6 s per process at every
    stop; by then the store's writes are on disk and its database server is stopped.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
