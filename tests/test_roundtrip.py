"""Property: every valid event comes back from a real InfluxDB exactly, with its types.

Events are generated with arbitrary unicode (commas, spaces, ``=``, quotes,
backslashes, newlines, emoji) in tag values, field keys and string values. The
valid ones are encoded, written to a private InfluxDB 1.6.7 over ``/write`` and
queried back; the invalid ones must be refused for a reason InfluxDB would have.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luna_events.event import Event
from luna_events.lineprotocol import encode_batch
from luna_events.localservers import InfluxDB1, VictoriaMetrics
from luna_events.validation import Validator

from .strategies import counter_events, floats, keys, request_events

BASE_TIME = 1_700_000_000_000_000_000
VALIDATOR = Validator()
DEFAULT_EXAMPLES = settings.default.max_examples if settings.default else 100
INFLUX_TYPES = {float: "float", int: "integer", str: "string", bool: "boolean"}

# Why InfluxDB cannot take an event, and so why validation may refuse one.
UNREPRESENTABLE = {
    "control_character",
    "unescapable_backslash",
    "empty_tag",
    "reserved_key",
    "key_conflict",
    "out_of_range",
}


def _batches() -> st.SearchStrategy[list[Event]]:
    event = st.one_of(request_events(BASE_TIME), counter_events(BASE_TIME))
    return st.lists(event, min_size=1, max_size=6)


def _normalize_batch(events: list[Event]) -> list[Event]:
    """Validate; keep the valid events whose keys cannot clash across the batch."""
    kept: list[Event] = []
    field_types: dict[tuple[str, str], type] = {}
    tag_keys: set[tuple[str, str]] = set()
    field_keys: set[tuple[str, str]] = set()
    for index, raw in enumerate(events):
        event, problems = VALIDATOR.normalize(raw)
        if event is None:
            assert problems, "an invalid event must say why"
            assert {p.code for p in problems} <= UNREPRESENTABLE, problems
            continue
        series = event.series
        clash = any(
            field_types.get((series, k), type(v)) is not type(v) for k, v in event.fields.items()
        )
        clash |= any((series, k) in field_keys for k in event.tags)
        clash |= any((series, k) in tag_keys for k in event.fields)
        if clash:
            continue  # InfluxDB keeps one type per field; that is the emitter's contract
        for key, value in event.fields.items():
            field_types[(series, key)] = type(value)
        tag_keys.update((series, k) for k in event.tags)
        field_keys.update((series, k) for k in event.fields)
        event.time_ns = BASE_TIME + index
        kept.append(event)
    return kept


def _as_stored(event: Event) -> dict[str, Any]:
    return {
        "measurement": event.series,
        "time": event.time_ns,
        "tags": event.tags,
        "fields": event.fields,
    }


@settings(
    max_examples=max(150, DEFAULT_EXAMPLES),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(events=_batches())
def test_valid_events_come_back_from_influxdb_exactly(influxdb: InfluxDB1, events: list[Event]):
    valid = _normalize_batch(events)
    influxdb.query('DROP DATABASE "roundtrip"')
    influxdb.create_database("roundtrip")
    if not valid:
        return
    status, body = influxdb.write("roundtrip", encode_batch(valid))
    assert status == 204, body
    # one measurement at a time: SELECT across measurements merges their columns
    stored = [p for name in {e.series for e in valid} for p in influxdb.points("roundtrip", name)]
    types = influxdb.field_types("roundtrip")
    for point in stored:
        for key, value in point["fields"].items():
            if types[point["measurement"]][key] == "float":
                point["fields"][key] = float(value)
    for point in stored:
        for key, value in point["fields"].items():
            assert types[point["measurement"]][key] == INFLUX_TYPES[type(value)]
    expected = sorted((_as_stored(e) for e in valid), key=lambda p: (p["measurement"], p["time"]))
    stored.sort(key=lambda p: (p["measurement"], p["time"]))
    assert stored == expected


_vm_runs = iter(range(10**9))
VmKey = tuple[str, tuple[tuple[str, Any], ...], int]

# VictoriaMetrics stores a decimal mantissa with a bounded exponent: a 17-digit
# value near 1e-298 comes back as 0. That is its storage, not the line protocol.
VM_FLOATS = st.floats(min_value=-1e250, max_value=1e250).filter(
    lambda value: value == 0 or abs(value) >= 1e-250
)


@st.composite
def _numeric_events(draw: st.DrawFn) -> list[Event]:
    count = draw(st.integers(1, 5))
    events = []
    label_keys = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
    for index in range(count):
        tags = draw(
            st.dictionaries(
                label_keys.map(lambda k: "x_" + k), st.text(min_size=1, max_size=12), max_size=3
            )
        )
        fields = draw(
            st.dictionaries(
                label_keys.map(lambda k: "f_" + k),
                st.one_of(VM_FLOATS, st.integers(-(2**53), 2**53)),
                min_size=1,
                max_size=3,
            )
        )
        events.append(
            Event(
                "usages_statistic",
                BASE_TIME + index * 1_000_000,
                {"service": "luna-remote-sdk", **tags},
                {"face_detector_usages": draw(st.integers(0, 2**53)), **fields},
            )
        )
    return events


@settings(
    max_examples=max(60, DEFAULT_EXAMPLES // 3),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(events=_numeric_events())
def test_numeric_events_round_trip_through_victoriametrics_v2_write(
    victoria: VictoriaMetrics, events: list[Event]
):
    import urllib.request

    run = f"r{next(_vm_runs)}"
    valid: list[Event] = []
    for raw in events:
        raw.tags["run"] = run
        # one series per event: VictoriaMetrics compresses the values of a series
        # together, and a 1e-32 beside a 1.0 in the same block comes back as 0
        raw.tags["point"] = len(valid)
        event, problems = VALIDATOR.normalize(raw)
        if event is None:
            assert {p.code for p in problems} <= UNREPRESENTABLE, problems
            continue
        valid.append(event)
    if not valid:
        return
    request = urllib.request.Request(
        f"{victoria.url}/api/v2/write?org=luna&bucket=luna_monitoring&precision=ns",
        data=encode_batch(valid),
        method="POST",
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 204
    stored: dict[VmKey, float] = {}
    for exported in victoria.export():
        metric = dict(exported["metric"])
        if metric.get("run") != run:
            continue
        name = metric.pop("__name__")
        for number, timestamp in zip(exported["values"], exported["timestamps"], strict=True):
            stored[(name, tuple(sorted(metric.items())), timestamp)] = number
    expected: dict[VmKey, float] = {}
    for event in valid:
        labels = tuple(sorted(event.tags.items()))
        for name, value in event.fields.items():
            assert isinstance(value, int | float)
            expected[(f"usages_statistic_{name}", labels, event.time_ns // 1_000_000)] = value
    assert stored.keys() == expected.keys()
    for key, value in expected.items():
        # VictoriaMetrics stores values as decimals with about 12 significant digits
        # (0.12345678901234567 comes back as 0.12345678901234), whatever the text.
        assert math.isclose(stored[key], value, rel_tol=1e-11), (key, stored[key], value)


@given(key=keys, value=st.one_of(floats, st.integers(-(2**63), 2**63 - 1)))
def test_additional_numeric_fields_keep_their_type(key: str, value: float | int):
    event, _ = VALIDATOR.normalize(
        Event("usages_statistic", BASE_TIME, {"service": "luna-remote-sdk"}, {key: value})
    )
    if event is not None:
        assert type(event.fields[key]) is type(value) and event.fields[key] == value
