"""How racelab ends: at once when its work is done, cleanly whatever signal stops it, and
never leaving a child of its own behind."""

import contextlib
import ctypes
import os
import signal
import sys
import threading

# A closed terminal sends SIGHUP, `kill` and service managers SIGTERM: each unwinds racelab
# the way Ctrl-C does, so every finally block that stops a server or removes a folder runs.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>

_received: list[int] = []  # the signal that started the unwind, first


def exit_now(status: int) -> None:
    """Flush what was printed and end the process without tearing the interpreter down.

    Freeing a loaded server's heap object by object took 0.2-0.6 s per process at every
    stop; by then the store's writes are on disk and its database server is stopped.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def unwind_on_signals() -> None:
    """Make SIGTERM and SIGHUP raise KeyboardInterrupt in the main thread, as SIGINT does."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _as_ctrl_c)


def _as_ctrl_c(signum, frame) -> None:
    """Take the path Ctrl-C takes now: asyncio's runner cancels its load, else KeyboardInterrupt."""
    _received.append(signum)
    on_interrupt = signal.getsignal(signal.SIGINT)
    if callable(on_interrupt) and on_interrupt is not signal.default_int_handler:
        on_interrupt(signal.SIGINT, frame)  # asyncio's: the load's records are still written
        return
    raise KeyboardInterrupt


def raise_if_stopped() -> None:
    """Raise KeyboardInterrupt in the main thread if SIGTERM or SIGHUP came: loops that
    start things call this between steps, since a handler that ran inside a finalizer
    (a __del__) had its KeyboardInterrupt printed and dropped, and the loop went on."""
    if _received and threading.current_thread() is threading.main_thread():
        raise KeyboardInterrupt


def stop_signal() -> int:
    """Return the signal that stopped racelab: SIGINT unless SIGTERM or SIGHUP came first."""
    return _received[0] if _received else signal.SIGINT


def stop_status() -> int:
    """Return the exit status of a run a signal stopped: 128 + its number (130, 143, 129)."""
    return 128 + stop_signal()


@contextlib.contextmanager
def finishing():
    """Run the block to its end: a stop signal arriving inside is raised once it is done.

    Stop paths run in finally blocks while a first signal unwinds; a second Ctrl-C must not
    cut one short and leave a server or a folder behind.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # signals are handled in the main thread only: nothing interrupts this one
        return
    held: list[int] = []
    previous = {s: signal.signal(s, lambda signum, _: held.append(signum)) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if held:
            _received.extend(s for s in held if s != signal.SIGINT)
            raise KeyboardInterrupt


def die_with_parent(parent: int) -> None:
    """In a child of parent: have the kernel send it SIGTERM when parent dies, even by SIGKILL.

    Linux only (prctl). The signal comes when the *thread* that started the child ends, so
    racelab starts its servers from its main thread.
    """
    if _prctl is None:
        return
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request was made
        os.kill(os.getpid(), signal.SIGTERM)


def _load_prctl():
    """Return libc's prctl, looked up before any fork (a child loads nothing)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None).prctl  # the process's own symbols include libc's
    except (OSError, AttributeError):
        return None


_prctl = _load_prctl()
