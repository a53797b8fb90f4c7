"""The layout shared by every way of writing a line, so all of them write the same bytes.

``{"timestamp", "level", "logger", "message", <context keys>..., "luna_event"}``

``timestamp`` is the Unix time in seconds as a float with microseconds (the
``LogRecord``'s ``created``; structlog's default), which costs nothing to write;
the event's own time is ``luna_event.time`` in nanoseconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import orjson

from luna_events.event import FORMAT_KEY, Event
from luna_events.jsonline import FORMAT_VERSION


def with_service(event: Event, service: str | None) -> dict[str, Any]:
    """The event's tags, with ``service`` filled in from configuration when missing."""
    if service is None or "service" in event.tags:
        return event.tags
    return {"service": service, **event.tags}


def render(
    timestamp: float | str,
    level: str,
    logger: str,
    message: str,
    event: Event | None,
    *,
    service: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> bytes:
    """One log line (no newline) in the shared layout; a monitoring line when ``event``."""
    line: dict[str, Any] = {
        "timestamp": timestamp,
        "level": level,
        "logger": logger,
        "message": message,
    }
    if context:
        for key, value in context.items():
            line.setdefault(key, value)
    if event is not None:
        line[FORMAT_KEY] = {
            "v": FORMAT_VERSION,
            "series": event.series,
            "time": event.time_ns,
            "tags": with_service(event, service),
            "fields": event.fields,
        }
    try:
        return orjson.dumps(line, default=str)
    except TypeError:
        # ints beyond 64 bits, lone surrogates, keys that are not strings: still write
        # the line (the shipper dead-letters it with its reason), never lose the record
        return json.dumps(line, default=str, separators=(",", ":")).encode()
