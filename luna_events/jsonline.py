"""The JSON line format: one monitoring event per line, in any JSON log stream.

A monitoring line is a JSON object with the key ``luna_event`` (see
docs/event-format.md); the project's writers put it first::

    {"luna_event": {"v": 1, "series": "requests", "time": 1763794047123456789,
                    "tags": {"service": "luna-tasks", ...}, "fields": {...}},
     "timestamp": 1763794047.123456, "level": "INFO", "message": "request"}

Every other key belongs to the logging library and is ignored. A line is told
apart by a byte scan for the marker key (:func:`has_marker`), in any spelling JSON
allows; a line without it is ordinary and is never parsed. A line with it that
cannot be read is a damaged monitoring line and is reported, never skipped.

This module is the one writer (:func:`write_document`) and the one reader
(:func:`decode_envelope` for the fast path, :func:`parse_line` for everything else)
of the format.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from luna_events import limits
from luna_events.errors import InvalidEvent, Problem
from luna_events.event import FORMAT_KEY, Event

FORMAT_VERSION = 1
"""The version written in ``luna_event.v``; readers reject versions they do not know."""

MARKER = b'"' + FORMAT_KEY.encode() + b'"'
"""The marker key as the project's writers spell it."""


def _escapable(char: str) -> str:
    hex_digits = "".join(
        f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{ord(char):04x}"
    )
    return f"(?:{re.escape(char)}|\\\\u{hex_digits})"


MARKER_PATTERN = '"' + "".join(_escapable(c) for c in FORMAT_KEY) + '"'
"""The marker key in any JSON spelling: each character plain or as a ``\\uXXXX`` escape
(the Vector remap uses the same pattern)."""
NON_FINITE_PATTERN = r"[\[:,]\s*-?(?:NaN|Infinity)\s*[,\]}]"
"""A ``NaN``/``Infinity`` token where a JSON value goes: what Python's ``json`` module
(and luna-events' own writers, for a non-finite float) write; not JSON, refused as
``not_finite``."""
BIG_INT_PATTERN = r"[\[:,]\s*(-?[0-9]{19,})\s*[,\]}]"
"""An integer token long enough to be outside the 64-bit range (the Vector remap
checks each, since Vector reads one as a float)."""

LEADING_MARKER = b"{" + MARKER + b":"
"""How the project's own writers start a monitoring line (``luna_event`` first)."""
_MARKER_ANY = re.compile(MARKER_PATTERN.encode())
_NON_FINITE = re.compile(NON_FINITE_PATTERN.encode())
_NEGATIVE_ZERO = re.compile(rb"[\[:,]\s*-0(?![.eE0-9])")
_NEGATIVE_ZERO_HINT = re.compile(rb"-0(?![.eE0-9])")
"""A literal-prefixed pattern the regex engine scans for fast; most lines have none."""
_null_search = re.compile(b"null").search
"""Finds what orjson writes for NaN and infinity (a compiled search beats ``bytes.find`` here)."""
_BOM = b"\xef\xbb\xbf"


def has_marker(data: bytes) -> bool:
    """Whether ``data`` holds the marker key ``"luna_event"``, plainly or with any of its
    characters written as a JSON ``\\uXXXX`` escape. A byte scan, no parsing: a line
    without the marker is an ordinary log line, however long or damaged it is."""
    # bytes.find, not `in`: `in` first tries its argument as an int, which costs more
    # than the scan on lines of a few hundred bytes
    return (
        data.startswith(LEADING_MARKER)
        or data.find(MARKER) >= 0
        or (data.find(b"\\u") >= 0 and _MARKER_ANY.search(data) is not None)
    )


def has_negative_zero(data: bytes) -> bool:
    """Whether ``data`` may hold a ``-0`` number token, which is read as the float negative zero."""
    return _NEGATIVE_ZERO_HINT.search(data) is not None and _NEGATIVE_ZERO.search(data) is not None


# writing ---------------------------------------------------------------------------


def event_payload(event: Event) -> dict[str, Any]:
    """The ``luna_event`` object of a monitoring line (``logs.layout.event_line`` builds
    the same inline; a test keeps the two alike)."""
    return {
        "v": FORMAT_VERSION,
        "series": event.series,
        "time": event.time_ns,
        "tags": event.tags,
        "fields": event.fields,
    }


def _non_finite(value: object) -> bool:
    """Whether ``value`` (an event, or a value in one) holds a NaN or an infinity at any
    depth, the time and the series included: orjson writes one as ``null``. Asked only
    of a line with ``null`` in it."""
    if isinstance(value, float):
        return value - value != 0.0
    if isinstance(value, Event):
        return any(map(_non_finite, (value.tags, value.fields, value.time_ns, value.series)))
    if isinstance(value, Mapping):
        return any(map(_non_finite, value.values()))
    if isinstance(value, list | tuple):
        return any(map(_non_finite, value))
    return False


def _float(value: object) -> object:
    """orjson's fallback on the first try: a float subclass (numpy's ``float64``) is
    the float it is, never a string; anything else is left to :func:`_careful`."""
    if isinstance(value, float):
        return float(value)
    raise TypeError


def _other(value: object) -> object:
    """What is written for a value outside the event that JSON has no type for (a
    logging extra): a float subclass as the float it is, anything else as its ``str``."""
    return float(value) if isinstance(value, float) else str(value)


UNENCODABLE_KEY = "unencodable"
"""The key of ``{"unencodable": "<type name>"}``, what the writer puts in the event for
a value JSON cannot hold (a set, an arbitrary object): both roads refuse it as
``wrong_type`` naming the type, so it is dead-lettered, never stored as a string."""
_PLAIN = (str, int, float, bool, type(None))


def _marked(value: object) -> object:
    """``value`` with every part JSON cannot hold (a value orjson has no type for)
    replaced by ``{"unencodable": <type name>}``, and every key that is not a string by
    ``""`` (refused as ``bad_key``), never by its ``str``."""
    if isinstance(value, Mapping):
        return {(k if isinstance(k, str) else ""): _marked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_marked(v) for v in value]
    if isinstance(value, _PLAIN):
        return value
    try:
        orjson.dumps(value, default=_float)
    except TypeError:
        return _marker(value)
    return value  # a type orjson writes itself (datetime, UUID, enum)


def _marker(value: object) -> dict[str, str]:
    return {UNENCODABLE_KEY: type(value).__name__}


def _marked_payload(payload: object) -> object:
    """The ``luna_event`` object, :func:`_marked`; where an object is required (``tags``,
    ``fields``) a marker is put in a list, so it cannot pass for tags or fields."""
    marked = _marked(payload)
    if isinstance(payload, Mapping) and isinstance(marked, dict):
        for slot in ("tags", "fields"):
            given = payload.get(slot)
            if not isinstance(given, Mapping) and marked.get(slot) == _marker(given):
                marked[slot] = [marked[slot]]
    return marked


def _careful(document: dict[str, Any], event: Event | None) -> bytes:
    """:func:`write_document` for a document orjson refused or wrote a NaN in."""
    if event is not None and FORMAT_KEY in document:
        document = {**document, FORMAT_KEY: _marked_payload(document[FORMAT_KEY])}
    try:
        text = orjson.dumps(document, default=_other)
    except TypeError:
        pass  # orjson cannot write it (an int beyond 64 bits, a lone surrogate): json below
    else:
        if event is None or _null_search(text) is None or not _non_finite(event):
            return text
    return json.dumps(document, default=_other, separators=(",", ":")).encode()


def write_document(document: dict[str, Any], event: Event | None) -> bytes:
    """The bytes of one line's document, without its newline: the one writer of the
    format (``document`` holds ``event``'s payload under ``luna_event``, first).

    Never refuses a line: values orjson cannot write (ints beyond 64 bits, lone
    surrogates) go through the ``json`` module, exactly; a NaN or infinity in the
    event, which orjson would write as ``null``, is written as ``NaN``/``Infinity``,
    which every reader refuses as ``not_finite``. Inside the event a value JSON cannot
    hold is written ``{"unencodable": "<type name>"}`` and a key that is not a string
    as ``""`` (refused as ``wrong_type`` and ``bad_key``), never as its ``str``; outside
    it (logging extras) such a value is written as its ``str``.
    """
    try:
        text = orjson.dumps(document, default=_float)
    except TypeError:
        return _careful(document, event)
    if event is None or _null_search(text) is None or not _non_finite(event):
        return text
    return _careful(document, event)


def to_json_line(event: Event, **context: Any) -> bytes:
    """Serialize ``event`` as one JSON line (with ``\\n``): ``luna_event``, then ``context``."""
    document: dict[str, Any] = {FORMAT_KEY: None, **context}
    document[FORMAT_KEY] = event_payload(event)
    return write_document(document, event) + b"\n"


# reading ---------------------------------------------------------------------------


class _Payload(msgspec.Struct):
    """The ``luna_event`` object, decoded with its envelope types checked in C."""

    v: int
    series: str
    time: int
    tags: dict[str, Any] = msgspec.field(default_factory=dict)
    fields: dict[str, Any] = msgspec.field(default_factory=dict)


class _Envelope(msgspec.Struct):
    """A monitoring line; msgspec skips every other key without building it."""

    luna_event: _Payload


_decode_envelope = msgspec.json.Decoder(_Envelope).decode


def decode_envelope(raw: bytes) -> _Payload | None:
    """The fast reader: the ``luna_event`` object of a well-formed, valid-UTF-8 line of
    the current version with a plain envelope, else ``None`` (ask :func:`parse_line`).

    msgspec reads a ``-0`` token as the int 0: whoever uses a zero among the values
    asks :func:`has_negative_zero` first (the fast encoder does, given the line), so
    that the scan is paid only by the few events with a zero in them."""
    try:
        payload = _decode_envelope(raw).luna_event
        if not raw.isascii():
            raw.decode()  # invalid UTF-8 anywhere, also in keys msgspec skips unread
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None  # not the common shape: the exact reader decides and reports
    if payload.v != FORMAT_VERSION:
        return None
    return payload


_HUGE_INT = re.compile(rb"[0-9]{309}")
"""Digits enough for an integer beyond the double range, which Vector cannot read."""


def _int_token(text: str) -> int | float:
    if text == "-0":
        return -0.0
    value = int(text)
    if len(text) > 308:
        try:
            float(value)
        except OverflowError:  # Vector's reader refuses it as out of range; so do we
            raise ValueError("number out of range") from None
    return value


def _refuse_constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")


def read_document(raw: bytes) -> Any:
    """Decode a whole JSON line exactly as both roads read it: ints of any size stay
    ints (never rounded to floats), and ``-0`` is the float negative zero, as Vector reads it.
    Like Vector's reader it refuses lone surrogates and numbers beyond the double range
    (``1e400``, an integer of 309 digits), whichever path reads the line."""
    document = msgspec.json.decode(raw)
    if has_negative_zero(raw) or _HUGE_INT.search(raw) is not None:
        return json.loads(raw, parse_int=_int_token, parse_constant=_refuse_constant)
    return document


class LineKind(enum.Enum):
    """What a line of a log stream turned out to be."""

    EVENT = "event"
    """A well-formed monitoring line (its event may still fail validation)."""
    ORDINARY = "ordinary"
    """An ordinary log line, or anything without the monitoring marker."""
    INVALID = "invalid"
    """A monitoring line that cannot be read: see ``problems``."""


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """The outcome of :func:`parse_line`."""

    kind: LineKind
    event: Event | None = None
    problems: tuple[Problem, ...] = ()
    reason: str = ""
    """Why an ordinary line was not taken as an event."""


ORDINARY = ParsedLine(LineKind.ORDINARY, reason="no monitoring marker")


def _invalid(code: str, path: str, message: str) -> ParsedLine:
    return ParsedLine(LineKind.INVALID, problems=(Problem(code, path, message),))


def too_long(max_bytes: int) -> Problem:
    """The problem of a monitoring line over the size limit."""
    return Problem("line_too_long", "line", f"line is longer than the {max_bytes}-byte limit")


def parse_line(line: bytes | str, *, max_bytes: int = limits.MAX_LINE_BYTES) -> ParsedLine:
    """Read one line (without or with its trailing newline) of a JSON log stream."""
    raw = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
    # the limit counts a CR and a byte order mark, as the file source and Vector do
    size = len(raw) - raw.endswith(b"\n")
    raw = raw.rstrip(b"\r\n")
    while raw.startswith(_BOM):  # a file written with a byte order mark (or two, as
        raw = raw[len(_BOM) :]  # Vector's parse_json skips any number): its first line
    if not has_marker(raw):
        return ORDINARY
    if size > max_bytes:
        return ParsedLine(LineKind.INVALID, problems=(too_long(max_bytes),))
    try:
        document = read_document(raw)
    except (ValueError, RecursionError) as error:
        return _unreadable(raw, error)
    if not isinstance(document, dict) or FORMAT_KEY not in document:
        return ParsedLine(LineKind.ORDINARY, reason="the marker is not a top-level key")
    return _parse_payload(document[FORMAT_KEY])


def _unreadable(raw: bytes, error: Exception) -> ParsedLine:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return _invalid("invalid_utf8", "line", f"invalid UTF-8 at byte {bad.start}")
    if _NON_FINITE.search(raw):
        return _invalid("not_finite", "line", "NaN or Infinity is not a JSON number")
    try:  # orjson says where, msgspec only what
        orjson.loads(raw)
    except orjson.JSONDecodeError as located:
        error = located
    return _invalid("malformed_json", "line", f"malformed JSON: {error}")


def _parse_payload(payload: object) -> ParsedLine:
    if not isinstance(payload, dict):
        return _invalid("bad_envelope", FORMAT_KEY, f"{FORMAT_KEY} must be an object")
    version = payload.get("v")
    if version != FORMAT_VERSION or type(version) is not int:
        return _invalid(
            "unsupported_version", f"{FORMAT_KEY}.v", f"unsupported format version {version!r}"
        )
    series = payload.get("series")
    time_ns = payload.get("time")
    tags = payload.get("tags", {})
    fields = payload.get("fields", {})
    problems = []
    if type(series) is not str:
        problems.append(Problem("bad_envelope", "series", "series must be a string"))
    if not isinstance(tags, dict):
        problems.append(Problem("bad_envelope", "tags", "tags must be an object"))
    if not isinstance(fields, dict):
        problems.append(Problem("bad_envelope", "fields", "fields must be an object"))
    if time_ns is None:
        problems.append(Problem("bad_envelope", "time", "time (ns since the epoch) is missing"))
    if problems:
        return ParsedLine(LineKind.INVALID, problems=tuple(problems))
    return ParsedLine(LineKind.EVENT, event=Event(series, time_ns, tags, fields))  # type: ignore[arg-type]


def event_from_line(line: bytes | str) -> Event:
    """Read the event of a monitoring line; raise :class:`InvalidEvent` otherwise."""
    parsed = parse_line(line)
    if parsed.event is None:
        problems = parsed.problems or (Problem("not_an_event", "line", parsed.reason),)
        raise InvalidEvent(problems)
    return parsed.event
