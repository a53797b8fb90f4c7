"""The layout shared by every way of writing a line, so all of them write the same bytes.

``{"luna_event", "timestamp", "level", "logger", "message", <context keys>...}``

``luna_event`` comes first, so a reader finds the marker at the start of the line
however long the context (a traceback) makes it. ``timestamp`` is the Unix time in
seconds as a float with microseconds (the ``LogRecord``'s ``created``; structlog's
default), which costs nothing to write; the event's own time is ``luna_event.time``
in nanoseconds. The bytes are written by :func:`luna_events.jsonline.write_document`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from luna_events.event import FORMAT_KEY, Event
from luna_events.jsonline import event_payload, write_document


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
    line: dict[str, Any]
    if event is None:
        line = {"timestamp": timestamp, "level": level, "logger": logger, "message": message}
    else:
        line = {
            FORMAT_KEY: event_payload(event, with_service(event, service)),
            "timestamp": timestamp,
            "level": level,
            "logger": logger,
            "message": message,
        }
    if context:
        for key, value in context.items():
            line.setdefault(key, value)
    return write_document(line, event)
