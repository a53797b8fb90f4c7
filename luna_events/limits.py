"""Limits that keep every accepted event writable to InfluxDB (see docs/event-format.md)."""

from __future__ import annotations

MAX_KEY_BYTES = 256
"""Longest tag key or field key, in UTF-8 bytes."""

MAX_TAG_VALUE_BYTES = 1024
"""Longest tag value, in UTF-8 bytes; tag values are indexed, so keep them short."""

MAX_STRING_FIELD_BYTES = 65535
"""Longest string field value, in UTF-8 bytes (InfluxDB's 64 KB string limit)."""

MAX_SERIES_KEY_BYTES = 65535
"""Longest key InfluxDB builds for a point: the escaped measurement and tags, ``#!~#``
and the escaped field key, in bytes (InfluxDB 1.6.7's ``max key length``)."""

MAX_LINE_BYTES = 1024 * 1024
"""Longest JSON line a reader accepts; longer lines are rejected unread."""

MIN_TIME_NS = -9223372036854775806
"""Earliest timestamp InfluxDB accepts."""

MAX_TIME_NS = 9223372036854775806
"""Latest timestamp InfluxDB accepts."""

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

MAX_EXACT_FLOAT_INT = 2**53
"""Largest int a catalogued float field, given an int, keeps exactly (it is written as a float)."""

RESERVED_KEYS = frozenset({"time", "_field", "_measurement", "_time"})
"""Keys InfluxDB 1.x or 2.x rejects as tag or field keys."""
