"""The JSON line format: one monitoring event per line, in any JSON log stream.

A monitoring line is a JSON object with the key ``luna_event`` (see
docs/event-format.md)::

    {"timestamp": "...", "level": "info", "message": "request",
     "luna_event": {"v": 1, "series": "requests", "time": 1763794047123456789,
                    "tags": {"service": "luna-tasks", ...}, "fields": {...}}}

Every other key belongs to the logging library and is ignored. A JSON object
without the key is an ordinary log line, as is anything else that does not mention
``"luna_event"``; a line that mentions it but cannot be read is a damaged
monitoring line and is reported, never silently skipped.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import orjson

from luna_events import limits
from luna_events.errors import InvalidEvent, Problem
from luna_events.event import FORMAT_KEY, Event

FORMAT_VERSION = 1
"""The version written in ``luna_event.v``; readers reject versions they do not know."""

_MARKER = b'"' + FORMAT_KEY.encode() + b'"'
_BOM = b"\xef\xbb\xbf"


def event_payload(event: Event) -> dict[str, Any]:
    """The ``luna_event`` object of a monitoring line."""
    return {
        "v": FORMAT_VERSION,
        "series": event.series,
        "time": event.time_ns,
        "tags": event.tags,
        "fields": event.fields,
    }


def to_json_line(event: Event, **context: Any) -> bytes:
    """Serialize ``event`` as one JSON line (with ``\\n``), after any ``context`` keys."""
    context[FORMAT_KEY] = event_payload(event)
    return orjson.dumps(context, option=orjson.OPT_APPEND_NEWLINE)


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


def _invalid(code: str, path: str, message: str) -> ParsedLine:
    return ParsedLine(LineKind.INVALID, problems=(Problem(code, path, message),))


def parse_line(line: bytes | str, *, max_bytes: int = limits.MAX_LINE_BYTES) -> ParsedLine:
    """Read one line (without or with its trailing newline) of a JSON log stream."""
    raw = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
    raw = raw.rstrip(b"\r\n")
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]  # a file written with a byte order mark: its first line
    marked = _MARKER in raw
    if len(raw) > max_bytes:
        if marked:
            return _invalid(
                "line_too_long", "line", f"line is longer than the {max_bytes}-byte limit"
            )
        return ParsedLine(LineKind.ORDINARY, reason="oversized line without the monitoring marker")
    if not marked and raw[:1] != b"{":
        return ParsedLine(LineKind.ORDINARY, reason="no monitoring marker")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        if not marked:
            return ParsedLine(LineKind.ORDINARY, reason="not JSON, no monitoring marker")
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return _invalid("invalid_utf8", "line", f"invalid UTF-8 at byte {bad.start}")
        return _invalid("malformed_json", "line", f"malformed JSON: {error}")
    if not isinstance(document, dict) or FORMAT_KEY not in document:
        return ParsedLine(LineKind.ORDINARY, reason="no monitoring marker")
    return _parse_payload(document[FORMAT_KEY])


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
