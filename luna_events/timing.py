"""Timing blocks into fields, and the per-request container of additional data.

The seed's ``monitorTime(monitoringData, fieldName)`` and ``DataForMonitoring``::

    with monitor_time("load_images_for_processing_time"):
        images = load(request)

    @monitor_time("match_time")
    async def match(...): ...

Inside a request monitored by the HTTP middleware, :func:`request_data` is that
request's container, and the ``requests`` event picks up its tags and fields.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, TypeVar

from luna_events.errors import UsageTypeError
from luna_events.event import FieldValue, TagValue
from luna_events.guard import report, report_error

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class MonitoringData:
    """Additional tags and fields gathered while handling one request or task.

    ``error_code`` is the LUNA error code of a failed request, when the application
    knows it better than the response body says.
    """

    tags: dict[str, TagValue] = field(default_factory=dict)
    fields: dict[str, FieldValue] = field(default_factory=dict)
    error_code: int | None = None


def seconds_since(started: float) -> float:
    """Seconds since a ``time.perf_counter()`` reading, rounded to the nanosecond.

    Rounding keeps every digit a clock can mean, and gives floats that every JSON
    parser reads back exactly: Vector's reads 16- and 17-digit floats up to one
    unit in the last place off (see docs/vector.md).
    """
    return round(time.perf_counter() - started, 9)


_timer_starts: ContextVar[Mapping[int, tuple[float, ...]]] = ContextVar(
    "luna_timer_starts", default=MappingProxyType({})
)
_current: ContextVar[MonitoringData | None] = ContextVar("luna_monitoring_data", default=None)


def request_data() -> MonitoringData | None:
    """The container of the request or task being handled, if any."""
    return _current.get()


@contextmanager
def collecting(data: MonitoringData | None = None) -> Iterator[MonitoringData]:
    """Make ``data`` (or a fresh container) current for the block."""
    data = data if data is not None else MonitoringData()
    token = _current.set(data)
    try:
        yield data
    finally:
        _current.reset(token)


def start_collecting(data: MonitoringData) -> Token[MonitoringData | None]:
    """Make ``data`` current until :func:`stop_collecting` (for frameworks whose
    request hooks cannot wrap the handler in :func:`collecting`)."""
    return _current.set(data)


def stop_collecting(token: Token[MonitoringData | None]) -> None:
    """Undo :func:`start_collecting`; a token from another context is ignored."""
    try:
        _current.reset(token)
    except ValueError:
        _current.set(None)


class monitor_time:  # used like a function: as a context manager and as a decorator
    """Add the seconds a block (or each call) takes to a field of a container.

    The container is ``data``, or else the current request's; with neither, the
    timing is dropped. Repeated timings of one field add up.
    """

    def __init__(self, field_name: str, data: MonitoringData | None = None) -> None:
        if isinstance(field_name, MonitoringData) or not isinstance(field_name, str):
            swapped = isinstance(field_name, MonitoringData) and isinstance(data, str)
            raise UsageTypeError(
                f"monitor_time(field_name, data=None): the arguments are swapped; write "
                f"monitor_time({data!r}, data) (the seed's monitorTime took (data, field_name))"
                if swapped
                else f"monitor_time(field_name, ...): field_name must be a str, got "
                f"{type(field_name).__name__}"
            )
        if data is not None and not isinstance(data, MonitoringData):
            raise UsageTypeError(
                "monitor_time(field_name, data): data must be a MonitoringData "
                f"(DataForMonitoring), got {type(data).__name__}"
            )
        self.field_name = field_name
        self.data = data

    def __enter__(self) -> monitor_time:
        # start times live in the context, so one timer shared by concurrent tasks
        # or threads times each of them separately
        starts = dict(_timer_starts.get())
        starts[id(self)] = (*starts.get(id(self), ()), time.perf_counter())
        _timer_starts.set(starts)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self._record()
        except Exception as error:  # never replace the block's own outcome
            report_error("timing", self.field_name, error)

    def _record(self) -> None:
        starts = dict(_timer_starts.get())
        *earlier, started = starts[id(self)]
        if earlier:
            starts[id(self)] = tuple(earlier)
        else:
            del starts[id(self)]
        _timer_starts.set(starts)
        elapsed = seconds_since(started)
        data = self.data if self.data is not None else _current.get()
        if data is not None:
            previous = data.fields.get(self.field_name, 0.0)
            if type(previous) is not float and type(previous) is not int:
                report(
                    "timing",
                    self.field_name,
                    "fields wrong_type",
                    f"the field already holds a {type(previous).__name__}; the timing replaces it",
                )
                previous = 0.0
            data.fields[self.field_name] = round(previous + elapsed, 9)

    def __call__(self, func: F) -> F:
        if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
            raise UsageTypeError(
                f"monitor_time cannot time the generator {func.__name__}: calling it only "
                "creates the generator; time the block that consumes it instead"
            )
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                with monitor_time(self.field_name, self.data):
                    return await func(*args, **kwargs)

            return timed_async  # type: ignore[return-value]

        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            with monitor_time(self.field_name, self.data):
                return func(*args, **kwargs)

        return timed  # type: ignore[return-value]
