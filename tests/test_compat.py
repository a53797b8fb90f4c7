"""luna_events.compat against the seeds: each class gives the point the original wrote.

The table holds, for every point class of the seeds, a constructor call with the
seed's positional arguments and the InfluxDB point the seeds describe (measurement,
tags as strings, fields, time in ns). The last test runs code written against the
seeds' classes, unchanged but for its import line, and finds its points in a real
InfluxDB after ``luna-events ship --once``.
"""

from __future__ import annotations

import asyncio
import io
import logging
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest

from luna_events import compat
from luna_events.compat import (
    BaseMonitoringAdapter,
    BaseRequestMonitoringPlugin,
    DataForMonitoring,
    RequestErrorMonitoringPoint,
    RequestMonitoringPoint,
    SubtaskErrorPoint,
    SubtaskExecutionPoint,
    SubtaskFinalPoint,
    SubtaskMonitoringBasePoint,
    WorkerQueuePoint,
    WorkerRequestPoint,
    getRoute,
    monitorTime,
    point_to_event,
)
from luna_events.compat.monitoring import DELIVERY_NOTE
from luna_events.jsonline import event_from_line
from luna_events.localservers import InfluxDB1
from luna_events.logs.setup import configure_logging
from luna_events.plugins import PluginRunner, as_plugin
from luna_events.timing import monitor_time
from luna_events.validation import validate
from tests.shipping import influx_sink, ship_config, write_toml

T = 1763794047.123456
T_NS = int(T * 10**9)

# (point, measurement, tags as the original wrote them, fields as InfluxDB stores them)
TABLE: list[tuple[Any, str, dict[str, str], dict[str, Any]]] = [
    (
        RequestMonitoringPoint(
            "1763794047,0b6e", "/version", "GET", 0.004, T, "luna-tasks", 200, None, None
        ),
        "requests",
        {"route": "GET:/version", "service": "luna-tasks", "status_code": "200"},
        {"request_id": "1763794047,0b6e", "execution_time": 0.004},
    ),
    (
        RequestMonitoringPoint(
            "r2",
            "/sdk",
            "POST",
            0.25,
            T,
            "luna-remote-sdk",
            201,
            {"account_id": "acc-1", "zone": "eu"},
            {"load_images_for_processing_time": 0.125, "images": 3},
        ),
        "requests",
        {
            "route": "POST:/sdk",
            "service": "luna-remote-sdk",
            "status_code": "201",
            "account_id": "acc-1",
            "zone": "eu",
        },
        # an additional field keeps its type: images=3i, as the original wrote it
        {"request_id": "r2", "execution_time": 0.25, "load_images_for_processing_time": 0.125}
        | {"images": 3},
    ),
    (
        RequestErrorMonitoringPoint(
            "r3", "/tasks/{task_id}", "DELETE", 12002, "luna-tasks", T, 400, {"retry": True}
        ),
        "errors",
        {
            "route": "DELETE:/tasks/{task_id}",
            "service": "luna-tasks",
            "status_code": "400",
            "error_code": "12002",
            "retry": "True",
        },
        {"request_id": "r3"},
    ),
    (
        SubtaskErrorPoint(T, 12, 7, 5, 27001),
        "subtask_errors",
        {
            "service": "luna-tasks-worker",
            "task_id": "7",
            "subtask_id": "12",
            "task_type": "5",
            "error_code": "27001",
        },
        {"error_code": 27001},
    ),
    (
        SubtaskExecutionPoint(
            T, 12, 7, 5, None, {"linked_faces": 10, "save_result_time": 0.5, "match_time": 2}
        ),
        "subtask_execution",
        {"service": "luna-tasks-worker", "task_id": "7", "subtask_id": "12", "task_type": "5"},
        # a catalogued float given as an int is a float
        {"linked_faces": 10, "save_result_time": 0.5, "match_time": 2.0},
    ),
    (
        SubtaskFinalPoint(T, 12, 7, 5, 1.5, 1),
        "subtask_final",
        {"service": "luna-tasks-worker", "task_id": "7", "subtask_id": "12", "task_type": "5"},
        {"execution_time": 1.5, "status": 1},
    ),
    (
        WorkerQueuePoint(T, 12, 7, 5, 0.01),
        "worker_queue",
        {"service": "luna-tasks-worker", "task_id": "7", "subtask_id": "12", "task_type": "5"},
        {"transport_time": 0.01},
    ),
    (
        WorkerRequestPoint(T, 12, 7, 0.02),
        "worker_requests",
        {"service": "luna-tasks-worker", "task_id": "7", "subtask_id": "12"},
        {"transport_time": 0.02},
    ),
    # the original wrote str(value) whatever the type: a catalogued str tag given a
    # number, and catalogued int tags given digits, are still that text
    (
        RequestMonitoringPoint(
            "r4",
            "/version",
            "GET",
            0.5,
            T,
            "luna-tasks",
            "200",  # type: ignore[arg-type]
            {"account_id": 42},
        ),
        "requests",
        {"route": "GET:/version", "service": "luna-tasks", "status_code": "200"}
        | {"account_id": "42"},
        {"request_id": "r4", "execution_time": 0.5},
    ),
    (
        SubtaskErrorPoint(T, "12", "7", "5", 27001),  # type: ignore[arg-type]
        "subtask_errors",
        {
            "service": "luna-tasks-worker",
            "task_id": "7",
            "subtask_id": "12",
            "task_type": "5",
            "error_code": "27001",
        },
        {"error_code": 27001},
    ),
]


@pytest.mark.parametrize(
    ("point", "measurement", "tags", "fields"), TABLE, ids=[type(row[0]).__name__ for row in TABLE]
)
def test_each_point_is_the_point_the_original_wrote(
    point: Any, measurement: str, tags: dict[str, str], fields: dict[str, Any]
):
    original = BaseMonitoringAdapter.convertPointToDict(point)
    assert original["measurement"] == measurement == point.series
    assert original["time"] == T_NS
    assert original["tags"] == tags
    assert original["fields"] == point.fields
    assert point.eventTime == T and isinstance(point.eventTime, float)
    stored = validate(point_to_event(point))  # what the shipper writes to InfluxDB
    assert (stored.series, stored.time_ns, stored.tags) == (measurement, T_NS, tags)
    assert stored.fields == fields
    assert {k: type(v) for k, v in stored.fields.items()} == {k: type(v) for k, v in fields.items()}


def test_request_points_keep_the_seed_attributes():
    point = RequestMonitoringPoint("id", "/version", "GET", 0.5, T, "luna-tasks", 200)
    assert (point.requestId, point.route, point.requestTime, point.statusCode) == (
        "id",
        "GET:/version",
        T,
        200,
    )
    assert point.executionTime == 0.5 and point.additionalTags == {}
    error = RequestErrorMonitoringPoint("id", "/x", "GET", 11001, "luna-tasks", T, 500)
    assert error.errorCode == 11001 and error.series == "errors"


def test_initialize_names_the_service_of_subtask_points():
    try:
        SubtaskMonitoringBasePoint.initialize("luna-tasks-custom")
        assert SubtaskFinalPoint(T, 1, 2, 3, 0.1, 0).tags["service"] == "luna-tasks-custom"
        WorkerRequestPoint.initialize("luna-tasks-custom-2")
        assert WorkerRequestPoint(T, 1, 2, 0.1).tags["service"] == "luna-tasks-custom-2"
    finally:
        SubtaskMonitoringBasePoint.initialize("luna-tasks-worker")
        WorkerRequestPoint.initialize("luna-tasks-worker")


def test_get_route_and_monitor_time_keep_the_seed_order():
    assert getRoute("/version", "GET") == "GET:/version"
    data = DataForMonitoring()
    with monitorTime(data, "match_time"):
        pass
    with monitorTime(data, "match_time"):
        pass
    assert isinstance(data.fields["match_time"], float)
    with pytest.raises(ValueError), monitorTime(data, "save_result_time"):
        raise ValueError
    assert "save_result_time" not in data.fields, "a block that raises records nothing"
    with pytest.raises(TypeError, match="swapped"), monitorTime("match_time", data):  # type: ignore[arg-type]
        pass
    with pytest.raises(TypeError, match="swapped"):
        monitor_time(data, "match_time")  # type: ignore[arg-type]
    with monitor_time("match_time", data):  # the typed API accepts the seed's container
        pass


def test_adapter_writes_each_point_at_once_and_says_once_where_delivery_happens(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr(compat.monitoring, "_noted", __import__("threading").Event())
    stream = io.StringIO()
    setup = configure_logging(service="luna-tasks", stream=stream, use_queue=False)
    try:
        monitoring = compat.LunaRequestInfluxMonitoring(
            {"user": "u", "password": "secret"}, "influx.local", 8086, True, 1
        )
        compat.LunaRequestInfluxMonitoring("more", flushingPeriod=5)
        asyncio.run(_await(monitoring.initializeMonitoring()))
        monitoring.flushPoints([row[0] for row in TABLE[:3]])
        written = stream.getvalue().splitlines()  # no flush, no wait: already written
        monitoring.adapter.addPointsToBuffer([TABLE[3][0]])
        monitoring.stopMonitoring()  # not awaited: fine too
    finally:
        setup.close()
    lines = stream.getvalue().splitlines()
    notes = [line for line in lines if DELIVERY_NOTE in line]
    assert len(notes) == 1 and "secret" not in stream.getvalue()
    assert len(written) == 4  # the note and three points
    events = [event_from_line(line) for line in lines if line not in notes]
    assert [e.series for e in events] == ["requests", "requests", "errors", "subtask_errors"]
    assert monitoring.adapter._buffer == []


async def _await(result: Any) -> None:
    await result


def test_adapter_never_raises_for_a_broken_point(caplog: pytest.LogCaptureFixture):
    class Broken(compat.BaseMonitoringPoint):
        series = "requests"

        @property
        def tags(self) -> dict[str, Any]:
            raise RuntimeError("tags bug")

        @property
        def fields(self) -> dict[str, Any]:
            return {}

    stream = io.StringIO()
    setup = configure_logging(service="luna-tasks", stream=stream, use_queue=False)
    try:
        adapter = BaseMonitoringAdapter(None, 1)
        adapter.addPointsToBuffer([Broken(T), TABLE[0][0]])
        adapter.addPointsToBuffer(None)  # type: ignore[arg-type]
    finally:
        setup.close()
    lines = [line for line in stream.getvalue().splitlines() if DELIVERY_NOTE not in line]
    assert [event_from_line(line).series for line in lines] == ["requests"]
    assert "tags bug" in caplog.text


class Recorder(BaseRequestMonitoringPlugin):
    seen: ClassVar[list[Any]] = []

    async def flushPointToMonitoring(self, point: Any, logger: logging.Logger) -> None:
        Recorder.seen.append(point)


def test_seed_plugins_receive_the_request_points():
    runner = PluginRunner({"recorder": as_plugin(Recorder)})
    Recorder.seen.clear()
    runner.submit(point_to_event(TABLE[1][0]))
    runner.submit(point_to_event(TABLE[2][0]))
    runner.submit(point_to_event(TABLE[3][0]))  # not a request point: not handed on
    runner.close()
    first, second = Recorder.seen
    assert isinstance(first, RequestMonitoringPoint) and first.route == "POST:/sdk"
    assert first.executionTime == 0.25 and first.additionalTags == {
        "account_id": "acc-1",
        "zone": "eu",
    }
    assert isinstance(second, RequestErrorMonitoringPoint) and second.errorCode == 12002
    assert runner.stats["recorder"].failed == 0


LEGACY_SERVICE = """
import time
from luna_events.compat import (  # was: from luna_tasks.crutches_on_wheels.monitoring...
    BaseMonitoringPoint, DataForMonitoring, LunaRequestInfluxMonitoring,
    RequestErrorMonitoringPoint, RequestMonitoringPoint, SubtaskErrorPoint,
    SubtaskExecutionPoint, SubtaskFinalPoint, SubtaskMonitoringBasePoint, WorkerQueuePoint,
    WorkerRequestPoint, getRoute, monitorTime,
)


class SdkLoopPoint(BaseMonitoringPoint):  # a service's own point class (luna-remote-sdk)
    series = "sdkloop_task"

    def __init__(self, eventTime, imageCount, executionTime):
        super().__init__(eventTime)
        self.imageCount = imageCount
        self.executionTime = executionTime

    @property
    def tags(self):
        return {"service": "luna-remote-sdk", "image_count": self.imageCount}

    @property
    def fields(self):
        return {"execution_time": self.executionTime}


SubtaskMonitoringBasePoint.initialize("luna-tasks-worker")
monitoring = LunaRequestInfluxMonitoring({"token": "t0k3n", "bucket": "luna_monitoring",
                                          "organization": "luna"}, "127.0.0.1", 8086, False, 1)
monitoring.initializeMonitoring()
points = []
for index in range(50):
    start = 1763794047.0 + index
    data = DataForMonitoring()
    with monitorTime(data, "load_images_for_processing_time"):
        time.sleep(0)
    data.tags["account_id"] = "acc-%d" % (index % 3)
    data.fields["images"] = index % 4 + 1  # an additional int field: images=1i..4i
    points.append(RequestMonitoringPoint("id-%d" % index, "/tasks/{task_id}", "GET", 0.01 * index,
                                         start, "luna-tasks", 200, data.tags, data.fields))
    if index % 10 == 0:
        points.append(RequestErrorMonitoringPoint("id-%d" % index, "/tasks/{task_id}", "GET",
                                                  12002, "luna-tasks", start, 400))
        points.append(SubtaskErrorPoint(start, index, 7, 5, 27001))
    points.append(SubtaskExecutionPoint(start, index, 7, 5, None, {"linked_faces": index}))
    points.append(SubtaskFinalPoint(start, index, 7, 5, 0.5, 1))
    points.append(WorkerQueuePoint(start, index, 7, 5, 0.001 * index))
    points.append(WorkerRequestPoint(start, index, 7, 0.002))
    if index % 10 == 5:  # keyword arguments with the seeds' names; a number as account_id
        points.append(RequestMonitoringPoint(
            requestId="kw-%d" % index, resource="/sdk", method="POST", executionTime=0.25,
            requestTime=start, service="luna-tasks", statusCode=201,
            additionalTags={"account_id": index}, additionalFields=None))
        points.append(SdkLoopPoint(start, index % 4 + 1, 0.125))
monitoring.adapter.addPointsToBuffer(points)
monitoring.stopMonitoring()
"""


@pytest.mark.server
def test_code_written_for_the_seeds_delivers_the_same_points_to_influxdb(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    logs = tmp_path / "logs"
    logs.mkdir()
    setup = configure_logging(service="luna-tasks", path=logs / "legacy.jsonl")
    namespace: dict[str, Any] = {}
    try:
        exec(compile(textwrap.dedent(LEGACY_SERVICE), "legacy_service.py", "exec"), namespace)
    finally:
        setup.close()
    expected = [BaseMonitoringAdapter.convertPointToDict(p) for p in namespace["points"]]
    assert len(expected) == 50 * 5 + 5 * 2 + 5 * 2
    assert ship_once(tmp_path, influxdb, database) == []
    types = influxdb.field_types(database)
    stored = []
    # one measurement at a time: `error_code` is a tag here and a tag and field there
    for point in (p for name in types for p in influxdb.points(database, name)):
        kinds = types[point["measurement"]]
        fields = {k: _typed(kinds[k], v) for k, v in point["fields"].items()}
        stored.append((point["measurement"], point["time"], point["tags"], fields))
    assert types["requests"]["images"] == "integer"
    want = [
        (p["measurement"], p["time"], p["tags"], _as_stored(p["measurement"], p["fields"]))
        for p in expected
    ]
    assert sorted(map(_canonical, stored)) == sorted(map(_canonical, want))


def _canonical(point: tuple[str, int, dict[str, str], dict[str, Any]]) -> tuple[Any, ...]:
    measurement, time_ns, tags, fields = point
    return measurement, time_ns, sorted(tags.items()), sorted(fields.items())


_INFLUX_TYPES = {int: "integer", float: "float", str: "string", bool: "boolean"}


def _typed(kind: str, value: Any) -> tuple[str, Any]:
    """A stored field as (InfluxDB type, value): ``3`` and ``3.0`` never compare equal."""
    return kind, float(value) if kind == "float" else value


def _as_stored(measurement: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Fields as InfluxDB keeps them: a catalogued float given an int as a float, every
    other field (additional ones too) with its own type."""
    from luna_events.catalog import CATALOG

    spec = CATALOG[measurement]
    out: dict[str, Any] = {}
    for key, value in fields.items():
        field_spec = spec.field(key)
        floating = field_spec is not None and field_spec.type == "float"
        if floating and type(value) is int:
            value = float(value)
        out[key] = _typed(_INFLUX_TYPES[type(value)], value)
    return out


@pytest.mark.server
def test_a_compat_int_field_joins_the_originals_int_field_in_influxdb(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    """A service migrated in place: the database already holds the original's
    ``images=3i``; the compat layer's ``images`` must arrive as an int, not be refused
    as a field type conflict."""
    original = (
        b"requests,route=POST:/sdk,service=luna-remote-sdk,status_code=201 "
        b'execution_time=0.25,images=3i,request_id="old" 1763794046000000000\n'
    )
    assert influxdb.write(database, original)[0] == 204
    logs = tmp_path / "logs"
    logs.mkdir()
    setup = configure_logging(service="luna-remote-sdk", path=logs / "migrated.jsonl")
    try:
        points = [
            RequestMonitoringPoint(
                f"new-{n}",
                "/sdk",
                "POST",
                0.25,
                T + n,
                "luna-remote-sdk",
                201,
                None,
                {"images": n + 4, "ratio": 0.5 * n},
            )
            for n in range(3)
        ]
        compat.InfluxMonitoringAdapter({}, 1).addPointsToBuffer(points)
    finally:
        setup.close()
    assert ship_once(tmp_path, influxdb, database) == []
    stored = influxdb.points(database, "requests")
    assert len(stored) == 4
    assert sorted(p["fields"]["images"] for p in stored) == [3, 4, 5, 6]
    assert influxdb.field_types(database)["requests"]["images"] == "integer"
    assert influxdb.field_types(database)["requests"]["ratio"] == "float"


def ship_once(
    tmp_path: Path, influxdb: InfluxDB1, database: str, *, returncode: int = 0
) -> list[dict[str, Any]]:
    """``luna-events ship --once --fail-on-dead-letters`` over ``tmp_path/logs`` into
    ``database`` (exit 3 when anything was dead-lettered); returns the dead letters."""
    config = write_toml(
        tmp_path / "ship.toml",
        ship_config(
            tmp_path,
            influx_sink(influxdb, database),
            dead_letter_path=str(tmp_path / "dead-letter.jsonl"),
        ),
    )
    done = subprocess.run(
        [
            *(sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config)),
            *("--once", "--fail-on-dead-letters"),
        ],
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == returncode, done.stderr.decode()[-2000:]
    dead = tmp_path / "dead-letter.jsonl"
    return [orjson.loads(x) for x in dead.read_bytes().splitlines()] if dead.exists() else []


class SeedStylePlugin(BaseRequestMonitoringPlugin):
    """A plugin as the seeds' example wrote it: ``__init__(self, app)``, ``initialize``,
    ``close``, ``flushPointToMonitoring``."""

    calls: ClassVar[list[Any]] = []

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.session: list[str] | None = None

    async def initialize(self) -> None:
        self.session = ["open"]
        SeedStylePlugin.calls.append("initialize")

    async def close(self) -> None:
        if self.session is not None:
            self.session = None
            SeedStylePlugin.calls.append("close")

    async def flushPointToMonitoring(self, point: Any, logger: logging.Logger) -> None:
        logger.debug(f"Send point to monitoring: {point}")
        SeedStylePlugin.calls.append((point.series, point.route, point.statusCode))


def test_a_seed_style_plugin_is_created_initialized_fed_and_closed():
    SeedStylePlugin.calls.clear()
    setup = configure_logging(
        service="luna-tasks",
        stream=io.StringIO(),
        use_queue=False,
        plugins=["tests.test_compat:SeedStylePlugin"],
    )
    try:
        compat.LunaRequestInfluxMonitoring(None).flushPoints([TABLE[0][0], TABLE[2][0]])
    finally:
        setup.close()
    assert SeedStylePlugin.calls == [
        "initialize",
        ("requests", "GET:/version", 200),
        ("errors", "DELETE:/tasks/{task_id}", 400),
        "close",
    ]


def test_the_delivery_note_is_written_when_the_monitoring_is_made_before_logging(
    monkeypatch: pytest.MonkeyPatch,
):
    """Services build their monitoring object at import, before configure_logging:
    the note must still reach the service's log (it went to a logger without handlers)."""
    monkeypatch.setattr(compat.monitoring, "_noted", __import__("threading").Event())
    monitoring = compat.LunaRequestInfluxMonitoring({"user": "u"}, "influx.local", 8086)
    stream = io.StringIO()
    setup = configure_logging(service="luna-tasks", stream=stream, use_queue=False)
    try:
        monitoring.flushPoints([TABLE[0][0]])
        monitoring.flushPoints([TABLE[0][0]])
    finally:
        setup.close()
    assert stream.getvalue().count(DELIVERY_NOTE) == 1
