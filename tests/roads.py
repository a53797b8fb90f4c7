"""Both roads side by side: the Python transform and the Vector remap on the same lines."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from luna_events.transform import transform_line

from .vrl import remap

EXACT_MANTISSA = 2**53
NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def vector_reads_exactly(text: str) -> bool:
    """Whether Vector's JSON parser (serde_json without ``float_roundtrip``) reads the
    number ``text`` exactly: the integer of all its digits is a double, scaled by a
    power of ten within 10^±22 (one correctly rounded operation). Measured through
    vector-vrl: other numbers come out up to two units in the last place off."""
    mantissa, _, exponent = text.lower().partition("e")
    whole, _, fraction = mantissa.lstrip("-").partition(".")
    digits = int(whole + fraction)
    scale = (int(exponent) if exponent else 0) - len(fraction)
    exact = digits <= EXACT_MANTISSA or float(digits) == digits
    return exact and -22 <= scale <= 22


def floats_read_exactly(line: str) -> bool:
    """Whether every non-integer number in the JSON ``line`` is read exactly by Vector."""
    for match in NUMBER.finditer(line):
        token = match.group()
        if any(c in token for c in ".eE") and not vector_reads_exactly(token):
            return False
    return True


@dataclass(frozen=True)
class Verdict:
    kind: str
    protocol: str
    problems: tuple[tuple[str, str], ...]


def python_road(line: str) -> Verdict:
    outcome = transform_line(line)
    return Verdict(
        outcome.kind.value,
        outcome.line_protocol or "",
        tuple((p.code, p.path) for p in outcome.problems),
    )


def vector_road(lines: list[str]) -> list[Verdict]:
    return [
        Verdict(
            o.kind,
            o.message if o.kind == "event" else "",
            tuple((p["code"], p["path"]) for p in o.problems),
        )
        for o in remap(lines)
    ]


def assert_same_on_both_roads(lines: list[str]) -> None:
    """Same verdict, same problems in the same order, and the same bytes (unless a
    float in the line is one Vector is documented to misread)."""
    for line, vector in zip(lines, vector_road(lines), strict=True):
        python = python_road(line)
        shown = line if len(line) < 600 else line[:600] + "..."
        assert vector.kind == python.kind, (shown, python, vector)
        assert vector.problems == python.problems, (shown, python, vector)
        if python.kind == "event" and floats_read_exactly(line):
            assert vector.protocol == python.protocol, shown


def dumps(document: object) -> str:
    """JSON text the way a foreign writer might produce it: exact big ints, NaN tokens."""
    return json.dumps(document, ensure_ascii=False)
