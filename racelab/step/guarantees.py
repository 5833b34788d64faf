"""Claimed against actual, Hermitage-style: what each strategy claims, and what the shipped
specs show it gives when two requests interleave (one source: the specs' [expected] cells)."""

import re
from pathlib import Path

from checker.checks import CHECKS
from racelab.compare.targets import parse_spec
from racelab.step.spec import load_spec
from servers.registry import STRATEGIES

SPECS = Path(__file__).resolve().parent.parent.parent / "specs"


def shown(specs_dir: Path = SPECS) -> dict[tuple[str, str, int], set[str]]:
    """Return (backend, strategy, workers) -> the anomaly classes some spec's cell shows."""
    found: dict[tuple[str, str, int], set[str]] = {}
    for path in sorted(specs_dir.glob("*.toml")):
        for target, cells in load_spec(path).expected.items():
            spec = parse_spec(target)
            classes = found.setdefault((spec.backend, spec.strategy, spec.workers), set())
            for cell in cells:
                classes |= {c.strip() for c in cell.split("(")[0].split(",")} - {"held", ""}
    return found


def guarantee_rows(specs_dir: Path = SPECS) -> list[tuple[str, str, str]]:
    """Return (strategy, claims, gives) for every strategy, in the registry's order."""
    found = shown(specs_dir)
    rows = []
    for backend, names in STRATEGIES.items():
        for name, cls in names.items():
            runs = sorted((w, classes) for (b, s, w), classes in found.items()
                          if (b, s) == (backend, name))  # fmt: skip
            gives = "; ".join(f"@{w}: {_named(classes)}" for w, classes in runs) or "not stepped"
            rows.append((f"{backend}:{name}", cls.claims, gives))
    return rows


def _named(classes: set[str]) -> str:
    """Return 'held', or each class with the name people know it by."""
    if not classes:
        return "held"
    names = sorted({_short(CHECKS[c].known_as) for c in classes})
    return f"{', '.join(sorted(classes))} ({', '.join(names)})"


def _short(known_as: str) -> str:
    """Return 'lost update (P4)' of 'lost update (P4) on a counter: ...'."""
    found = re.match(r"^(.*?\([A-Z]\w*\))", known_as)
    return found.group(1) if found else known_as.split(":")[0]


def guarantee_table(specs_dir: Path = SPECS) -> str:
    """Return the claimed-against-actual table as Markdown (docs/contract.md holds a copy)."""
    lines = ["| strategy | claims | gives, stepped (specs/) |", "| --- | --- | --- |"]
    lines += [f"| `{s}` | {c} | {g} |" for s, c, g in guarantee_rows(specs_dir)]
    return "\n".join(lines)


if __name__ == "__main__":
    print(guarantee_table())
