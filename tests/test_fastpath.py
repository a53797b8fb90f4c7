"""The one-pass encoder agrees with the Validator and the plain encoder on every event."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from luna_events.catalog import CATALOG
from luna_events.event import Event, FieldValue, TagValue
from luna_events.fastpath import FastEncoder
from luna_events.jsonline import LineKind, to_json_line
from luna_events.lineprotocol import encode_line
from luna_events.transform import Transform
from luna_events.validation import Validator

from .strategies import examples, keys, text

VALIDATOR = Validator()
ENCODER = FastEncoder()
TRANSFORM = Transform()

CATALOG_KEYS = sorted(
    {t.name for s in CATALOG.values() for t in s.tags}
    | {f.name for s in CATALOG.values() for f in s.fields}
)
ALLOWED = sorted({v for s in CATALOG.values() for t in s.tags for v in t.allowed})
values = st.one_of(
    text,
    st.sampled_from([*ALLOWED, "GET:/version", "POST:/sdk", "", "x\\", "a\\,b"]),
    st.integers(-(2**64), 2**64),
    st.sampled_from([0, 1, -1, 2**53, 2**53 + 1, 2**63 - 1, 2**63]),
    st.floats(),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=1),
)
any_key = st.one_of(st.sampled_from([*CATALOG_KEYS, "time", "_field"]), keys)


@st.composite
def events(draw: st.DrawFn) -> Event:
    series = draw(st.one_of(st.sampled_from(list(CATALOG)), text))
    spec = CATALOG.get(series)
    tags: dict[str, Any] = {}
    fields: dict[str, Any] = {}
    if spec is not None and draw(st.booleans()):  # mostly-valid events too
        for tag in spec.tags:
            tags[tag.name] = (
                tag.allowed[0]
                if tag.allowed
                else {"str": "GET:/a", "int": 3, "float": 0.5, "bool": True}[tag.type]
            )
        for item in spec.fields:
            if item.required or draw(st.booleans()):
                fields[item.name] = {"str": "s", "int": 7, "float": 1.5, "bool": False}[item.type]
    tags.update(draw(st.dictionaries(any_key, values, max_size=3)))
    fields.update(draw(st.dictionaries(any_key, values, max_size=3)))
    time_ns = draw(st.one_of(st.integers(-(2**64), 2**64), st.floats(), st.none()))
    return Event(series, time_ns, tags, fields)  # type: ignore[arg-type]


def expected_line(event: Event) -> str | None:
    normalized, _ = VALIDATOR.normalize(event)
    return None if normalized is None else encode_line(normalized)


@settings(max_examples=examples(1000))
@given(events())
def test_fast_encoder_agrees_with_validator_and_encoder(event: Event):
    got = ENCODER.encode(event.series, event.time_ns, event.tags, event.fields)
    assert got == expected_line(event)
    # again with every cache warm: a layout is kept from its second event on, so the
    # third encode takes it from the cache
    assert ENCODER.encode(event.series, event.time_ns, event.tags, event.fields) == got
    assert ENCODER.encode(event.series, event.time_ns, event.tags, event.fields) == got


@settings(max_examples=examples(500))
@given(events())
def test_transform_agrees_with_the_slow_path_on_json_lines(event: Event):
    try:
        line = to_json_line(event, level="info")
    except TypeError:
        return  # not JSON-serializable (e.g. an int beyond 64 bits): never a line
    outcome = TRANSFORM(line)
    expected = expected_line(event)
    if expected is None:
        assert outcome.kind is LineKind.INVALID
        assert outcome.problems
    else:
        assert outcome.kind is LineKind.EVENT
        assert outcome.line_protocol == expected


def _slow_kind(line: bytes) -> LineKind:
    from luna_events.jsonline import parse_line

    parsed = parse_line(line)
    if parsed.event is None:
        return parsed.kind
    return LineKind.EVENT if VALIDATOR.normalize(parsed.event)[0] else LineKind.INVALID


ENVELOPE = b'{"luna_event": {"v": 1, "series": "sdkloop_task", "time": 5, '
garbage = st.one_of(
    st.binary(max_size=200),
    st.binary(max_size=60).map(lambda tail: ENVELOPE + tail),
    st.binary(max_size=60).map(lambda head: head + ENVELOPE[8:]),
)


@settings(max_examples=examples(800))
@given(garbage)
def test_any_bytes_give_an_outcome_never_an_exception(line: bytes):
    outcome = TRANSFORM(line)
    assert outcome.kind is _slow_kind(line)
    assert (outcome.kind is LineKind.INVALID) == bool(outcome.problems)


def test_tag_ints_beyond_64_bits_are_refused_by_both_paths():
    tags = {"service": "luna-tasks", "route": "GET:/", "status_code": 10**30}
    fields = {"request_id": "r", "execution_time": 0.5}
    assert ENCODER.encode("requests", 1, tags, fields) is None
    normalized, problems = VALIDATOR.normalize(Event("requests", 1, tags, fields))  # type: ignore[arg-type]
    assert normalized is None and [p.code for p in problems] == ["out_of_range"]
    huge = {**tags, "status_code": 10**1100}
    assert ENCODER.encode("requests", 1, huge, fields) is None
    assert VALIDATOR.normalize(Event("requests", 1, huge, fields))[0] is None  # type: ignore[arg-type]
    line = (
        b'{"luna_event": {"v": 1, "series": "requests", "time": 1, "tags": {"service": '
        b'"luna-tasks", "route": "GET:/", "status_code": 1000000000000000000000000000000}, '
        b'"fields": {"request_id": "r", "execution_time": 0.5}}}'
    )
    assert TRANSFORM(line).kind is LineKind.INVALID


def test_a_json_escaped_marker_key_is_read_the_same_on_every_path():
    line = (
        b'{"luna\\u005fevent": {"v": 1, "series": "sdkloop_task", "time": 5, "tags": '
        b'{"service": "luna-remote-sdk", "image_count": 1}, "fields": {"execution_time": 0.5}}}'
    )
    from luna_events.jsonline import parse_line

    assert TRANSFORM(line).kind is LineKind.EVENT
    assert parse_line(line).kind is LineKind.EVENT
    assert _slow_kind(line) is LineKind.EVENT


def test_invalid_utf8_outside_the_event_is_refused_on_the_fast_path_too():
    line = (
        b'{"luna_event": {"v": 1, "series": "sdkloop_task", "time": 5, "tags": '
        b'{"service": "luna-remote-sdk", "image_count": 1}, "fields": {"execution_time": 0.5}}, '
        b'"message": "caf\xe9"}'
    )
    assert TRANSFORM.encode(line) is None
    outcome = TRANSFORM(line)
    assert [(p.code, p.path) for p in outcome.problems] == [("invalid_utf8", "line")]


def test_additional_fields_keep_their_json_type_on_the_fast_path():
    tags: dict[str, TagValue] = {"service": "luna-tasks", "route": "GET:/", "status_code": 200}
    fields: dict[str, FieldValue] = {
        "request_id": "r",
        "execution_time": 1,
        "images": 4,
        "ratio": 4.0,
        "big": 2**63 - 1,
    }
    expected = (
        "requests,route=GET:/,service=luna-tasks,status_code=200 big=9223372036854775807i,"
        'execution_time=1,images=4i,ratio=4,request_id="r" 7'
    )
    assert ENCODER.encode("requests", 7, tags, fields) == expected
    raw = to_json_line(Event("requests", 7, tags, fields))
    assert b'"ratio":4.0' in raw and b'"images":4,' in raw
    assert TRANSFORM.encode(raw) is not None
    assert TRANSFORM(raw).line_protocol == expected
    for beyond in (2**63, -(2**63) - 1):
        assert ENCODER.encode("requests", 7, tags, {**fields, "images": beyond}) is None


def test_layouts_that_share_their_tag_keys_are_each_checked():
    # the tag keys' checks are shared by every layout with these tags; each new list of
    # field keys (in any order) is still checked whole, from its first event on
    encoder = FastEncoder()
    tags: dict[str, TagValue] = {"service": "luna-tasks", "route": "GET:/", "status_code": 200}
    layouts: list[dict[str, FieldValue]] = [
        {"request_id": "r", "execution_time": 0.5},
        {"execution_time": 0.5, "request_id": "r"},
        {"execution_time": 0.5, "request_id": "r", "extra": 2},
        {"execution_time": 0.5},  # a required field missing
        {"request_id": "r", "execution_time": 0.5, "route": "x"},  # a field that is a tag
        {"request_id": "r", "execution_time": "slow"},
        {"request_id": "r", "execution_time": 0.5, "": 1},
        {},
    ]
    for fields in layouts:
        expected = expected_line(Event("requests", 7, tags, fields))
        for _ in range(3):
            assert encoder.encode("requests", 7, tags, fields) == expected
    assert encoder.encode("requests", 7, tags, layouts[0]) is not None


@st.composite
def same_tag_keys(draw: st.DrawFn) -> list[Event]:
    """Events of one or two series whose tag keys repeat while their field keys, field
    types and tag values vary: every layout shares its tag keys' checks with others."""
    typed = {"str": "s", "int": 7, "float": 1.5, "bool": False}
    names = draw(st.lists(st.sampled_from(sorted(CATALOG)), min_size=1, max_size=2))
    drawn: list[Event] = []
    for _ in range(draw(st.integers(1, 12))):
        spec = CATALOG[draw(st.sampled_from(names))]
        tags: dict[str, Any] = {}
        for tag in spec.tags:
            valid = tag.allowed[0] if tag.allowed else typed[tag.type]
            tags[tag.name] = draw(values) if draw(st.integers(0, 9)) == 0 else valid
        fields: dict[str, Any] = {}
        for item in spec.fields:
            if item.required or draw(st.booleans()):
                valid = typed[item.type]
                fields[item.name] = draw(values) if draw(st.integers(0, 5)) == 0 else valid
        for key in draw(st.lists(st.sampled_from(["extra", spec.tags[0].name]), unique=True)):
            fields[key] = draw(values)
        keys = list(fields)
        fields = {key: fields[key] for key in draw(st.permutations(keys))}
        drawn.append(Event(spec.name, 7, tags, fields))
    return drawn


@settings(max_examples=examples(150))
@given(same_tag_keys())
def test_layouts_that_share_tag_keys_agree_with_the_validator_in_any_order(drawn: list[Event]):
    encoder = FastEncoder()  # cold caches: the order of the layouts is the test
    for event in drawn + drawn + drawn:
        got = encoder.encode(event.series, event.time_ns, event.tags, event.fields)
        assert got == expected_line(event)
