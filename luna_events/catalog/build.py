"""Helpers that declare series tersely and merge declarations from several services."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import TypeVar

from luna_events.catalog.model import FieldSpec, SeriesSpec, TagSpec, Unit, ValueType

ROUTE_PATTERN = r"^[A-Z]+:/[^ ]*$"
"""A route is ``METHOD:/resource``, e.g. ``GET:/version`` (see :func:`luna_events.route`)."""


def service_tag(services: Sequence[str]) -> TagSpec:
    """The ``service`` tag, restricted to the services that emit the series."""
    return TagSpec(
        "service", ValueType.STR, "name of the emitting service", allowed=tuple(services)
    )


def tag(
    name: str,
    type_: ValueType,
    description: str,
    *,
    required: bool = True,
    unit: Unit | None = None,
    allowed: tuple[str, ...] = (),
    pattern: str | None = None,
) -> TagSpec:
    """A catalogued tag (required unless told otherwise)."""
    return TagSpec(name, type_, description, required, unit, allowed, pattern)


def field(
    name: str,
    type_: ValueType,
    description: str,
    *,
    required: bool = False,
    unit: Unit | None = None,
) -> FieldSpec:
    """A catalogued field (optional unless told otherwise)."""
    return FieldSpec(name, type_, description, required, unit)


def seconds(name: str, description: str, *, required: bool = False) -> FieldSpec:
    """A float duration field in seconds."""
    return field(name, ValueType.FLOAT, description, required=required, unit=Unit.SECONDS)


def count(name: str, description: str, *, required: bool = False) -> FieldSpec:
    """An int counter field."""
    return field(name, ValueType.INT, description, required=required, unit=Unit.COUNT)


def series(
    name: str,
    description: str,
    services: Sequence[str],
    tags: Iterable[TagSpec] = (),
    fields: Iterable[FieldSpec] = (),
    *,
    group: str,
) -> SeriesSpec:
    """Declare a series; the ``service`` tag is added first, limited to ``services``."""
    return SeriesSpec(
        name=name,
        description=description,
        services=tuple(services),
        tags=(service_tag(services), *tags),
        fields=tuple(fields),
        group=group,
    )


def merge(declarations: Iterable[SeriesSpec]) -> list[SeriesSpec]:
    """Merge declarations of the same series made by several services.

    ``requests`` and ``errors`` exist in every service, each adding its own optional
    tags and fields. A tag or field declared twice must have the same type; it stays
    required only where every declaration requires it.
    """
    merged: dict[str, SeriesSpec] = {}
    for spec in declarations:
        known = merged.get(spec.name)
        merged[spec.name] = spec if known is None else _merge_two(known, spec)
    return list(merged.values())


def _merge_two(first: SeriesSpec, second: SeriesSpec) -> SeriesSpec:
    services = tuple(dict.fromkeys(first.services + second.services))
    tags = _union(first.tags[1:], second.tags[1:], first.name)
    fields = _union(first.fields, second.fields, first.name)
    return series(first.name, first.description, services, tags, fields, group=first.group)


Spec = TypeVar("Spec", bound=TagSpec | FieldSpec)


def _union(a: Sequence[Spec], b: Sequence[Spec], series_name: str) -> list[Spec]:
    in_both = {item.name for item in a} & {item.name for item in b}
    out: dict[str, Spec] = {}
    for item in [*a, *b]:
        known = out.get(item.name)
        if known is not None:
            item = _combine(known, item, series_name)
        out[item.name] = item
    return [replace(item, required=item.required and item.name in in_both) for item in out.values()]


def _combine(known: Spec, other: Spec, series_name: str) -> Spec:
    if known.type is not other.type:
        raise ValueError(
            f"{series_name}.{known.name} is declared as {known.type} and as {other.type}"
        )
    combined = replace(known, required=known.required and other.required)
    if isinstance(combined, TagSpec) and isinstance(other, TagSpec):
        unrestricted = not combined.allowed or not other.allowed
        allowed = () if unrestricted else tuple(dict.fromkeys(combined.allowed + other.allowed))
        combined = replace(combined, allowed=allowed)
    return combined
