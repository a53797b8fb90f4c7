"""The event model: one point of a monitoring time series."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from luna_events.errors import UsageError

FORMAT_KEY = "luna_event"
"""The top-level JSON key (and ``extra`` key) that marks a monitoring line."""

CONTEXT_KEY = "luna_context"
"""The ``extra`` key that carries context keys for a monitoring line."""

LINE_KEYS = frozenset({"timestamp", "level", "logger", "message", FORMAT_KEY})
"""Keys every log line has; context keys may not reuse them."""

TagValue = str | int | float | bool
"""What a tag may be given as; it is written to InfluxDB as a string."""

FieldValue = str | int | float | bool
"""What a field may be; ints are written with ``i``, floats plain, strings quoted."""


@dataclass(slots=True)
class Event:
    """One monitoring point: a series, an event time in ns since the epoch, tags and fields.

    Build one with the typed helpers in :mod:`luna_events.series` so tag names cannot
    be misspelled, check it with :func:`luna_events.validate`, and write it with
    :func:`luna_events.to_json_line` or :func:`luna_events.encode_line`.
    """

    series: str
    time_ns: int
    tags: dict[str, TagValue] = field(default_factory=dict)
    fields: dict[str, FieldValue] = field(default_factory=dict)

    def extra(self, **context: Any) -> dict[str, Any]:
        """The ``extra=`` that makes a stdlib log record a monitoring line::

            logger.info("request", extra=event.extra())

        ``context`` keys are written on the line beside the event; they travel
        nested, so they cannot clash with ``LogRecord`` attributes.
        """
        if not context:
            return {FORMAT_KEY: self}
        clashes = sorted(LINE_KEYS.intersection(context))
        if clashes:
            raise UsageError(f"context keys {clashes} would replace the line's own keys")
        return {FORMAT_KEY: self, CONTEXT_KEY: context}


def now_ns() -> int:
    """The current wall-clock time in ns since the epoch."""
    return time.time_ns()


def to_ns(seconds: float) -> int:
    """Convert a float Unix timestamp (the original platform's ``eventTime``) to ns."""
    return round(seconds * 1_000_000_000)


HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
    | {"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "QUERY"}
)
"""The methods :func:`route` accepts (RFC 9110, PATCH, WebDAV, QUERY), upper case."""


def route(method: str, resource: str) -> str:
    """Build a ``route`` tag value: ``"METHOD:/resource"`` (the seed's ``getRoute``,
    whose arguments came the other way round: ``getRoute(resource, method)``).

    Pass the route *template* (``/tasks/{task_id}``), never the raw path, so the
    number of distinct routes stays bounded. A ``method`` that is not an HTTP method
    is refused at once, so swapped arguments cannot pass unnoticed.
    """
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        hint = (
            f"; the arguments are swapped: route({resource!r}, {method!r})"
            if isinstance(resource, str) and resource.upper() in HTTP_METHODS
            else ""
        )
        raise UsageError(f"route(method, resource): {method!r} is not an HTTP method{hint}")
    return route_tag(method, resource)


def route_tag(method: str, resource: str) -> str:
    """``"METHOD:/resource"`` for a method the server already parsed (no check)."""
    resource = resource if resource.startswith("/") else "/" + resource
    return f"{method.upper()}:{resource}"
