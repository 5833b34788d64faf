"""The one set of page templates and static files: report.html, the step matrix page and the
ui all render from racelab/templates with autoescaping, so no page is built from strings."""

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# The options every page is rendered with, the ui's Flask app included.
JINJA_OPTIONS: dict[str, Any] = {"autoescape": True, "undefined": StrictUndefined,
                 "trim_blocks": True, "lstrip_blocks": True}  # fmt: skip


@cache
def environment() -> Environment:
    """Return the Jinja2 environment of the report writers (autoescape on, StrictUndefined)."""
    return Environment(loader=FileSystemLoader(TEMPLATES), **JINJA_OPTIONS)


def render(template: str, **data: object) -> str:
    """Render TEMPLATE with DATA already gathered: rendering reads no file of its own."""
    return environment().get_template(template).render(**data)
