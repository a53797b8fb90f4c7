"""Edges of the emitting side: values orjson refuses, the structlog bridge, set-up
lifecycles, plugin isolation, shared timers, config mistakes."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import structlog

from luna_events import series
from luna_events.event import Event
from luna_events.guard import problem_counts, reset_problem_counts
from luna_events.helpers.tasks import subtask
from luna_events.jsonline import LineKind, event_from_line, parse_line
from luna_events.logs.setup import configure_logging
from luna_events.logs.structlog_processors import LunaLineRenderer
from luna_events.monitor import get_monitor
from luna_events.plugins import PluginRunner
from luna_events.ship.config import ConfigError, load
from luna_events.timing import MonitoringData, monitor_time

from .test_emit import EVENT, capturing_monitor, lines, stdlib_logger


def test_values_orjson_refuses_still_give_one_line_that_the_shipper_can_judge():
    stream = io.StringIO()
    logger = stdlib_logger(stream)
    huge = Event(
        "worker_queue",
        1,
        {"task_id": 1, "subtask_id": 2, "task_type": 3},
        {"transport_time": 2**64},
    )
    logger.info("queue", extra=huge.extra())
    logger.info("file %s", "bad\udcffname")
    logger.info("n", extra={"n": 2**70})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3, "no record lost"
    assert parse_line(lines[0]).kind is LineKind.EVENT  # parsed by the json fallback
    # written exactly, as a JSON number (orjson would read it back as a float)
    assert f'"n":{2**70}' in lines[2] and json.loads(lines[2])["n"] == 2**70


def test_a_nan_anywhere_in_the_event_is_written_as_nan_never_null():
    nan, inf = float("nan"), float("inf")
    tags: dict[str, Any] = {"task_id": 1, "subtask_id": 2, "task_type": 3}
    stream = io.StringIO()
    logger = stdlib_logger(stream)
    for event in (
        Event("worker_queue", nan, tags, {"transport_time": 0.5}),  # type: ignore[arg-type]
        Event(inf, 1, tags, {"transport_time": 0.5}),  # type: ignore[arg-type]
        Event("worker_queue", 1, {**tags, "hosts": [nan]}, {"transport_time": 0.5}),  # type: ignore[dict-item]
        Event("worker_queue", 1, tags, {"transport_time": {"p99": -inf}}),  # type: ignore[dict-item]
    ):
        logger.info("queue", extra=event.extra())
    written = lines(stream)
    assert len(written) == 4
    for line in written:
        assert "null" not in line
        assert [p.code for p in parse_line(line).problems] == ["not_finite"], line
    # and an event whose fields are not a dict (null in the line) is still written
    logger.info("queue", extra=Event("worker_queue", 1, tags, None).extra())  # type: ignore[arg-type]
    assert [p.code for p in parse_line(lines(stream)[4]).problems] == ["bad_envelope"]


def test_a_stdlib_record_through_processorformatter_keeps_its_event_and_traceback():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(processors=[LunaLineRenderer(as_str=True)])
    )
    logger = logging.getLogger("test.bridge")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.info("queue", extra=EVENT.extra(host="h1"))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed", extra=EVENT.extra())
    first, second = stream.getvalue().splitlines()
    assert event_from_line(first) == EVENT and orjson.loads(first)["host"] == "h1"
    assert "RuntimeError: boom" in orjson.loads(second)["exc_info"]


def test_structlog_exception_writes_the_traceback():
    buffer = io.BytesIO()
    structlog.configure(
        processors=[LunaLineRenderer()],
        logger_factory=structlog.BytesLoggerFactory(buffer),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )
    try:
        raise ValueError("bad value")
    except ValueError:
        structlog.get_logger().exception("failed", luna_event=EVENT)
    document = orjson.loads(buffer.getvalue().splitlines()[0])
    assert "ValueError: bad value" in document["exc_info"]
    assert document["luna_event"]["series"] == "worker_queue"


def test_structlog_native_path_reports_and_drops_what_it_cannot_write_never_raises():
    reset_problem_counts()
    buffer = io.BytesIO()
    structlog.configure(
        processors=[LunaLineRenderer(service="luna-tasks-worker")],
        logger_factory=structlog.BytesLoggerFactory(buffer),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )
    log = structlog.get_logger()
    untagged = Event("worker_queue", 1, None, {})  # type: ignore[arg-type]
    log.info("queue", luna_event=untagged)  # the one-call path: tags that are not a dict
    log.info("queue", luna_event=EVENT, mapping={(1, 2): "x"})  # a key JSON cannot hold
    log.info("started", mapping={(1, 2): "x"})
    log.info("queue", luna_event=EVENT)
    assert [event_from_line(line) for line in buffer.getvalue().splitlines()] == [EVENT]
    counts = problem_counts()
    assert counts[("write", "worker_queue", "TypeError")] == 2
    assert counts[("write", "(ordinary line)", "TypeError")] == 1


def test_a_luna_event_that_is_not_an_event_is_written_and_reported_on_every_path():
    reset_problem_counts()
    payload = {"v": 1, "series": "worker_queue", "time": 1, "tags": {}, "fields": {}}
    stream = io.StringIO()
    stdlib_logger(stream).info("queue", extra={"luna_event": payload})
    buffer = io.BytesIO()
    structlog.configure(
        processors=[LunaLineRenderer(logger_name="test.monitoring")],
        logger_factory=structlog.BytesLoggerFactory(buffer),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )
    structlog.get_logger().info("queue", luna_event=payload)
    written = [lines(stream)[0], buffer.getvalue().decode().rstrip("\n")]
    # the same line on both paths (after the timestamp), so the shipper judges it
    assert [line[line.index('"level"') :] for line in written] == [
        '"level":"INFO","logger":"test.monitoring","message":"queue","luna_event":'
        + orjson.dumps(payload).decode()
        + "}"
    ] * 2
    assert problem_counts()[("check", "dict", "luna_event wrong_type")] == 1


def test_two_setups_close_independently_and_restore_the_monitor(tmp_path: Path):
    before = get_monitor()
    first = configure_logging(service="luna-tasks", path=tmp_path / "a.log", logger="test.twice")
    second = configure_logging(service="luna-tasks", path=tmp_path / "b.log", logger="test.twice")
    first.close()
    assert get_monitor() is second.monitor
    second.monitor.emit(
        series.requests(
            service="luna-tasks",
            route="GET:/x",
            status_code=200,
            request_id="r",
            execution_time=0.1,
        )
    )
    second.close()
    assert get_monitor() is before
    assert len((tmp_path / "b.log").read_text().splitlines()) == 1


def test_set_ups_share_one_exit_handler_that_flushes_what_is_left_open(tmp_path: Path):
    closed, left_open = tmp_path / "closed.jsonl", tmp_path / "open.jsonl"
    program = f"""
import atexit, logging
from luna_events import configure_logging
before = atexit._ncallbacks()
for _ in range(50):
    configure_logging(service="luna-tasks", path={str(closed)!r}).close()
configure_logging(service="luna-tasks", path={str(left_open)!r})
logging.getLogger("luna.monitoring").info("queued, never closed")
print(atexit._ncallbacks() - before)
"""
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "0", "no exit handler per set-up"
    assert "queued, never closed" in left_open.read_text(encoding="utf-8")


def test_a_plugin_raising_cancelled_error_keeps_its_thread_and_cannot_change_the_event():
    seen: list[Event] = []

    async def cancelling(event: Event) -> None:
        raise asyncio.CancelledError

    def mutating(event: Event) -> None:
        event.tags["service"] = "changed"
        seen.append(event)

    runner = PluginRunner({"cancelling": cancelling, "mutating": mutating})
    monitor, captured = capturing_monitor("luna-tasks-worker")
    monitor.plugins = runner
    for _ in range(3):
        monitor.emit(EVENT)
    runner.close()
    assert runner.stats["cancelling"].failed == 3 and runner.stats["cancelling"].dropped == 0
    assert len(seen) == 3 and all(e.tags["service"] == "luna-tasks-worker" for e in captured.events)


def test_one_timer_shared_by_overlapping_tasks_times_each_of_them():
    timer = monitor_time("execution_time")

    async def job(seconds: float, later: float) -> tuple[float, float]:
        """(what the timer measured, the time around it) for a job starting ``later``."""
        await asyncio.sleep(later)
        data = MonitoringData()
        timer.data = None
        with monitor_time("execution_time", data):
            pass
        from luna_events.timing import collecting

        around = time.perf_counter()
        with collecting(data), timer:
            await asyncio.sleep(seconds)
        return float(data.fields["execution_time"]), time.perf_counter() - around

    async def both() -> list[tuple[float, float]]:
        # the short job starts while the long one runs, and ends first
        return list(await asyncio.gather(job(0.3, 0), job(0.1, 0.1)))

    for (measured, around), slept in zip(asyncio.run(both()), (0.3, 0.1), strict=True):
        # each job's own interval, within the time around it; asyncio may wake a sleeper
        # up to a millisecond early, and 90 % of its sleep still tells 0.3 s from 0.1 s
        assert slept * 0.9 <= measured <= round(around, 9) + 1e-9, (measured, slept, around)


def test_generators_cannot_be_timed_by_decoration():
    with pytest.raises(TypeError, match="cannot time the generator"):

        @monitor_time("x")
        def numbers():
            yield 1


def test_a_subtask_keeps_its_own_exception_whatever_its_tags():
    monitor, captured = capturing_monitor("luna-tasks-worker")

    class Boom(Exception):
        pass

    with (
        pytest.raises(Boom),
        subtask(task_id=1, subtask_id=2, task_type=3, monitor=monitor) as data,
    ):
        data.tags["service"] = "oops"
        data.fields["linked_faces"] = 1
        raise Boom
    assert [e.series for e in captured.events] == [
        "subtask_errors",
        "subtask_execution",
        "subtask_final",
    ]


def test_config_mistakes_are_clear_errors_not_tracebacks(tmp_path: Path):
    bad = tmp_path / "ship.toml"
    bad.write_text("[batch]\nmax_event = 10\n")
    with pytest.raises(
        ConfigError,
        match=r'^batch.max_event = 10: not a key of \[batch\]; did you mean "max_events"',
    ):
        load(bad, environ={})
    bad.write_text("data_dir = 5\n")
    with pytest.raises(ConfigError):
        load(bad, environ={})
    with pytest.raises(ConfigError, match=r'^LUNA_MONITORING_FLUSHING_PERIOD = "soon" .*a number'):
        load(None, environ={"LUNA_MONITORING_FLUSHING_PERIOD": "soon"})
    bad.write_text("[batch]\nmax_event = 10\n")
    result = subprocess.run(
        [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(bad), "--once"],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert b"batch.max_event = 10: not a key" in result.stderr
