"""The encoder's exact output, escaping and number formatting."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from luna_events.event import Event
from luna_events.lineprotocol import (
    encode_batch,
    encode_line,
    escape_key,
    escape_measurement,
    escape_string,
    format_float,
)
from luna_events.validation import validate


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (-0.0, "-0"),
        (0.5, "0.5"),
        (1e-05, "0.00001"),
        (1.5e16, "15000000000000000"),
        (1e16, "10000000000000000"),
        (0.1 + 0.2, "0.30000000000000004"),
        (123.456, "123.456"),
        (5e-324, "0." + "0" * 323 + "5"),
    ],
)
def test_floats_are_written_like_vrl_to_string(value, text):
    assert format_float(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_text_reads_back_to_the_same_float(value):
    text = format_float(value)
    assert "e" not in text and "inf" not in text
    assert float(text) == value


def test_escaping_per_element():
    assert escape_measurement("a,b c=d") == "a\\,b\\ c=d"
    assert escape_key('a,b=c d"e\\') == 'a\\,b\\=c\\ d"e\\'
    assert escape_string('say "hi" \\ bye\n') == 'say \\"hi\\" \\\\ bye\n'


def test_a_full_line_sorts_tags_and_fields_and_types_values():
    event = validate(
        Event(
            "requests",
            1_700_000_000_123_456_789,
            {"status_code": 200, "service": "luna-tasks", "route": "GET:/version", "z k": "a,b"},
            {"request_id": 'x"y', "execution_time": 2, "ok": True, "n": 3},
        )
    )
    assert encode_line(event) == (
        "requests,route=GET:/version,service=luna-tasks,status_code=200,z\\ k=a\\,b "
        'execution_time=2,n=3i,ok=true,request_id="x\\"y" 1700000000123456789'
    )  # a catalogued float given 2 is a float; the additional n=3 keeps its int type


def test_ints_get_i_and_bools_are_words():
    event = validate(
        Event(
            "image_load",
            1,
            {"service": "luna-remote-sdk", "format": "PNG", "exif": True, "autorotated": False},
            {"execution_time": 0.25, "size": 1024, "height": 10, "width": 20},
        )
    )
    line = encode_line(event)
    assert line == (
        "image_load,autorotated=false,exif=true,format=PNG,service=luna-remote-sdk "
        "execution_time=0.25,height=10i,size=1024i,width=20i 1"
    )


def test_a_newline_only_ever_appears_inside_a_quoted_string():
    event = validate(
        Event(
            "requests",
            1,
            {"service": "luna-tasks", "route": "GET:/x", "status_code": 200},
            {"request_id": "a\nb", "execution_time": 0.1},
        )
    )
    line = encode_line(event)
    before, after = line.split("\n")
    assert before.endswith('request_id="a') and after.startswith('b" ')


def test_batches_are_newline_terminated_bytes():
    event = validate(
        Event(
            "sdkloop_task",
            7,
            {"service": "luna-remote-sdk", "image_count": 2},
            {"execution_time": 1.5},
        )
    )
    body = encode_batch([event, event])
    assert body == b"sdkloop_task,image_count=2,service=luna-remote-sdk execution_time=1.5 7\n" * 2
