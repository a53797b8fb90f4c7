"""The remap step shared by the CLI and the shipper: JSON line -> checked event -> line protocol."""

from __future__ import annotations

from dataclasses import dataclass

from luna_events import limits
from luna_events.errors import Problem
from luna_events.event import Event
from luna_events.jsonline import LineKind, parse_line
from luna_events.lineprotocol import encode_line
from luna_events.validation import DEFAULT_VALIDATOR, Validator


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one input line.

    ``kind`` is EVENT with ``event`` (normalized) and ``line_protocol`` set, INVALID
    with ``problems``, or ORDINARY with the ``reason`` it was skipped.
    """

    kind: LineKind
    event: Event | None = None
    line_protocol: str | None = None
    problems: tuple[Problem, ...] = ()
    reason: str = ""

    @property
    def error(self) -> str:
        """All problems as one readable string (empty for a valid or ordinary line)."""
        return "; ".join(str(p) for p in self.problems)


def transform_line(
    line: bytes | str,
    validator: Validator = DEFAULT_VALIDATOR,
    *,
    max_bytes: int = limits.MAX_LINE_BYTES,
) -> Outcome:
    """Parse, validate and encode one line of a JSON log stream."""
    parsed = parse_line(line, max_bytes=max_bytes)
    if parsed.event is None:
        return Outcome(parsed.kind, problems=parsed.problems, reason=parsed.reason)
    event, problems = validator.normalize(parsed.event)
    if event is None:
        return Outcome(LineKind.INVALID, problems=tuple(problems))
    return Outcome(LineKind.EVENT, event=event, line_protocol=encode_line(event))
