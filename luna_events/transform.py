"""The remap step shared by the CLI and the shipper: JSON line -> checked event -> line protocol."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from luna_events import limits
from luna_events.errors import Problem
from luna_events.fastpath import FastEncoder
from luna_events.jsonline import (
    LEADING_MARKER,
    LineKind,
    decode_envelope,
    has_marker,
    parse_line,
)
from luna_events.lineprotocol import encode_line
from luna_events.validation import DEFAULT_VALIDATOR, Validator

_DEFAULT_ENCODER = FastEncoder()
_ORDINARY_REASON = "no monitoring marker"
_EVENT = LineKind.EVENT


class Outcome(msgspec.Struct):
    """What became of one input line.

    ``kind`` is EVENT with ``line_protocol`` set, INVALID with ``problems``, or
    ORDINARY with the ``reason`` it was skipped. A ``msgspec.Struct``: built in C, a
    third of a slotted dataclass's cost, once per line.
    """

    kind: LineKind
    line_protocol: str | None = None
    problems: tuple[Problem, ...] = ()
    reason: str = ""
    series: str | None = None
    """The series of an event line, valid or not, when it could be read."""

    @property
    def error(self) -> str:
        """All problems as one readable string (empty for a valid or ordinary line)."""
        return "; ".join(str(p) for p in self.problems)


class Transform:
    """Parse, validate and encode lines against one catalog.

    A line without the marker is ordinary after one byte scan, never parsed. Valid
    monitoring lines take the one-pass :class:`FastEncoder`; anything else is read
    again by :func:`~luna_events.jsonline.parse_line` and the :class:`Validator`,
    which report every problem.
    """

    def __init__(
        self,
        validator: Validator = DEFAULT_VALIDATOR,
        *,
        max_bytes: int = limits.MAX_LINE_BYTES,
    ) -> None:
        self.validator = validator
        self.max_bytes = max_bytes
        encoder = (
            _DEFAULT_ENCODER if validator is DEFAULT_VALIDATOR else FastEncoder(validator.catalog)
        )
        self._encode = encoder.encode

    def __call__(self, line: bytes | str) -> Outcome:
        """The outcome of one line (with or without its newline)."""
        raw = line if type(line) is bytes else line.encode("utf-8", "surrogateescape")  # type: ignore[union-attr]
        if not (raw.startswith(LEADING_MARKER) or has_marker(raw)):
            return Outcome(LineKind.ORDINARY, reason=_ORDINARY_REASON)
        if len(raw) <= self.max_bytes:
            payload = decode_envelope(raw)
            if payload is not None:
                series = payload.series
                encoded = self._encode(series, payload.time, payload.tags, payload.fields, raw)
                if encoded is not None:
                    return Outcome(_EVENT, encoded, (), "", series)
        return self._slow(raw)

    def encode(self, line: bytes) -> str | None:
        """The line protocol of a valid monitoring line, else ``None`` (then call the
        transform itself to learn what the line is)."""
        encoded: list[str] = []
        self.encode_run((line,), 0, 1, encoded)
        return encoded[0] if encoded else None

    def encode_run(
        self, lines: Sequence[bytes], start: int, stop: int, encoded: list[str]
    ) -> tuple[int, int]:
        """The shipper's hot path: the line protocol of ``lines[start:stop]``, in order,
        appended to ``encoded`` up to the first monitoring line that is not a valid event
        on the fast path (call the transform itself to learn what that line is). Returns
        its index (``stop`` when every line went through) and how many ordinary lines were
        skipped on the way; a line without the marker costs one byte scan."""
        append = encoded.append
        encode = self._encode
        max_bytes = self.max_bytes
        skipped = 0
        for index in range(start, stop):
            line = lines[index]
            if not (line.startswith(LEADING_MARKER) or has_marker(line)):
                skipped += 1
                continue
            payload = decode_envelope(line) if len(line) <= max_bytes else None
            if payload is not None:
                protocol = encode(payload.series, payload.time, payload.tags, payload.fields, line)
                if protocol is not None:
                    append(protocol)
                    continue
            return index, skipped
        return stop, skipped

    def _slow(self, raw: bytes) -> Outcome:
        parsed = parse_line(raw, max_bytes=self.max_bytes)
        if parsed.event is None:
            return Outcome(parsed.kind, problems=parsed.problems, reason=parsed.reason)
        series = parsed.event.series
        event, problems = self.validator.normalize(parsed.event)
        if event is None:
            return Outcome(LineKind.INVALID, problems=tuple(problems), series=series)
        # Only reached if the fast path refused what the validator accepts, which the
        # test suite rules out; encoding the slow way keeps the event all the same.
        return Outcome(LineKind.EVENT, encode_line(event), series=series)


_DEFAULT_TRANSFORM = Transform()


def transform_line(line: bytes | str, *, max_bytes: int = limits.MAX_LINE_BYTES) -> Outcome:
    """Parse, validate and encode one line of a JSON log stream against the catalog."""
    transform = (
        _DEFAULT_TRANSFORM if max_bytes == limits.MAX_LINE_BYTES else Transform(max_bytes=max_bytes)
    )
    return transform(line)
