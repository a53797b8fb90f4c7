"""The Vector road: the agent configs, their VRL, and parity with the Python road.

Vector cannot be installed here, so the VRL runs in Vector's own compiler and
runtime (vector-vrl), and the configs are checked against Vector's published
schema. When a ``vector`` binary is on PATH, it checks them as well.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luna_events import limits
from luna_events.catalog import CATALOG, ValueType
from luna_events.catalog.build import ROUTE_PATTERN
from luna_events.event import Event
from luna_events.generate.remap_vrl import KEY_CHECKS, TEMPLATE, remap_program
from luna_events.jsonline import LineKind, to_json_line
from luna_events.localservers import InfluxDB1, free_port
from luna_events.transform import transform_line

from .conftest import ROOT, shared_file
from .shipping import make_events, stored_as_sent
from .strategies import counter_events, request_events
from .vrl import REMAP, register_catalog, remap, run_vrl, vector_vrl, vrl_examples

VECTOR_DIR = ROOT / "vector"
CONFIGS = ["agent.yaml", "agent-forward.yaml", "aggregator.yaml"]
ENV_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(?::-[^}]*)?\}")


def load_config(name: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((VECTOR_DIR / name).read_text(encoding="utf-8"))
    return config


def compiles(program: str) -> None:
    register_catalog()
    result = vector_vrl.validate_vrl(program)
    assert "success=true" in str(result), f"{result}\n{program[:300]}"


# compiling and wiring -----------------------------------------------------------


def test_the_remap_program_compiles():
    compiles(REMAP.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", CONFIGS)
def test_every_vrl_condition_in_the_configs_compiles(name: str):
    config = load_config(name)
    for transform in config.get("transforms", {}).values():
        for condition in (transform.get("route") or {}).values():
            compiles(condition)
    for test in config.get("tests", []):
        for output in test["outputs"]:
            for condition in output["conditions"]:
                compiles(condition["source"])


def _outputs(config: dict[str, Any]) -> set[str]:
    names = set(config.get("sources", {}))
    for name, transform in config.get("transforms", {}).items():
        names.add(name)
        if transform["type"] == "route":
            names.update(f"{name}.{route}" for route in [*transform["route"], "_unmatched"])
        if transform.get("reroute_dropped"):
            names.add(f"{name}.dropped")
    return names


@pytest.mark.parametrize("name", CONFIGS)
def test_the_topology_is_wired(name: str):
    config = load_config(name)
    assert config["sources"] and config["sinks"]
    available = _outputs(config)
    consumed = set()
    for kind in ("transforms", "sinks"):
        for component, body in config.get(kind, {}).items():
            assert body.get("inputs"), f"{component} has no inputs"
            for upstream in body["inputs"]:
                assert upstream in available, f"{component} reads {upstream}, which does not exist"
                consumed.add(upstream)
    for source in config["sources"]:
        assert source in consumed, f"source {source} goes nowhere"
    for name_, transform in config.get("transforms", {}).items():
        if transform["type"] == "route":
            for route in [*transform["route"], "_unmatched"]:
                output = f"{name_}.{route}"
                assert output in consumed or route == "_unmatched", f"{output} goes nowhere"


@pytest.mark.parametrize("name", CONFIGS)
def test_every_environment_variable_is_documented(name: str):
    documented = (ROOT / "docs" / "vector.md").read_text(encoding="utf-8")
    used = set(ENV_VARIABLE.findall((VECTOR_DIR / name).read_text(encoding="utf-8")))
    assert used
    missing = sorted(v for v in used if f"`{v}`" not in documented)
    assert not missing, f"not documented in docs/vector.md: {missing}"


def test_the_program_is_rendered_from_the_rule_plan_with_no_limit_typed_in():
    assert REMAP.read_text(encoding="utf-8") == remap_program()
    for value in (
        limits.MAX_LINE_BYTES,
        limits.MAX_KEY_BYTES,
        limits.MAX_TAG_VALUE_BYTES,
        limits.MAX_STRING_FIELD_BYTES,
        limits.MAX_EXACT_FLOAT_INT,
        limits.MAX_SERIES_KEY_BYTES,
        limits.MIN_TIME_NS,
        limits.MAX_TIME_NS,
    ):
        assert str(abs(value)) not in TEMPLATE + KEY_CHECKS, f"{value} is typed into the template"
    assert ROUTE_PATTERN not in TEMPLATE and "_measurement" not in TEMPLATE + KEY_CHECKS
    for name in ("agent.yaml", "agent-forward.yaml"):
        assert load_config(name)["sources"]["luna_logs"]["max_line_bytes"] == limits.MAX_LINE_BYTES


def test_a_different_limit_gives_a_different_program(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(limits, "MAX_KEY_BYTES", 100)
    program = remap_program()
    assert "length(key) > 100" in program
    compiles(program)


def _schema_validator() -> Any:
    schema_path = shared_file("schemas/vector.json")
    from jsonschema import Draft201909Validator

    return Draft201909Validator(json.loads(schema_path.read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", CONFIGS)
def test_the_configs_match_vectors_published_schema(name: str):
    validator = _schema_validator()
    errors = [
        f"{list(e.absolute_path)}: {e.message[:200]}"
        for e in validator.iter_errors(load_config(name))
    ]
    assert not errors, errors


def test_the_schema_check_catches_a_misspelt_option():
    validator = _schema_validator()
    config = load_config("agent.yaml")
    config["sinks"]["influxdb"]["batch"]["max_event"] = 5000
    assert list(validator.iter_errors(config))


# the tests: blocks, run over vector-vrl ------------------------------------------


def _route(config: dict[str, Any], event: dict[str, Any]) -> str:
    """Which output of the route transform ``event`` leaves through."""
    for name, transform in config["transforms"].items():
        if transform["type"] != "route":
            continue
        for route, condition in transform["route"].items():
            if (
                run_vrl(f".luna_matches = ({condition.strip()})", [event])[0]["luna_matches"]
                is True
            ):
                return f"{name}.{route}"
        return f"{name}._unmatched"
    raise AssertionError("no route transform")


@pytest.mark.parametrize("name", ["agent.yaml"])
def test_the_configs_own_tests_pass(name: str):
    config = load_config(name)
    assert len(config["tests"]) >= 4
    for test in config["tests"]:
        (given,) = test["inputs"]
        assert given["insert_at"] == "luna_remap"
        remapped = run_vrl(REMAP.read_text(encoding="utf-8"), [given["log_fields"]])[0]
        routed = _route(config, remapped)
        for output in test["outputs"]:
            assert output["extract_from"] == routed, f"{test['name']}: left through {routed}"
            for condition in output["conditions"]:
                check = run_vrl(f".luna_check = ({condition['source'].strip()})", [remapped])[0]
                assert check["luna_check"] is True, f"{test['name']}: {condition['source']}"


# parity with the Python road -------------------------------------------------------


def python_view(line: str) -> tuple[str, str, set[tuple[str, str]]]:
    outcome = transform_line(line)
    codes = {(p.code, p.path) for p in outcome.problems}
    return outcome.kind.value, outcome.line_protocol or "", codes


def assert_parity(lines: list[str]) -> None:
    for line, vrl in zip(lines, remap(lines), strict=True):
        kind, protocol, codes = python_view(line)
        assert vrl.kind == kind, (line, vrl.kind, kind, vrl.problems)
        if kind == "event":
            assert vrl.message == protocol, line
        elif kind == "invalid":
            assert {(p["code"], p["path"]) for p in vrl.problems} == codes, line


def every_series_events() -> list[Event]:
    samples = {
        ValueType.STR: "x y,z=1",
        ValueType.INT: 7,
        ValueType.FLOAT: 0.25,
        ValueType.BOOL: True,
    }
    events = []
    for index, spec in enumerate(CATALOG.values()):
        tags: dict[str, Any] = {}
        fields: dict[str, Any] = {}
        for tag in spec.tags:
            if tag.allowed:
                tags[tag.name] = (
                    int(tag.allowed[0]) if tag.type is ValueType.INT else tag.allowed[0]
                )
            else:
                tags[tag.name] = "GET:/a/{b}" if tag.pattern else samples[tag.type]
        for field in spec.fields:
            fields[field.name] = samples[field.type]
        events.append(Event(spec.name, 1_763_794_047_000_000_000 + index, tags, fields))
    return events


INVALID: list[dict[str, Any]] = [
    {"series": "requestz", "time": 1, "tags": {}, "fields": {"x": 1}},
    {
        "series": "requests",
        "time": 1.5,
        "tags": {"service": "luna-tasks", "route": "GET:/", "status_code": 200},
        "fields": {"request_id": "r", "execution_time": 1},
    },
    {
        "series": "requests",
        "time": 2**63 - 1,
        "tags": {"service": "luna_tasks", "route": "/v", "status_code": "200"},
        "fields": {"request_id": 5, "execution_time": True},
    },
    {
        "series": "requests",
        "time": 1,
        "tags": {
            "service": "luna-tasks",
            "route": "GET:/",
            "status_code": 200,
            "": "x",
            "time": "t",
            "a\tb": "c",
            "e": "",
            "bs": "x\\",
            "q": 'x\\"y',
            "n": None,
        },
        "fields": {
            "request_id": "r",
            "execution_time": 1,
            "_field": 1,
            "big": 2**60,
            "obj": {},
            "arr": [1],
            "k\\=": 1,
        },
    },
    {
        "series": "requests",
        "time": 1,
        "tags": {
            "service": "luna-tasks",
            "route": "GET:/",
            "status_code": 200,
            "dup": "x",
            "long": "x" * 1025,
        },
        "fields": {"request_id": "r" * 65536, "execution_time": 1, "dup": 1},
    },
    {"series": "usages_statistic", "time": 1, "tags": {"service": "luna-remote-sdk"}, "fields": {}},
    {
        "series": "usages_statistic",
        "time": 1,
        "tags": {"service": "luna-remote-sdk"},
        "fields": {"face_detector_usages": 1.0},
    },
    {
        "series": "licensing",
        "time": 1,
        "tags": {"service": "luna-remote-sdk", "license_status": "fine"},
        "fields": {"warnings": "w"},
    },
    {
        "series": "image_load",
        "time": 1,
        "tags": {"service": "luna-remote-sdk", "format": "PNG", "exif": 1, "autorotated": "false"},
        "fields": {"execution_time": "1"},
    },
    {"v": 2, "series": "requests", "time": 1, "tags": {}, "fields": {}},
    {"v": "1", "series": "requests"},
    {"series": 5, "time": 1},
    {"series": "requests", "tags": [], "fields": 3},
    {"series": "requests", "time": None, "tags": None, "fields": {}},
]


SDKLOOP = (
    '{"v": 1, "series": "sdkloop_task", "time": 5, "tags": '
    '{"service": "luna-remote-sdk", "image_count": 1}, "fields": {"execution_time": 0.5}}}'
)


def invalid_lines() -> list[str]:
    lines = []
    for payload in INVALID:
        lines.append(json.dumps({"level": "INFO", "luna_event": {"v": 1, **payload}}))
    lines += [
        '{"luna_event": {"v": 1, "series": "requests"',
        '{"luna_event": "requests"}',
        '{"luna_event": [1]}',
        '[{"luna_event": {}}]',
        '{"message": "mentions \\"luna_event\\" in prose"}',
        '{"level": "INFO", "message": "worker started"}',
        "plain text line",
        '{"luna\\u005fevent": ' + SDKLOOP,
        '{"not json at all',
        ' {"luna_event": ' + SDKLOOP,
        "",
        '{"luna_event": {"v": 1, "pad": "' + "y" * (limits.MAX_LINE_BYTES + 10) + '"}}',
    ]
    return lines


def test_every_series_gives_the_same_line_protocol_on_both_roads():
    events = every_series_events()
    lines = [
        to_json_line(e, level="INFO", logger="luna", message=e.series).decode().rstrip("\n")
        for e in events
    ]
    assert all(transform_line(line).kind is LineKind.EVENT for line in lines)
    assert_parity(lines)


def test_realistic_traffic_gives_the_same_line_protocol_on_both_roads():
    events = make_events(1500, seed=43)
    assert_parity(
        [to_json_line(e, timestamp=time.time(), level="INFO").decode().rstrip("\n") for e in events]
    )


def test_invalid_and_ordinary_lines_get_the_same_verdict_and_reasons():
    lines = invalid_lines()
    kinds = [python_view(line)[0] for line in lines]
    assert kinds.count("invalid") >= 15 and kinds.count("ordinary") >= 4
    assert_parity(lines)


def clock_like(value: Any) -> Any:
    """A float as a clock or counter gives it: 7 significant digits, magnitude within
    1e-15..1e15. Such floats are read exactly by every JSON parser; Vector's is up
    to one unit in the last place off for some 16- and 17-digit ones (tested below)."""
    if type(value) is not float:
        return value
    if value == 0 or not 1e-15 < abs(value) < 1e15:
        return 0.5
    return float(f"{value:.6e}")


@settings(
    max_examples=vrl_examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    st.lists(
        st.one_of(request_events(1_763_794_047_000_000_000), counter_events(5)),
        min_size=1,
        max_size=25,
    )
)
def test_adversarial_events_give_the_same_result_on_both_roads(events: list[Event]):
    lines = []
    for event in events:
        event.tags = {k: clock_like(v) for k, v in event.tags.items()}
        event.fields = {k: clock_like(v) for k, v in event.fields.items()}
        try:
            lines.append(to_json_line(event, level="INFO").decode())
        except TypeError:
            continue  # lone surrogates: no JSON line can carry them
    if lines:
        assert_parity([line.rstrip("\n") for line in lines])


def test_vrl_line_protocol_lands_in_a_real_influxdb_as_sent(influxdb: InfluxDB1, database: str):
    events = make_events(2000, seed=47)
    lines = [to_json_line(e).decode().rstrip("\n") for e in events]
    outcomes = remap(lines)
    assert all(o.kind == "event" for o in outcomes)
    body = "".join(o.message + "\n" for o in outcomes).encode()
    status, answer = influxdb.write(database, body)
    assert status == 204, answer
    stored_as_sent(influxdb, database, events)


# with the real binary ----------------------------------------------------------------

VECTOR = shutil.which("vector")
needs_vector = pytest.mark.skipif(
    VECTOR is None,
    reason="needs the `vector` binary on PATH: install Vector 0.54 (its .deb or .rpm package,"
    " or run the timberio/vector:0.54.0-debian image); no Debian or PyPI package has it",
)


def _vector_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "LUNA_VECTOR_DIR": str(VECTOR_DIR),
        "VECTOR_DATA_DIR": str(tmp_path / "vector-data"),
        "LUNA_DEAD_LETTER_DIR": str(tmp_path),
        **extra,
    }


def run_vector(tmp_path: Path, *arguments: str) -> None:
    """One ``vector`` command that must succeed."""
    result = subprocess.run(
        [str(VECTOR), *arguments],
        env=_vector_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@needs_vector
@pytest.mark.parametrize("name", CONFIGS)
def test_vector_validate(tmp_path: Path, name: str):
    (tmp_path / "vector-data").mkdir()
    run_vector(tmp_path, "validate", "--no-environment", str(VECTOR_DIR / name))


@needs_vector
def test_vector_test(tmp_path: Path):
    run_vector(tmp_path, "test", str(VECTOR_DIR / "agent.yaml"))


@needs_vector
def test_vector_end_to_end_file_to_influxdb(tmp_path: Path, influxdb: InfluxDB1, database: str):
    events = make_events(3000, seed=53)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "service.jsonl").write_bytes(b"".join(to_json_line(e) for e in events))
    (tmp_path / "vector-data").mkdir()
    env = _vector_env(
        tmp_path,
        LUNA_LOG_GLOB=str(logs / "*.jsonl"),
        LUNA_INFLUX_WRITE_URL=f"{influxdb.url}/write?db={database}&precision=ns",
        VECTOR_API_ADDRESS="127.0.0.1:0",
        VECTOR_METRICS_ADDRESS=f"127.0.0.1:{free_port()}",
    )
    process = subprocess.Popen([str(VECTOR), "--config", str(VECTOR_DIR / "agent.yaml")], env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            answer = influxdb.query('SELECT count("seq") FROM /.*/', database)
            counted = sum(
                row["values"][0][1] for r in answer["results"] for row in r.get("series", [])
            )
            if counted >= len(events):
                break
            time.sleep(0.5)
    finally:
        process.terminate()
        process.wait(30)
    stored_as_sent(influxdb, database, events)
