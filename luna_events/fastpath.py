"""The hot path: check and encode an event in one pass, or say only that it is not valid.

:class:`FastEncoder` applies exactly the rules of :class:`~luna_events.validation.Validator`
(a property test holds the two together) but stops at the first problem and returns
``None``; the caller then asks the Validator for the full list of problems.

Monitoring data repeats itself, and the encoder leans on that:

* the *shape* of an event (its series and the names of its tags and fields, in
  the order given) is checked once: required keys, key rules, conflicts, the
  sorted order and the escaped ``key=`` prefixes are then a single dict lookup;
* tag values, which are few per tag, are checked and escaped once per value.

Every cache is bounded and simply cleared when full.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from luna_events import limits
from luna_events.catalog import CATALOG, Catalog, SeriesSpec, ValueType
from luna_events.lineprotocol import escape_key, escape_measurement, escape_string, format_float

_BAD_IDENTIFIER = re.compile(r'[\x00-\x1f\x7f]|\\(?=[,= "]|$)')
SHAPE_CACHE_SIZE = 4096
"""Event layouts remembered, over all series (a few hundred bytes each)."""
VALUE_CACHE_SIZE = 1024
"""Valid values remembered per tag; a tag with more distinct values is checked anew."""
_FLOAT_EXACT = limits.MAX_EXACT_FLOAT_INT
_INT64_MIN = limits.INT64_MIN
_INT64_MAX = limits.INT64_MAX
_FLOAT = ValueType.FLOAT
_INT = ValueType.INT
_STR = ValueType.STR
_BOOL = ValueType.BOOL


@dataclass(slots=True)
class _TagRule:
    """How to write one tag key; ``type`` is ``None`` for an additional tag."""

    key: str
    type: ValueType | None
    prefix: str
    """``",key="`` with the key escaped."""
    allowed: frozenset[str] = frozenset()
    pattern: re.Pattern[str] | None = None
    segments: dict[str, str] = field(default_factory=dict)
    """``value -> ",key=value"`` for str values already found valid."""

    @property
    def plain_ints(self) -> bool:
        """Any int is valid and written as its digits."""
        return self.type in (None, _INT, _FLOAT) and not self.allowed and self.pattern is None


_FieldPlan = tuple[str, ValueType | None, str]
"""``(key, catalog type or None for an additional field, prefix)``; the prefix is
``" key="`` for the first field and ``",key="`` for the others, the key escaped."""


@dataclass(slots=True)
class _Shape:
    """The checked layout of events with one series and one list of keys."""

    measurement: str
    tags: tuple[tuple[_TagRule, bool], ...]
    """Sorted by key, each with whether it allows any int as plain digits."""
    fields: tuple[_FieldPlan, ...]


class _SeriesRules:
    def __init__(self, spec: SeriesSpec) -> None:
        self.spec = spec
        self.measurement = escape_measurement(spec.name)
        self.tags = {
            t.name: _TagRule(
                t.name,
                t.type,
                f",{escape_key(t.name)}=",
                frozenset(t.allowed),
                re.compile(t.pattern) if t.pattern else None,
            )
            for t in spec.tags
        }
        self.fields: dict[str, tuple[ValueType, str]] = {
            f.name: (f.type, escape_key(f.name)) for f in spec.fields
        }
        self.required_tags = frozenset(t.name for t in spec.required_tags)
        self.required_fields = frozenset(f.name for f in spec.required_fields)


def _identifier(text: str, max_bytes: int) -> str | None:
    """``text`` escaped, if it may be a key or tag value; else ``None``."""
    if not text:
        return None
    if text.isascii():
        size = len(text)
    else:
        try:
            size = len(text.encode())
        except UnicodeEncodeError:
            return None
    if size > max_bytes or _BAD_IDENTIFIER.search(text):
        return None
    return escape_key(text)


def _extra_key(key: Any) -> str | None:
    if type(key) is not str or key in limits.RESERVED_KEYS:
        return None
    return _identifier(key, limits.MAX_KEY_BYTES)


def _string_field(text: str) -> str | None:
    if not text.isascii():
        try:
            if len(text.encode()) > limits.MAX_STRING_FIELD_BYTES:
                return None
        except UnicodeEncodeError:
            return None
    elif len(text) > limits.MAX_STRING_FIELD_BYTES:
        return None
    return '"' + escape_string(text) + '"'


def _float_text(value: Any) -> str | None:
    kind = type(value)
    if kind is float:
        return format_float(value) if math.isfinite(value) else None
    if kind is int and -_FLOAT_EXACT <= value <= _FLOAT_EXACT:
        return format_float(float(value))
    return None


def _tag_wire(expected: ValueType | None, value: Any) -> str | None:
    kind = type(value)
    if kind is str and expected in (None, _STR):
        text: str = value
        return text
    if kind is int and expected in (None, _INT, _FLOAT):
        return str(value) if _INT64_MIN <= value <= _INT64_MAX else None
    if kind is float and expected in (None, _FLOAT) and math.isfinite(value):
        return format_float(value)
    if kind is bool and expected in (None, _BOOL):
        return "true" if value else "false"
    return None


def _remember(cache: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value


class FastEncoder:
    """Validate-and-encode in one pass against a catalog (by default :data:`CATALOG`)."""

    def __init__(self, catalog: Catalog = CATALOG) -> None:
        self._series = {name: _SeriesRules(spec) for name, spec in catalog.items()}
        self._extra_tags: dict[str, _TagRule] = {}
        self._shapes: dict[tuple[str, tuple[str, ...], tuple[str, ...]], _Shape] = {}

    def encode(self, series: Any, time_ns: Any, tags: Any, fields: Any) -> str | None:
        """The event's line protocol (no newline), or ``None`` if it is not valid."""
        rules = self._series.get(series) if type(series) is str else None
        if (
            rules is None
            or type(time_ns) is not int
            or not limits.MIN_TIME_NS <= time_ns <= limits.MAX_TIME_NS
        ):
            return None
        shape_key = (series, tuple(tags), tuple(fields))
        shape = self._shapes.get(shape_key)
        if shape is None:
            shape = self._shape(rules, tags, fields)
            if shape is None:
                return None
            _remember(self._shapes, shape_key, shape, SHAPE_CACHE_SIZE)
        parts = [shape.measurement]
        append = parts.append
        for rule, plain_ints in shape.tags:
            value = tags[rule.key]
            kind = type(value)
            if kind is str:
                segment = rule.segments.get(value) or self._tag(rule, value)
            elif kind is int and plain_ints and _INT64_MIN <= value <= _INT64_MAX:
                segment = rule.prefix + str(value)
            else:
                segment = self._tag(rule, value)
            if segment is None:
                return None
            append(segment)
        for key, expected, prefix in shape.fields:
            value = fields[key]
            kind = type(value)
            text: str | None
            if expected is _FLOAT:
                if kind is float and value - value == 0.0:  # finite: format_float, inlined
                    text = repr(value)
                    if text[-2:] == ".0":
                        text = text[:-2]
                    elif "e" in text:
                        text = format_float(value)
                else:
                    text = _float_text(value)
            elif expected is _INT:
                text = f"{value}i" if kind is int and _INT64_MIN <= value <= _INT64_MAX else None
            elif expected is _STR:
                text = _string_field(value) if kind is str else None
            elif expected is _BOOL:
                text = ("true" if value else "false") if kind is bool else None
            elif kind is str:
                text = _string_field(value)
            elif kind is bool:
                text = "true" if value else "false"
            else:
                text = _float_text(value)
            if text is None:
                return None
            append(prefix)
            append(text)
        append(" ")
        append(str(time_ns))
        return "".join(parts)

    def _shape(self, rules: _SeriesRules, tags: Any, fields: Any) -> _Shape | None:
        """Check the keys of an event never seen with this layout."""
        if (
            not fields
            or not (tags.keys() >= rules.required_tags)
            or not (fields.keys() >= rules.required_fields)
        ):
            return None
        try:
            tag_keys = sorted(tags)
            field_keys = sorted(fields)
        except TypeError:  # keys of several types: not valid
            return None
        tag_plan = []
        for key in tag_keys:
            rule = rules.tags.get(key) or self._extra_tag_rule(key)
            if rule is None:
                return None
            tag_plan.append((rule, rule.plain_ints))
        field_plan: list[_FieldPlan] = []
        separator = " "
        for key in field_keys:
            known = rules.fields.get(key)
            if key in tags and not (known and key in rules.tags):
                return None
            if known is None:
                escaped = _extra_key(key)
                if escaped is None:
                    return None
                known_type: ValueType | None = None
            else:
                known_type, escaped = known
            field_plan.append((key, known_type, separator + escaped + "="))
            separator = ","
        return _Shape(rules.measurement, tuple(tag_plan), tuple(field_plan))

    def _extra_tag_rule(self, key: Any) -> _TagRule | None:
        rule = self._extra_tags.get(key) if type(key) is str else None
        if rule is None:
            escaped = _extra_key(key)
            if escaped is None:
                return None
            rule = _TagRule(key, None, f",{escaped}=")
            _remember(self._extra_tags, key, rule, VALUE_CACHE_SIZE)
        return rule

    @staticmethod
    def _tag(rule: _TagRule, value: Any) -> str | None:
        """Check a tag value the slow way; remember it when it is a valid str."""
        wire = _tag_wire(rule.type, value)
        if wire is None:
            return None
        if rule.allowed and wire not in rule.allowed:
            return None
        if rule.pattern is not None and not rule.pattern.match(wire):
            return None
        if type(value) is not str:
            return rule.prefix + wire
        escaped = _identifier(wire, limits.MAX_TAG_VALUE_BYTES)
        if escaped is None:
            return None
        segment = rule.prefix + escaped
        _remember(rule.segments, value, segment, VALUE_CACHE_SIZE)
        return segment
