"""Validation and coercion of events against the catalog.

:class:`Validator` reports every problem of an event at once, and turns a valid
event into its normalized form: tag values as the strings written to InfluxDB,
field values with the catalog's types. The rules (also in docs/event-format.md):

* the series must be in the catalog, and the time an int within InfluxDB's range;
* every required tag and field must be present, and there must be a field;
* catalogued tags and fields must have their catalog type; an int is accepted
  for a float field and written as a float;
* additional (uncatalogued) tags may be str, int, float or bool and are written
  as strings; additional numeric fields are always written as floats, so one key
  can never reach InfluxDB as an int in one point and a float in the next;
* no NaN or infinity, no empty tag value, no reserved key (``time``,
  ``_field``, ``_measurement``, ``_time``), no control
  characters in keys or tag values, no backslash in a key or tag value that
  stands before ``,``, ``=``, space or ``"`` or at its end (InfluxDB's parsers read
  such a backslash in different ways, so it cannot round-trip), no string over the limits in
  :mod:`luna_events.limits`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

from luna_events import limits
from luna_events.catalog import CATALOG, Catalog, FieldSpec, SeriesSpec, TagSpec, ValueType
from luna_events.errors import InvalidEvent, Problem
from luna_events.event import Event, FieldValue, TagValue
from luna_events.lineprotocol import format_float

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNESCAPABLE_BACKSLASH = re.compile(r'\\(?=[,= "]|$)')

_PYTHON_TYPE_NAMES = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    type(None): "null",
    dict: "object",
    list: "array",
}


def type_name(value: object) -> str:
    """The name used for a value's type in problem messages (JSON-flavoured)."""
    return _PYTHON_TYPE_NAMES.get(type(value), type(value).__name__)


class Validator:
    """Checks and normalizes events against a catalog (by default :data:`CATALOG`)."""

    def __init__(self, catalog: Catalog = CATALOG) -> None:
        self.catalog = catalog
        self._patterns: dict[str, re.Pattern[str]] = {
            t.pattern: re.compile(t.pattern)
            for spec in catalog.values()
            for t in spec.tags
            if t.pattern
        }

    def validate(self, event: Event) -> Event:
        """Return the normalized event, or raise :class:`InvalidEvent` with every problem."""
        normalized, problems = self.normalize(event)
        if normalized is None:
            raise InvalidEvent(problems)
        return normalized

    def check(self, event: Event) -> list[Problem]:
        """Every problem of ``event``; an empty list means it is valid."""
        return self.normalize(event)[1]

    def normalize(self, event: Event) -> tuple[Event | None, list[Problem]]:
        """The normalized event and no problems, or ``None`` and every problem."""
        problems: list[Problem] = []
        series = event.series
        spec = self.catalog.get(series) if type(series) is str else None
        if spec is None:
            known = "" if type(series) is str else f" (got {type_name(series)})"
            problems.append(
                Problem("unknown_series", "series", f"unknown series {series!r}{known}")
            )
            return None, problems
        time_ns = event.time_ns
        if type(time_ns) is not int:
            problems.append(
                Problem(
                    "wrong_type", "time", f"time must be an int of ns, got {type_name(time_ns)}"
                )
            )
        elif not limits.MIN_TIME_NS <= time_ns <= limits.MAX_TIME_NS:
            problems.append(
                Problem("out_of_range", "time", f"time {time_ns} is outside InfluxDB's range")
            )
        tags = self._tags(spec, event.tags, problems)
        fields = self._fields(spec, event.fields, event.tags, problems)
        if problems:
            return None, problems
        return Event(series, time_ns, tags, fields), problems

    def _tags(
        self, spec: SeriesSpec, given: dict[str, TagValue], problems: list[Problem]
    ) -> dict[str, TagValue]:
        out: dict[str, TagValue] = {}
        for key, value in given.items():
            tag_spec = spec.tag(key)
            path = f"tags.{key}"
            if tag_spec is None and not _check_key(key, path, problems):
                continue
            wire = _tag_wire(tag_spec, value, path, problems)
            if wire is not None and self._check_tag_value(tag_spec, wire, path, problems):
                out[key] = wire
        for required in spec.required_tags:
            if required.name not in given:
                problems.append(
                    Problem(
                        "missing_tag",
                        f"tags.{required.name}",
                        f"required tag {required.name!r} is missing",
                    )
                )
        return out

    def _check_tag_value(
        self, tag_spec: TagSpec | None, wire: str, path: str, problems: list[Problem]
    ) -> bool:
        if not wire:
            problems.append(Problem("empty_tag", path, "tag value is empty"))
            return False
        if not _check_text(wire, path, limits.MAX_TAG_VALUE_BYTES, problems, identifier=True):
            return False
        if tag_spec is None:
            return True
        if tag_spec.allowed and wire not in tag_spec.allowed:
            allowed = ", ".join(tag_spec.allowed)
            problems.append(Problem("not_allowed", path, f"{wire!r} is not one of: {allowed}"))
            return False
        if tag_spec.pattern and not self._patterns[tag_spec.pattern].match(wire):
            problems.append(
                Problem("bad_format", path, f"{wire!r} does not match {tag_spec.pattern}")
            )
            return False
        return True

    def _fields(
        self,
        spec: SeriesSpec,
        given: dict[str, FieldValue],
        tags: dict[str, TagValue],
        problems: list[Problem],
    ) -> dict[str, FieldValue]:
        out: dict[str, FieldValue] = {}
        for key, value in given.items():
            field_spec = spec.field(key)
            path = f"fields.{key}"
            if field_spec is None and not _check_key(key, path, problems):
                continue
            if key in tags and not (field_spec and spec.tag(key)):
                problems.append(
                    Problem("key_conflict", path, f"{key!r} is given both as a tag and as a field")
                )
                continue
            coerced = _field_value(field_spec, value, path, problems)
            if coerced is not None:
                out[key] = coerced
        for required in spec.required_fields:
            if required.name not in given:
                problems.append(
                    Problem(
                        "missing_field",
                        f"fields.{required.name}",
                        f"required field {required.name!r} is missing",
                    )
                )
        if not given:
            problems.append(Problem("no_fields", "fields", "an event needs at least one field"))
        return out


def _check_key(key: str, path: str, problems: list[Problem]) -> bool:
    """Check an uncatalogued key (catalogued keys are known to be fine)."""
    if type(key) is not str or not key:
        problems.append(Problem("bad_key", path, "keys must be non-empty strings"))
        return False
    if key in limits.RESERVED_KEYS:
        problems.append(Problem("reserved_key", path, f"{key!r} is reserved by InfluxDB"))
        return False
    return _check_text(key, path, limits.MAX_KEY_BYTES, problems, identifier=True, what="key")


def _check_text(
    text: str,
    path: str,
    max_bytes: int,
    problems: list[Problem],
    *,
    identifier: bool,
    what: str = "value",
) -> bool:
    """Length and encodability of a key, tag value (``identifier``) or string field."""
    if not text.isascii():
        try:
            size = len(text.encode())
        except UnicodeEncodeError:
            problems.append(Problem("invalid_unicode", path, f"{what} contains a lone surrogate"))
            return False
    else:
        size = len(text)
    if size > max_bytes:
        problems.append(
            Problem("too_long", path, f"{what} is {size} bytes, over the {max_bytes}-byte limit")
        )
        return False
    if identifier:
        control = _CONTROL.search(text)
        if control:
            problems.append(
                Problem(
                    "control_character",
                    path,
                    f"{what} contains control character U+{ord(control.group()):04X}",
                )
            )
            return False
        if "\\" in text and _UNESCAPABLE_BACKSLASH.search(text):
            problems.append(
                Problem(
                    "unescapable_backslash",
                    path,
                    f"{what} has a backslash before ',', '=', ' ', '\"' or at its end, "
                    "which line protocol cannot carry exactly",
                )
            )
            return False
    return True


def _tag_wire(
    tag_spec: TagSpec | None, value: object, path: str, problems: list[Problem]
) -> str | None:
    """The string a tag value is written as, or ``None`` after reporting a problem."""
    expected = tag_spec.type if tag_spec else None
    kind = type(value)
    if kind is str and expected in (None, ValueType.STR):
        return value  # type: ignore[return-value]
    if kind is int and expected in (None, ValueType.INT, ValueType.FLOAT):
        if not limits.INT64_MIN <= value <= limits.INT64_MAX:  # type: ignore[operator]
            problems.append(Problem("out_of_range", path, "does not fit in a 64-bit int"))
            return None
        return str(value)
    if kind is float and expected in (None, ValueType.FLOAT):
        if not math.isfinite(value):  # type: ignore[arg-type]
            problems.append(Problem("not_finite", path, f"{value} is not allowed"))
            return None
        return format_float(value)  # type: ignore[arg-type]
    if kind is bool and expected in (None, ValueType.BOOL):
        return "true" if value else "false"
    wanted = expected.value if expected else "str, int, float or bool"
    problems.append(Problem("wrong_type", path, f"expected {wanted}, got {type_name(value)}"))
    return None


def _field_value(
    field_spec: FieldSpec | None, value: object, path: str, problems: list[Problem]
) -> FieldValue | None:
    """The field value as written, or ``None`` after reporting a problem."""
    coerce = _ADDITIONAL if field_spec is None else _COERCERS[field_spec.type]
    return coerce(value, path, problems)


def _as_str(value: object, path: str, problems: list[Problem]) -> FieldValue | None:
    if type(value) is not str:
        problems.append(Problem("wrong_type", path, f"expected str, got {type_name(value)}"))
        return None
    if not _check_text(value, path, limits.MAX_STRING_FIELD_BYTES, problems, identifier=False):
        return None
    return value


def _as_int(value: object, path: str, problems: list[Problem]) -> FieldValue | None:
    if type(value) is not int:
        problems.append(Problem("wrong_type", path, f"expected int, got {type_name(value)}"))
        return None
    if not limits.INT64_MIN <= value <= limits.INT64_MAX:
        problems.append(Problem("out_of_range", path, f"{value} does not fit in a 64-bit int"))
        return None
    return value


def _as_float(value: object, path: str, problems: list[Problem]) -> FieldValue | None:
    kind = type(value)
    if kind is float:
        if math.isfinite(value):  # type: ignore[arg-type]
            return value  # type: ignore[return-value]
        problems.append(Problem("not_finite", path, f"{value} is not allowed"))
        return None
    if kind is int:
        if abs(value) > limits.MAX_EXACT_FLOAT_INT:  # type: ignore[arg-type]
            problems.append(
                Problem("out_of_range", path, f"{value} cannot be written exactly as a float")
            )
            return None
        return float(value)  # type: ignore[arg-type]
    problems.append(Problem("wrong_type", path, f"expected float, got {type_name(value)}"))
    return None


def _as_bool(value: object, path: str, problems: list[Problem]) -> FieldValue | None:
    if type(value) is not bool:
        problems.append(Problem("wrong_type", path, f"expected bool, got {type_name(value)}"))
        return None
    return value


def _as_additional(value: object, path: str, problems: list[Problem]) -> FieldValue | None:
    kind = type(value)
    if kind is str:
        return _as_str(value, path, problems)
    if kind is bool:
        return value  # type: ignore[return-value]
    if kind is int or kind is float:
        return _as_float(value, path, problems)
    problems.append(
        Problem("wrong_type", path, f"expected str, int, float or bool, got {type_name(value)}")
    )
    return None


_Coercer = Callable[[object, str, list[Problem]], FieldValue | None]
_COERCERS: dict[ValueType, _Coercer] = {
    ValueType.STR: _as_str,
    ValueType.INT: _as_int,
    ValueType.FLOAT: _as_float,
    ValueType.BOOL: _as_bool,
}
_ADDITIONAL: _Coercer = _as_additional

DEFAULT_VALIDATOR = Validator()


def validate(event: Event) -> Event:
    """Validate ``event`` against :data:`CATALOG`; return it normalized or raise
    :class:`~luna_events.errors.InvalidEvent` listing every problem."""
    return DEFAULT_VALIDATOR.validate(event)
