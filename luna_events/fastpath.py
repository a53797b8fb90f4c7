"""The fast driver of the event rules: check and encode in one pass, or say only "no".

:class:`FastEncoder` runs the checks of :mod:`luna_events.rules` (the same functions
:class:`~luna_events.validation.Validator` reports from) but stops at the first fault
and returns ``None``; the caller then asks the Validator for every problem.

Monitoring data repeats itself, and the encoder leans on that:

* the *shape* of an event (its series and the names of its tags and fields, in
  the order given) is checked once: key rules, required keys, conflicts, the sorted
  order, the escaped prefixes and whether the series key can come near InfluxDB's
  limit are then a single dict lookup;
* tag values, which are few per tag, are checked and escaped once per value.

Every cache is bounded and simply cleared when full.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from luna_events import limits
from luna_events.catalog import CATALOG, Catalog
from luna_events.jsonline import has_negative_zero
from luna_events.rules import (
    DEFAULT_PLAN,
    SERIES_KEY_SEPARATOR,
    Fault,
    FieldPlan,
    FieldWriter,
    Plan,
    SeriesPlan,
    TagPlan,
    additional_field,
    additional_tag,
    series_key_bytes,
    series_key_fault,
)

SHAPE_CACHE_SIZE = 4096
"""Event layouts remembered, over all series (a few hundred bytes each)."""
VALUE_CACHE_SIZE = 1024
"""Valid values remembered per tag; a tag with more distinct values is checked anew."""
_MIN_TIME = limits.MIN_TIME_NS
_MAX_TIME = limits.MAX_TIME_NS
_WORST_TAG_VALUE = 2 * limits.MAX_TAG_VALUE_BYTES
"""Bytes a valid tag value can take once escaped (every character escaped)."""


@dataclass(slots=True)
class _Shape:
    """The checked layout of events with one series and one list of keys."""

    measurement: str
    tags: tuple[tuple[str, Callable[[object], str | None], tuple[str | Fault, ...], TagPlan], ...]
    """``(key, its value cache's get, the outcomes of False and True, plan)`` sorted by key."""
    fields: tuple[tuple[str, FieldWriter, str], ...]
    """``(key, writer, prefix)`` sorted by key; the prefix is ``" key="`` for the first
    field and ``",key="`` for the others, the key escaped."""
    field_keys: tuple[str, ...]
    """The escaped field keys, for the series-key limit (only when it can be reached)."""
    long_key_possible: bool
    """Whether some tag values could bring the series key over InfluxDB's limit."""


@dataclass(slots=True)
class _TagLayout:
    """The checked tag keys of the layouts with one series and one list of tag keys."""

    plan: SeriesPlan
    tags: tuple[tuple[str, Callable[[object], str | None], tuple[str | Fault, ...], TagPlan], ...]
    """As :attr:`_Shape.tags`."""
    prefixes: tuple[str, ...]
    """The tags' escaped ``",key="``, sorted by key."""
    bound: int
    """Bytes the series key can take at most without its field key, at 4 per character."""


def _remember(cache: dict[Any, Any], key: Any, value: Any, limit: int) -> None:
    if len(cache) >= limit:
        cache.clear()
    cache[key] = value


class FastEncoder:
    """Validate-and-encode in one pass against a catalog (by default :data:`CATALOG`)."""

    def __init__(self, catalog: Catalog = CATALOG) -> None:
        self._plan = DEFAULT_PLAN if catalog is CATALOG else Plan(catalog)
        self._extra_tags: dict[str, TagPlan] = {}
        self._extra_fields: dict[str, FieldPlan] = {}
        self._shapes: dict[tuple[Any, ...], _Shape] = {}
        self._tag_layouts: dict[tuple[str, tuple[str, ...]], _TagLayout] = {}
        self._seen: set[tuple[Any, ...]] = set()
        """Layouts met once: a layout is kept from its second event on, so that layouts
        that never repeat (optional fields in any order) do not crowd the cache out."""
        self._flags: dict[TagPlan, tuple[str | Fault, str | Fault]] = {}
        """``rule -> outcomes of False and True``: a tag's bool outcomes, worked out once
        per tag rule, not per layout (some series have a new layout in most events)."""

    def encode(
        self, series: Any, time_ns: Any, tags: Any, fields: Any, line: bytes | None = None
    ) -> str | None:
        """The event's line protocol (no newline), or ``None`` if it is not valid.

        ``line`` is the JSON line the values were decoded from, if any: msgspec reads
        a ``-0`` token as the int 0, so an event with a zero among its values (or a
        false one: only a zero costs the scan) is refused when the line holds such a
        token, which the full reader takes for what it is, the float -0.0.
        """
        if type(series) is not str:
            return None
        # the series, how many tags, the tag keys, the field keys: one flat tuple
        shape_key = (series, len(tags), *tags, *fields)
        shape = self._shapes.get(shape_key)
        if shape is None:
            shape = self._shape(series, tags, fields)
            if shape is None:
                return None
            seen = self._seen
            if shape_key in seen:  # a layout that repeats: kept from its second event on
                _remember(self._shapes, shape_key, shape, SHAPE_CACHE_SIZE)
            else:
                if len(seen) >= SHAPE_CACHE_SIZE:
                    seen.clear()
                seen.add(shape_key)
        if type(time_ns) is not int or not _MIN_TIME <= time_ns <= _MAX_TIME:
            return None  # time_fault's checks, inline
        zero = not time_ns
        parts = [shape.measurement]
        append = parts.append
        for key, cached_segment, flags, rule in shape.tags:
            value = tags[key]
            kind = type(value)
            # str and int values never compare equal, so they can share one cache
            if kind is str or kind is int:
                segment = cached_segment(value)
                if segment is None:
                    checked = rule.segment(value)
                    if type(checked) is not str:
                        return None
                    segment = checked
                    if kind is int and not value:
                        zero = True  # never cached, so that every zero is seen here
                    else:
                        _remember(rule.segments, value, segment, VALUE_CACHE_SIZE)
            else:
                checked = flags[value] if kind is bool else rule.segment(value)
                if type(checked) is not str:
                    return None
                segment = checked
            append(segment)
        if shape.long_key_possible and series_key_fault(
            series_key_bytes(shape.measurement, parts[1:], shape.field_keys)
        ):
            return None
        for key, write, prefix in shape.fields:
            value = fields[key]
            if line is not None and not value:  # decoded JSON: plain values
                zero = True
            append(prefix)
            append(write(value))  # type: ignore[arg-type]
        if zero and line is not None and has_negative_zero(line):
            return None
        append(" ")
        append(str(time_ns))
        try:
            return "".join(parts)
        except TypeError:  # a field's Fault among the texts
            return None

    def _shape(self, series: str, tags: Any, fields: Any) -> _Shape | None:
        """Check the keys of an event never seen with this layout. The tag keys' part is
        shared by every layout with the same series and tag keys (events whose optional
        fields vary, in any order, are mostly new layouts of a few tag layouts)."""
        tag_key = (series, tuple(tags))
        layout = self._tag_layouts.get(tag_key)
        if layout is None:
            plan = self._plan.series.get(series)
            if plan is None:
                return None
            layout = self._tag_layout(plan, tags)
            if layout is None:
                return None
            _remember(self._tag_layouts, tag_key, layout, SHAPE_CACHE_SIZE)
        plan = layout.plan
        if not fields or (
            plan.required_fields and not all(key in fields for key in plan.required_fields)
        ):
            return None
        try:
            field_keys = sorted(fields)
        except TypeError:  # keys of several types: not valid
            return None
        entries: list[tuple[str, FieldWriter, str]] = []
        append = entries.append
        additional = False
        known_fields, known_tags = plan.fields, plan.tags
        for key in field_keys:
            known = known_fields.get(key)
            if known is None:
                if key in tags:
                    return None  # a field also given as a tag, which only the catalog may allow
                known = self._extra_field(key)
                if known is None:
                    return None
                additional = True
            elif key in tags and key not in known_tags:
                return None
            append(known.other if entries else known.first)
        long_key_possible = (
            additional or layout.bound + 4 * plan.longest_field > limits.MAX_SERIES_KEY_BYTES
        ) and self._long_key_possible(layout, [prefix[1:-1] for _, _, prefix in entries])
        return _Shape(
            plan.measurement,
            layout.tags,
            tuple(entries),
            tuple(prefix[1:-1] for _, _, prefix in entries) if long_key_possible else (),
            long_key_possible,
        )

    def _tag_layout(self, plan: SeriesPlan, tags: Any) -> _TagLayout | None:
        """Check the tag keys of a layout never seen with these tags."""
        if not all(key in tags for key in plan.required_tags):
            return None
        try:
            tag_keys = sorted(tags)
        except TypeError:  # keys of several types: not valid
            return None
        tag_plan = []
        for key in tag_keys:
            rule = plan.tags.get(key) or self._extra_tag(key)
            if rule is None:
                return None
            tag_plan.append(rule)
        prefixes = tuple(rule.prefix for rule in tag_plan)
        chars = len(plan.measurement) + sum(map(len, prefixes))
        return _TagLayout(
            plan,
            tuple(
                (rule.key, rule.segments.get, self._bool_segments(rule), rule)  # type: ignore[misc]
                for rule in tag_plan
            ),
            prefixes,
            4 * chars + len(SERIES_KEY_SEPARATOR) + _WORST_TAG_VALUE * len(tag_plan),
        )

    @staticmethod
    def _long_key_possible(layout: _TagLayout, field_keys: list[str]) -> bool:
        """Whether some tag values could bring the series key over InfluxDB's limit. A
        character takes at most 4 bytes in UTF-8: most layouts are told by their length."""
        if layout.bound + 4 * max(map(len, field_keys)) <= limits.MAX_SERIES_KEY_BYTES:
            return False
        worst = series_key_bytes(layout.plan.measurement, layout.prefixes, field_keys)
        return series_key_fault(worst + _WORST_TAG_VALUE * len(layout.prefixes)) is not None

    def _bool_segments(self, rule: TagPlan) -> tuple[str | Fault, str | Fault]:
        """The outcomes of the values False and True for a tag."""
        known = self._flags.get(rule)
        if known is None:
            known = (rule.segment(False), rule.segment(True))
            _remember(self._flags, rule, known, SHAPE_CACHE_SIZE)
        return known

    def _extra_tag(self, key: Any) -> TagPlan | None:
        rule = self._extra_tags.get(key) if type(key) is str else None
        if rule is None:
            made = additional_tag(key)
            if not isinstance(made, TagPlan):
                return None
            rule = made
            _remember(self._extra_tags, key, rule, VALUE_CACHE_SIZE)
        return rule

    def _extra_field(self, key: Any) -> FieldPlan | None:
        rule = self._extra_fields.get(key) if type(key) is str else None
        if rule is None:
            made = additional_field(key)
            if not isinstance(made, FieldPlan):
                return None
            rule = made
            _remember(self._extra_fields, key, rule, VALUE_CACHE_SIZE)
        return rule
