"""Running the Vector remap program through Vector's own VRL runtime (vector-vrl)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT
from .strategies import examples

vector_vrl = pytest.importorskip(
    "vector_vrl",
    reason="needs the vector-vrl package (Python >= 3.12): `make venv` installs it with [test]",
)

REMAP = ROOT / "vector" / "remap.vrl"


def vrl_examples(count: int) -> int:
    """Examples for a property test that runs remap.vrl once per example: each run
    compiles the program (about half a second), so the unit run keeps ``count`` small
    (:func:`~tests.strategies.examples`: 20 times as many in the deep profile)."""
    return examples(count)


CATALOG_TABLE = ROOT / "vector" / "catalog.csv"


def register_catalog() -> None:
    """Give VRL the ``luna_catalog`` enrichment table, as Vector's config declares it."""
    vector_vrl.register_enrichment_table("luna_catalog", "file", str(CATALOG_TABLE))


@dataclass
class VrlOutcome:
    kind: str
    message: str
    problems: list[dict[str, str]]
    event: dict[str, Any]


def _decoded(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except (json.JSONDecodeError, RecursionError):  # a line nested deeper than json reads
            return value
    return value


def run_vrl(program: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Run ``program`` on each event; objects come back decoded."""
    register_catalog()
    results = vector_vrl.execute_vrl(program, [json.dumps(e) for e in events])
    decoded = []
    for result in results:
        if "error" in result and "original" in result:
            raise AssertionError(f"VRL runtime error: {result['error']}")
        decoded.append({k: _decoded(v) for k, v in result.items()})
    return decoded


def remap(lines: list[str], program: Path = REMAP) -> list[VrlOutcome]:
    """Each log line through ``vector/remap.vrl``, as Vector's file source would feed it."""
    results = run_vrl(program.read_text(encoding="utf-8"), [{"message": line} for line in lines])
    return [
        VrlOutcome(
            r["luna_kind"],
            r.get("message", ""),
            r.get("luna_problems") or [],
            r,
        )
        for r in results
    ]
