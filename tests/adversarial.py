"""An adversarial corpus of JSON log lines, written as raw text (not through a JSON
writer), so it can hold what no writer produces: ``-0`` tokens, ``NaN`` tokens,
exponents, duplicate keys, escaped marker keys, lone surrogates, byte order marks,
``CRLF``, tabs and every rule's edge in every position of an event.

``corpus()`` gives ``(name, line)`` pairs: the hand-written edges first, then a
seeded random mix of them. Used by tests/test_corpus.py on both roads and against
InfluxDB; ``python -m tests.adversarial`` prints how the two roads disagree.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

from luna_events import limits

BASE_TIME = 1_700_000_000_000_000_000

INTS = [
    "0",
    "-0",
    "1",
    "-1",
    str(2**53),
    str(2**53 + 1),
    str(-(2**53) - 1),
    str(2**63 - 1),
    str(2**63),
    str(-(2**63)),
    str(-(2**63) - 1),
    str(2**64 - 1),
    str(2**64),
    str(2**64 + 1),
    str(-(2**64)),
    "1" + "0" * 30,
    "-1" + "0" * 40,
    str(limits.MAX_TIME_NS),
    str(limits.MAX_TIME_NS + 1),
    str(limits.MIN_TIME_NS - 1),
    "1000000000000000000",
    "9999999999999999999",
]
FLOATS = [
    "1e400",
    "-1e400",
    "1e-400",
    "-1e-400",
    "1E+2",
    "0e0",
    "-0.0",
    "0e-5",
    "-0e-5",
    "-0E0",
    "0.0",
    "1.5",
    "-1.5e-7",
    "5e-324",
    "1.7976931348623157e308",
    "1e22",
    "1e23",
    "9007199254740993.0",
    "123456789012345678901234567890.0",
    "1e19",
    "1.8446744073709552e19",
    "-9.223372036854775808e18",
    "2.5E-3",
    "0.1",
    "1e-7",
    "1e15",
    "100.0",
]
NON_FINITE = ["NaN", "-NaN", "Infinity", "-Infinity", "nan", "inf", "+1", ".5", "01"]
STRINGS = [
    '"NaN"',
    '"Infinity"',
    '"-0"',
    '""',
    '"luna_event"',
    '"\\"luna_event\\""',
    '"\\u0000"',
    '"\\ud800"',
    '"x\\udc00"',
    '"\\ud83d\\ude00"',
    '"a\\u0007b"',
    '"a\\nb"',
    '"\u00e9"',
    '"\u2028"',
    '"a\tb"',
    '"a\\\\"',
    '"a\\\\,b"',
    '"a\\\\b"',
    '"a b,c=d"',
    '"GET:/x"',
    '"get:/x"',
    '"luna-remote-sdk"',
    '"' + "v" * limits.MAX_TAG_VALUE_BYTES + '"',
    '"' + "v" * (limits.MAX_TAG_VALUE_BYTES + 1) + '"',
    '"' + "\u00e9" * (limits.MAX_TAG_VALUE_BYTES // 2) + '"',
    '"' + "\u00e9" * (limits.MAX_TAG_VALUE_BYTES // 2) + 'x"',
    '"' + "s" * limits.MAX_STRING_FIELD_BYTES + '"',
    '"' + "s" * (limits.MAX_STRING_FIELD_BYTES + 1) + '"',
]
OTHERS = ["null", "true", "false", "{}", "[]", "[1]", '{"a":1}', "[" + str(2**64) + "]"]
VALUES = INTS + FLOATS + NON_FINITE + STRINGS + OTHERS

KEYS = [
    '""',
    '"time"',
    '"_field"',
    '"_measurement"',
    '"_time"',
    '"Time"',
    '"a=b"',
    '"a b"',
    '"a,b"',
    '"a\\\\"',
    '"a\\\\ b"',
    '"a\\\\=b"',
    '"a\\\\b"',
    '"\\"q\\""',
    '"\\u0000k"',
    '"k\\n"',
    '"\\u007f"',
    '"\\u001b[31m"',
    '"\\u0085"',
    '"' + "k" * limits.MAX_KEY_BYTES + '"',
    '"' + "k" * (limits.MAX_KEY_BYTES + 1) + '"',
    '"' + "\u00e9" * (limits.MAX_KEY_BYTES // 2) + '"',
    '"' + "\u00e9" * (limits.MAX_KEY_BYTES // 2) + 'k"',
    '"\\ud800"',
    '"luna_\\u0065vent"',
    '"luna_event"',
    '"service"',
    '"image_count"',
    '"execution_time"',
    '"\u00e9t\u00e9"',
    '"\U0001f600"',
    '"#!~#"',
]


def event(
    series: str = '"sdkloop_task"',
    time: str = str(BASE_TIME),
    tags: list[tuple[str, str]] | None = None,
    fields: list[tuple[str, str]] | None = None,
    *,
    v: str = "1",
    extra: str = "",
) -> str:
    """The raw text of a ``luna_event`` object (tags and fields as raw key/value pairs)."""
    if tags is None:
        tags = [('"service"', '"luna-remote-sdk"'), ('"image_count"', "1")]
    if fields is None:
        fields = [('"execution_time"', "0.5")]
    tag_text = ",".join(f"{k}:{v}" for k, v in tags)
    field_text = ",".join(f"{k}:{v}" for k, v in fields)
    return (
        f'{{"v":{v},"series":{series},"time":{time},'
        f'"tags":{{{tag_text}}},"fields":{{{field_text}}}{extra}}}'
    )


def line(payload: str, *, before: str = "", after: str = ', "level":"INFO"') -> str:
    """A log line with ``payload`` under ``luna_event`` and context around it."""
    return f'{{{before}"luna_event":{payload}{after}}}'


SDK_TAGS = [('"service"', '"luna-remote-sdk"'), ('"image_count"', "1")]
SDK_FIELDS = [('"execution_time"', "0.5")]


def _positions(value: str) -> Iterator[tuple[str, str]]:
    """``value`` at each place of an event (and outside it)."""
    yield "time", line(event(time=value))
    yield "tags.service", line(event(tags=[('"service"', value), ('"image_count"', "1")]))
    yield "tags.image_count", line(event(tags=[SDK_TAGS[0], ('"image_count"', value)]))
    yield "tags.extra", line(event(tags=[*SDK_TAGS, ('"extra"', value)]))
    yield "fields.execution_time", line(event(fields=[('"execution_time"', value)]))
    yield "fields.extra", line(event(fields=[*SDK_FIELDS, ('"extra"', value)]))
    yield (
        "fields.face_detector_usages",
        line(
            event(
                '"usages_statistic"',
                tags=[SDK_TAGS[0]],
                fields=[('"face_detector_usages"', value)],
            )
        ),
    )
    yield (
        "fields.request_id",
        line(
            event(
                '"requests"',
                tags=[
                    ('"service"', '"luna-tasks"'),
                    ('"route"', '"GET:/x"'),
                    ('"status_code"', "200"),
                ],
                fields=[('"request_id"', value), ('"execution_time"', "0.5")],
            )
        ),
    )
    yield (
        "tags.exif",
        line(
            event(
                '"image_load"',
                tags=[
                    SDK_TAGS[0],
                    ('"format"', '"jpg"'),
                    ('"exif"', value),
                    ('"autorotated"', "false"),
                ],
            )
        ),
    )
    yield "context.after", line(event(), after=f', "ctx":{{"deep":[{value}]}}, "n":{value}')
    yield "context.before", line(event(), before=f'"n":{value}, "ctx":{{"k":{value}}}, ')


def _key_positions(key: str) -> Iterator[tuple[str, str]]:
    yield "tag key", line(event(tags=[*SDK_TAGS, (key, '"x"')]))
    yield "field key", line(event(fields=[*SDK_FIELDS, (key, "1.5")]))
    yield "field key str", line(event(fields=[*SDK_FIELDS, (key, '"x"')]))
    yield "context key", line(event(), after=f", {key}: 1")


def _nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def _series_key(total: int) -> str:
    """A sdkloop_task line whose series key with its field key is ``total`` bytes."""
    measurement = len("sdkloop_task")
    base = measurement + len(",image_count=1,service=luna-remote-sdk") + 4 + len("execution_time")
    tags = list(SDK_TAGS)
    left = total - base
    index = 0
    while left > 0:
        key = f"x{index:04d}"
        room = len(",") + len(key) + len("=")
        value = min(limits.MAX_TAG_VALUE_BYTES, left - room)
        if value < 1:  # make the previous tag shorter instead
            key_prev, value_prev = tags.pop()
            shorter = len(json.loads(value_prev)) - (1 - value)
            tags.append((key_prev, json.dumps("v" * shorter)))
            value = 1
        tags.append((f'"{key}"', json.dumps("v" * value)))
        left -= room + value
        index += 1
    return line(event(tags=tags))


def _escaped_series_key(total: int) -> str:
    """Like :func:`_series_key`, with keys and values whose spaces InfluxDB escapes."""
    base = len("sdkloop_task,image_count=1,service=luna-remote-sdk") + 4 + len("execution_time")
    tags = list(SDK_TAGS)
    left = total - base
    index = 0
    while left > 0:
        room = len(",k\\ 000=")
        escaped = min(1000, left - room)  # a value of `plain` letters and `spaces` spaces
        spaces = min(escaped // 2, 400)
        tags.append((f'"k {index:03d}"', json.dumps("a" * (escaped - 2 * spaces) + " " * spaces)))
        left -= room + escaped
        index += 1
    return line(event(tags=tags))


def _sized(size: int) -> str:
    """A valid monitoring line of exactly ``size`` bytes (padded in its context)."""
    head = line(event(), after=', "message":"')
    return head + "m" * (size - len(head.encode()) - 2) + '"}'


def edges() -> Iterator[tuple[str, str]]:
    """Every hand-written edge, named."""
    yield "valid", line(event())
    for value in VALUES:
        for place, text in _positions(value):
            yield f"{place}={value[:40]}", text
    for key in KEYS:
        for place, text in _key_positions(key):
            yield f"{place} {key[:40]}", text
    # the envelope
    yield "escaped marker", '{"luna_\\u0065vent":' + event() + "}"
    yield "escaped marker upper", '{"\\u006Cuna_event":' + event() + "}"
    yield "marker in a string", '{"message":"saw luna_event","level":"INFO"}'
    yield "quoted marker in a string", '{"message":"saw \\"luna_event\\" here"}'
    yield "marker as a value", '{"message":"luna_event"}'
    yield "marker as a value, broken", '{"message":"luna_event"'
    yield "marker nested", '{"ctx":{"luna_event":' + event() + "}}"
    yield "marker twice valid/bad", '{"luna_event":' + event() + ',"luna_event":3}'
    yield "marker twice bad/valid", '{"luna_event":3,"luna_event":' + event() + "}"
    yield (
        "marker twice valid/valid",
        ('{"luna_event":' + event() + ',"luna_event":' + event(time=str(BASE_TIME + 1)) + "}"),
    )
    yield (
        "marker plain and escaped",
        ('{"luna_event":' + event() + ',"luna_\\u0065vent":' + event(time="5") + "}"),
    )
    for payload in ["null", "[]", '"x"', "1", "{}", "[" + event() + "]"]:
        yield f"payload {payload[:20]}", line(payload)
    for v in ["1.0", '"1"', "true", "2", "0", "-0", "null", str(2**64 + 1)]:
        yield f"v={v}", line(event(v=v))
    yield "v missing", line(event().replace('"v":1,', ""))
    for series in ["1", '""', '"nope"', "null", '"sdkloop_task "', '"SDKLOOP_TASK"']:
        yield f"series={series}", line(event(series))
    yield "series missing", line(event().replace('"series":"sdkloop_task",', ""))
    yield "time missing", line(event().replace(f'"time":{BASE_TIME},', ""))
    for tags in ["[]", "null", '"x"', "1"]:
        yield f"tags={tags}", line(event().replace('"tags":{', f'"tags":{tags},"x":{{'))
    yield "fields empty", line(event(fields=[]))
    yield "tags empty", line(event(tags=[]))
    for fields in ["[]", "null", "[1]"]:
        yield f"fields={fields}", line(event().replace('"fields":{', f'"fields":{fields},"y":{{'))
    yield "tag twice", line(event(tags=[*SDK_TAGS, ('"service"', '"bogus"')]))
    yield "tag twice good last", line(event(tags=[('"service"', '"x"'), *SDK_TAGS]))
    yield "field twice", line(event(fields=[*SDK_FIELDS, ('"execution_time"', '"s"')]))
    yield "tag and field", line(event(fields=[*SDK_FIELDS, ('"image_count"', "2")]))
    yield "extra payload key", line(event(extra=',"other":[1,2]'))
    # whitespace and framing
    valid = line(event())
    yield "BOM", "\ufeff" + valid
    yield "BOM twice", "\ufeff\ufeff" + valid
    yield "BOM after a space", " \ufeff" + valid
    yield "BOM at the end", valid + "\ufeff"
    yield "CRLF", valid + "\r"
    yield "tabs", valid.replace(",", ",\t").replace(":", "\t:\t")
    yield "spaces", " " + valid.replace(",", " , ") + " "
    yield "trailing garbage", valid + "x"
    yield "two objects", valid + valid
    yield "truncated", valid[:-3]
    yield "form feed", valid.replace(",", ",\f", 1)
    # nesting outside and inside the event
    for depth in [100, 126, 127, 128, 129, 200, 1000, 3000]:
        yield f"context depth {depth}", line(event(), after=f', "ctx":{_nested(depth)}')
        yield f"tag depth {depth}", line(event(tags=[*SDK_TAGS, ('"deep"', _nested(depth))]))
    # the series key limit, also where escaping makes up the difference
    for total in [65534, 65535, 65536, 65537]:
        yield f"series key {total}", _series_key(total)
        yield f"escaped series key {total}", _escaped_series_key(total)
    # the line limit
    for size in [limits.MAX_LINE_BYTES - 1, limits.MAX_LINE_BYTES, limits.MAX_LINE_BYTES + 1]:
        yield f"line {size}", _sized(size)
    for size in [limits.MAX_LINE_BYTES, limits.MAX_LINE_BYTES + 1]:
        # a CR and a byte order mark count, as Vector's file source counts them
        yield f"line {size} with its CR", _sized(size - 1) + "\r"
        yield f"line {size} with a BOM", "\ufeff" + _sized(size - 3)
    late = '{"message":"' + "m" * limits.MAX_LINE_BYTES + '","luna_event":' + event() + "}"
    yield "late marker", late
    yield "late escaped marker", late.replace('"luna_event"', '"luna_\\u0065vent"')
    yield "over-long ordinary", '{"message":"' + "m" * limits.MAX_LINE_BYTES + '"}'
    # invalid UTF-8, outside and inside the event (as surrogate escapes of the bytes)
    yield "invalid utf-8 outside", line(event(), after=', "m":"\udcff"')
    yield "invalid utf-8 inside", line(event(tags=[*SDK_TAGS, ('"x"', '"\udcc3"')]))
    yield "invalid utf-8 in key", line(event(fields=[*SDK_FIELDS, ('"\udcff"', "1")]))


ZEROS = ["0", "-0", "0.0", "-0.0", "0e0", "-0e0", "-0E-5", "0E+2", " -0 ", "\t-0\r", "-00", "-"]


def zeros(count: int, rng: random.Random) -> Iterator[tuple[str, str]]:
    """Zeros of every spelling in every place, also outside the event and in strings:
    ``-0`` is the float negative zero, which a fast reader may take for the int 0."""
    for number in range(count):
        tags = [SDK_TAGS[0], ('"image_count"', rng.choice([*ZEROS, "1"]))]
        fields = [('"execution_time"', rng.choice([*ZEROS, "0.5"]))]
        if rng.random() < 0.5:
            tags.append(('"z"', rng.choice(ZEROS)))
        if rng.random() < 0.5:
            fields.append(('"w"', rng.choice(ZEROS)))
        time = rng.choice(["0", "-0", "1", "-0.0"])
        after = rng.choice(["", ', "n":-0', ', "n":[0,-0]', ', "m":"a:-0,"'])
        yield f"zero {number}", line(event(time=time, tags=tags, fields=fields), after=after)


def corpus(extra: int = 2500, seed: int = 10) -> list[tuple[str, str]]:
    """The edges, zeros, then ``extra`` random lines mixing several edges in one event."""
    out = list(edges())
    rng = random.Random(seed)
    out += zeros(600, rng)
    small_values = [v for v in VALUES if len(v) < 200]
    small_keys = [k for k in KEYS if len(k) < 200]
    for number in range(extra):
        tags = list(SDK_TAGS)
        fields = list(SDK_FIELDS)
        for _ in range(rng.randint(1, 4)):
            where = rng.choice(["tag", "field", "tagkey", "fieldkey", "catalogued"])
            if where == "tag":
                tags.append((f'"t{rng.randint(0, 3)}"', rng.choice(small_values)))
            elif where == "field":
                fields.append((f'"f{rng.randint(0, 3)}"', rng.choice(small_values)))
            elif where == "tagkey":
                tags.append((rng.choice(small_keys), rng.choice(small_values)))
            elif where == "fieldkey":
                fields.append((rng.choice(small_keys), rng.choice(small_values)))
            elif rng.random() < 0.5:
                tags[rng.randint(0, 1)] = (tags[0][0], rng.choice(small_values))
            else:
                fields[0] = (fields[0][0], rng.choice(small_values))
        rng.shuffle(tags)
        rng.shuffle(fields)
        time = rng.choice([str(BASE_TIME + number), rng.choice(INTS + FLOATS)])
        after = rng.choice(["", f', "n":{rng.choice(small_values)}', ', "message":"luna_event"'])
        yield_line = line(event(time=time, tags=tags, fields=fields), after=after)
        out.append((f"random {number}", yield_line))
    return out


def as_vector_reads(text: str) -> str:
    """``text`` as Vector's file source hands it on: invalid UTF-8 bytes (held here as
    surrogate escapes) replaced with U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _main() -> None:  # pragma: no cover - a tool for a person
    from .roads import floats_read_exactly, python_road, vector_road

    lines = corpus()
    print(len(lines), "lines")
    vector = []
    for start in range(0, len(lines), 200):
        vector += vector_road([as_vector_reads(text) for _, text in lines[start : start + 200]])
    for (name, text), vrl in zip(lines, vector, strict=True):
        python = python_road(text)
        same = vrl.kind == python.kind and vrl.problems == python.problems
        if same and python.kind == "event" and floats_read_exactly(text):
            same = vrl.protocol == python.protocol
        if not same:
            print("---", name, text[:300])
            print("  python:", python.kind, python.problems, python.protocol[:200])
            print("  vector:", vrl.kind, vrl.problems, vrl.protocol[:200])


if __name__ == "__main__":  # pragma: no cover
    _main()
