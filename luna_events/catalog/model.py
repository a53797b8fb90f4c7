"""The catalog's building blocks: value types, tag and field specs, and series specs."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field


class ValueType(enum.StrEnum):
    """The type a tag or field value has in the catalog.

    Tags always travel as strings in line protocol; their catalog type says what a
    valid value looks like (``status_code`` is an int, written as ``200``).
    """

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"


class Unit(enum.StrEnum):
    """Units that panels and docs use to format values."""

    SECONDS = "seconds"
    BYTES = "bytes"
    PIXELS = "pixels"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class TagSpec:
    """One catalogued tag of a series."""

    name: str
    type: ValueType
    description: str
    required: bool = True
    unit: Unit | None = None
    allowed: tuple[str, ...] = ()
    """When not empty, the only values the tag may take (as written on the wire)."""
    pattern: str | None = None
    """When set, a regular expression the value (as written on the wire) must match."""


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One catalogued field of a series."""

    name: str
    type: ValueType
    description: str
    required: bool = False
    unit: Unit | None = None


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """One monitoring series (an InfluxDB measurement) and everything that may be in it."""

    name: str
    description: str
    services: tuple[str, ...]
    tags: tuple[TagSpec, ...]
    fields: tuple[FieldSpec, ...]
    group: str = ""
    """A label for docs and dashboards, e.g. ``"estimator"``."""

    _tag_index: Mapping[str, TagSpec] = field(init=False, repr=False, compare=False)
    _field_index: Mapping[str, FieldSpec] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tag_index", {t.name: t for t in self.tags})
        object.__setattr__(self, "_field_index", {f.name: f for f in self.fields})

    def tag(self, name: str) -> TagSpec | None:
        """The catalogued tag called ``name``, or ``None``."""
        return self._tag_index.get(name)

    def field(self, name: str) -> FieldSpec | None:
        """The catalogued field called ``name``, or ``None``."""
        return self._field_index.get(name)

    @property
    def required_tags(self) -> tuple[TagSpec, ...]:
        """Tags every point of this series must carry."""
        return tuple(t for t in self.tags if t.required)

    @property
    def required_fields(self) -> tuple[FieldSpec, ...]:
        """Fields every point of this series must carry."""
        return tuple(f for f in self.fields if f.required)


class Catalog(Mapping[str, SeriesSpec]):
    """Every known series by name. Read-only once built."""

    def __init__(self, series: Iterable[SeriesSpec]) -> None:
        self._series: dict[str, SeriesSpec] = {}
        for spec in series:
            if spec.name in self._series:
                raise ValueError(f"series {spec.name!r} is defined twice")
            self._series[spec.name] = spec

    def __getitem__(self, name: str) -> SeriesSpec:
        return self._series[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._series)

    def __len__(self) -> int:
        return len(self._series)

    @property
    def services(self) -> tuple[str, ...]:
        """Every service that emits at least one series, sorted."""
        return tuple(sorted({s for spec in self._series.values() for s in spec.services}))
