"""InfluxDB line protocol: exact escaping, sorted tags, typed fields, ns timestamps.

The encoder takes events that :func:`luna_events.validate` has normalized: tag values
are strings, field values have their catalog types. Validation guarantees that every
key and tag value is encodable (no control characters, no backslash before a
character that line protocol escapes), so the only escaping needed is InfluxDB's own:

* measurement: ``,`` and space
* tag keys, tag values, field keys: ``,``, ``=`` and space
* string field values: ``"`` and ``\\``, always double-quoted

A newline can only appear inside a quoted string field, where InfluxDB reads it as
part of the string, so a value can never start a new line.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from luna_events.event import Event, FieldValue


def format_float(value: float) -> str:
    """Format a float the way Vector's VRL ``to_string`` does: shortest exact digits, no
    exponent, no trailing ``.0`` (``1.0`` -> ``1``, ``1e-05`` -> ``0.00001``).

    Both sides of the pipeline must produce byte-identical lines.
    """
    text = repr(value)
    if text.endswith(".0"):
        return text[:-2]
    if "e" in text:
        return format(Decimal(text), "f")
    return text


def escape_measurement(name: str) -> str:
    """Escape a measurement name (comma and space)."""
    if "," in name or " " in name:
        return name.replace(",", "\\,").replace(" ", "\\ ")
    return name


def escape_key(text: str) -> str:
    """Escape a tag key, tag value or field key (comma, equals sign and space)."""
    if "," in text or "=" in text or " " in text:
        return text.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")
    return text


def escape_string(text: str) -> str:
    """Escape a string field value's content (backslash and double quote)."""
    if "\\" in text or '"' in text:
        return text.replace("\\", "\\\\").replace('"', '\\"')
    return text


def format_field(value: FieldValue) -> str:
    """Format one normalized field value: ``1i``, ``0.5``, ``true``, ``"text"``."""
    kind = type(value)
    if kind is float:
        return format_float(value)  # type: ignore[arg-type]
    if kind is int:
        return f"{value}i"
    if kind is bool:
        return "true" if value else "false"
    return '"' + escape_string(value) + '"'  # type: ignore[arg-type]


def encode_line(event: Event) -> str:
    """Encode one normalized event as a line of line protocol, without the newline."""
    parts = [escape_measurement(event.series)]
    tags = event.tags
    for key in sorted(tags):
        parts.append(",")
        parts.append(escape_key(key))
        parts.append("=")
        parts.append(escape_key(tags[key]))  # type: ignore[arg-type]
    fields = event.fields
    separator = " "
    for key in sorted(fields):
        parts.append(separator)
        parts.append(escape_key(key))
        parts.append("=")
        parts.append(format_field(fields[key]))
        separator = ","
    parts.append(" ")
    parts.append(str(event.time_ns))
    return "".join(parts)


def encode_batch(events: Iterable[Event]) -> bytes:
    """Encode normalized events as one newline-terminated line protocol body."""
    return "".join(encode_line(event) + "\n" for event in events).encode()
