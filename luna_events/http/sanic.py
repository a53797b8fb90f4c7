"""Sanic middleware: Sanic's own server runs no ASGI middleware, so it gets hooks.

::

    app = Sanic("luna-tasks")
    monitor_sanic(app)            # after configure_logging(...)

A request hook starts the record (and makes :func:`~luna_events.request_data` the
request's), the ``http.lifecycle.response`` signal emits ``requests`` (and
``errors``) with the route template from Sanic's router (``/tasks/<task_id:int>``
becomes ``/tasks/{task_id}``), and the ``http.lifecycle.exception`` signal notes an
unhandled exception, so its ``error_code`` attribute (or 1) is the error code.
Responses pass untouched. The signal, unlike response middleware (which runs at
``request.respond()``), comes once the handler is done, so a streaming handler keeps
its container and its timing to the end.
"""

from __future__ import annotations

import re
from typing import Any

from luna_events.errors import InvalidEvent
from luna_events.guard import report_error
from luna_events.http.core import (
    UNKNOWN_ERROR,
    RequestRecord,
    error_code_from_body,
    request_id_from,
    resolve,
)
from luna_events.monitor import Monitor
from luna_events.timing import start_collecting, stop_collecting

_SANIC_PARAMETER = re.compile(r"<([^<>:]+)(?::[^<>]*)?>")

FIRST = 1_000_000
"""The request hook's priority: it runs before any hook that may answer early."""


def sanic_template(uri_template: str) -> str:
    """Sanic's ``/tasks/<task_id:int>`` as ``/tasks/{task_id}``."""
    return _SANIC_PARAMETER.sub(lambda m: "{" + m.group(1) + "}", uri_template)


def monitor_sanic(app: Any, *, monitor: Monitor | None = None, service: str | None = None) -> None:
    """Register the monitoring hooks on a Sanic app."""
    chosen, name = resolve(monitor, service)

    async def start(request: Any) -> None:
        try:
            record = RequestRecord(
                chosen, name, request.method, request_id_from(request.headers.get)
            )
            request.ctx.luna_record = record
            request.ctx.luna_token = start_collecting(record.data)
        except Exception as error:
            report_error("http", "requests", error)

    async def failed(request: Any, exception: BaseException) -> None:
        if request is not None:
            request.ctx.luna_failure = exception

    async def finish(request: Any, response: Any) -> None:
        try:
            record = getattr(request.ctx, "luna_record", None)
            if record is None:
                return
            request.ctx.luna_record = None  # once, even if Sanic signals twice
            token = getattr(request.ctx, "luna_token", None)
            if token is not None:
                stop_collecting(token)
            record.finish(_resource(request), response.status, _error_code(request, response))
        except Exception as error:
            if chosen.strict and isinstance(error, InvalidEvent):
                raise
            report_error("http", "requests", error)

    app.register_middleware(start, "request", priority=FIRST)
    app.signal("http.lifecycle.response")(finish)
    app.signal("http.lifecycle.exception")(failed)


def _resource(request: Any) -> str | None:
    if request.route is None:
        return None
    template = request.uri_template
    return sanic_template(template) if isinstance(template, str) else None


def _error_code(request: Any, response: Any) -> int | None:
    if response.status < 400:
        return None
    failure = getattr(request.ctx, "luna_failure", None)
    if failure is not None:
        try:
            code = getattr(failure, "error_code", None)
        except Exception as error:  # the app's attribute: its bug must not lose the events
            report_error("http", "errors", error)
            code = None
        if type(code) is int:
            return code
    body = response.body
    code = error_code_from_body(body, response.content_type) if isinstance(body, bytes) else None
    if code is None and failure is not None and response.status >= 500:
        return UNKNOWN_ERROR
    return code
