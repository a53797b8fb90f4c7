"""A value JSON cannot hold inside the event is never written as a valid-looking value.

The writer puts ``{"unencodable": "<type name>"}`` where such a value was (a key
that is not a string becomes ``""``); both roads refuse it as ``wrong_type`` (or
``bad_key``, ``bad_envelope``) with the type named, the shipper dead-letters it, and
strict mode raises :class:`InvalidEvent` at emit. Outside the event (logging
extras) such a value is still written as its ``str``.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from luna_events.errors import InvalidEvent
from luna_events.event import Event
from luna_events.jsonline import to_json_line
from luna_events.localservers import InfluxDB1
from luna_events.logs.setup import configure_logging
from luna_events.monitor import get_monitor
from luna_events.transform import transform_line

from .roads import assert_same_on_both_roads, vector_road
from .shipping import influx_sink, ship_config, write_toml

TAGS: dict[str, Any] = {"service": "luna-tasks", "route": "GET:/version", "status_code": 200}
FIELDS: dict[str, Any] = {"request_id": "r1", "execution_time": 0.5}


class Opaque:
    """An arbitrary object (its ``str`` is ``<...Opaque object at 0x...>``)."""


def _event(tags: dict[str, Any] | None = None, fields: dict[str, Any] | None = None) -> Event:
    return Event(
        "requests",
        1_763_794_047_000_000_000,
        {**TAGS, **(tags or {})},
        {**FIELDS, **(fields or {})},
    )


CASES: list[tuple[Event, list[tuple[str, str]], str]] = [
    (_event(fields={"ids": {1, 2}}), [("wrong_type", "fields.ids")], "set"),
    (
        _event(fields={"execution_time": Opaque()}),
        [("wrong_type", "fields.execution_time")],
        "Opaque",
    ),
    (_event(tags={"zone": frozenset({"a"})}), [("wrong_type", "tags.zone")], "frozenset"),
    (_event(fields={"raw": b"ab"}), [("wrong_type", "fields.raw")], "bytes"),
    (_event(fields={"nested": [1, {2}]}), [("wrong_type", "fields.nested")], "array"),
    (_event(fields={5: 1}), [("bad_key", "fields.")], "non-empty strings"),  # type: ignore[dict-item]
]


@pytest.mark.parametrize(("event", "expected", "named"), CASES)
def test_the_writer_marks_the_value_and_the_python_road_refuses_it_naming_the_type(
    event: Event, expected: list[tuple[str, str]], named: str
):
    line = to_json_line(event, extra=Opaque(), tags={1, 2})
    document = orjson.loads(line)
    # outside the event: the logging extras keep their str fallback
    assert document["extra"].startswith("<") and document["tags"] == "{1, 2}"
    assert b"object at" not in line.split(b',"extra"')[0]  # never a repr inside the event
    outcome = transform_line(line)
    assert [(p.code, p.path) for p in outcome.problems] == expected
    assert named in outcome.problems[0].message
    assert outcome.line_protocol is None


def test_both_roads_refuse_it_with_the_same_codes_and_name_the_type():
    lines = [to_json_line(event, extra=Opaque()).decode() for event, _, _ in CASES]
    lines.append(to_json_line(Event("requests", 1, Opaque(), FIELDS)).decode())  # type: ignore[arg-type]
    lines.append(to_json_line(Event("requests", 1, TAGS, {1, 2})).decode())  # type: ignore[arg-type]
    assert_same_on_both_roads(lines)
    verdicts = vector_road(lines)
    assert all(v.kind == "invalid" for v in verdicts)
    assert verdicts[-2].problems == (("bad_envelope", "tags"),)
    assert verdicts[-1].problems == (("bad_envelope", "fields"),)
    python = transform_line(lines[0])
    assert "got set (not JSON)" in python.problems[0].message


def test_a_valid_event_with_an_unencodable_extra_is_still_valid():
    line = to_json_line(_event(), extra=Opaque(), ids={1, 2})
    assert transform_line(line).line_protocol is not None


def test_strict_mode_raises_at_emit_and_writes_nothing():
    stream = io.StringIO()
    setup = configure_logging(service="luna-tasks", stream=stream, use_queue=False, strict=True)
    try:
        with pytest.raises(InvalidEvent, match=r"fields\.ids: .*got set"):
            get_monitor().emit(_event(fields={"ids": {1, 2}}))
        with pytest.raises(InvalidEvent, match=r"fields\.execution_time: .*got Opaque"):
            get_monitor().emit(_event(fields={"execution_time": Opaque()}))
    finally:
        setup.close()
    assert "luna_event" not in stream.getvalue()


def test_the_default_mode_writes_the_marker_never_a_string():
    stream = io.StringIO()
    setup = configure_logging(service="luna-tasks", stream=stream, use_queue=False, strict=False)
    try:
        get_monitor().emit(_event(fields={"ids": {1, 2}}))
    finally:
        setup.close()
    (line,) = [x for x in stream.getvalue().splitlines() if "luna_event" in x]
    assert orjson.loads(line)["luna_event"]["fields"]["ids"] == {"unencodable": "set"}


@pytest.mark.server
def test_the_shipper_dead_letters_it_naming_the_type_and_stores_nothing_of_it(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    logs = tmp_path / "logs"
    logs.mkdir()
    setup = configure_logging(service="luna-tasks", path=logs / "service.jsonl", strict=False)
    try:
        given: list[dict[str, Any]] = [
            {"request_id": "good-1"},
            {"request_id": "bad-set", "ids": {1, 2}},
            {"request_id": "bad-object", "execution_time": Opaque()},
            {"request_id": "good-2"},
        ]
        for offset, fields in enumerate(given):
            event = _event(fields=fields)
            event.time_ns += offset  # one point each, never overwriting another
            get_monitor().emit(event)
    finally:
        setup.close()
    config = write_toml(
        tmp_path / "ship.toml",
        ship_config(
            tmp_path,
            influx_sink(influxdb, database),
            dead_letter_path=str(tmp_path / "dead-letter.jsonl"),
        ),
    )
    done = subprocess.run(
        [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), "--once"],
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    dead = [orjson.loads(x) for x in (tmp_path / "dead-letter.jsonl").read_bytes().splitlines()]
    reasons = sorted(record["reason"] for record in dead)
    assert len(reasons) == 2
    assert "fields.execution_time: expected float, got Opaque (not JSON)" in reasons[0]
    assert "fields.ids: expected str, int, float or bool, got set (not JSON)" in reasons[1]
    stored = influxdb.points(database, "requests")
    assert sorted(p["fields"]["request_id"] for p in stored) == ["good-1", "good-2"]
    assert all("ids" not in p["fields"] for p in stored)
