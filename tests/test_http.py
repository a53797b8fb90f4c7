"""HTTP monitoring against real servers on 127.0.0.1 with real clients.

Starlette under uvicorn, FastAPI under uvicorn, aiohttp's TestServer, and Flask under
wsgiref. Each is hit with the same requests; the log file must then hold exactly
the expected ``requests`` and ``errors`` lines, and ``luna-events lint`` must pass it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest
import uvicorn
from aiohttp import web
from aiohttp.test_utils import TestServer

from luna_events.event import Event
from luna_events.jsonline import LineKind, parse_line
from luna_events.localservers import free_port
from luna_events.logs.setup import LoggingSetup, configure_logging
from luna_events.timing import monitor_time, request_data

SERVICE = "luna-tasks"
ERROR_BODY = {"error_code": 12002, "desc": "Bad/incomplete input data", "detail": "bad"}

# (method, path, headers) -> expected (route, status, error code or None)
REQUESTS: list[tuple[str, str, dict[str, str], tuple[str, int, int | None]]] = [
    ("GET", "/version", {}, ("GET:/version", 200, None)),
    (
        "GET",
        "/tasks/123",
        {"LUNA-Request-Id": "1700000000,given-id"},
        ("GET:/tasks/{task_id}", 200, None),
    ),
    ("GET", "/tasks/456", {"X-Request-Id": "x-request-id"}, ("GET:/tasks/{task_id}", 200, None)),
    ("POST", "/tasks/linker", {}, ("POST:/tasks/linker", 201, None)),
    ("GET", "/tasks/789/fail", {}, ("GET:/tasks/{task_id}/fail", 400, 12002)),
    ("GET", "/boom", {}, ("GET:/boom", 500, 1)),
    ("GET", "/no/such/path/1", {}, ("GET:/{unmatched}", 404, 1)),
    ("POST", "/sdk", {}, ("POST:/sdk", 200, None)),
]


def load(images: int) -> None:
    with monitor_time("load_images_for_processing_time"):
        time.sleep(0.001 * images)


@contextmanager
def monitoring(tmp_path: Path) -> Iterator[tuple[LoggingSetup, Path]]:
    log = tmp_path / "service.log"
    setup = configure_logging(service=SERVICE, path=log)
    try:
        yield setup, log
    finally:
        setup.close()


def hit(base_url: str) -> list[httpx.Response]:
    # a connection per request: after an unhandled exception uvicorn closes the
    # connection, and a kept-alive client could race that close
    no_keepalive = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=base_url, timeout=10, limits=no_keepalive) as client:
        return [
            client.request(method, path, headers=headers) for method, path, headers, _ in REQUESTS
        ]


def check_log(log: Path, responses: list[httpx.Response]) -> None:
    expected_statuses = [expected[1] for *_, expected in REQUESTS]
    assert [r.status_code for r in responses] == expected_statuses
    events: list[Event] = []
    for line in log.read_text().splitlines():
        parsed = parse_line(line)
        assert parsed.kind is LineKind.EVENT, line
        assert parsed.event is not None
        events.append(parsed.event)
    requests = [e for e in events if e.series == "requests"]
    errors = [e for e in events if e.series == "errors"]
    assert len(events) == len(requests) + len(errors)
    assert [(e.tags["route"], e.tags["status_code"]) for e in requests] == [
        (route, status) for *_, (route, status, _) in REQUESTS
    ]
    assert [(e.tags["route"], e.tags["status_code"], e.tags["error_code"]) for e in errors] == [
        expected for *_, expected in REQUESTS if expected[2] is not None
    ]
    assert all(e.tags["service"] == SERVICE for e in events)
    assert requests[1].fields["request_id"] == "1700000000,given-id"
    assert requests[2].fields["request_id"] == "x-request-id"
    assert requests[0].fields["request_id"] != requests[3].fields["request_id"]
    by_id = {e.fields["request_id"]: e for e in requests}
    assert all(by_id[e.fields["request_id"]].tags["route"] == e.tags["route"] for e in errors)
    assert float(requests[-1].fields["load_images_for_processing_time"]) >= 0.002
    assert all(isinstance(e.fields["execution_time"], float) for e in requests)
    lint = subprocess.run(
        [sys.executable, "-m", "luna_events.cli", "lint", "--strict", str(log)], capture_output=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


@contextmanager
def uvicorn_server(app: Any, http: str = "auto") -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="critical", lifespan="off", http=http
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def starlette_app() -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from luna_events.http.asgi import MonitoringMiddleware

    async def version(request: Request) -> Response:
        return JSONResponse({"version": "5.0"})

    async def task(request: Request) -> Response:
        return JSONResponse({"task_id": request.path_params["task_id"]})

    async def linker(request: Request) -> Response:
        return JSONResponse({"task_id": 1}, status_code=201)

    async def fail(request: Request) -> Response:
        return JSONResponse(ERROR_BODY, status_code=400)

    async def boom(request: Request) -> Response:
        raise RuntimeError("unhandled")

    async def sdk(request: Request) -> Response:
        load(3)
        return JSONResponse({"ok": True})

    app = Starlette(
        routes=[
            Route("/version", version),
            Route("/tasks/{task_id:int}", task),
            Route("/tasks/linker", linker, methods=["POST"]),
            Route("/tasks/{task_id:int}/fail", fail),
            Route("/boom", boom),
            Route("/sdk", sdk, methods=["POST"]),
        ]
    )
    app.add_middleware(MonitoringMiddleware)
    return app


def fastapi_app() -> Any:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    from luna_events.http.asgi import MonitoringMiddleware

    app = FastAPI()
    app.add_middleware(MonitoringMiddleware)

    @app.get("/version")
    async def version() -> dict[str, str]:
        return {"version": "5.0"}

    @app.get("/tasks/{task_id}")
    async def task(task_id: int) -> dict[str, int]:
        return {"task_id": task_id}

    @app.post("/tasks/linker", status_code=201)
    async def linker() -> dict[str, int]:
        return {"task_id": 1}

    @app.get("/tasks/{task_id}/fail")
    async def fail(task_id: int) -> JSONResponse:
        return JSONResponse(ERROR_BODY, status_code=400)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("unhandled")

    @app.post("/sdk")
    async def sdk() -> dict[str, bool]:
        load(3)
        return {"ok": True}

    return app


@pytest.mark.parametrize("make_app", [starlette_app, fastapi_app], ids=["starlette", "fastapi"])
def test_asgi_middleware_under_uvicorn(tmp_path: Path, make_app: Callable[[], Any]):
    with monitoring(tmp_path) as (_, log), uvicorn_server(make_app()) as url:
        responses = hit(url)
    check_log(log, responses)
    assert responses[0].json() == {"version": "5.0"}, "the response is untouched"


def test_aiohttp_middleware_under_aiohttp_test_server(tmp_path: Path):
    from luna_events.http.aiohttp import monitoring_middleware

    async def version(request: web.Request) -> web.Response:
        return web.json_response({"version": "5.0"})

    async def task(request: web.Request) -> web.Response:
        return web.json_response({"task_id": int(request.match_info["task_id"])})

    async def linker(request: web.Request) -> web.Response:
        return web.json_response({"task_id": 1}, status=201)

    async def fail(request: web.Request) -> web.Response:
        return web.json_response(ERROR_BODY, status=400)

    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("unhandled")

    async def sdk(request: web.Request) -> web.Response:
        load(3)
        return web.json_response({"ok": True})

    async def serve() -> list[httpx.Response]:
        app = web.Application(middlewares=[monitoring_middleware()])
        app.router.add_get("/version", version)
        app.router.add_get(r"/tasks/{task_id:\d+}", task)
        app.router.add_post("/tasks/linker", linker)
        app.router.add_get(r"/tasks/{task_id:\d+}/fail", fail)
        app.router.add_get("/boom", boom)
        app.router.add_post("/sdk", sdk)
        server = TestServer(app, host="127.0.0.1", port=free_port())
        await server.start_server()
        try:
            return await asyncio.to_thread(hit, str(server.make_url("")).rstrip("/"))
        finally:
            await server.close()

    with monitoring(tmp_path) as (_, log):
        responses = asyncio.run(serve())
    check_log(log, responses)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def wsgi_server(app: Any) -> Iterator[str]:
    """``app`` under wsgiref on a free port, in a thread; yields its base URL."""
    server = make_server("127.0.0.1", free_port(), app, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_wsgi_middleware_with_flask_under_wsgiref(tmp_path: Path):
    from flask import Flask, jsonify

    from luna_events.http.wsgi import monitor_flask

    app = Flask("luna-tasks-test")

    @app.get("/version")
    def version() -> Any:
        return jsonify(version="5.0")

    @app.get("/tasks/<int:task_id>")
    def task(task_id: int) -> Any:
        return jsonify(task_id=task_id)

    @app.post("/tasks/linker")
    def linker() -> Any:
        return jsonify(task_id=1), 201

    @app.get("/tasks/<int:task_id>/fail")
    def fail(task_id: int) -> Any:
        return jsonify(ERROR_BODY), 400

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("unhandled")

    @app.post("/sdk")
    def sdk() -> Any:
        load(3)
        assert request_data() is not None
        return jsonify(ok=True)

    with monitoring(tmp_path) as (_, log):
        monitor_flask(app)
        with wsgi_server(app) as url:
            responses = hit(url)
    check_log(log, responses)


def test_middleware_re_raises_the_apps_own_exception():
    from luna_events.http.asgi import MonitoringMiddleware
    from luna_events.logs.setup import configure_logging

    class AppBug(Exception):
        pass

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AppBug

    setup = configure_logging(service=SERVICE, stream=__import__("io").StringIO(), use_queue=False)
    try:
        middleware = MonitoringMiddleware(app)
        scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
        with pytest.raises(AppBug):
            asyncio.run(middleware(scope, None, None))  # type: ignore[arg-type]
    finally:
        setup.close()


def test_a_404_inside_a_starlette_mount_is_unmatched(tmp_path: Path):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Mount, Route

    from luna_events.http.asgi import MonitoringMiddleware

    async def item(request: Request) -> Response:
        return JSONResponse({"id": request.path_params["id"]})

    app = Starlette(routes=[Mount("/api", routes=[Route("/items/{id}", item)])])
    app.add_middleware(MonitoringMiddleware)
    with (
        monitoring(tmp_path) as (_, log),
        uvicorn_server(app) as url,
        httpx.Client(base_url=url) as client,
    ):
        assert client.get("/api/items/7").status_code == 200
        assert client.get("/api/nothing").status_code == 404
    events = [parse_line(line).event for line in log.read_text().splitlines()]
    routes = [
        (e.tags["route"], e.tags["status_code"]) for e in events if e and e.series == "requests"
    ]
    assert routes == [("GET:/api/items/{id}", 200), ("GET:/{unmatched}", 404)]


def test_flask_route_is_known_even_when_an_earlier_hook_answers(tmp_path: Path):
    from flask import Flask, request

    from luna_events.http.wsgi import monitor_flask

    app = Flask("hooks")

    @app.before_request
    def deny() -> Any:
        if request.headers.get("X-Deny"):
            return {"error_code": 12001, "desc": "denied"}, 401
        return None

    @app.get("/tasks/<int:task_id>")
    def task(task_id: int) -> Any:
        return {"task_id": task_id}

    with monitoring(tmp_path) as (_, log):
        monitor_flask(app)
        with wsgi_server(app) as url, httpx.Client(base_url=url) as client:
            assert client.get("/tasks/5", headers={"X-Deny": "1"}).status_code == 401
    events = [parse_line(line).event for line in log.read_text().splitlines()]
    errors = [e for e in events if e and e.series == "errors"]
    assert [(e.tags["route"], e.tags["error_code"]) for e in errors] == [
        ("GET:/tasks/{task_id}", 12001)
    ]


def test_sanic_hooks_under_sanics_test_client(tmp_path: Path):
    from sanic import Sanic, response
    from sanic_testing.testing import SanicTestClient  # type: ignore[import-untyped]

    from luna_events.http.sanic import monitor_sanic

    app = Sanic("luna_tasks_test")

    @app.get("/version")
    async def version(request: Any) -> Any:
        return response.json({"version": "5.0"})

    @app.get("/tasks/<task_id:int>")
    async def task(request: Any, task_id: int) -> Any:
        return response.json({"task_id": task_id})

    @app.post("/tasks/linker")
    async def linker(request: Any) -> Any:
        return response.json({"task_id": 1}, status=201)

    @app.get("/tasks/<task_id:int>/fail")
    async def fail(request: Any, task_id: int) -> Any:
        return response.json(ERROR_BODY, status=400)

    @app.get("/boom")
    async def boom(request: Any) -> Any:
        raise RuntimeError("unhandled")

    @app.post("/sdk")
    async def sdk(request: Any) -> Any:
        load(3)
        assert request_data() is not None
        return response.json({"ok": True})

    client = SanicTestClient(app, port=free_port())
    with monitoring(tmp_path) as (_, log):
        monitor_sanic(app)
        answers = [
            client.request(path, http_method=method.lower(), headers=headers)[1]
            for method, path, headers, _ in REQUESTS
        ]
    check_log(log, answers)


@pytest.mark.filterwarnings("ignore:body argument is deprecated:DeprecationWarning")
def test_aiohttp_raised_http_exception_with_a_binary_body_keeps_its_answer(tmp_path: Path):
    """A raised ``HTTPException`` whose body is not UTF-8 (an image, a stray byte)
    reaches the client as the handler meant; the body was decoded as text before."""
    from luna_events.http.aiohttp import monitoring_middleware

    binary = b"\xff\xd8\xff\xe0 not text"

    async def refuse(request: web.Request) -> web.Response:
        raise web.HTTPUnsupportedMediaType(body=binary, content_type="image/jpeg")

    async def luna_error(request: web.Request) -> web.Response:
        raise web.HTTPBadRequest(text='{"error_code": 12002}', content_type="application/json")

    async def serve() -> list[httpx.Response]:
        app = web.Application(middlewares=[monitoring_middleware()])
        app.router.add_get("/refuse", refuse)
        app.router.add_get("/luna-error", luna_error)
        server = TestServer(app, host="127.0.0.1", port=free_port())
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")

        def get_both() -> list[httpx.Response]:
            with httpx.Client(base_url=base, timeout=10) as client:
                return [client.get("/refuse"), client.get("/luna-error")]

        try:
            return await asyncio.to_thread(get_both)
        finally:
            await server.close()

    with monitoring(tmp_path) as (_, log):
        refused, failed = asyncio.run(serve())
    assert (refused.status_code, refused.content) == (415, binary)
    assert failed.status_code == 400
    events = [parse_line(line).event for line in log.read_text().splitlines()]
    assert [(e.series, e.tags["route"], e.tags["status_code"]) for e in events if e] == [
        ("requests", "GET:/refuse", 415),
        ("errors", "GET:/refuse", 415),
        ("requests", "GET:/luna-error", 400),
        ("errors", "GET:/luna-error", 400),
    ]
    assert [e.tags["error_code"] for e in events if e and e.series == "errors"] == [1, 12002]


def test_a_streamed_flask_body_sees_its_requests_data(tmp_path: Path):
    """The body of a streamed WSGI response runs after the app returned: the request's
    container must still be current there (it was None, and the documented
    ``request_data().fields[...] = ...`` cut the stream short)."""
    from flask import Flask, Response, stream_with_context

    from luna_events.http.wsgi import monitor_flask

    app = Flask("luna-tasks-stream")

    @app.get("/tasks/<int:task_id>/report")
    def report(task_id: int) -> Response:
        def chunks() -> Iterator[bytes]:
            yield b"first,"
            data = request_data()
            assert data is not None
            data.fields["report_rows"] = 2
            load(1)
            yield b"second"

        return Response(stream_with_context(chunks()))

    monitor_flask(app, service=SERVICE)
    with monitoring(tmp_path) as (_, log), wsgi_server(app) as url:
        response = httpx.get(url + "/tasks/7/report", timeout=10)
    assert (response.status_code, response.content) == (200, b"first,second")
    events = [parse_line(line).event for line in log.read_text().splitlines()]
    assert [(e.series, e.tags["status_code"]) for e in events if e] == [("requests", 200)]
    fields = events[0].fields if events[0] else {}
    assert fields["report_rows"] == 2
    assert float(fields["load_images_for_processing_time"]) >= 0.001


def test_a_streamed_sanic_response_sees_its_requests_data(tmp_path: Path):
    """Sanic runs response middleware at ``request.respond()``, before a streaming
    handler sends its body: the request's container was taken away there, and the
    documented ``request_data().fields[...] = ...`` cut the stream short."""
    from sanic import Sanic
    from sanic.exceptions import SanicException
    from sanic_testing.testing import SanicTestClient

    from luna_events.http.sanic import monitor_sanic

    app = Sanic("luna_tasks_stream")

    @app.get("/tasks/<task_id:int>/report")
    async def report(request: Any, task_id: int) -> None:
        stream = await request.respond(content_type="text/plain")
        await stream.send("first,")
        data = request_data()
        assert data is not None
        data.fields["report_rows"] = 2
        await stream.send("second")
        await stream.eof()

    class Conflict(SanicException):
        status_code = 409

        @property
        def error_code(self) -> int:
            raise KeyError("a buggy error_code")

    @app.get("/conflict")
    async def conflict(request: Any) -> None:
        raise Conflict("conflict")

    client = SanicTestClient(app, port=free_port())
    with monitoring(tmp_path) as (_, log):
        monitor_sanic(app)
        _, answer = client.get("/tasks/7/report")
        _, refused = client.get("/conflict")
    assert (answer.status, answer.body) == (200, b"first,second")
    assert refused.status == 409
    events = [parse_line(line).event for line in log.read_text().splitlines()]
    assert [(e.series, e.tags["route"]) for e in events if e] == [
        ("requests", "GET:/tasks/{task_id}/report"),
        ("requests", "GET:/conflict"),  # a failing error_code attribute loses no event
        ("errors", "GET:/conflict"),
    ]
    assert events[0] is not None and events[0].fields["report_rows"] == 2


def test_asgi_background_tasks_are_not_the_requests_time(tmp_path: Path):
    """Starlette runs background tasks after the response is sent, inside the app
    call: the request is finished when its last body message is sent, so its
    execution time leaves them out and one that raises does not make the answered
    request a 500."""
    from starlette.applications import Starlette
    from starlette.background import BackgroundTask
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from luna_events.http.asgi import MonitoringMiddleware

    release = threading.Event()

    def after_response() -> None:
        if not release.wait(30):
            raise TimeoutError("never released")
        raise RuntimeError("a failing background task")

    async def task(request: Request) -> JSONResponse:
        return JSONResponse({"task_id": 7}, background=BackgroundTask(after_response))

    app = Starlette(
        routes=[Route("/tasks/{task_id:int}", task)], middleware=[Middleware(MonitoringMiddleware)]
    )

    with monitoring(tmp_path) as (_, log), uvicorn_server(app) as url:
        response = httpx.get(url + "/tasks/7", timeout=10)
        deadline = time.monotonic() + 20
        while "GET:/tasks/{task_id}" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.01)
        written_before_release = log.read_text()
        release.set()  # uvicorn lets the failing task end before it stops
    assert response.status_code == 200
    assert "GET:/tasks/{task_id}" in written_before_release, "the event waited for the task"
    events = [parse_line(line).event for line in log.read_text().splitlines()]
    assert [(e.series, e.tags["status_code"]) for e in events if e] == [("requests", 200)]


def test_a_method_the_client_invents_is_one_route_not_a_series_per_method(tmp_path: Path):
    """The method comes from the client: an unknown one (``XYZZY``, ``FOO1``) would be
    a new series each (or an invalid route tag). It is written as ``OTHER``."""
    import socket

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from luna_events.http.asgi import MonitoringMiddleware

    async def version(request: Request) -> JSONResponse:
        return JSONResponse({"version": "5.0"})

    app = Starlette(
        routes=[Route("/version", version)], middleware=[Middleware(MonitoringMiddleware)]
    )
    statuses = []
    # h11 passes any token as the method (httptools answers 400 itself)
    with monitoring(tmp_path) as (_, log), uvicorn_server(app, http="h11") as url:
        port = int(url.rsplit(":", 1)[1])
        for method in ("XYZZY", "FOO1", "GET"):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
                connection.sendall(
                    f"{method} /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
                )
                statuses.append(connection.recv(12))
    assert statuses == [b"HTTP/1.1 405", b"HTTP/1.1 405", b"HTTP/1.1 200"]
    events = [parse_line(line).event for line in log.read_text().splitlines()]
    assert [(e.series, e.tags["route"]) for e in events if e] == [
        ("requests", "OTHER:/version"),
        ("errors", "OTHER:/version"),
        ("requests", "OTHER:/version"),
        ("errors", "OTHER:/version"),
        ("requests", "GET:/version"),
    ]
    lint = subprocess.run(
        [sys.executable, "-m", "luna_events.cli", "lint", "--strict", str(log)], capture_output=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
