"""The diagnostic driver of the event rules: every problem of an event at once.

:class:`Validator` runs the checks of :mod:`luna_events.rules` over every key and
reports each fault as a :class:`~luna_events.errors.Problem` with its path, in the
order the Vector remap reports them (time, tags by key, missing tags, fields by key,
missing fields, no fields, series key). A valid event comes back normalized: tag
values as the strings written to InfluxDB, field values with the catalog's types.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from luna_events.catalog import CATALOG, Catalog
from luna_events.errors import InvalidEvent, Problem
from luna_events.event import Event, FieldValue, TagValue
from luna_events.lineprotocol import escape_key
from luna_events.rules import (
    DEFAULT_PLAN,
    Fault,
    FieldPlan,
    Plan,
    SeriesPlan,
    TagPlan,
    additional_field,
    additional_tag,
    field_value,
    series_key_bytes,
    series_key_fault,
    tag_wire,
    time_fault,
    type_name,
)

_P = TypeVar("_P", TagPlan, FieldPlan)

__all__ = ["DEFAULT_VALIDATOR", "Validator", "check", "type_name", "validate"]


def _sorted_keys(mapping: dict[Any, Any]) -> list[Any]:
    """Keys in the order both roads report them (code point order; odd keys last)."""
    try:
        return sorted(mapping)
    except TypeError:
        return sorted(mapping, key=lambda k: (type(k) is not str, str(k)))


class Validator:
    """Checks and normalizes events against a catalog (by default :data:`CATALOG`)."""

    def __init__(self, catalog: Catalog = CATALOG) -> None:
        self.catalog = catalog
        self.plan = DEFAULT_PLAN if catalog is CATALOG else Plan(catalog)

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
        plan = self.plan.series.get(series) if type(series) is str else None
        if plan is None:
            known = "" if type(series) is str else f" (got {type_name(series)})"
            problems.append(
                Problem("unknown_series", "series", f"unknown series {series!r}{known}")
            )
            return None, problems
        fault = time_fault(event.time_ns)
        if fault is not None:
            problems.append(Problem(fault.code, "time", fault.message))
        tags, segments = _tags(plan, event.tags, problems)
        fields, field_keys = _fields(plan, event.fields, event.tags, problems)
        if not problems:
            fault = series_key_fault(series_key_bytes(plan.measurement, segments, field_keys))
            if fault is not None:
                problems.append(Problem(fault.code, "tags", fault.message))
        if problems:
            return None, problems
        return Event(series, event.time_ns, tags, fields), problems


def _planned(
    kind: str,
    given: dict[str, Any],
    known: dict[str, _P],
    additional: Callable[[object], _P | Fault],
    problems: list[Problem],
) -> Iterator[tuple[str, str, _P]]:
    """``(key, path, plan)`` for each key of ``given`` in report order; a key that no
    plan can take (``bad_key``, ``reserved_key``, ...) is reported and left out."""
    for key in _sorted_keys(given):
        path = f"{kind}.{key}"
        rule = known.get(key) or additional(key)
        if isinstance(rule, Fault):
            problems.append(Problem(rule.code, path, rule.message))
            continue
        yield key, path, rule


def _tags(
    plan: SeriesPlan, given: dict[str, TagValue], problems: list[Problem]
) -> tuple[dict[str, TagValue], list[str]]:
    out: dict[str, TagValue] = {}
    segments: list[str] = []
    for key, path, rule in _planned("tags", given, plan.tags, additional_tag, problems):
        wire = tag_wire(rule.type, given[key])
        fault = wire if type(wire) is Fault else rule.value_fault(wire)  # type: ignore[arg-type]
        if fault is not None:
            problems.append(Problem(fault.code, path, fault.message))
            continue
        out[key] = wire  # type: ignore[assignment]
        segments.append(rule.prefix + escape_key(wire))  # type: ignore[arg-type]
    for required in plan.required_tags:
        if required not in given:
            problems.append(
                Problem("missing_tag", f"tags.{required}", f"required tag {required!r} is missing")
            )
    return out, segments


def _fields(
    plan: SeriesPlan,
    given: dict[str, FieldValue],
    tags: dict[str, TagValue],
    problems: list[Problem],
) -> tuple[dict[str, FieldValue], list[str]]:
    out: dict[str, FieldValue] = {}
    escaped: list[str] = []
    for key, path, rule in _planned("fields", given, plan.fields, additional_field, problems):
        if plan.conflict(key, tags):
            problems.append(
                Problem("key_conflict", path, f"{key!r} is given both as a tag and as a field")
            )
            continue
        value = given[key]
        text = rule.write(value)
        if type(text) is Fault:
            problems.append(Problem(text.code, path, text.message))
            continue
        out[key] = field_value(rule.type, value)
        escaped.append(rule.escaped)
    for required in plan.required_fields:
        if required not in given:
            problems.append(
                Problem(
                    "missing_field",
                    f"fields.{required}",
                    f"required field {required!r} is missing",
                )
            )
    if not given:
        problems.append(Problem("no_fields", "fields", "an event needs at least one field"))
    return out, escaped


DEFAULT_VALIDATOR = Validator()


def validate(event: Event) -> Event:
    """Validate ``event`` against :data:`CATALOG`; return it normalized or raise
    :class:`~luna_events.errors.InvalidEvent` listing every problem."""
    return DEFAULT_VALIDATOR.validate(event)


def check(event: Event) -> list[Problem]:
    """Every problem of ``event`` against :data:`CATALOG` (empty when it is valid),
    including values an emitter must not write: ints beyond 64 bits, NaN, infinity."""
    return DEFAULT_VALIDATOR.check(event)
