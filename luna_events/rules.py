"""The event rules, written once, and the plan compiled from them for each series.

Every check an event goes through lives here as one function that returns the
wire text of a value (``str``) or the :class:`Fault` that stops it. Two drivers run
the same checks: :class:`~luna_events.fastpath.FastEncoder` stops at the first fault
and caches what repeats, :class:`~luna_events.validation.Validator` lists every
fault as a :class:`~luna_events.errors.Problem`. ``luna-events generate vector``
writes the Vector remap's limits, patterns and tables from the same plan
(:mod:`luna_events.generate.vector`).

The rules, in the order a key is checked (also in docs/event-format.md):

* a key that is not catalogued must be a non-empty string (``bad_key``), not
  reserved (``reserved_key``), valid Unicode, at most 256 bytes, without control
  characters or a backslash line protocol cannot carry;
* a tag value must have its catalog type (any of str/int/float/bool for an
  additional tag), fit in 64 bits, be finite, not be empty, pass the same text
  checks as a key (1024 bytes), and be one of its allowed values or match its pattern;
* a field value must have its catalog type (an int is accepted for a float and
  written as one; an additional field keeps its JSON type), fit in 64 bits (2^53 for
  an int written as a float), be finite, and a string at most 65535 bytes;
* the series key InfluxDB builds (escaped measurement and tags, ``#!~#`` and the
  longest escaped field key) must fit in 65535 bytes (measured on InfluxDB 1.6.7).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from luna_events import limits
from luna_events.catalog import CATALOG, Catalog, SeriesSpec, ValueType
from luna_events.jsonline import UNENCODABLE_KEY
from luna_events.lineprotocol import escape_key, escape_measurement, escape_string, format_float

CONTROL_PATTERN = r"[\x00-\x1f\x7f]"
"""A character line protocol cannot carry in a key or tag value."""
BACKSLASH_PATTERN = r'\\([,= "]|$)'
"""A backslash InfluxDB's parsers read in different ways, so it cannot round-trip."""
SERIES_KEY_SEPARATOR = "#!~#"
"""What InfluxDB puts between the series key and a field key (its 65535-byte limit covers both)."""

_CONTROL = re.compile(CONTROL_PATTERN)
_BAD_IDENTIFIER = re.compile(CONTROL_PATTERN + "|" + BACKSLASH_PATTERN)
_INT64_MIN = limits.INT64_MIN
_INT64_MAX = limits.INT64_MAX
_EXACT = limits.MAX_EXACT_FLOAT_INT
_MIN_TIME = limits.MIN_TIME_NS
_MAX_TIME = limits.MAX_TIME_NS
_FLOAT = ValueType.FLOAT
_INT = ValueType.INT
_STR = ValueType.STR
_BOOL = ValueType.BOOL
_dumps = orjson.dumps

_TYPE_NAMES = {
    str: "str",
    int: "int",
    float: "float",
    bool: "bool",
    type(None): "null",
    dict: "object",
    list: "array",
}


class Fault(NamedTuple):
    """Why a value or key is refused: a stable ``code`` and a message for a person."""

    code: str
    message: str


def type_name(value: object) -> str:
    """The name used for a value's type in problem messages (JSON-flavoured); the
    writer's ``{"unencodable": "set"}`` is named ``set (not JSON)``."""
    kind = type(value)
    if kind is dict and len(value) == 1:  # type: ignore[arg-type]
        unencodable = value.get(UNENCODABLE_KEY)  # type: ignore[attr-defined]
        if type(unencodable) is str:
            return f"{unencodable} (not JSON)"
    return _TYPE_NAMES.get(kind, kind.__name__)


_PLAIN_TYPES = (str, int, float, bool)


def plain(value: object) -> object:
    """A str, int or float subclass (a ``StrEnum``, an ``IntEnum`` such as
    ``HTTPStatus``, numpy's ``float64``) as the plain value the writers write for it,
    which is what every reader reads back; any other value as it is."""
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, str):
        return str.__str__(value)
    return value


def _subclass(value: object) -> bool:
    """Whether ``value`` is a subclass instance :func:`plain` turns into a plain value."""
    return type(value) not in _PLAIN_TYPES and isinstance(value, _PLAIN_TYPES)


def utf8_size(text: str) -> int | None:
    """Bytes of ``text`` in UTF-8, or ``None`` when it holds a lone surrogate."""
    if text.isascii():
        return len(text)
    try:
        return len(text.encode())
    except UnicodeEncodeError:
        return None


# keys and tag values ---------------------------------------------------------------


def text_fault(text: str, max_bytes: int, what: str) -> Fault | None:
    """Encodability and length of a key or tag value; ``None`` when it may be written."""
    size = utf8_size(text)
    if size is None:
        return Fault("invalid_unicode", f"{what} contains a lone surrogate")
    if size > max_bytes:
        return Fault("too_long", f"{what} is {size} bytes, over the {max_bytes}-byte limit")
    if _BAD_IDENTIFIER.search(text):
        control = _CONTROL.search(text)
        if control:
            return Fault(
                "control_character", f"{what} contains control character U+{ord(control[0]):04X}"
            )
        return Fault(
            "unescapable_backslash",
            f"{what} has a backslash before ',', '=', ' ', '\"' or at its end, "
            "which line protocol cannot carry exactly",
        )
    return None


def key_fault(key: object) -> Fault | None:
    """Why an uncatalogued tag or field key cannot be written, or ``None``."""
    if type(key) is not str or not key:
        return Fault("bad_key", "keys must be non-empty strings")
    if key in limits.RESERVED_KEYS:
        return Fault("reserved_key", f"{key!r} is reserved by InfluxDB")
    return text_fault(key, limits.MAX_KEY_BYTES, "key")


def tag_wire(expected: ValueType | None, value: object) -> str | Fault:
    """The string a tag value is written as (``None``: an additional tag)."""
    kind = type(value)
    if kind is str and expected in (None, _STR):
        return value  # type: ignore[return-value]
    if kind is int and expected in (None, _INT, _FLOAT):
        if _INT64_MIN <= value <= _INT64_MAX:  # type: ignore[operator]
            return str(value)
        return Fault("out_of_range", f"{value} does not fit in a 64-bit int")
    if kind is float and expected in (None, _FLOAT):
        if value - value == 0.0:  # type: ignore[operator]
            return format_float(value)  # type: ignore[arg-type]
        return Fault("not_finite", f"{value} is not allowed")
    if kind is bool and expected in (None, _BOOL):
        return "true" if value else "false"
    if _subclass(value):
        return tag_wire(expected, plain(value))
    wanted = expected.value if expected else "str, int, float or bool"
    return Fault("wrong_type", f"expected {wanted}, got {type_name(value)}")


# field values ----------------------------------------------------------------------


def float_text(value: object) -> str | Fault:
    """A float field: a finite float, or an int that a float holds exactly."""
    kind = type(value)
    if kind is float:
        # format_float's text, faster: orjson writes the same shortest digits as repr
        # (a third of its cost), and differs only in how it writes an exponent and a
        # whole number ("2.0"); a NaN or an infinity it writes as null
        text = _dumps(value).decode()
        if text[-1] != "0" and "e" not in text and text != "null":
            return text  # most floats: told by the text alone
        if value - value == 0.0:  # type: ignore[operator]
            if text[-2:] == ".0":
                return text[:-2]
            return format_float(value) if "e" in text else text  # type: ignore[arg-type]
        return Fault("not_finite", f"{value} is not allowed")
    if kind is int:
        if -_EXACT <= value <= _EXACT:  # type: ignore[operator]
            return str(value)  # what format_float(float(value)) writes for an exact int
        return Fault("out_of_range", f"{value} cannot be written exactly as a float")
    if _subclass(value):
        return float_text(plain(value))
    return Fault("wrong_type", f"expected float, got {type_name(value)}")


def int_text(value: object) -> str | Fault:
    """An int field, written with ``i``."""
    if type(value) is not int:
        if _subclass(value):
            return int_text(plain(value))
        return Fault("wrong_type", f"expected int, got {type_name(value)}")
    if not _INT64_MIN <= value <= _INT64_MAX:
        return Fault("out_of_range", f"{value} does not fit in a 64-bit int")
    return f"{value}i"


def str_text(value: object) -> str | Fault:
    """A string field, quoted and escaped."""
    if type(value) is not str:
        if _subclass(value):
            return str_text(plain(value))
        return Fault("wrong_type", f"expected str, got {type_name(value)}")
    size = utf8_size(value)
    if size is None:
        return Fault("invalid_unicode", "value contains a lone surrogate")
    if size > limits.MAX_STRING_FIELD_BYTES:
        return Fault(
            "too_long",
            f"value is {size} bytes, over the {limits.MAX_STRING_FIELD_BYTES}-byte limit",
        )
    return '"' + escape_string(value) + '"'


def bool_text(value: object) -> str | Fault:
    """A bool field."""
    if type(value) is not bool:
        return Fault("wrong_type", f"expected bool, got {type_name(value)}")
    return "true" if value else "false"


def additional_text(value: object) -> str | Fault:
    """An uncatalogued field keeps its JSON type: an int is written with ``i``, a float
    as a float, a string or a bool as itself."""
    kind = type(value)
    if kind is str:
        return str_text(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int_text(value)
    if kind is float:
        return float_text(value)
    if _subclass(value):
        return additional_text(plain(value))
    return Fault("wrong_type", f"expected str, int, float or bool, got {type_name(value)}")


FieldWriter = Callable[[object], "str | Fault"]
WRITERS: dict[ValueType | None, FieldWriter] = {
    _FLOAT: float_text,
    _INT: int_text,
    _STR: str_text,
    _BOOL: bool_text,
    None: additional_text,
}
"""The field writer for each catalog type; ``None`` is an additional field."""


def field_value(expected: ValueType | None, value: Any) -> Any:
    """A field value as normalized (a value its writer accepted): an int given for a
    float field becomes ``float``; every other value keeps its type."""
    if expected is _FLOAT:
        return float(value)
    return plain(value)


# the plan ----------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class TagPlan:
    """How to check and write one tag key; ``type`` is ``None`` for an additional tag."""

    key: str
    type: ValueType | None
    prefix: str
    """``",key="`` with the key escaped."""
    allowed: tuple[str, ...] = ()
    pattern: str | None = None
    regex: re.Pattern[str] | None = None
    segments: dict[str | int, str] = field(default_factory=dict)
    """The fast driver's cache: ``value -> ",key=value"`` for str and int values found valid."""

    def value_fault(self, wire: str) -> Fault | None:
        """Why a tag value (as written) cannot be written, or ``None``."""
        if not wire:
            return Fault("empty_tag", "tag value is empty")
        fault = text_fault(wire, limits.MAX_TAG_VALUE_BYTES, "value")
        if fault is not None:
            return fault
        if self.allowed and wire not in self.allowed:
            return Fault("not_allowed", f"{wire!r} is not one of: {', '.join(self.allowed)}")
        if self.regex is not None and not self.regex.match(wire):
            return Fault("bad_format", f"{wire!r} does not match {self.pattern}")
        return None

    def segment(self, value: object) -> str | Fault:
        """``",key=value"`` escaped, or the fault of the value."""
        wire = tag_wire(self.type, value)
        if type(wire) is Fault:
            return wire
        if not isinstance(value, str) and not self.allowed and self.regex is None:
            # digits, a float's digits or true/false: never empty, short, nothing to escape
            return self.prefix + wire  # type: ignore[operator]
        fault = self.value_fault(wire)  # type: ignore[arg-type]
        if fault is not None:
            return fault
        return self.prefix + escape_key(wire)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """How to check and write one field key; ``type`` is ``None`` for an additional field."""

    key: str
    type: ValueType | None
    escaped: str
    write: FieldWriter
    first: tuple[str, FieldWriter, str] = field(init=False, compare=False)
    """``(key, write, " key=")``: the fast driver's entry for the first field of a line."""
    other: tuple[str, FieldWriter, str] = field(init=False, compare=False)
    """``(key, write, ",key=")``: its entry for the fields after the first."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "first", (self.key, self.write, f" {self.escaped}="))
        object.__setattr__(self, "other", (self.key, self.write, f",{self.escaped}="))


def additional_tag(key: object) -> TagPlan | Fault:
    """The plan of an uncatalogued tag key."""
    fault = key_fault(key)
    if fault is not None:
        return fault
    return TagPlan(key, None, f",{escape_key(key)}=")  # type: ignore[arg-type]


def additional_field(key: object) -> FieldPlan | Fault:
    """The plan of an uncatalogued field key."""
    fault = key_fault(key)
    if fault is not None:
        return fault
    return FieldPlan(key, None, escape_key(key), additional_text)  # type: ignore[arg-type]


def series_key_bytes(measurement: str, segments: Iterable[str], field_keys: Iterable[str]) -> int:
    """The longest key InfluxDB builds for a point: escaped series key, ``#!~#`` and the
    longest escaped field key, in bytes."""
    key = len((measurement + "".join(segments)).encode("utf-8", "surrogatepass"))
    longest = max((len(k.encode("utf-8", "surrogatepass")) for k in field_keys), default=0)
    return key + len(SERIES_KEY_SEPARATOR) + longest


def series_key_fault(size: int) -> Fault | None:
    """Why a point's series key is too long for InfluxDB, or ``None``."""
    if size > limits.MAX_SERIES_KEY_BYTES:
        return Fault(
            "series_key_too_long",
            f"the series key with the longest field key is {size} bytes, over InfluxDB's "
            f"{limits.MAX_SERIES_KEY_BYTES}-byte limit",
        )
    return None


class SeriesPlan:
    """Everything needed to check and write the events of one series."""

    def __init__(self, spec: SeriesSpec) -> None:
        self.name = spec.name
        self.measurement = escape_measurement(spec.name)
        self.tags: dict[str, TagPlan] = {
            t.name: TagPlan(
                t.name,
                t.type,
                f",{escape_key(t.name)}=",
                tuple(t.allowed),
                t.pattern,
                re.compile(t.pattern) if t.pattern else None,
            )
            for t in spec.tags
        }
        self.fields: dict[str, FieldPlan] = {
            f.name: FieldPlan(f.name, f.type, escape_key(f.name), WRITERS[f.type])
            for f in spec.fields
        }
        self.required_tags = tuple(sorted(t.name for t in spec.required_tags))
        self.required_fields = tuple(sorted(f.name for f in spec.required_fields))
        self.longest_field = max((len(f.escaped) for f in self.fields.values()), default=0)
        """Characters of the longest escaped catalogued field key."""

    def conflict(self, key: str, tags: Any) -> bool:
        """Whether field ``key`` is also given as a tag, which only the catalog may allow."""
        return key in tags and not (key in self.fields and key in self.tags)


class Plan:
    """The compiled rules of every series of a catalog."""

    def __init__(self, catalog: Catalog = CATALOG) -> None:
        self.series = {name: SeriesPlan(spec) for name, spec in catalog.items()}
        # a tag checked alike in several series (task_id, subtask_id, service...) shares
        # one value cache: the events of one task reach several series in a row
        caches: dict[tuple[Any, ...], dict[str | int, str]] = {}
        for plan in self.series.values():
            for rule in plan.tags.values():
                alike = (rule.key, rule.type, rule.allowed, rule.pattern)
                rule.segments = caches.setdefault(alike, rule.segments)


def time_fault(time_ns: object) -> Fault | None:
    """Why an event time cannot be written, or ``None``."""
    if type(time_ns) is not int:
        return Fault("wrong_type", f"time must be an int of ns, got {type_name(time_ns)}")
    if not _MIN_TIME <= time_ns <= _MAX_TIME:
        return Fault("out_of_range", f"time {time_ns} is outside InfluxDB's range")
    return None


DEFAULT_PLAN = Plan()
