"""The step matrix as one self-contained HTML page: permutations down, targets across.

The page is racelab/templates/step_matrix.html; this module gathers what it shows."""

from racelab.pages import render
from racelab.step.run import Cell, steps_text
from racelab.step.spec import Spec, step_name


def matrix_html(spec: Spec, rows: list[list[Cell]]) -> str:
    """Return the page: the matrix, then each target's permutations step by step."""
    columns = range(len(rows[0]) if rows else 0)
    return render(
        "step_matrix.html",
        spec={"name": spec.name, "path": spec.path},
        rows=[_row(row) for row in rows],
        targets=[_target(rows, n) for n in columns],
    )


def _row(row: list[Cell]) -> dict:
    """Return one permutation's steps and each target's verdict on it."""
    steps = " ".join(step_name(s) for s in row[0].permutation)
    return {"steps": steps, "cells": [{"verdict": c.verdict, "label": c.label()} for c in row]}


def _target(rows: list[list[Cell]], column: int) -> dict:
    """Return one target's column: its name, why, and each permutation's first run."""
    target = rows[0][column].target
    return {"name": target.name, "why": target.why,
            "runs": [_run(row[column]) for row in rows]}  # fmt: skip


def _run(cell: Cell) -> dict:
    """Return a cell's first run: its steps, answers, verdict and anomaly classes."""
    first = cell.runs[0]
    return {
        "steps": steps_text(first),
        "answers": "; ".join(f"{a.session}: {a.text()}" for a in first.answers),
        "over": f" over {len(cell.runs)} runs" if len(cell.runs) > 1 else "",
        "verdict": cell.verdict,
        "anomalies": ", ".join(f"{k} {v}" for k, v in first.anomalies.items() if v),
    }
