"""The event model: one point of a monitoring time series."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

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


def now_ns() -> int:
    """The current wall-clock time in ns since the epoch."""
    return time.time_ns()


def to_ns(seconds: float) -> int:
    """Convert a float Unix timestamp (the original platform's ``eventTime``) to ns."""
    return round(seconds * 1_000_000_000)


def route(method: str, resource: str) -> str:
    """Build a ``route`` tag value: ``"METHOD:/resource"`` (the seed's ``getRoute``).

    Pass the route *template* (``/tasks/{task_id}``), never the raw path, so the
    number of distinct routes stays bounded.
    """
    resource = resource if resource.startswith("/") else "/" + resource
    return f"{method.upper()}:{resource}"
