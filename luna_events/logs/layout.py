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
from luna_events.jsonline import FORMAT_VERSION, write_document


def event_line(
    event: Event,
    timestamp: float | str,
    level: str,
    logger: str,
    message: str,
    service: str | None,
    context: Mapping[str, Any] | None = None,
) -> bytes:
    """A monitoring line (no newline): the hot path of every writer.

    ``service`` fills in the event's ``service`` tag when it has none; ``context``
    keys follow the line's own keys and never replace them. Positional arguments, and
    the payload built here rather than by a helper: each Python call saved is a per
    cent of an emit (docs/performance.md).
    """
    tags = event.tags
    if service is not None and "service" not in tags:
        tags = {"service": service, **tags}
    line = {
        FORMAT_KEY: {
            "v": FORMAT_VERSION,
            "series": event.series,
            "time": event.time_ns,
            "tags": tags,
            "fields": event.fields,
        },
        "timestamp": timestamp,
        "level": level,
        "logger": logger,
        "message": message,
    }
    if context:
        _add_context(line, context)
    return write_document(line, event)


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
    if event is not None:
        return event_line(event, timestamp, level, logger, message, service, context)
    line = {"timestamp": timestamp, "level": level, "logger": logger, "message": message}
    if context:
        _add_context(line, context)
    return write_document(line, None)


def _add_context(line: dict[str, Any], context: Mapping[str, Any]) -> None:
    """Context keys go after the line's own and never replace one of them."""
    for key, value in context.items():
        line.setdefault(key, value)
