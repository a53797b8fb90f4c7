"""One clear problem per mistake; coercion follows the catalog."""

from __future__ import annotations

import math

import pytest

from luna_events import series
from luna_events.errors import InvalidEvent
from luna_events.event import Event, FieldValue, TagValue, route
from luna_events.lineprotocol import encode_line
from luna_events.validation import validate

GOOD_TAGS: dict[str, TagValue] = {
    "service": "luna-tasks",
    "route": "GET:/version",
    "status_code": 200,
}
GOOD_FIELDS: dict[str, FieldValue] = {"request_id": "r1", "execution_time": 0.5}


def problems(tags=None, fields=None, series_name="requests", time_ns=1) -> list[tuple[str, str]]:
    event = Event(
        series_name,
        time_ns,
        {**GOOD_TAGS, **(tags or {})},
        {**GOOD_FIELDS, **(fields or {})},
    )
    with pytest.raises(InvalidEvent) as caught:
        validate(event)
    return [(p.code, p.path) for p in caught.value.problems]


def test_a_valid_event_passes_and_is_normalized():
    event = validate(
        Event("requests", 1, dict(GOOD_TAGS), {"request_id": "r", "execution_time": 2})
    )
    assert event.tags["status_code"] == "200"
    assert event.fields["execution_time"] == 2.0 and type(event.fields["execution_time"]) is float


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"series_name": "requestz"}, [("unknown_series", "series")]),
        ({"time_ns": 1.5}, [("wrong_type", "time")]),
        ({"time_ns": 2**63}, [("out_of_range", "time")]),
        ({"tags": {"status_code": "200"}}, [("wrong_type", "tags.status_code")]),
        ({"tags": {"status_code": True}}, [("wrong_type", "tags.status_code")]),
        ({"tags": {"service": "luna_tasks"}}, [("not_allowed", "tags.service")]),
        ({"tags": {"route": "/version"}}, [("bad_format", "tags.route")]),
        ({"tags": {"extra": ""}}, [("empty_tag", "tags.extra")]),
        ({"tags": {"time": "x"}}, [("reserved_key", "tags.time")]),
        ({"fields": {"time": 1}}, [("reserved_key", "fields.time")]),
        ({"fields": {"_field": 1}}, [("reserved_key", "fields._field")]),
        ({"tags": {"a": "line\nbreak"}}, [("control_character", "tags.a")]),
        ({"tags": {"a\tb": "x"}}, [("control_character", "tags.a\tb")]),
        ({"tags": {"a": "ends\\"}}, [("unescapable_backslash", "tags.a")]),
        ({"tags": {"a": "x\\,y"}}, [("unescapable_backslash", "tags.a")]),
        ({"tags": {"a": 'x\\"y'}}, [("unescapable_backslash", "tags.a")]),
        ({"fields": {"k\\=": 1}}, [("unescapable_backslash", "fields.k\\=")]),
        ({"fields": {"k\\ x": 1}}, [("unescapable_backslash", "fields.k\\ x")]),
        ({"tags": {"a": "x" * 1025}}, [("too_long", "tags.a")]),
        ({"fields": {"note": "x" * 65536}}, [("too_long", "fields.note")]),
        ({"fields": {"note": "\ud800"}}, [("invalid_unicode", "fields.note")]),
        ({"fields": {"execution_time": math.nan}}, [("not_finite", "fields.execution_time")]),
        ({"fields": {"execution_time": math.inf}}, [("not_finite", "fields.execution_time")]),
        ({"fields": {"execution_time": "1"}}, [("wrong_type", "fields.execution_time")]),
        ({"fields": {"execution_time": True}}, [("wrong_type", "fields.execution_time")]),
        ({"fields": {"request_id": 5}}, [("wrong_type", "fields.request_id")]),
        ({"fields": {"extra": None}}, [("wrong_type", "fields.extra")]),
        ({"fields": {"extra": [1]}}, [("wrong_type", "fields.extra")]),
        ({"fields": {"extra": 2**63}}, [("out_of_range", "fields.extra")]),
        ({"fields": {"extra": -(2**63) - 1}}, [("out_of_range", "fields.extra")]),
        ({"fields": {"execution_time": 2**53 + 1}}, [("out_of_range", "fields.execution_time")]),
        ({"tags": {"dup": "x"}, "fields": {"dup": 1}}, [("key_conflict", "fields.dup")]),
        ({"tags": {"extra": math.nan}}, [("not_finite", "tags.extra")]),
    ],
)
def test_each_mistake_gives_one_clear_problem(kwargs, expected):
    assert problems(**kwargs) == expected


def test_every_problem_is_reported_at_once():
    event = Event("requests", "now", {"route": "bad"}, {"execution_time": "slow"})  # type: ignore[arg-type]
    with pytest.raises(InvalidEvent) as caught:
        validate(event)
    codes = sorted(p.code for p in caught.value.problems)
    assert codes == [
        "bad_format",
        "missing_field",
        "missing_tag",
        "missing_tag",
        "wrong_type",
        "wrong_type",
    ]
    assert "tags.service: required tag 'service' is missing" in str(caught.value)


def test_an_event_needs_a_field():
    event = Event("usages_statistic", 1, {"service": "luna-remote-sdk"}, {})
    with pytest.raises(InvalidEvent, match="at least one field"):
        validate(event)


def test_int_field_stays_int_and_int_in_range_only():
    event = validate(series.usages_statistic(face_detector_usages=2**63 - 1, time_ns=1))
    assert event.fields["face_detector_usages"] == 2**63 - 1
    with pytest.raises(InvalidEvent, match="64-bit"):
        validate(series.usages_statistic(face_detector_usages=2**63, time_ns=1))
    with pytest.raises(InvalidEvent, match="expected int, got float"):
        validate(series.usages_statistic(face_detector_usages=1.0, time_ns=1))  # type: ignore[arg-type]


def test_additional_fields_keep_their_json_type_catalogued_floats_take_ints():
    event = validate(
        series.requests(
            service="luna-tasks",
            route=route("get", "tasks/{task_id}"),
            status_code=200,
            request_id="r",
            execution_time=1,
            extra_fields={
                "count": 3,
                "whole": 4.0,
                "big": 2**63 - 1,
                "ratio": 0.5,
                "note": "n",
                "flag": False,
            },
            extra_tags={"zone": 3, "shard": 1.5, "hot": True},
            time_ns=1,
        )
    )
    assert event.fields == {
        "request_id": "r",
        "execution_time": 1.0,
        "count": 3,
        "whole": 4.0,
        "big": 2**63 - 1,
        "ratio": 0.5,
        "note": "n",
        "flag": False,
    }
    assert type(event.fields["count"]) is int and type(event.fields["big"]) is int
    assert type(event.fields["whole"]) is float
    assert type(event.fields["execution_time"]) is float  # the catalog's type
    assert encode_line(event).split(" ")[1] == (
        'big=9223372036854775807i,count=3i,execution_time=1,flag=false,note="n",'
        'ratio=0.5,request_id="r",whole=4'
    )
    assert event.tags["route"] == "GET:/tasks/{task_id}"
    assert (event.tags["zone"], event.tags["shard"], event.tags["hot"]) == ("3", "1.5", "true")


def test_bool_tags_are_written_as_words():
    event = validate(
        series.image_load(
            format="JPEG", exif=True, autorotated=False, execution_time=0.1, time_ns=1
        )
    )
    assert event.tags["exif"] == "true" and event.tags["autorotated"] == "false"


def test_typed_constructors_refuse_misspelled_names_and_extras_that_shadow_the_catalog():
    with pytest.raises(TypeError):
        series.worker_queue(task_id=1, subtask_id=2, task_typ=3, transport_time=0.1)  # type: ignore[call-arg]
    # an extra shadowing a keyword given: the keyword wins, reported (raised in strict mode)
    event = series.sdkloop_task(image_count=1, execution_time=0.1, extra_tags={"image_count": 2})
    assert event.tags["image_count"] == 1
    from luna_events.monitor import Monitor, set_monitor

    previous = set_monitor(Monitor(strict=True))
    try:
        with pytest.raises(InvalidEvent, match=r"tags\.image_count: already set"):
            series.sdkloop_task(image_count=1, execution_time=0.1, extra_tags={"image_count": 2})
    finally:
        set_monitor(previous)
    # an extra naming a catalogued key not given fills it when its type fits
    filled = series.requests(
        service="luna-api",
        route="GET:/x",
        status_code=200,
        request_id="r",
        execution_time=0.1,
        extra_tags={"account_id": "acc-1"},
        extra_fields={"download_images_time": 0.5, "ratio": math.nan},
    )
    assert filled.tags["account_id"] == "acc-1" and "ratio" not in filled.fields
    validate(filled)


def test_subtask_errors_carries_error_code_as_tag_and_field():
    event = validate(
        series.subtask_errors(task_id=1, subtask_id=2, task_type=3, error_code=27001, time_ns=1)
    )
    assert event.tags["error_code"] == "27001" and event.fields["error_code"] == 27001


def test_every_series_can_be_built_with_its_required_values_and_passes():
    from luna_events.catalog import CATALOG, FieldSpec, TagSpec, ValueType

    samples = {ValueType.STR: "x", ValueType.INT: 1, ValueType.FLOAT: 0.5, ValueType.BOOL: True}
    for spec in CATALOG.values():
        values = {}
        items: list[TagSpec | FieldSpec] = [*spec.tags, *spec.fields]
        for item in items:
            if item.required or not spec.required_fields:
                values[item.name] = samples[item.type]
        tag = spec.tag("service")
        assert tag is not None
        values["service"] = tag.allowed[0]
        if "route" in values:
            values["route"] = "GET:/x"
        if "license_status" in values:
            values["license_status"] = "warning"
        if "status" in values and spec.name == "event_copy":
            values["status"] = 1
        build = getattr(series, spec.name)
        validate(build(**values))


def test_every_problem_code_is_in_the_docs_table():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sources = ["rules.py", "validation.py", "jsonline.py"]
    codes = set()
    for name in sources:
        text = (root / "luna_events" / name).read_text(encoding="utf-8")
        codes |= set(re.findall(r'(?:Fault|Problem|_invalid)\(\s*"([a-z_]+)"', text))
    assert {"bad_key", "series_key_too_long", "not_finite", "out_of_range"} <= codes
    documented = (root / "docs" / "event-format.md").read_text(encoding="utf-8")
    missing = sorted(c for c in codes - {"not_an_event"} if f"`{c}`" not in documented)
    assert not missing, f"not in docs/event-format.md: {missing}"
