"""Mistakes caught where they are made (strict mode), and never raised otherwise."""

from __future__ import annotations

import asyncio
import io
import logging
import math
from collections.abc import Callable

import pytest

from luna_events import series
from luna_events.checking import merge_extras
from luna_events.errors import InvalidEvent, UsageError, UsageTypeError
from luna_events.event import Event, route
from luna_events.guard import problem_counts, reset_problem_counts
from luna_events.jsonline import parse_line
from luna_events.logs.setup import configure_logging
from luna_events.monitor import Monitor, emit
from luna_events.timing import MonitoringData, monitor_time

BAD = Event("worker_queue", 1, {"task_id": "seven", "subtask_id": 1}, {"transport_time": math.nan})


def valid() -> Event:
    return series.worker_queue(task_id=7, subtask_id=1, task_type=5, transport_time=0.5)


@pytest.fixture(autouse=True)
def fresh_counts() -> None:
    reset_problem_counts()


def test_strict_mode_raises_every_problem_at_the_call(monkeypatch: pytest.MonkeyPatch):
    stream = io.StringIO()
    setup = configure_logging(service="luna-tasks-worker", stream=stream, strict=True)
    try:
        with pytest.raises(InvalidEvent) as raised:
            setup.logger.info("queue", extra=BAD.extra())
        codes = {(p.path, p.code) for p in raised.value.problems}
        assert codes == {
            ("tags.task_id", "wrong_type"),
            ("tags.task_type", "missing_tag"),
            ("fields.transport_time", "not_finite"),
        }
        with pytest.raises(InvalidEvent):
            emit(BAD)
        with pytest.raises(InvalidEvent, match="expected an Event"):
            emit({"series": "requests"})  # type: ignore[arg-type]
        emit(valid())  # the service tag comes from configure_logging
        setup.logger.info("queue", extra=valid().extra())
        setup.logger.info("an ordinary line")
    finally:
        setup.close()
    kinds = [parse_line(line).kind.name for line in stream.getvalue().splitlines()]
    assert kinds == ["EVENT", "EVENT", "ORDINARY"], "invalid events were not written"

    monkeypatch.setenv("LUNA_EVENTS_STRICT", "1")
    setup = configure_logging(service="luna-tasks-worker", stream=io.StringIO())
    try:
        assert setup.monitor.strict
        with pytest.raises(InvalidEvent):
            emit(BAD)
    finally:
        setup.close()
    assert not setup.logger.filters, "close removes the strict filter"


def test_default_mode_writes_as_given_and_warns_once_per_series_and_problem(
    caplog: pytest.LogCaptureFixture,
):
    stream = io.StringIO()
    setup = configure_logging(service="luna-tasks-worker", stream=stream)
    try:
        assert not setup.monitor.strict
        for _ in range(3):
            emit(BAD)
            setup.logger.info("queue", extra=BAD.extra())
        emit(valid())
    finally:
        setup.close()
    assert len(stream.getvalue().splitlines()) == 7, "written as given: the shipper dead-letters"
    warnings = [r.getMessage() for r in caplog.records if r.name == "luna_events.guard"]
    assert len(warnings) == 3, warnings  # one per (series, problem)
    assert all("worker_queue" in w for w in warnings)
    counts = problem_counts()
    assert counts[("check", "worker_queue", "tags.task_id wrong_type")] == 6
    assert counts[("check", "worker_queue", "fields.transport_time not_finite")] == 6


def test_emit_never_raises_in_the_default_mode(caplog: pytest.LogCaptureFixture):
    logger = logging.getLogger("test.checking.broken")
    logger.handlers[:] = [logging.NullHandler()]
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def broken(record: logging.LogRecord) -> bool:
        raise RuntimeError("a broken filter")

    logger.addFilter(broken)
    monitor = Monitor(logger, strict=False)
    monitor.emit(valid())
    monitor.emit(valid())
    monitor.emit(None)  # type: ignore[arg-type]
    assert problem_counts()[("emit", "worker_queue", "RuntimeError")] == 2
    assert "a broken filter" in caplog.text


def test_route_refuses_what_is_not_an_http_method():
    assert route("get", "tasks/{id}") == "GET:/tasks/{id}"
    assert route("PROPFIND", "/dav") == "PROPFIND:/dav"
    with pytest.raises(UsageError, match=r"swapped: route\('GET', '/version'\)"):
        route("/version", "GET")
    with pytest.raises(UsageError, match="not an HTTP method"):
        route("FETCH", "/x")


def test_monitor_time_refuses_swapped_arguments_and_never_raises_on_exit():
    data = MonitoringData()
    with pytest.raises(
        UsageTypeError, match=r"swapped; write monitor_time\('save_result_time', data\)"
    ):
        monitor_time(data, "save_result_time")  # type: ignore[arg-type]
    with pytest.raises(UsageTypeError, match="must be a MonitoringData"):
        monitor_time("save_result_time", {"fields": {}})  # type: ignore[arg-type]
    data.fields["save_result_time"] = "slow"
    with monitor_time("save_result_time", data):
        pass
    assert isinstance(data.fields["save_result_time"], float)
    timer = monitor_time("save_result_time", data)
    timer.__exit__(None, None, None)  # never entered: reported, not raised
    assert ("timing", "save_result_time", "KeyError") in problem_counts()


def test_extras_fill_catalogued_keys_when_they_fit_and_are_left_out_otherwise():
    request = series.requests(
        service="luna-api", route="GET:/x", status_code=200, request_id="r", execution_time=0.1
    )
    merge_extras(
        request,
        {"account_id": "acc", "status_code": 500, "zone": object()},
        {"download_images_time": 1, "ratio": math.inf, "note": "fine"},
        where="http",
    )
    assert request.tags == {
        "service": "luna-api",
        "route": "GET:/x",
        "status_code": 200,
        "account_id": "acc",
    }
    assert request.fields == {
        "request_id": "r",
        "execution_time": 0.1,
        "download_images_time": 1,
        "note": "fine",
    }
    assert set(problem_counts()) == {
        ("http", "requests", "tags.status_code taken"),
        ("http", "requests", "tags.zone wrong_type"),
        ("http", "requests", "fields.ratio not_finite"),
    }
    wrong = series.requests(
        service="luna-api", route="GET:/x", status_code=200, request_id="r", execution_time=0.1
    )
    merge_extras(wrong, {"account_id": 5}, None, where="http")
    assert "account_id" not in wrong.tags, "a catalogued str tag does not take an int"


def test_strict_mode_reaches_through_the_middleware():
    from luna_events.http.wsgi import MonitoringMiddleware

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def start_response(*args: object) -> Callable[[bytes], object]:
        return lambda chunk: None

    environ = {"REQUEST_METHOD": "GET", "luna_events.route": "/version"}
    strict = MonitoringMiddleware(app, monitor=Monitor(strict=True), service="luna-nope")
    body = strict(environ, start_response)
    assert list(body) == [b"ok"]
    with pytest.raises(InvalidEvent, match="'luna-nope' is not one of"):
        body.close()  # type: ignore[attr-defined]
    lenient = MonitoringMiddleware(app, monitor=Monitor(strict=False), service="luna-nope")
    body = lenient(environ, start_response)
    assert list(body) == [b"ok"]
    body.close()  # type: ignore[attr-defined]  # written as given, warned by the handler


def test_strict_processor_for_structlogs_native_path():
    import structlog

    from luna_events.checking import StrictProcessor
    from luna_events.logs.structlog_processors import LunaLineRenderer

    buffer = io.BytesIO()
    structlog.configure(
        processors=[
            StrictProcessor("luna-tasks-worker"),
            LunaLineRenderer(service="luna-tasks-worker"),
        ],
        logger_factory=structlog.BytesLoggerFactory(buffer),
        cache_logger_on_first_use=False,
    )
    try:
        logger = structlog.get_logger()
        with pytest.raises(InvalidEvent, match=r"fields\.transport_time"):
            logger.info("queue", luna_event=BAD)
        logger.info("queue", luna_event=valid())
        logger.info("an ordinary line")
    finally:
        structlog.reset_defaults()
    assert len(buffer.getvalue().splitlines()) == 2


def test_a_broken_handler_in_strict_mode_is_reported_not_raised(caplog: pytest.LogCaptureFixture):
    """Strict mode raises InvalidEvent for invalid events; any other failure of the
    logging path (a handler that raises) is reported, as in the default mode."""
    logger = logging.getLogger("test.checking.broken_strict")
    logger.setLevel(logging.INFO)
    logger.propagate = False

    class Raising(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise RuntimeError("a handler bug")

    logger.handlers[:] = [Raising()]
    monitor = Monitor(logger, strict=True)
    monitor.emit(valid())
    assert problem_counts()[("emit", "worker_queue", "RuntimeError")] == 1
    with pytest.raises(InvalidEvent):
        monitor.emit(BAD)


def test_extras_that_are_not_mappings_leave_the_event_whole():
    event = merge_extras(valid(), ["account_id"], "not a mapping", where="http")  # type: ignore[arg-type]
    assert (event.tags, event.fields) == (valid().tags, valid().fields)
    assert problem_counts()[("http", "worker_queue", "tags wrong_type")] == 1
    assert problem_counts()[("http", "worker_queue", "fields wrong_type")] == 1
    with pytest.raises(InvalidEvent):
        merge_extras(valid(), ["account_id"], None, where="http", strict=True)  # type: ignore[arg-type]


def test_warnings_stay_bounded_when_problem_kinds_are_unbounded(
    caplog: pytest.LogCaptureFixture,
):
    """A key built from request data gives a new kind of problem per request: the
    kinds kept (and warnings logged) are capped, the overflow counted under one kind."""
    from luna_events.guard import MAX_KINDS, report

    caplog.set_level(logging.WARNING, logger="luna_events.guard")
    extra = MAX_KINDS * 3
    for index in range(extra):
        report("http", "requests", f"tags.image_{index} wrong_type", "expected str")
    counts = problem_counts()
    assert len(counts) <= MAX_KINDS + 1
    assert sum(counts.values()) == extra
    warnings = [r for r in caplog.records if r.name == "luna_events.guard"]
    assert len(warnings) <= MAX_KINDS + 1


class AppBug(Exception):
    """The application's own failure."""


def test_strict_mode_never_replaces_the_apps_own_exception():
    """In strict mode a handler or task that raises keeps its own exception; the
    monitoring problems are a note on it (they replaced it with InvalidEvent before)."""
    from aiohttp.test_utils import make_mocked_request
    from aiohttp.web import HTTPNotFound
    from aiohttp.web_urldispatcher import MatchInfoError

    from luna_events.helpers.tasks import subtask
    from luna_events.http.aiohttp import monitoring_middleware
    from luna_events.http.asgi import MonitoringMiddleware as AsgiMiddleware
    from luna_events.http.wsgi import MonitoringMiddleware as WsgiMiddleware
    from luna_events.timing import request_data

    def spoil() -> None:
        data = request_data()
        assert data is not None
        data.fields["load_images_for_processing_time"] = math.nan

    async def asgi_app(scope: object, receive: object, send: object) -> None:
        spoil()
        raise AppBug("asgi")

    async def aiohttp_handler(request: object) -> object:
        spoil()
        raise AppBug("aiohttp")

    def wsgi_app(environ: object, start_response: object) -> list[bytes]:
        spoil()
        raise AppBug("wsgi")

    monitor = Monitor(strict=True)
    scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
    asgi = AsgiMiddleware(asgi_app, monitor=monitor, service="luna-tasks")
    aio = monitoring_middleware(monitor=monitor, service="luna-tasks")
    wsgi = WsgiMiddleware(wsgi_app, monitor=monitor, service="luna-tasks")
    failures = []
    with pytest.raises(AppBug) as raised:
        asyncio.run(asgi(scope, None, None))  # type: ignore[arg-type]
    failures.append(raised.value)
    request = make_mocked_request("GET", "/x")
    request._match_info = MatchInfoError(HTTPNotFound())  # no route: a resource of None
    with pytest.raises(AppBug) as raised:
        asyncio.run(aio(request, aiohttp_handler))  # type: ignore[arg-type]
    failures.append(raised.value)
    with pytest.raises(AppBug) as raised:
        wsgi({"REQUEST_METHOD": "GET"}, lambda *args: None)  # type: ignore[arg-type]
    failures.append(raised.value)
    with (
        pytest.raises(AppBug) as raised,
        subtask(task_id=7, subtask_id=1, task_type=5, monitor=monitor) as data,
    ):
        data.fields["linked_faces"] = "many"
        raise AppBug("task")
    failures.append(raised.value)
    assert [str(f) for f in failures] == ["asgi", "aiohttp", "wsgi", "task"]
    for failure in failures:
        notes = getattr(failure, "__notes__", [])
        assert len(notes) == 1 and "strict mode" in notes[0], notes
    assert "linked_faces" in failures[-1].__notes__[0]
    assert "load_images_for_processing_time" in failures[0].__notes__[0]


@pytest.mark.parametrize("use_queue", [False, True], ids=["direct", "queued"])
def test_a_record_the_handler_cannot_write_is_reported_once_not_a_traceback_each(
    use_queue: bool, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
):
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError("no text")

    stream = io.StringIO()
    setup = configure_logging(service="luna-tasks-worker", stream=stream, use_queue=use_queue)
    try:
        for _ in range(3):
            # a logging extra is written as its str (inside the event such a value is
            # written {"unencodable": "Unprintable"}, never through str: test_unencodable.py)
            logging.getLogger("luna.monitoring").info(
                "worker_queue",
                extra={"luna_event": valid(), "luna_context": {"detail": Unprintable()}},
            )
        emit(valid())
    finally:
        setup.close()
    assert "Logging error" not in capsys.readouterr().err
    assert problem_counts()[("write", "worker_queue", "RuntimeError")] == 3
    written = [
        r for r in caplog.records if r.name == "luna_events.guard" and "in write" in r.getMessage()
    ]
    assert len(written) == 1
    assert [parse_line(line).kind.name for line in stream.getvalue().splitlines()] == ["EVENT"]


def test_strict_mode_lists_the_events_own_problems_beside_the_extras():
    """Every problem at once: a refused extra and the event's own mistake (a service
    outside the catalog) are raised together, not one per run."""
    event = series.worker_queue(task_id=7, subtask_id=1, task_type=5, transport_time=0.5)
    event.tags["service"] = "luna-nope"
    with pytest.raises(InvalidEvent) as raised:
        merge_extras(event, None, {"load_time": math.nan}, where="tasks", strict=True)
    assert {(p.path, p.code) for p in raised.value.problems} == {
        ("fields.load_time", "not_finite"),
        ("tags.service", "not_allowed"),
    }


def test_a_plugin_failing_on_every_event_is_logged_once_then_counted(
    caplog: pytest.LogCaptureFixture,
):
    from luna_events.plugins import PluginRunner

    def failing(event: Event) -> None:
        raise RuntimeError("plugin bug")

    caplog.set_level(logging.WARNING)
    runner = PluginRunner({"failing": failing})
    for _ in range(50):
        runner.submit(valid())
    runner.close()
    assert runner.stats["failing"].failed == 50
    assert problem_counts()[("plugin failing", "worker_queue", "RuntimeError")] == 50
    told = [r for r in caplog.records if "plugin bug" in r.getMessage() or r.exc_info]
    assert 1 <= len(told) <= 2, [r.getMessage() for r in told]
