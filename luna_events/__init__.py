"""luna-events: monitoring events for LUNA-style services, from log line to InfluxDB.

A service builds events with the typed constructors in :mod:`luna_events.series`,
writes them as JSON log lines, and Vector or ``luna-events ship`` turns the lines
into InfluxDB line protocol.
"""

from __future__ import annotations

from luna_events import series
from luna_events.catalog import CATALOG, Catalog, FieldSpec, SeriesSpec, TagSpec, Unit, ValueType
from luna_events.errors import InvalidEvent, LunaEventsError, Problem, UsageError, UsageTypeError
from luna_events.event import FORMAT_KEY, Event, FieldValue, TagValue, now_ns, route, to_ns
from luna_events.jsonline import (
    FORMAT_VERSION,
    LineKind,
    event_from_line,
    parse_line,
    to_json_line,
)
from luna_events.lineprotocol import encode_batch, encode_line
from luna_events.logs.setup import LoggingSetup, configure_logging
from luna_events.monitor import Monitor, emit, get_monitor
from luna_events.timing import MonitoringData, monitor_time, request_data
from luna_events.transform import Outcome, transform_line
from luna_events.validation import Validator, validate

__all__ = [
    "CATALOG",
    "FORMAT_KEY",
    "FORMAT_VERSION",
    "Catalog",
    "Event",
    "FieldSpec",
    "FieldValue",
    "InvalidEvent",
    "LineKind",
    "LoggingSetup",
    "LunaEventsError",
    "Monitor",
    "MonitoringData",
    "Outcome",
    "Problem",
    "SeriesSpec",
    "TagSpec",
    "TagValue",
    "Unit",
    "UsageError",
    "UsageTypeError",
    "Validator",
    "ValueType",
    "configure_logging",
    "emit",
    "encode_batch",
    "encode_line",
    "event_from_line",
    "get_monitor",
    "monitor_time",
    "now_ns",
    "parse_line",
    "request_data",
    "route",
    "series",
    "to_json_line",
    "to_ns",
    "transform_line",
    "validate",
]
