"""The JSON line format: marker, version, ns time, extra keys, damaged lines."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given

from luna_events import series
from luna_events.errors import InvalidEvent
from luna_events.event import FORMAT_KEY, Event
from luna_events.jsonline import LineKind, event_from_line, parse_line, to_json_line
from luna_events.transform import transform_line

from .strategies import request_events

EVENT = series.requests(
    service="luna-tasks",
    route="GET:/version",
    status_code=200,
    request_id="r1",
    execution_time=0.25,
    time_ns=1_763_794_047_123_456_789,
)


def test_a_line_is_one_json_object_with_the_marker_and_a_version():
    line = to_json_line(EVENT, level="info", message="request")
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    document = orjson.loads(line)
    assert document["level"] == "info"
    assert document[FORMAT_KEY]["v"] == 1
    assert document[FORMAT_KEY]["time"] == 1_763_794_047_123_456_789


@given(request_events(1_763_794_047_123_456_789))
def test_parsing_a_line_back_gives_the_same_event(event: Event):
    try:
        line = to_json_line(event)
    except orjson.JSONEncodeError:
        return  # lone surrogates cannot be UTF-8; validation refuses them too
    assert line.count(b"\n") == 1
    assert event_from_line(line) == event


def test_keys_that_logging_libraries_add_are_ignored():
    document = {
        "timestamp": 1763794047.123,
        "level": "info",
        "logger": "luna.monitoring",
        "message": "request",
        "taskName": None,
        FORMAT_KEY: orjson.loads(to_json_line(EVENT))[FORMAT_KEY],
    }
    assert event_from_line(orjson.dumps(document)) == EVENT


@pytest.mark.parametrize(
    "line",
    [
        b'{"level": "info", "message": "started"}',
        b"plain text log line",
        b"[1, 2, 3]",
        b"",
        b"\xff\xfe binary \x00",
        b'{"message": "luna_event mentioned in prose"}',
    ],
)
def test_ordinary_log_lines_are_not_events(line):
    assert parse_line(line).kind is LineKind.ORDINARY


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (b'{"luna_event": {"v": 1, "series": "requests"', "malformed_json"),
        (b'{"luna_event": {"v": 1, "series": "r\xff"}}', "invalid_utf8"),
        (b'{"luna_event": {"v": 2, "series": "requests"}}', "unsupported_version"),
        (b'{"luna_event": {"v": "1", "series": "requests"}}', "unsupported_version"),
        (b'{"luna_event": "requests"}', "bad_envelope"),
        (
            b'{"luna_event": {"v": 1, "series": "requests", "tags": [], "fields": {}}}',
            "bad_envelope",
        ),
        (
            b'{"luna_event": {"v": 1, "series": "requests", "tags": {}, "fields": {}}}',
            "bad_envelope",
        ),
        (b'{"luna_event": {"v": 1, "series": 5, "time": 1}}', "bad_envelope"),
    ],
)
def test_damaged_monitoring_lines_are_invalid_with_a_reason(line, code):
    parsed = parse_line(line)
    assert parsed.kind is LineKind.INVALID
    assert parsed.problems[0].code == code
    with pytest.raises(InvalidEvent):
        event_from_line(line)


def test_oversized_lines_are_refused_unread():
    big = b'{"luna_event": {"v": 1, "pad": "' + b"x" * 2000 + b'"}}'
    assert parse_line(big, max_bytes=1000).problems[0].code == "line_too_long"
    assert parse_line(b'{"pad": "' + b"x" * 2000 + b'"}', max_bytes=1000).kind is LineKind.ORDINARY


def test_transform_line_gives_line_protocol_or_reasons():
    good = transform_line(to_json_line(EVENT))
    assert good.kind is LineKind.EVENT
    assert good.line_protocol == (
        "requests,route=GET:/version,service=luna-tasks,status_code=200 "
        'execution_time=0.25,request_id="r1" 1763794047123456789'
    )
    bad = transform_line(to_json_line(Event("requests", 1, {}, {"execution_time": "x"})))
    assert bad.kind is LineKind.INVALID
    assert "required tag 'service' is missing" in bad.error


def test_a_byte_order_mark_and_deep_nesting_do_not_break_reading():
    line = b"\xef\xbb\xbf" + to_json_line(EVENT)
    assert event_from_line(line) == EVENT
    assert transform_line(line).line_protocol == transform_line(to_json_line(EVENT)).line_protocol
    deep = b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert transform_line(deep).kind is LineKind.ORDINARY
    from luna_events.transform import Transform

    assert Transform().encode(deep) is None
