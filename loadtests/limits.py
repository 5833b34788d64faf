"""The open-file limit: every request in flight holds a socket, so 10,000 virtual users may
need 10,000 descriptors, far above a laptop's usual soft limit (1,024 on Linux, 256 on macOS)."""

import resource

HEADROOM = 64  # the history file, the event loop's own descriptors, stdio, imported modules


def peak_vus(config) -> int:
    """Return the most virtual users (or requests in flight) a load config can reach."""
    return max([config.vus, *(vus for _, vus in config.stages or ())])


def raise_open_files(vus: int) -> str | None:
    """Raise the soft open-file limit to what vus users need, up to the hard limit.

    Return None when the limit suffices, else a sentence saying what it is and how to raise it.
    """
    needed = vus + HEADROOM
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return None
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    except (ValueError, OSError):  # macOS refuses above kern.maxfilesperproc
        pass
    if soft >= needed:
        return None
    return (
        f"{vus} virtual users may need {needed} open files, but this process may open "
        f"{soft} (hard limit {'unlimited' if hard == resource.RLIM_INFINITY else hard}); "
        f"connections past that fail. Raise it with `ulimit -n {needed}` first."
    )
