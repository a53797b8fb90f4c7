"""WSGI middleware (Flask, or any WSGI app with a way to name the matched route).

::

    monitor_flask(app)            # Flask: records the matched rule, wraps app.wsgi_app

    app = MonitoringMiddleware(app, route_of=my_router)   # any other WSGI app
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
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

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]


ROUTE_KEY = "luna_events.route"
"""The environ key where an app leaves the matched route template for the middleware."""


def route_from_environ(environ: Environ) -> str | None:
    """The route template the app left under :data:`ROUTE_KEY`, if any."""
    value = environ.get(ROUTE_KEY)
    return value if isinstance(value, str) else None


def _never_raising(
    route_of: Callable[[Environ], str | None],
) -> Callable[[Environ], str | None]:
    def guarded(environ: Environ) -> str | None:
        try:
            return route_of(environ)
        except Exception as error:
            report_error("http", "requests", error)
            return None

    return guarded


class MonitoringMiddleware:
    """Emits ``requests`` (and ``errors``) events for every request of a WSGI app.

    ``route_of(environ)`` names the matched route template after the app ran (by
    default what the app left under :data:`ROUTE_KEY`, as :func:`monitor_flask`
    arranges); ``None`` means no route matched. The event is emitted when the
    response body has been sent, so the time includes streaming.
    """

    def __init__(
        self,
        app: WSGIApp,
        *,
        route_of: Callable[[Environ], str | None] = route_from_environ,
        monitor: Monitor | None = None,
        service: str | None = None,
    ) -> None:
        self.app = app
        self.route_of = _never_raising(route_of)
        self.monitor, self.service = resolve(monitor, service)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def header(name: str) -> str | None:
            value = environ.get("HTTP_" + name.upper().replace("-", "_"))
            return value if isinstance(value, str) else None

        record = RequestRecord(
            self.monitor, self.service, environ["REQUEST_METHOD"], request_id_from(header)
        )
        response: dict[str, Any] = {"status": 500, "content_type": None}

        def watch(
            status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
        ) -> Callable[[bytes], object]:
            response["status"] = int(status.split(" ", 1)[0])
            for key, value in headers:
                if key.lower() == "content-type":
                    response["content_type"] = value
            return (
                start_response(status, headers, exc_info)
                if exc_info
                else start_response(status, headers)
            )

        with collecting(record.data):
            try:
                body = self.app(environ, watch)
            except BaseException as failure:
                record.finish_failed(self.route_of(environ), 500, UNKNOWN_ERROR, failure)
                raise
        return _Body(body, record, response, lambda: self.route_of(environ))


class _Body:
    """The app's response iterable, passed through; finishing it emits the events."""

    def __init__(
        self,
        body: Iterable[bytes],
        record: RequestRecord,
        response: dict[str, Any],
        resource: Callable[[], str | None],
    ) -> None:
        self._body = body
        self._record = record
        self._response = response
        self._resource = resource
        self._seen = b""
        self._failed = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            chunks = iter(self._body)
            while True:
                # a streamed body runs here, after the app returned: its request's
                # container is made current around each step, as during the app call
                with collecting(self._record.data):
                    chunk = next(chunks, None)
                if chunk is None:
                    return
                if self._response["status"] >= 400 and len(self._seen) < ERROR_BODY_LIMIT:
                    self._seen += chunk
                yield chunk
        except BaseException:
            self._failed = True
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            status = 500 if self._failed else self._response["status"]
            code = (
                UNKNOWN_ERROR
                if self._failed
                else error_code_from_body(self._seen, self._response["content_type"])
            )
            self._record.finish(self._resource(), status, code)


def monitor_flask(app: Any, *, monitor: Monitor | None = None, service: str | None = None) -> None:
    """Monitor a Flask app: note each request's URL rule, and wrap ``app.wsgi_app``."""
    from flask import request

    def remember_route() -> None:
        rule = request.url_rule
        request.environ[ROUTE_KEY] = rule.rule if rule is not None else None

    # first among the hooks: an earlier hook that answers (auth, rate limits) would skip it
    app.before_request_funcs.setdefault(None, []).insert(0, remember_route)
    app.wsgi_app = MonitoringMiddleware(app.wsgi_app, monitor=monitor, service=service)
