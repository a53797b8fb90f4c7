"""The edges, end to end against a real InfluxDB 1.6.7: what the emitters write, the
transform reads, and InfluxDB stores; zero silent changes.

* integers beyond 64 bits anywhere are refused as ``out_of_range``, never rounded;
* NaN and infinity from the emitters are refused as ``not_finite``, never ``null``;
* ``-0`` is the float negative zero on both roads, stored with its sign;
* an over-long line is ``line_too_long`` however late its marker;
* a series key over InfluxDB's limit is refused as ``series_key_too_long``, and one
  just under it is stored whole.
"""

from __future__ import annotations

import json
import math
import urllib.parse
import urllib.request
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luna_events import limits
from luna_events.event import Event
from luna_events.jsonline import LineKind, has_marker, parse_line, to_json_line
from luna_events.lineprotocol import encode_line
from luna_events.localservers import InfluxDB1
from luna_events.logs.layout import render
from luna_events.rules import tag_wire
from luna_events.transform import Transform, transform_line
from luna_events.validation import check

from .strategies import examples

pytestmark = pytest.mark.server

BASE_TIME = 1_700_000_000_000_000_000
HUGE = [2**63, 2**64 - 1, 2**64, 2**64 + 1, -(2**63) - 1, 10**30, -(10**40)]
SETTINGS = settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def emitted(event: Event) -> bytes:
    """The line the project's formatter writes for ``event``."""
    return render(1.5, "INFO", "luna.monitoring", "m", event)


def raw_query(influxdb: InfluxDB1, database: str, statement: str) -> str:
    """InfluxDB's JSON answer as text (the json module would read ``-0`` as ``0``)."""
    query = urllib.parse.urlencode({"db": database, "q": statement})
    with urllib.request.urlopen(f"{influxdb.url}/query?{query}") as answer:
        text: str = answer.read().decode()
        return text


def write_and_read(influxdb: InfluxDB1, database: str, protocol: str) -> dict[str, Any]:
    status, body = influxdb.write(database, protocol.encode() + b"\n")
    assert status == 204, body
    (point,) = influxdb.points(database, protocol.split(",", 1)[0].split(" ", 1)[0])
    return point


def point_type(influxdb: InfluxDB1, database: str, key: str) -> str:
    """The InfluxDB type of field ``key`` (in the database's one measurement)."""
    (types,) = influxdb.field_types(database).values()
    return types[key]


@st.composite
def numeric_events(draw: st.DrawFn) -> tuple[Event, str]:
    """An event with one numeric value at one place; the place's path."""
    value = draw(
        st.one_of(
            st.sampled_from(HUGE),
            st.sampled_from([2**63 - 1, -(2**63), 2**53, -(2**53), 0, -1]),
            st.integers(-(2**70), 2**70),
            st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 0.0, 5e-324]),
            st.floats(allow_nan=False, allow_infinity=False),
        )
    )
    place = draw(
        st.sampled_from(
            [
                "fields.face_detector_usages",
                "fields.extra",
                "tags.extra",
                "fields.execution_time",
                "tags.image_count",
            ]
        )
    )
    tags: dict[str, Any] = {"service": "luna-remote-sdk"}
    if place == "fields.face_detector_usages":
        event = Event("usages_statistic", BASE_TIME, tags, {"face_detector_usages": value})
    else:
        tags["image_count"] = 1
        fields: dict[str, Any] = {"execution_time": 0.5}
        kind, key = place.split(".")
        (tags if kind == "tags" else fields)[key] = value
        event = Event("sdkloop_task", BASE_TIME, tags, fields)
    return event, place


@SETTINGS
@given(case=numeric_events())
def test_numbers_from_the_emitters_are_stored_exactly_or_refused_with_a_reason(
    influxdb: InfluxDB1, case: tuple[Event, str]
):
    event, place = case
    kind, key = place.split(".")
    value = (event.tags if kind == "tags" else event.fields)[key]
    outcome = transform_line(emitted(event))
    strict = {p.code for p in check(event)}  # what strict mode refuses at emit time
    if outcome.kind is LineKind.INVALID:
        codes = {(p.code, p.path) for p in outcome.problems}
        if type(value) is float and not math.isfinite(value):
            assert codes == {("not_finite", "line")}
            assert strict in ({"not_finite"}, {"wrong_type"})  # NaN in an int field
        else:
            assert codes in ({("out_of_range", place)}, {("wrong_type", place)}), codes
            assert {c for c, _ in codes} == strict
        return
    assert not strict
    assert outcome.line_protocol is not None
    influxdb.query('DROP DATABASE "edges"')
    influxdb.create_database("edges")
    point = write_and_read(influxdb, "edges", outcome.line_protocol)
    stored = point["tags" if kind == "tags" else "fields"][key]
    if kind == "tags":
        assert stored == tag_wire(None, value)
    elif type(value) is int and place != "fields.execution_time":
        # an int field, or an additional field given an int: an int, exactly
        assert stored == value and type(stored) is int
        assert point_type(influxdb, "edges", key) == "integer"
    else:
        assert float(stored) == value  # floats: the same double, never a rounded int
        assert point_type(influxdb, "edges", key) == "float"
        if value == 0:
            text = raw_query(influxdb, "edges", f'SELECT "{key}" FROM "sdkloop_task"')
            assert ("-0" in text.split('"values"')[1]) is (math.copysign(1, value) < 0)


def test_ints_beyond_64_bits_are_out_of_range_everywhere_never_rounded():
    for value in HUGE:
        for tags, fields, path in [
            ({"extra": value}, {}, "tags.extra"),
            ({}, {"extra": value}, "fields.extra"),
            ({}, {"execution_time": value}, "fields.execution_time"),
            ({"image_count": value}, {}, "tags.image_count"),
        ]:
            event = Event(
                "sdkloop_task",
                BASE_TIME,
                {"service": "luna-remote-sdk", "image_count": 1, **tags},
                {"execution_time": 0.5, **fields},
            )
            line = emitted(event)
            assert str(value).encode() in line  # written exactly, not as a float
            outcome = transform_line(line)
            assert [(p.code, p.path) for p in outcome.problems] == [("out_of_range", path)]
            assert [p.code for p in check(event)] == ["out_of_range"]
        time_line = to_json_line(Event("sdkloop_task", value, {}, {}))
        assert ("out_of_range", "time") in {
            (p.code, p.path) for p in transform_line(time_line).problems
        }


def test_negative_zero_is_a_float_on_both_roads_and_keeps_its_sign(
    influxdb: InfluxDB1, database: str
):
    head = '{"luna_event": {"v": 1, "series": "sdkloop_task", "time": 7, "tags": '
    sdk = '{"service": "luna-remote-sdk", "image_count": 1}'
    good = transform_line(head + sdk + ', "fields": {"execution_time": -0, "extra": -0}}}')
    assert good.line_protocol is not None
    assert "execution_time=-0,extra=-0 7" in good.line_protocol
    write_and_read(influxdb, database, good.line_protocol)
    text = raw_query(influxdb, database, 'SELECT "execution_time", "extra" FROM "sdkloop_task"')
    assert '[["1970-01-01T00:00:00.000000007Z",-0,-0]]' in text
    int_field = transform_line(
        '{"luna_event": {"v": 1, "series": "usages_statistic", "time": 7, "tags": '
        '{"service": "luna-remote-sdk"}, "fields": {"face_detector_usages": -0}}}'
    )
    assert [(p.code, p.path) for p in int_field.problems] == [
        ("wrong_type", "fields.face_detector_usages")
    ]
    int_tag = '{"service": "luna-remote-sdk", "image_count": -0, "extra": -0}'
    tags = transform_line(head + int_tag + ', "fields": {"execution_time": 1}}}')
    assert [(p.code, p.path) for p in tags.problems] == [("wrong_type", "tags.image_count")]
    extra_tag = '{"service": "luna-remote-sdk", "image_count": 1, "extra": -0}'
    tag = transform_line(head + extra_tag + ', "fields": {"execution_time": 1}}}')
    assert tag.line_protocol is not None and ",extra=-0," in tag.line_protocol


def test_an_over_long_line_is_line_too_long_however_late_its_marker():
    payload = {
        "v": 1,
        "series": "sdkloop_task",
        "time": 7,
        "tags": {"service": "luna-remote-sdk", "image_count": 1},
        "fields": {"execution_time": 0.5},
    }
    pad = "x" * (limits.MAX_LINE_BYTES + 100)
    late = json.dumps({"exc_info": pad, "luna_event": payload})
    escaped = late.replace('"luna_event"', '"luna\\u005Fevent"')
    plain = json.dumps({"exc_info": pad})
    for line in (late, escaped):
        assert has_marker(line.encode())
        outcome = transform_line(line)
        assert [(p.code, p.path) for p in outcome.problems] == [("line_too_long", "line")]
        assert parse_line(line).problems[0].code == "line_too_long"
        assert Transform().encode(line.encode()) is None
    assert transform_line(plain).kind is LineKind.ORDINARY
    # the project's formatter puts the event first, so a reader of the line's first
    # bytes (the shipper's file source) finds the marker however long the traceback
    event = Event("sdkloop_task", 7, payload["tags"], payload["fields"])  # type: ignore[arg-type]
    rendered = render(1.5, "ERROR", "luna", "m", event, context={"exc_info": pad})
    assert rendered.startswith(b'{"luna_event":')
    assert transform_line(rendered).problems[0].code == "line_too_long"


def _wide_event(tag_count: int, value_bytes: int, field_key: str) -> Event:
    tags: dict[str, str | int | float | bool] = {"service": "luna-remote-sdk", "image_count": 1}
    for index in range(tag_count):
        tags[f"t{index:03d}"] = "v" * value_bytes
    return Event("sdkloop_task", BASE_TIME, tags, {"execution_time": 0.5, field_key: 1.5})


@SETTINGS
@given(
    tag_count=st.integers(62, 64),
    value_bytes=st.integers(1000, limits.MAX_TAG_VALUE_BYTES),
    field_key_bytes=st.integers(1, limits.MAX_KEY_BYTES),
)
def test_series_keys_near_the_limit_are_stored_whole_or_refused_as_influxdb_would(
    influxdb: InfluxDB1, tag_count: int, value_bytes: int, field_key_bytes: int
):
    event = _wide_event(tag_count, value_bytes, "f" * field_key_bytes)
    outcome = transform_line(to_json_line(event))
    # what InfluxDB answers for the same point, written without the rule
    written = Event(
        event.series,
        event.time_ns,
        {k: str(v) for k, v in event.tags.items()},
        dict(event.fields),
    )
    influxdb.query('DROP DATABASE "wide"')
    influxdb.create_database("wide")
    status, body = influxdb.write("wide", encode_line(written).encode() + b"\n")
    if outcome.kind is LineKind.INVALID:
        assert [(p.code, p.path) for p in outcome.problems] == [("series_key_too_long", "tags")]
        assert status == 400 and b"max key length exceeded" in body
    else:
        assert outcome.line_protocol == encode_line(written)
        assert status == 204, body
        (point,) = influxdb.points("wide", "sdkloop_task")
        assert point["tags"] == written.tags


def test_the_series_key_limit_sits_exactly_where_influxdb_puts_it(
    influxdb: InfluxDB1, database: str
):
    for size, accepted in (
        (limits.MAX_SERIES_KEY_BYTES, True),
        (limits.MAX_SERIES_KEY_BYTES + 1, False),
    ):
        event = _wide_event(65, 1000, "f")
        event.fields = {"execution_time": 1.5}
        event.tags["u"] = "v"
        as_written: dict[str, str | int | float | bool] = {k: str(v) for k, v in event.tags.items()}
        key = encode_line(Event(event.series, 1, as_written, event.fields)).split()[0]
        # InfluxDB's key: series key, "#!~#", field key
        event.tags["u"] = "v" * (1 + size - (len(key) + len("#!~#") + len("execution_time")))
        outcome = transform_line(to_json_line(event))
        assert (outcome.kind is LineKind.EVENT) is accepted, outcome.problems
        as_written = {k: str(v) for k, v in event.tags.items()}
        status, _ = influxdb.write(
            database, encode_line(Event(event.series, size, as_written, event.fields)).encode()
        )
        assert (status == 204) is accepted
