"""The adversarial corpus (tests/adversarial.py) on both roads and into InfluxDB 1.6.7.

Every line must get the same verdict, the same problems in the same order and the
same bytes from the Python road and the Vector remap, except where docs/vector.md
states a measured exception (each is recognised here by what the line holds); and
every accepted line must come back from a real InfluxDB exactly as it was read.
"""

from __future__ import annotations

import enum
import json
import math
import re
import urllib.parse
import urllib.request
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from luna_events.catalog import CATALOG
from luna_events.cli import cli
from luna_events.event import Event
from luna_events.fastpath import FastEncoder
from luna_events.jsonline import decode_envelope, parse_line, to_json_line
from luna_events.lineprotocol import encode_line
from luna_events.localservers import InfluxDB1
from luna_events.transform import Transform, transform_line
from luna_events.validation import DEFAULT_VALIDATOR, check, validate

from .adversarial import as_vector_reads, corpus
from .roads import Verdict, floats_read_exactly, python_road, vector_road

LINES = corpus()
_BIG_INT = re.compile(r"[\[:,]\s*(-?[0-9]{19,})\s*[,\]}]")
_FLOAT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _depth(text: str) -> int:
    """How deep the JSON ``text`` nests (brackets outside strings)."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _beyond_double(text: str) -> bool:
    for token in _FLOAT.findall(text):
        try:
            if math.isinf(float(token)):
                return True
        except OverflowError:
            return True
    return False


def _collides(text: str) -> bool:
    """Whether a float in ``text`` equals the float of an integer beyond 64 bits in it."""
    big = {float(t) for t in _BIG_INT.findall(text) if not -(2**63) <= int(t) < 2**63}
    return any(float(t) in big for t in _FLOAT.findall(text) if any(c in t for c in ".eE"))


def documented(text: str, python: Verdict, vector: Verdict) -> str | None:
    """The docs/vector.md exception that explains a difference, or ``None``."""
    surrogates = any("\udc80" <= c <= "\udcff" for c in text)
    if surrogates and python.problems == (("invalid_utf8", "line"),):
        return "invalid UTF-8"
    if vector.problems == (("malformed_json", "line"),):
        inside = all(code == "wrong_type" for code, _ in python.problems)
        if _depth(text) >= 128 and (python.kind == "event" or inside):
            return "nesting"
        if python.kind == "event" and _beyond_double(text):
            return "a number beyond the double range outside the event"
    if _collides(text):
        refused = {path for code, path in vector.problems if code == "out_of_range"}
        extra = set(vector.problems) - set(python.problems)
        missing = set(python.problems) - set(vector.problems)
        if all(code == "out_of_range" for code, _ in extra) and all(
            path in refused for _, path in missing
        ):
            return "float equal to an integer beyond 64 bits"
    return None


def test_both_roads_agree_on_every_line_of_the_corpus():
    vector: list[Verdict] = []
    for start in range(0, len(LINES), 250):
        chunk = LINES[start : start + 250]
        vector += vector_road([as_vector_reads(text) for _, text in chunk])
    differences = []
    for (name, text), vrl in zip(LINES, vector, strict=True):
        python = python_road(text)
        same = vrl.kind == python.kind and vrl.problems == python.problems
        if same and python.kind == "event" and floats_read_exactly(text):
            same = vrl.protocol == python.protocol
        if not same and documented(text, python, vrl) is None:
            differences.append((name, text[:200], python, vrl))
    assert not differences, differences[:5]


def test_lint_reports_each_line_as_the_transform_does_one_problem_a_line(tmp_path: Path):
    log = tmp_path / "corpus.jsonl"
    log.write_bytes(b"".join(text.encode("utf-8", "surrogateescape") + b"\n" for _, text in LINES))
    result = CliRunner().invoke(cli, ["lint", str(log)])
    assert result.exit_code == 1
    reported: dict[int, list[str]] = {}
    for row in result.stdout.splitlines():
        found = re.fullmatch(
            rf"{re.escape(str(log))}:([0-9]+): ([a-z_0-9]+): [^\x00-\x1f\x7f]*", row
        )
        assert found, repr(row)
        reported.setdefault(int(found[1]), []).append(found[2])
    for number, (name, text) in enumerate(LINES, 1):
        outcome = transform_line(text.encode("utf-8", "surrogateescape"))
        assert [p.code for p in outcome.problems] == reported.get(number, []), name


def test_the_shippers_hot_path_writes_what_the_transform_writes_or_passes():
    transform = Transform()  # one encoder over every line: its caches carry over
    for name, text in LINES:
        raw = text.encode("utf-8", "surrogateescape")
        encoded = transform.encode(raw)
        if encoded is not None:
            assert encoded == transform_line(raw).line_protocol, name


REGRESSIONS = [
    # a -0 token made the Python road read the line with json.loads, which took lone
    # surrogates and 1e400 that msgspec and Vector refuse as malformed_json
    '{"luna_event":{"v":1,"series":"sdkloop_task","time":1,"tags":{"service":"luna-remote-sdk",'
    '"image_count":1},"fields":{"execution_time":0.5,"x":"\\ud800","y":-0}}}',
    '{"luna_event":{"v":1,"series":"sdkloop_task","time":1,"tags":{"service":"luna-remote-sdk",'
    '"image_count":1},"fields":{"execution_time":1e400,"x":-0}}}',
    '{"luna_event":{"v":1,"series":"sdkloop_task","time":1,"tags":{"service":"luna-remote-sdk",'
    '"image_count":1},"fields":{"execution_time":-0}}, "n":"\\ud800"}',
    # an integer beyond the double range: Vector cannot read it at all
    '{"luna_event":{"v":1,"series":"sdkloop_task","time":1,"tags":{"service":"luna-remote-sdk",'
    '"image_count":1},"fields":{"execution_time":0.5,"x":1' + "0" * 400 + "}}}",
]


@pytest.mark.parametrize("line", REGRESSIONS)
def test_lines_vector_cannot_read_are_malformed_json_on_the_python_road(line: str):
    assert python_road(line).problems == (("malformed_json", "line"),)
    assert vector_road([line])[0].problems == (("malformed_json", "line"),)


def _stored(influxdb: InfluxDB1, database: str) -> dict[str, Any]:
    """The one point in ``database``: tags and fields as InfluxDB answers them, -0 kept."""
    query = urllib.parse.urlencode({"db": database, "q": "SELECT * FROM /.*/", "epoch": "ns"})
    with urllib.request.urlopen(f"{influxdb.url}/query?{query}") as answer:
        text = answer.read().decode()
    document = json.loads(text, parse_int=lambda s: -0.0 if s == "-0" else int(s))
    (row,) = document["results"][0]["series"]
    (values,) = row["values"]
    return {"measurement": row["name"], **dict(zip(row["columns"], values, strict=True))}


def _same(expected: Any, stored: Any, kind: str) -> bool:
    if kind == "float":
        return (
            type(expected) is float
            and float(stored) == expected
            and math.copysign(1, float(stored)) == math.copysign(1, expected)
        )
    if kind == "integer":
        return type(stored) is int and stored == expected
    return type(stored) is type(expected) and stored == expected


@pytest.mark.server
def test_every_accepted_edge_is_stored_exactly(influxdb: InfluxDB1):
    accepted = []
    for name, text in LINES:
        if name.startswith("random") and int(name.split()[1]) % 10:
            continue  # every tenth random line: the edges are the point
        if python_road(text).kind != "event":
            continue
        read = parse_line(text).event
        if read is None:  # a number beyond the double range outside the event (documented)
            payload = decode_envelope(text.encode())
            assert payload is not None
            read = Event(payload.series, payload.time, payload.tags, payload.fields)
        event = DEFAULT_VALIDATOR.validate(read)
        accepted.append((name, event, python_road(text).protocol))
    assert len(accepted) > 200
    changed = []
    for number, (name, event, protocol) in enumerate(accepted):
        database = f"corpus_{number}"
        influxdb.create_database(database)
        try:
            status, body = influxdb.write(database, protocol.encode() + b"\n")
            assert status == 204, (name, body)
            point = _stored(influxdb, database)
            types = influxdb.field_types(database)[event.series]
            assert point.pop("measurement") == event.series
            assert point.pop("time") == event.time_ns
            for key, value in event.fields.items():
                if not _same(value, point.pop(key), types[key]):
                    changed.append((name, key, value))
            for key, value in event.tags.items():
                if point.pop(key, None) != value:
                    changed.append((name, key, value))
            assert not {k: v for k, v in point.items() if v is not None}, (name, point)
        finally:
            influxdb.query(f'DROP DATABASE "{database}"')
    assert not changed, changed[:5]


class _Float64(float):
    """A float subclass, as numpy's ``float64`` is."""


@pytest.mark.parametrize("where", ["tags", "fields"])
def test_a_float_subclass_is_written_as_the_float_it_is_never_as_a_string(where: str):
    # orjson cannot write a float subclass; it went through ``str`` and a number was
    # shipped as the string "1.5", a NaN as the string "nan"
    for value, expected in [(_Float64(1.5), "extra=1.5"), (_Float64(-0.0), "extra=-0")]:
        event = _sdk_event(where, value)
        outcome = transform_line(to_json_line(event))
        assert outcome.line_protocol is not None and expected in outcome.line_protocol
    for value in (_Float64("nan"), _Float64("inf")):
        outcome = transform_line(to_json_line(_sdk_event(where, value)))
        assert [(p.code, p.path) for p in outcome.problems] == [("not_finite", "line")]


def _sdk_event(where: str, value: float) -> Event:
    tags: dict[str, Any] = {"service": "luna-remote-sdk", "image_count": 1}
    fields: dict[str, Any] = {"execution_time": 0.5}
    (tags if where == "tags" else fields)["extra"] = value
    return Event("sdkloop_task", 1, tags, fields)


_CODE = re.compile(r'(?:Fault|Problem|_invalid)\(\s*"([a-z_0-9]+)"|"code": "([a-z_0-9]+)"')


def test_every_problem_code_either_road_writes_is_in_the_docs():
    package = Path(__file__).parent.parent / "luna_events"
    sources = [*package.rglob("*.py"), package.parent / "vector" / "remap.vrl"]
    codes = {a or b for path in sources for a, b in _CODE.findall(path.read_text())}
    assert {"unknown_series", "line_too_long", "series_key_too_long"} <= codes
    docs = (package.parent / "docs" / "event-format.md").read_text()
    assert not sorted(c for c in codes if f"`{c}`" not in docs)


def test_encode_reports_one_problem_a_line_with_its_code(tmp_path: Path):
    # encode wrote "FILE:LINE: where: reason; where: reason" with no code, on one line
    log = tmp_path / "bad.jsonl"
    log.write_bytes(
        b'{"luna_event":{"v":1,"series":"sdkloop_task","time":1,'
        b'"tags":{"a\\nb":1,"service":"x"},"fields":{}}}\n'
    )
    result = CliRunner().invoke(cli, ["encode", str(log)])
    assert result.exit_code == 1
    rows = result.stderr.splitlines()[:-1]
    assert [row.split(": ")[1] for row in rows] == [
        "control_character",
        "not_allowed",
        "missing_tag",
        "missing_field",
        "no_fields",
    ]
    assert (
        rows[0] == f"{log}:1: control_character: tags.a\\nb: key contains control character U+000A"
    )


def test_lint_escapes_control_characters_in_file_names_too(tmp_path: Path):
    log = tmp_path / "a\nb.log"
    log.write_bytes(b"plain text\n")
    result = CliRunner().invoke(cli, ["lint", "--strict", str(log)])
    assert result.exit_code == 1
    assert result.stdout == f"{tmp_path}/a\\nb.log:1: not_an_event: line: no monitoring marker\n"


class _Word(enum.StrEnum):
    SPACED = "a,b c"
    BROKEN = "x\ny"


@pytest.mark.parametrize(
    "tags, fields",
    [
        ({"status_code": HTTPStatus.NOT_FOUND}, {"request_id": "r", "execution_time": 0.5}),
        ({"account_id": _Word.SPACED}, {"request_id": _Word.SPACED, "execution_time": _Float64(1)}),
        ({"account_id": _Word.BROKEN, "extra": _Float64("nan")}, {"execution_time": 2}),
        ({"extra": HTTPStatus.OK}, {"extra_int": HTTPStatus.OK, "request_id": "r"}),
    ],
)
def test_emit_time_checks_read_subclass_values_as_the_readers_will(
    tags: dict[str, Any], fields: dict[str, Any]
):
    # an IntEnum (HTTPStatus), a StrEnum or numpy's float64 is written as its plain
    # value; strict mode refused them as wrong_type, and the default mode warned
    base: dict[str, Any] = {"service": "luna-tasks", "route": "GET:/x", "status_code": 200}
    event = Event("requests", 1, {**base, **tags}, {"request_id": "r", **fields})
    read = transform_line(to_json_line(event))
    codes = {p.code for p in check(event)}
    if [p.path for p in read.problems] == ["line"]:  # a NaN: the whole line is refused
        assert {p.code for p in read.problems} < codes
    else:
        assert codes == {p.code for p in read.problems}
    if not codes:
        assert FastEncoder().encode(event.series, 1, event.tags, event.fields) == read.line_protocol
        assert encode_line(validate(event)) == read.line_protocol


def _sample(spec: Any) -> Any:
    """A valid value of a catalogued tag or field."""
    if getattr(spec, "allowed", ()):
        return spec.allowed[0]
    if getattr(spec, "pattern", None):
        return "GET:/x"
    return {"int": 1, "float": 0.5, "bool": True, "str": "s"}[spec.type.value]


def test_value_caches_never_carry_a_verdict_from_one_series_to_another():
    # one encoder, every allowed value of every series tried on every tag of every
    # series, twice: a cache shared between tags checked alike must not let a value
    # allowed in one series through in another
    values = sorted({v for s in CATALOG.values() for t in s.tags for v in t.allowed})
    transform = Transform()
    for _ in range(2):
        for name, spec in CATALOG.items():
            fields = {f.name: _sample(f) for f in spec.fields if f.required}
            fields = fields or {spec.fields[0].name: _sample(spec.fields[0])}
            for tag in spec.tags:
                for value in [*values, "GET:/x", "x", 0, 1, 200]:
                    tags = {t.name: _sample(t) for t in spec.required_tags}
                    tags[tag.name] = value
                    payload = {"v": 1, "series": name, "time": 1, "tags": tags, "fields": fields}
                    line = json.dumps({"luna_event": payload}).encode()
                    event = parse_line(line).event
                    assert event is not None
                    valid = not DEFAULT_VALIDATOR.check(event)
                    assert (transform.encode(line) is not None) == valid, (name, tag.name, value)
