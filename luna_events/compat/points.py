"""The original platform's monitoring points, with their names and positional signatures.

Each class keeps the seed's ``series``, ``tags`` and ``fields`` properties and takes
``eventTime``/``requestTime`` as float Unix seconds. :func:`point_to_event` turns a
point into the :class:`~luna_events.Event` that becomes exactly the InfluxDB point
the original adapter wrote (see docs/migrating.md for the deliberate differences:
a catalogued float field given an int is a float; additional fields keep their type).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any, ClassVar

from luna_events.catalog import CATALOG
from luna_events.catalog.model import TagSpec
from luna_events.errors import UsageTypeError
from luna_events.event import Event, FieldValue, TagValue
from luna_events.rules import tag_wire
from luna_events.timing import MonitoringData

Values = dict[str, Any]
"""A point's tags or fields: ``Dict[str, Union[int, float, str]]`` in the seeds."""


def getRoute(resource: str, method: str) -> str:
    """The seed's route: ``"{method}:{resource}"`` (note the argument order).

    The typed API's :func:`luna_events.route` takes ``(method, resource)``.
    """
    return f"{method}:{resource}"


class DataForMonitoring(MonitoringData):
    """The seed's container of additional tags and fields for a request or task.

    It is a :class:`~luna_events.MonitoringData`, so it works with the typed API too.
    """


@contextmanager
def monitorTime(monitoringData: MonitoringData, fieldName: str) -> Iterator[None]:
    """The seed's timer: the seconds the block takes go into ``monitoringData.fields``.

    As in the original, the last timing of a field wins and a block that raises
    records nothing. (:class:`luna_events.monitor_time` adds repeated timings up.)
    """
    if not isinstance(monitoringData, MonitoringData) or not isinstance(fieldName, str):
        swapped = isinstance(fieldName, MonitoringData)
        raise UsageTypeError(
            "monitorTime(monitoringData, fieldName): the arguments are swapped"
            if swapped
            else "monitorTime(monitoringData, fieldName) takes a DataForMonitoring and a str, "
            f"got {type(monitoringData).__name__} and {type(fieldName).__name__}"
        )
    start = time.perf_counter()
    yield
    monitoringData.fields[fieldName] = round(time.perf_counter() - start, 9)


class BaseMonitoringPoint(ABC):
    """Abstract class for points: a series, an event time (float seconds), tags, fields."""

    series: ClassVar[str]

    def __init__(self, eventTime: float) -> None:
        self.eventTime = eventTime

    @property
    @abstractmethod
    def tags(self) -> Values:
        """Indexed data of the point."""

    @property
    @abstractmethod
    def fields(self) -> Values:
        """Not indexed data of the point."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.series} {self.eventTime} {self.tags} {self.fields}>"


class BaseRequestMonitoringPoint(BaseMonitoringPoint):
    """Base class for points associated with requests: ``route``, ``service``,
    ``status_code`` tags and the ``request_id`` field."""

    def __init__(
        self,
        requestId: str,
        resource: str,
        method: str,
        requestTime: float,
        service: str,
        statusCode: int,
    ) -> None:
        super().__init__(requestTime)
        self.requestId = requestId
        self.route = getRoute(resource, method)
        self.service = service
        self.requestTime = requestTime
        self.statusCode = statusCode

    @property
    def tags(self) -> Values:
        """``route``, ``service``, ``status_code``."""
        return {"route": self.route, "service": self.service, "status_code": self.statusCode}

    @property
    def fields(self) -> Values:
        """``request_id``."""
        return {"request_id": self.requestId}


class RequestMonitoringPoint(BaseRequestMonitoringPoint):
    """A point of the ``requests`` series: every request, with its execution time."""

    series = "requests"

    def __init__(
        self,
        requestId: str,
        resource: str,
        method: str,
        executionTime: float,
        requestTime: float,
        service: str,
        statusCode: int,
        additionalTags: Values | None = None,
        additionalFields: Values | None = None,
    ) -> None:
        super().__init__(requestId, resource, method, requestTime, service, statusCode)
        self.executionTime = executionTime
        self.additionalTags = additionalTags if additionalTags is not None else {}
        self.additionalFields = additionalFields if additionalFields is not None else {}

    @property
    def tags(self) -> Values:
        """Base tags and the additional tags."""
        return {**super().tags, **self.additionalTags}

    @property
    def fields(self) -> Values:
        """Base fields, ``execution_time`` and the additional fields."""
        return {**super().fields, "execution_time": self.executionTime, **self.additionalFields}


class RequestErrorMonitoringPoint(BaseRequestMonitoringPoint):
    """A point of the ``errors`` series: a failed request and its LUNA error code."""

    series = "errors"

    def __init__(
        self,
        requestId: str,
        resource: str,
        method: str,
        errorCode: int,
        service: str,
        requestTime: float,
        statusCode: int,
        additionalTags: Values | None = None,
        additionalFields: Values | None = None,
    ) -> None:
        super().__init__(requestId, resource, method, requestTime, service, statusCode)
        self.errorCode = errorCode
        self.additionalTags = additionalTags if additionalTags is not None else {}
        self.additionalFields = additionalFields if additionalFields is not None else {}

    @property
    def tags(self) -> Values:
        """Base tags, ``error_code`` and the additional tags."""
        return {**super().tags, "error_code": self.errorCode, **self.additionalTags}

    @property
    def fields(self) -> Values:
        """Base fields and the additional fields."""
        return {**super().fields, **self.additionalFields}


class SubtaskMonitoringBasePoint(BaseMonitoringPoint):
    """Base class of luna-tasks' subtask points: ``service``, ``task_id``,
    ``subtask_id``, ``task_type`` tags. The service is ``luna-tasks-worker`` unless
    :meth:`initialize` names another."""

    service: ClassVar[str] = "luna-tasks-worker"

    def __init__(
        self,
        eventTime: float,
        subtaskId: int,
        taskId: int,
        taskType: int,
    ) -> None:
        super().__init__(eventTime)
        self.subtaskId = subtaskId
        self.taskId = taskId
        self.taskType = taskType

    @classmethod
    def initialize(cls, serviceName: str) -> None:
        """Name the service of the points of this class (and its subclasses)."""
        cls.service = serviceName

    @property
    def tags(self) -> Values:
        """``service``, ``task_id``, ``subtask_id``, ``task_type``."""
        return {
            "service": self.service,
            "task_id": self.taskId,
            "subtask_id": self.subtaskId,
            "task_type": self.taskType,
        }

    @property
    def fields(self) -> Values:
        """No fields of its own."""
        return {}


class SubtaskErrorPoint(SubtaskMonitoringBasePoint):
    """A point of ``subtask_errors``: an error in a subtask's pipeline."""

    series = "subtask_errors"

    def __init__(
        self,
        eventTime: float,
        subtaskId: int,
        taskId: int,
        taskType: int,
        errorCode: int,
        additionalTags: Values | None = None,
        additionalFields: Values | None = None,
    ) -> None:
        super().__init__(eventTime, subtaskId, taskId, taskType)
        self.errorCode = errorCode
        self.additionalTags = additionalTags if additionalTags is not None else {}
        self.additionalFields = additionalFields if additionalFields is not None else {}

    @property
    def tags(self) -> Values:
        """Base tags, ``error_code`` and the additional tags."""
        return {**super().tags, "error_code": self.errorCode, **self.additionalTags}

    @property
    def fields(self) -> Values:
        """``error_code`` and the additional fields."""
        return {"error_code": self.errorCode, **self.additionalFields}


class SubtaskExecutionPoint(SubtaskMonitoringBasePoint):
    """A point of ``subtask_execution``: timings and counts of a subtask."""

    series = "subtask_execution"

    def __init__(
        self,
        eventTime: float,
        subtaskId: int,
        taskId: int,
        taskType: int,
        additionalTags: Values | None = None,
        additionalFields: Values | None = None,
    ) -> None:
        super().__init__(eventTime, subtaskId, taskId, taskType)
        self.additionalTags = additionalTags if additionalTags is not None else {}
        self.additionalFields = additionalFields if additionalFields is not None else {}

    @property
    def tags(self) -> Values:
        """Base tags and the additional tags."""
        return {**super().tags, **self.additionalTags}

    @property
    def fields(self) -> Values:
        """The additional fields (``save_result_time``, ``linked_faces``, ...)."""
        return dict(self.additionalFields)


class SubtaskFinalPoint(SubtaskMonitoringBasePoint):
    """A point of ``subtask_final``: the end of a subtask."""

    series = "subtask_final"

    def __init__(
        self,
        eventTime: float,
        subTaskId: int,
        taskId: int,
        taskType: int,
        executionTime: float,
        status: int,
        additionalTags: Values | None = None,
        additionalFields: Values | None = None,
    ) -> None:
        super().__init__(eventTime, subTaskId, taskId, taskType)
        self.executionTime = executionTime
        self.status = status
        self.additionalTags = additionalTags if additionalTags is not None else {}
        self.additionalFields = additionalFields if additionalFields is not None else {}

    @property
    def tags(self) -> Values:
        """Base tags and the additional tags."""
        return {**super().tags, **self.additionalTags}

    @property
    def fields(self) -> Values:
        """``execution_time``, ``status`` and the additional fields."""
        return {
            "execution_time": self.executionTime,
            "status": self.status,
            **self.additionalFields,
        }


class WorkerQueuePoint(SubtaskMonitoringBasePoint):
    """A point of ``worker_queue``: a worker took a subtask from its queue."""

    series = "worker_queue"

    def __init__(
        self,
        eventTime: float,
        subtaskId: int,
        taskId: int,
        taskType: int,
        transportTime: float,
    ) -> None:
        super().__init__(eventTime, subtaskId, taskId, taskType)
        self.transportTime = transportTime

    @property
    def fields(self) -> Values:
        """``transport_time``."""
        return {"transport_time": self.transportTime}


class WorkerRequestPoint(BaseMonitoringPoint):
    """A point of ``worker_requests``: a subtask was sent to a worker (no task type)."""

    series = "worker_requests"
    service: ClassVar[str] = "luna-tasks-worker"

    def __init__(
        self,
        eventTime: float,
        subtaskId: int,
        taskId: int,
        transportTime: float,
    ) -> None:
        super().__init__(eventTime)
        self.subtaskId = subtaskId
        self.taskId = taskId
        self.transportTime = transportTime

    @classmethod
    def initialize(cls, serviceName: str) -> None:
        """Name the service of these points."""
        cls.service = serviceName

    @property
    def tags(self) -> Values:
        """``service``, ``task_id``, ``subtask_id``."""
        return {"service": self.service, "task_id": self.taskId, "subtask_id": self.subtaskId}

    @property
    def fields(self) -> Values:
        """``transport_time``."""
        return {"transport_time": self.transportTime}


def time_ns_of(eventTime: float) -> int:
    """The point's time in ns, computed as the original adapter did."""
    return int(eventTime * 10**9)


def point_to_event(point: BaseMonitoringPoint) -> Event:
    """The event that becomes the same InfluxDB point as the original adapter wrote.

    Every tag is written as the original's ``str(value)`` (an additional ``True``
    stays ``"True"``, a catalogued ``account_id`` given ``42`` is ``"42"``); see
    :func:`_tag_value`. Fields pass as given and are checked against the catalog.
    """
    spec = CATALOG.get(point.series)
    tags: dict[str, TagValue] = {
        key: _tag_value(spec.tag(key) if spec is not None else None, value)
        for key, value in point.tags.items()
    }
    fields: dict[str, FieldValue] = dict(point.fields)
    return Event(point.series, time_ns_of(point.eventTime), tags, fields)


def _tag_value(spec: TagSpec | None, value: Any) -> TagValue:
    """``value`` as a catalogued tag accepts it and writes it as ``str(value)``: the
    value itself, its text (a str tag given a number), or the int its text spells (an
    int tag given digits). A catalogued bool tag is written ``true``/``false``, not the
    original's ``True``/``False`` (docs/migrating.md); a value no form of which fits
    stays as given, to be reported."""
    text = str(value)
    if spec is None:
        return text
    candidates: list[Any] = [value, text]
    with suppress(ValueError):
        candidates.append(int(text))
    for candidate in candidates:
        if tag_wire(spec.type, candidate) == text:
            return candidate  # type: ignore[no-any-return]
    return value  # type: ignore[no-any-return]


class EventPoint(BaseMonitoringPoint):
    """Any event seen as a point (for plugins written against the seeds)."""

    def __init__(self, event: Event) -> None:
        super().__init__(event.time_ns / 10**9)
        self.series = event.series  # type: ignore[misc]
        self._tags = dict(event.tags)
        self._fields = dict(event.fields)

    @property
    def tags(self) -> Values:
        """The event's tags."""
        return dict(self._tags)

    @property
    def fields(self) -> Values:
        """The event's fields."""
        return dict(self._fields)


def point_from_event(event: Event) -> BaseMonitoringPoint:
    """``event`` as the point the original platform would have handed a plugin:
    a :class:`RequestMonitoringPoint` or :class:`RequestErrorMonitoringPoint` for
    ``requests`` and ``errors``, else an :class:`EventPoint`."""
    tags, fields = dict(event.tags), dict(event.fields)
    route = tags.get("route")
    if event.series in ("requests", "errors") and isinstance(route, str) and ":" in route:
        method, _, resource = route.partition(":")
        common = {k: tags.pop(k, None) for k in ("route", "service", "status_code")}
        request_id = fields.pop("request_id", None)
        seconds = event.time_ns / 10**9
        if event.series == "requests":
            return RequestMonitoringPoint(
                request_id,  # type: ignore[arg-type]
                resource,
                method,
                fields.pop("execution_time", None),  # type: ignore[arg-type]
                seconds,
                common["service"],  # type: ignore[arg-type]
                common["status_code"],  # type: ignore[arg-type]
                tags,
                fields,
            )
        return RequestErrorMonitoringPoint(
            request_id,  # type: ignore[arg-type]
            resource,
            method,
            tags.pop("error_code", None),  # type: ignore[arg-type]
            common["service"],  # type: ignore[arg-type]
            seconds,
            common["status_code"],  # type: ignore[arg-type]
            tags,
            fields,
        )
    return EventPoint(event)
