"""The strategy's source for the Step page: the methods a create or cancel runs through,
and the line of each `pause("POINT")`, so the page can light the line a session waits at."""

import inspect
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PATH_METHODS = ("create_order", "cancel_order", "_update", "_exclusive", "_load", "_save")
OPS = {"create_order": "create", "cancel_order": "cancel"}  # the rest serve every op
PAUSE = re.compile(r"""\bpause\(\s*["']([\w-]+)["']\s*\)""")


def strategy_source(target) -> list[dict] | None:
    """Return the strategy's methods on the write path as blocks, or None (no class)."""
    from servers.registry import store_class

    try:
        cls = store_class(target.backend, target.strategy)
    except (AttributeError, KeyError):
        return None  # an external target: its code is not ours to show
    blocks = [b for b in (_block(cls, name) for name in _method_names(cls)) if b is not None]
    return sorted(blocks, key=lambda b: (b["file"], b["first"]))


def _method_names(cls) -> list[str]:
    """Return the write path's methods and every other method that holds a pause point."""
    names = [n for n in PATH_METHODS if callable(getattr(cls, n, None))]
    for name, member in inspect.getmembers(cls, inspect.isfunction):
        if name not in names and PAUSE.search(_source(member)[0]):
            names.append(name)
    return names


def _source(function) -> tuple[str, int]:
    try:
        lines, first = inspect.getsourcelines(function)
    except (OSError, TypeError):
        return "", 0
    return "".join(lines), first


def _file_of(function) -> str:
    """Return the file a function is written in, from the repository's root; else its module."""
    try:
        source = inspect.getsourcefile(function)
    except TypeError:  # built in: no file
        source = None
    try:
        return str(Path(source).resolve().relative_to(ROOT)) if source else function.__module__
    except ValueError:  # installed elsewhere
        return function.__module__


def _block(cls, name: str) -> dict | None:
    """Return one method as {name, file, first, text, op, pauses: {line: point}}."""
    function = inspect.unwrap(getattr(cls, name))
    text, first = _source(function)
    if not text:
        return None
    owner = function.__qualname__.split(".")[0]
    file = _file_of(function)
    pauses = {first + i: m.group(1) for i, line in enumerate(text.splitlines())
              for m in [PAUSE.search(line)] if m}  # fmt: skip
    return {"name": f"{owner}.{name}", "file": file, "first": first, "text": text,
            "op": OPS.get(name), "pauses": pauses}  # fmt: skip


def pause_line(blocks: list[dict] | None, op: str, point: str) -> dict | None:
    """Return {file, line} of the pause point a request of op waits at, or None."""
    if not blocks:
        return None
    own = [b for b in blocks if b["op"] == op]
    for block in own + [b for b in blocks if b["op"] is None]:
        for line, name in block["pauses"].items():
            if name == point:
                return {"file": block["file"], "line": line}
    return None
