"""Writing events: stdlib formatter, structlog paths, timing, helpers, plugins."""

from __future__ import annotations

import asyncio
import io
import logging
import pickle
import threading
import time
from pathlib import Path

import orjson
import pytest
import structlog

from luna_events import series
from luna_events.errors import UsageError
from luna_events.event import Event
from luna_events.helpers.sdk import Usages, estimation
from luna_events.helpers.tasks import subtask
from luna_events.jsonline import LineKind, event_from_line, parse_line, to_json_line
from luna_events.logs.layout import event_line
from luna_events.logs.setup import configure_logging
from luna_events.logs.stdlib import JsonLineFormatter, LogRecordKeyError, check_extra
from luna_events.logs.structlog_processors import LunaLineRenderer
from luna_events.monitor import Monitor
from luna_events.plugins import PluginRunner, load_plugins
from luna_events.timing import MonitoringData, collecting, monitor_time, request_data
from luna_events.validation import validate

EVENT = series.worker_queue(
    task_id=7, subtask_id=12, task_type=5, transport_time=0.25, time_ns=1_763_794_047_000_000_001
)


def stdlib_logger(stream: io.StringIO, name: str = "test.monitoring", **options) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.handlers.clear()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter(**options))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_plain_logger_info_writes_a_monitoring_line_and_ordinary_lines_stay_ordinary():
    stream = io.StringIO()
    logger = stdlib_logger(stream)
    logger.info("worker started on %s", "host-1")
    logger.info("queue", extra=EVENT.extra())
    logger.warning("slow", extra={"lag": 3})
    ordinary, monitoring, warning = lines(stream)
    assert parse_line(ordinary).kind is LineKind.ORDINARY
    assert orjson.loads(ordinary)["message"] == "worker started on host-1"
    assert orjson.loads(warning)["lag"] == 3 and orjson.loads(warning)["level"] == "WARNING"
    assert event_from_line(monitoring) == EVENT
    document = orjson.loads(monitoring)
    assert list(document) == ["luna_event", "timestamp", "level", "logger", "message"]
    assert document["level"] == "INFO" and document["logger"] == "test.monitoring"
    assert abs(document["timestamp"] - time.time()) < 60


def test_context_keys_and_default_service():
    stream = io.StringIO()
    logger = stdlib_logger(stream, service="luna-tasks-worker")
    event = Event(
        "worker_queue", 1, {"task_id": 1, "subtask_id": 2, "task_type": 3}, {"transport_time": 0.5}
    )
    with pytest.raises(ValueError, match=r"\['message'\] would replace"):
        event.extra(message="clash")
    logger.info("queue", extra=event.extra(name="not a LogRecord clash", host="h1"))
    document = orjson.loads(lines(stream)[0])
    assert document["name"] == "not a LogRecord clash"
    assert document["message"] == "queue" and document["host"] == "h1"
    assert document["luna_event"]["tags"]["service"] == "luna-tasks-worker"
    validate(event_from_line(lines(stream)[0]))


def test_colliding_extra_keys_get_a_clear_error():
    with pytest.raises(LogRecordKeyError, match=r"\['message', 'name'\] are LogRecord attributes"):
        check_extra({"message": 1, "name": 2, "fine": 3})
    assert check_extra({"fine": 1}) == {"fine": 1}


def test_configure_logging_with_a_queue_writes_everything_on_close(tmp_path: Path):
    log = tmp_path / "service.log"
    setup = configure_logging(service="luna-tasks", path=log)
    try:
        for index in range(500):
            setup.monitor.emit(
                series.requests(
                    service="luna-tasks",
                    route="GET:/version",
                    status_code=200,
                    request_id=str(index),
                    execution_time=0.001,
                )
            )
        setup.logger.info("ordinary line")
    finally:
        setup.close()
    written = log.read_text().splitlines()
    assert len(written) == 501
    events = [event_from_line(line) for line in written[:500]]
    assert [e.fields["request_id"] for e in events] == [str(i) for i in range(500)]


def _structlog_native(buffer: io.BytesIO):
    """structlog writing to ``buffer``; the conftest fixture resets it after the test."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            LunaLineRenderer(logger_name="test.monitoring"),
        ],
        logger_factory=structlog.BytesLoggerFactory(buffer),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=False,
    )
    return structlog.get_logger()


def test_stdlib_and_structlog_paths_write_the_same_lines():
    stream = io.StringIO()
    stdlib_logger(stream).info("queue", extra=EVENT.extra())

    native = io.BytesIO()
    _structlog_native(native).info("queue", luna_event=EVENT)

    bridged = io.StringIO()
    handler = logging.StreamHandler(bridged)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(processors=[LunaLineRenderer(as_str=True)])
    )
    bridge_logger = logging.getLogger("test.monitoring")
    bridge_logger.handlers[:] = [handler]
    structlog.configure(
        processors=[structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    structlog.get_logger("test.monitoring").info("queue", luna_event=EVENT)

    texts = [lines(stream)[0], native.getvalue().decode().splitlines()[0], lines(bridged)[0]]
    events = [event_from_line(text) for text in texts]
    assert events[0] == events[1] == events[2] == EVENT
    without_time = [{**orjson.loads(t), "timestamp": None} for t in texts]
    assert without_time[0] == without_time[1] == without_time[2]
    stripped = [text[text.index('"level"') :] for text in texts]
    assert stripped[0] == stripped[1] == stripped[2], "byte-identical after the timestamp"


def test_a_structlog_logger_holding_the_renderer_pickles_and_writes_the_same_line():
    # multiprocessing pickles a bound logger, processors included (structlog supports it)
    logger = structlog.wrap_logger(
        structlog.ReturnLogger(),
        processors=[LunaLineRenderer(service="luna-tasks-worker", logger_name="test.monitoring")],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    ).bind()
    copied = pickle.loads(pickle.dumps(logger))
    original, restored = (
        logger.info("queue", luna_event=EVENT),
        copied.info("queue", luna_event=EVENT),
    )
    assert original[original.index(b'"level"') :] == restored[restored.index(b'"level"') :]
    assert event_from_line(restored).tags["service"] == "luna-tasks-worker"


def test_the_line_writers_and_to_json_line_build_the_same_luna_event_object():
    # layout.event_line builds the payload inline, for speed; jsonline.event_payload too
    for event in (EVENT, Event("requests", 1, {"service": "luna-tasks"}, {"n": 1})):
        line = orjson.loads(event_line(event, 1.0, "INFO", "test", "m", "other-service"))
        assert list(line) == ["luna_event", "timestamp", "level", "logger", "message"]
        payload = orjson.loads(to_json_line(event))["luna_event"]
        expected = {**payload, "tags": {"service": "other-service", **payload["tags"]}}
        assert line["luna_event"] == expected and list(line["luna_event"]) == list(payload)


def test_structlog_ordinary_events_stay_ordinary():
    buffer = io.BytesIO()
    _structlog_native(buffer).info("started", workers=4)
    document = orjson.loads(buffer.getvalue().splitlines()[0])
    assert document["message"] == "started" and document["workers"] == 4
    assert "luna_event" not in document


def test_monitor_time_as_context_manager_and_decorator():
    data = MonitoringData()
    with monitor_time("load_images_for_processing_time", data):
        time.sleep(0.01)
    with monitor_time("load_images_for_processing_time", data):
        time.sleep(0.01)
    assert float(data.fields["load_images_for_processing_time"]) >= 0.02

    @monitor_time("match_time")
    def match() -> int:
        time.sleep(0.005)
        return 3

    @monitor_time("save_result_time")
    async def save() -> str:
        await asyncio.sleep(0.005)
        return "ok"

    with collecting() as current:
        assert request_data() is current
        assert match() == 3
        assert asyncio.run(save()) == "ok"
    assert request_data() is None
    assert float(current.fields["match_time"]) >= 0.005
    assert float(current.fields["save_result_time"]) >= 0.0045  # asyncio may wake early


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.events: list[Event] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(record.__dict__["luna_event"])


def capturing_monitor(service: str) -> tuple[Monitor, Captured]:
    logger = logging.getLogger(f"test.capture.{service}")
    logger.handlers.clear()
    captured = Captured()
    logger.addHandler(captured)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return Monitor(logger, service=service), captured


def test_subtask_helper_emits_execution_final_and_errors():
    monitor, captured = capturing_monitor("luna-tasks-worker")
    with subtask(task_id=1, subtask_id=2, task_type=5, monitor=monitor) as data:
        data.fields["linked_faces"] = 10
        data.fields["status"] = 1

    class TaskFailed(Exception):
        error_code = 27001

    with pytest.raises(TaskFailed), subtask(task_id=1, subtask_id=3, task_type=5, monitor=monitor):
        raise TaskFailed
    names = [e.series for e in captured.events]
    assert names == ["subtask_execution", "subtask_final", "subtask_errors", "subtask_final"]
    assert captured.events[0].fields == {"linked_faces": 10}
    assert captured.events[1].fields["status"] == 1
    assert captured.events[2].tags["error_code"] == 27001
    for event in captured.events:
        validate(event)


def test_estimation_and_usages_helpers():
    monitor, captured = capturing_monitor("luna-remote-sdk")
    with estimation("face_detection", batch_size=4, monitor=monitor) as fields:
        fields["detection_count"] = 3
    with estimation("face_descriptor", batch_size=2, descriptor_version=65, monitor=monitor):
        pass
    usages = Usages()
    usages.add("face_detector", 4)
    usages.add("face_descriptor_extractor_usages", 2)
    usages.emit(monitor)
    usages.emit(monitor)  # nothing counted since: nothing emitted
    detection, descriptor, counters = captured.events
    assert detection.series == "face_detection" and detection.fields["detection_count"] == 3
    assert descriptor.tags["descriptor_version"] == 65
    assert counters.fields == {"face_detector_usages": 4, "face_descriptor_extractor_usages": 2}
    for event in captured.events:
        validate(event)
    # unknown names: raised in strict mode (tests/test_adoption.py covers the default mode)
    monitor.strict = True
    with (
        pytest.raises(ValueError, match="not an estimator"),
        estimation("requests", batch_size=1, monitor=monitor),
    ):
        pass
    with pytest.raises(ValueError, match="no usages counter"):
        usages.add("face_detectr", monitor=monitor)


SEEN: list[Event] = []


def recording_plugin(event: Event) -> None:
    SEEN.append(event)


def test_plugins_are_isolated_bounded_and_never_delay_the_caller(caplog):
    slow_started = threading.Event()
    submitted = threading.Event()
    release = threading.Event()
    submitted_while_slow_was_busy: list[bool] = []
    delivered: list[str] = []

    def slow(event: Event) -> None:
        slow_started.set()
        release.wait(10)  # a submit that waited for this plugin would outlast it
        submitted_while_slow_was_busy.append(submitted.is_set())

    def failing(event: Event) -> None:
        raise RuntimeError("plugin bug")

    async def asynchronous(event: Event) -> None:
        await asyncio.sleep(0)
        delivered.append(event.series)

    runner = PluginRunner({"slow": slow, "failing": failing, "async": asynchronous}, queue_size=5)
    for _ in range(20):
        runner.submit(EVENT)
    submitted.set()
    assert slow_started.wait(10)
    release.set()
    runner.close()
    assert submitted_while_slow_was_busy[0], "submitting must not wait for plugins"
    stats = runner.stats
    # each queue holds 5: the slow plugin kept 5 (and maybe one it had already taken)
    assert stats["slow"].delivered in (5, 6)
    assert stats["slow"].delivered + stats["slow"].dropped == 20
    assert stats["failing"].failed >= 5 and stats["failing"].delivered == 0
    assert stats["failing"].failed + stats["failing"].dropped == 20
    assert stats["async"].delivered >= 5 and stats["async"].failed == 0
    assert stats["async"].delivered + stats["async"].dropped == 20
    assert delivered == [EVENT.series] * stats["async"].delivered
    assert "plugin failing failed" in caplog.text


def test_plugins_load_by_name_and_monitor_hands_them_every_event():
    plugins = load_plugins(["tests.test_emit:recording_plugin"])
    runner = PluginRunner(plugins)
    monitor, captured = capturing_monitor("luna-tasks-worker")
    monitor.plugins = runner
    SEEN.clear()
    monitor.emit(EVENT)
    runner.close()
    assert SEEN == [EVENT] and captured.events == [EVENT]
    with pytest.raises(UsageError, match="no monitoring plugin"):
        load_plugins(["not-registered"])


def test_plugins_load_from_entry_points(monkeypatch: pytest.MonkeyPatch):
    from importlib.metadata import EntryPoint

    import luna_events.plugins as plugins_module

    registered = [
        EntryPoint("recorder", "tests.test_emit:recording_plugin", plugins_module.ENTRY_POINT_GROUP)
    ]
    monkeypatch.setattr(plugins_module, "entry_points", lambda group: registered)
    loaded = load_plugins(["recorder"])
    assert loaded == {"recorder": recording_plugin}
