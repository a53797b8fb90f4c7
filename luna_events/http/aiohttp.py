"""aiohttp middleware.

::

    app = web.Application(middlewares=[monitoring_middleware()])
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from luna_events.guard import report_error
from luna_events.http.core import (
    UNKNOWN_ERROR,
    RequestRecord,
    error_code_from_body,
    request_id_from,
    resolve,
)
from luna_events.monitor import Monitor
from luna_events.timing import collecting

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def monitoring_middleware(
    *, monitor: Monitor | None = None, service: str | None = None
) -> Middleware:
    """A middleware emitting ``requests`` (and ``errors``) events with the route's
    canonical template (``/tasks/{task_id}``). Responses and exceptions pass through."""
    chosen, name = resolve(monitor, service)

    @web.middleware
    async def monitoring(request: web.Request, handler: Handler) -> web.StreamResponse:
        record = RequestRecord(chosen, name, request.method, request_id_from(request.headers.get))
        with collecting(record.data):
            try:
                response = await handler(request)
            except web.HTTPException as failure:
                record.finish_failed(
                    _resource(request), failure.status, _error_code(failure), failure
                )
                raise
            except BaseException as failure:
                record.finish_failed(_resource(request), 500, UNKNOWN_ERROR, failure)
                raise
        code = None
        if (
            response.status >= 400
            and isinstance(response, web.Response)
            and isinstance(response.body, bytes)
        ):
            code = error_code_from_body(response.body, response.content_type)
        record.finish(_resource(request), response.status, code)
        return response

    return monitoring


def _error_code(failure: web.HTTPException) -> int | None:
    """The ``error_code`` of a raised HTTP exception's body (read as bytes: a body that
    is not text must not turn the app's answer into a 500)."""
    try:
        body = failure.body
        return error_code_from_body(body, failure.content_type) if isinstance(body, bytes) else None
    except Exception as error:
        report_error("http", "errors", error)
        return None


def _resource(request: web.Request) -> str | None:
    try:
        resource = request.match_info.route.resource
        return resource.canonical if resource is not None else None
    except Exception as error:
        report_error("http", "requests", error)
        return None
