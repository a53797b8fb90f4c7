"""A small realistic service per framework, doing every documented thing and bad things.

FastAPI under uvicorn, aiohttp's server, Flask under wsgiref and Sanic under its test
client serve the same handlers. The handlers use request data, timers, the task and
SDK helpers, ``emit`` and plain ``logger.info`` as docs/instrumenting.md shows, and
also misuse them: catalogued names as extras with wrong types, NaN, objects, ints
beyond 64 bits, unknown series and estimators, a failing subtask. Every request must
get the response its handler meant; after ``luna-events ship --once`` the real
InfluxDB must hold exactly the valid events, and the dead-letter file exactly the
invalid ones the handlers wrote on purpose.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from luna_events import emit, monitor_time, request_data, series
from luna_events.event import Event, now_ns
from luna_events.guard import problem_counts, reset_problem_counts
from luna_events.helpers.sdk import Usages, estimation
from luna_events.helpers.tasks import subtask, worker_queue
from luna_events.localservers import InfluxDB1, free_port
from luna_events.logs.setup import configure_logging
from tests.test_compat import ship_once
from tests.test_http import uvicorn_server, wsgi_server

pytestmark = pytest.mark.server

SERVICE = "luna-remote-sdk"
ERROR_BODY = {"error_code": 12002, "desc": "Bad/incomplete input data"}
log = logging.getLogger("luna.monitoring")


class TaskFailed(Exception):
    error_code = 27001


SEEN_BY_PLUGIN: Counter[str] = Counter()


def counting_plugin(event: Event) -> None:
    """A documented plugin: sees every event emitted through ``emit`` and the helpers."""
    SEEN_BY_PLUGIN[event.series] += 1


@monitor_time("load_images_for_processing_time")
def load_images() -> int:
    """Documented: ``monitor_time`` as a decorator, into the current request."""
    return 2


# ---- what the handlers do, the same in every framework ---------------------------


def tasks_handler(task_id: int) -> dict[str, Any]:
    """Documented: a timer into the request, a catalogued extra tag, an extra field,
    and a subtask whose own exception reaches the handler untouched."""
    with monitor_time("load_images_for_processing_time"):
        pass
    data = request_data()
    assert data is not None
    data.tags["account_id"] = "acc-1"  # catalogued on `requests`: fills account_id
    data.fields["cache_hits"] = 3
    raised = TaskFailed()
    try:
        with subtask(task_id=task_id, subtask_id=1, task_type=5):
            raise raised
    except TaskFailed as caught:
        assert caught is raised
    return {"task_id": task_id}


def sdk_handler() -> dict[str, Any]:
    """Documented: a timed function, estimator timing and usages, a subtask with a
    timer, worker transport, ``emit`` and plain ``logger.info``."""
    images = load_images()
    with estimation("face_detection", batch_size=images) as fields:
        fields["detection_count"] = 3
    usages = Usages()
    usages.add("face_detector", 2)
    usages.emit()
    with subtask(task_id=7, subtask_id=2, task_type=5) as data:
        with monitor_time("save_result_time", data):
            pass
        data.fields["linked_faces"] = 4
    worker_queue(task_id=7, subtask_id=2, task_type=5, received_at=0.0)
    event = series.worker_requests(task_id=7, subtask_id=2, transport_time=0.25)
    log.info("worker request", extra=event.extra())
    return {"ok": True}


def bad_handler() -> dict[str, Any]:
    """Misuse: none of it may change the response; three invalid events are written
    on purpose (and must be dead-lettered), the rest is left out and reported."""
    data = request_data()
    assert data is not None
    data.tags["account_id"] = object()  # type: ignore[assignment]  # catalogued tag, wrong type: left out
    data.tags["status_code"] = "999"  # set by the middleware: kept as measured
    data.tags["huge"] = 2**70  # beyond int64: left out
    data.fields["ratio"] = math.nan  # NaN: left out
    data.fields["thing"] = object()  # type: ignore[assignment]  # an object: left out
    data.fields["kept"] = 2  # fine: an additional number, written as a float
    data.fields["load_images_for_processing_time"] = "slow"  # replaced by the timing
    data.error_code = "oops"  # type: ignore[assignment]
    with monitor_time("load_images_for_processing_time"):
        pass
    emit(object())  # type: ignore[arg-type]  # not an event: reported, nothing written
    emit(Event("no_such_series", now_ns(), {"service": SERVICE}, {"x": 1.0}))  # dead letter 1
    emit(series.worker_queue(task_id="seven", subtask_id=1, task_type=5, transport_time=0.1))  # type: ignore[arg-type]  # dead letter 2
    nan = series.requests(
        service=SERVICE, route="GET:/x", status_code=200, request_id="r", execution_time=math.nan
    )
    log.info("nan", extra=nan.extra())  # dead letter 3
    with estimation("no_such_estimator", batch_size=1):  # reported, nothing emitted
        pass
    Usages().add("bogus_counter")  # reported, not counted
    with subtask(task_id=8, subtask_id=3, task_type=5) as task_data:
        task_data.fields["status"] = "done"  # wrong type: left out of subtask_final
        task_data.fields["linked_faces"] = "many"  # wrong type: no subtask_execution
    return {"ok": True}


def boom_handler() -> None:
    raise RuntimeError("the handler's own bug")


# (method, path, expected status, expected JSON body or None)
REQUESTS: list[tuple[str, str, int, Any]] = [
    ("GET", "/version", 200, {"version": "5.0"}),
    ("GET", "/tasks/5", 200, {"task_id": 5}),
    ("POST", "/sdk", 200, {"ok": True}),
    ("GET", "/fail", 400, ERROR_BODY),
    ("GET", "/boom", 500, None),
    ("GET", "/bad", 200, {"ok": True}),
    ("GET", "/no/such/path", 404, None),
]

EXPECTED = Counter(
    requests=7,
    errors=3,  # /fail, /boom, the 404
    face_detection=1,
    usages_statistic=1,
    subtask_execution=1,
    subtask_final=3,  # /tasks, /sdk, /bad
    subtask_errors=1,
    worker_queue=1,
    worker_requests=1,
)
DEAD_LETTERS = 3


# ---- the same service in four frameworks ------------------------------------------


def fastapi_app() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from luna_events.http.asgi import MonitoringMiddleware

    app = FastAPI()
    app.add_middleware(MonitoringMiddleware)
    app.get("/version")(lambda: {"version": "5.0"})

    @app.get("/tasks/{task_id}")
    def tasks(task_id: int) -> dict[str, Any]:
        return tasks_handler(task_id)

    app.post("/sdk")(sdk_handler)
    app.get("/fail")(lambda: JSONResponse(ERROR_BODY, status_code=400))
    app.get("/boom")(boom_handler)
    app.get("/bad")(bad_handler)
    return app


def flask_app() -> Any:
    from flask import Flask

    from luna_events.http.wsgi import monitor_flask

    app = Flask("adoption")
    app.get("/version", endpoint="version")(lambda: {"version": "5.0"})
    app.get("/tasks/<int:task_id>")(tasks_handler)
    app.post("/sdk")(sdk_handler)
    app.get("/fail", endpoint="fail")(lambda: (ERROR_BODY, 400))
    app.get("/boom")(boom_handler)  # type: ignore[type-var]
    app.get("/bad")(bad_handler)
    monitor_flask(app)
    return app


def hit(base_url: str) -> list[httpx.Response]:
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base_url, timeout=30, limits=no_keepalive) as client:
        return [client.request(method, path) for method, path, *_ in REQUESTS]


@contextmanager
def serve_fastapi() -> Iterator[Callable[[], list[Any]]]:
    with uvicorn_server(fastapi_app()) as url:
        yield lambda: hit(url)


@contextmanager
def serve_flask() -> Iterator[Callable[[], list[Any]]]:
    with wsgi_server(flask_app()) as url:
        yield lambda: hit(url)


@contextmanager
def serve_aiohttp() -> Iterator[Callable[[], list[Any]]]:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from luna_events.http.aiohttp import monitoring_middleware

    def handler(work: Callable[..., Any]) -> Any:
        async def handle(request: web.Request) -> web.Response:
            args = [int(v) for v in request.match_info.values()]
            return web.json_response(work(*args))

        return handle

    async def fail(request: web.Request) -> web.Response:
        return web.json_response(ERROR_BODY, status=400)

    async def run() -> list[httpx.Response]:
        app = web.Application(middlewares=[monitoring_middleware()])
        app.router.add_get("/version", handler(lambda: {"version": "5.0"}))
        app.router.add_get(r"/tasks/{task_id:\d+}", handler(tasks_handler))
        app.router.add_post("/sdk", handler(sdk_handler))
        app.router.add_get("/fail", fail)
        app.router.add_get("/boom", handler(boom_handler))
        app.router.add_get("/bad", handler(bad_handler))
        server = TestServer(app, host="127.0.0.1", port=free_port())
        await server.start_server()
        try:
            return await asyncio.to_thread(hit, str(server.make_url("")).rstrip("/"))
        finally:
            await server.close()

    yield lambda: asyncio.run(run())


@contextmanager
def serve_sanic() -> Iterator[Callable[[], list[Any]]]:
    from sanic import Sanic, response
    from sanic_testing.testing import SanicTestClient  # type: ignore[import-untyped]

    from luna_events.http.sanic import monitor_sanic

    app = Sanic(f"adoption_{free_port()}")

    def handler(work: Callable[..., Any]) -> Any:
        async def handle(request: Any, **params: str) -> Any:
            return response.json(work(*(int(v) for v in params.values())))

        return handle

    async def fail(request: Any) -> Any:
        return response.json(ERROR_BODY, status=400)

    app.add_route(handler(lambda: {"version": "5.0"}), "/version", methods=["GET"], name="version")
    app.add_route(handler(tasks_handler), "/tasks/<task_id:int>", methods=["GET"], name="tasks")
    app.add_route(handler(sdk_handler), "/sdk", methods=["POST"], name="sdk")
    app.add_route(fail, "/fail", methods=["GET"], name="fail")
    app.add_route(handler(boom_handler), "/boom", methods=["GET"], name="boom")
    app.add_route(handler(bad_handler), "/bad", methods=["GET"], name="bad")
    monitor_sanic(app)
    client = SanicTestClient(app, port=free_port())

    def run() -> list[Any]:
        return [
            client.request(path, http_method=method.lower())[1] for method, path, *_ in REQUESTS
        ]

    yield run


FRAMEWORKS = {
    "fastapi": serve_fastapi,
    "aiohttp": serve_aiohttp,
    "flask": serve_flask,
    "sanic": serve_sanic,
}


@pytest.mark.parametrize("framework", list(FRAMEWORKS))
def test_every_request_answers_as_meant_and_every_valid_event_arrives(
    framework: str, tmp_path: Path, influxdb: InfluxDB1, database: str
):
    logs = tmp_path / "logs"
    logs.mkdir()
    reset_problem_counts()
    SEEN_BY_PLUGIN.clear()
    setup = configure_logging(
        service=SERVICE,
        path=logs / f"{framework}.jsonl",
        strict=False,
        plugins=["tests.test_adoption:counting_plugin"],
    )
    try:
        with FRAMEWORKS[framework]() as run:
            responses = run()
    finally:
        setup.close()

    # the plugin saw every emitted event: the valid ones but the one logged with
    # logger.info, and the two invalid ones given to emit()
    emitted = EXPECTED - Counter(worker_requests=1) + Counter(no_such_series=1, worker_queue=1)
    assert dict(SEEN_BY_PLUGIN) == dict(emitted)

    for (method, path, status, body), answer in zip(REQUESTS, responses, strict=True):
        assert answer.status_code == status, (method, path, answer.text[:200])
        if body is not None:
            assert orjson.loads(answer.content) == body, (method, path)

    dead = ship_once(tmp_path, influxdb, database, returncode=3)
    stored = Counter(
        {name: len(influxdb.points(database, name)) for name in influxdb.field_types(database)}
    )
    assert stored == EXPECTED
    assert len(dead) == DEAD_LETTERS, dead

    requests = {p["tags"]["route"]: p for p in influxdb.points(database, "requests")}
    assert set(requests) == {
        "GET:/version",
        "GET:/tasks/{task_id}",
        "POST:/sdk",
        "GET:/fail",
        "GET:/boom",
        "GET:/bad",
        "GET:/{unmatched}",
    }
    tasks = requests["GET:/tasks/{task_id}"]
    assert tasks["tags"]["account_id"] == "acc-1" and tasks["fields"]["cache_hits"] == 3
    assert tasks["fields"]["load_images_for_processing_time"] >= 0
    assert requests["POST:/sdk"]["fields"]["load_images_for_processing_time"] >= 0
    bad = requests["GET:/bad"]
    assert bad["tags"]["status_code"] == "200" and "account_id" not in bad["tags"]
    assert bad["fields"]["kept"] == 2 and isinstance(
        bad["fields"]["load_images_for_processing_time"], float
    )
    assert not {"ratio", "thing", "huge"} & (bad["fields"].keys() | bad["tags"].keys())
    errors = {
        p["tags"]["route"]: p["tags"]["error_code"] for p in influxdb.points(database, "errors")
    }
    assert errors == {"GET:/fail": "12002", "GET:/boom": "1", "GET:/{unmatched}": "1"}
    (failed,) = influxdb.points(database, "subtask_errors")
    assert failed["tags"]["error_code"] == "27001"

    reported = {(where, key.split(" ")[-1]) for where, _, key in problem_counts()}
    assert {
        ("http", "wrong_type"),
        ("http", "taken"),
        ("http", "out_of_range"),
        ("http", "not_finite"),
        ("emit", "wrong_type"),
        ("sdk", "unknown_series"),
        ("sdk", "unknown_field"),
        ("tasks", "wrong_type"),
        ("timing", "wrong_type"),
    } <= reported, reported
