"""ASGI middleware (Starlette, FastAPI, any ASGI app that sets ``scope["route"]``).

::

    app.add_middleware(MonitoringMiddleware)            # after configure_logging(...)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from luna_events.guard import report_error
from luna_events.http.core import (
    ERROR_BODY_LIMIT,
    UNKNOWN_ERROR,
    RequestRecord,
    error_code_from_body,
    request_id_from,
    resolve,
)
from luna_events.monitor import Monitor
from luna_events.timing import collecting

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class MonitoringMiddleware:
    """Emits a ``requests`` event for every HTTP request, and ``errors`` for failures.

    The route is the matched route's template (``scope["route"].path`` under the
    mount's prefix), never the raw path. Messages pass through untouched; only an
    error response's body is peeked at for its ``error_code``. The request is finished
    when its last body message is sent (background tasks run after it, untimed). An
    exception from the app before that is recorded as status 500, error code 1; any
    exception is re-raised.
    """

    def __init__(
        self, app: ASGIApp, *, monitor: Monitor | None = None, service: str | None = None
    ) -> None:
        self.app = app
        self.monitor, self.service = resolve(monitor, service)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v for k, v in scope.get("headers", ())}

        def header(name: str) -> str | None:
            value = headers.get(name)
            return value.decode("latin-1") if value is not None else None

        record = RequestRecord(self.monitor, self.service, scope["method"], request_id_from(header))
        root_path = scope.get("root_path", "")
        response: dict[str, Any] = {"status": 500, "content_type": None, "body": b""}
        finished = False

        def finish() -> None:
            nonlocal finished
            finished = True
            code = error_code_from_body(response["body"], response["content_type"])
            record.finish(_resource(scope, root_path), response["status"], code)

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                for key, value in message.get("headers", ()):
                    if key.lower() == b"content-type":
                        response["content_type"] = value.decode("latin-1")
            elif (
                message["type"] == "http.response.body"
                and response["status"] >= 400
                and len(response["body"]) < ERROR_BODY_LIMIT
            ):
                response["body"] += message.get("body", b"")
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finish()  # answered: what the app does next (background tasks) is not the request

        with collecting(record.data):
            try:
                await self.app(scope, receive, watch)
            except BaseException as failure:
                if not finished:
                    record.finish_failed(_resource(scope, root_path), 500, UNKNOWN_ERROR, failure)
                raise
        if not finished:
            finish()


def _resource(scope: Scope, root_path: str) -> str | None:
    try:
        return _template_of(scope, root_path)
    except Exception as error:
        report_error("http", "requests", error)
        return None


def _template_of(scope: Scope, root_path: str) -> str | None:
    matched = scope.get("route")
    path = getattr(matched, "path", None)
    if not isinstance(path, str) or not hasattr(matched, "endpoint"):
        return None  # no route, or only a Mount whose inner routes did not match
    mount_prefix: str = scope.get("root_path", "")[len(root_path) :]
    return mount_prefix + path
