"""What every middleware shares: request ids, route templates, error codes, the events."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from luna_events import series
from luna_events.checking import merge_extras, noted_on
from luna_events.errors import InvalidEvent, UsageError
from luna_events.event import HTTP_METHODS, route_tag
from luna_events.guard import report, report_error
from luna_events.monitor import Monitor, get_monitor
from luna_events.timing import MonitoringData, seconds_since

REQUEST_ID_HEADERS = ("luna-request-id", "x-request-id")
"""Headers a request id is taken from, in this order (lower case)."""

UNMATCHED_RESOURCE = "/{unmatched}"
"""The resource of a request no route matched: raw paths would make cardinality unbounded."""

UNKNOWN_ERROR = 1
"""The LUNA error code of an unhandled exception, or of a failure with no code given."""

OTHER_METHOD = "OTHER"
"""The method of a request whose method is not an HTTP method: the client chose it, and
one series per invented method would make cardinality unbounded."""

ERROR_BODY_LIMIT = 64 * 1024
"""How much of an error response body is read for its ``error_code``."""

_CONVERTER = re.compile(r"\{([^{}:]+):[^{}]*\}|<(?:[^<>:]+:)?([^<>]+)>")


def new_request_id() -> str:
    """A LUNA-style request id: ``"<unix seconds>,<uuid4>"``."""
    return f"{int(time.time())},{uuid.uuid4()}"


def request_id_from(get_header: Callable[[str], str | None]) -> str:
    """The request's id from ``LUNA-Request-Id`` or ``X-Request-Id``, else a new one."""
    for name in REQUEST_ID_HEADERS:
        value = get_header(name)
        if value:
            return value
    return new_request_id()


def template(resource: str) -> str:
    """A route template without converters: ``/tasks/{id:int}`` and Flask's
    ``/tasks/<int:id>`` both become ``/tasks/{id}``."""
    return _CONVERTER.sub(lambda m: "{" + (m.group(1) or m.group(2)) + "}", resource)


def error_code_from_body(body: bytes, content_type: str | None) -> int | None:
    """The ``error_code`` of a LUNA error body (``{"error_code": 12012, "desc": ...}``)."""
    if not body or (content_type is not None and "json" not in content_type):
        return None
    try:
        document = orjson.loads(body[:ERROR_BODY_LIMIT])
    except (orjson.JSONDecodeError, TypeError):
        return None
    code = document.get("error_code") if isinstance(document, dict) else None
    return code if type(code) is int else None


@dataclass
class RequestRecord:
    """One request being handled; :meth:`finish` emits its events."""

    monitor: Monitor
    service: str
    method: str
    request_id: str
    started_ns: int = field(default_factory=time.time_ns)
    started: float = field(default_factory=time.perf_counter)
    data: MonitoringData = field(default_factory=MonitoringData)

    def finish(self, resource: str | None, status: int, error_code: int | None = None) -> None:
        """Emit ``requests``, and ``errors`` when ``status`` is 400 or more.

        The request's additional tags and fields (:func:`~luna_events.request_data`)
        are added where they fit (see :func:`~luna_events.checking.merge_extras`).
        Never raises (but in strict mode, an invalid event raises
        :class:`~luna_events.errors.InvalidEvent`): monitoring must not change what the
        service answers."""
        try:
            self._finish(resource, status, error_code)
        except Exception as error:
            if self.monitor.strict and isinstance(error, InvalidEvent):
                raise  # strict mode (development): the mistake surfaces here
            report_error("http", "requests", error)

    def finish_failed(
        self, resource: str | None, status: int, error_code: int | None, failure: BaseException
    ) -> None:
        """:meth:`finish` for a request whose handler raised ``failure``: that exception
        is what propagates, so in strict mode the problems become a note on it."""
        with noted_on(failure):
            self.finish(resource, status, error_code)

    def _finish(self, resource: str | None, status: int, error_code: int | None) -> None:
        elapsed = seconds_since(self.started)
        method = self.method if self.method.upper() in HTTP_METHODS else OTHER_METHOD
        route = route_tag(method, template(resource) if resource else UNMATCHED_RESOURCE)
        data = self.data
        request = series.requests(
            service=self.service,
            route=route,
            status_code=status,
            request_id=self.request_id,
            execution_time=elapsed,
            time_ns=self.started_ns,
        )
        self.monitor.emit(
            merge_extras(request, data.tags, data.fields, where="http", strict=self.monitor.strict)
        )
        if status >= 400:
            code = error_code
            if type(data.error_code) is int:
                code = data.error_code
            elif data.error_code is not None:
                report(
                    "http",
                    "errors",
                    "error_code wrong_type",
                    "request_data().error_code "
                    f"must be an int, got {type(data.error_code).__name__}; left out",
                )
            failure = series.errors(
                service=self.service,
                route=route,
                status_code=status,
                error_code=code if code is not None else UNKNOWN_ERROR,
                request_id=self.request_id,
                time_ns=self.started_ns,
            )
            self.monitor.emit(
                merge_extras(failure, data.tags, None, where="http", strict=self.monitor.strict)
            )


def resolve(monitor: Monitor | None, service: str | None) -> tuple[Monitor, str]:
    """The monitor and service name a middleware uses; the service must be known."""
    chosen = monitor or get_monitor()
    name = service or chosen.service
    if not name:
        raise UsageError("no service name: pass service=... or call configure_logging first")
    return chosen, name
