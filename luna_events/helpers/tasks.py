"""luna-tasks helpers: a subtask's execution, final and errors; worker transport times.

::

    with subtask(task_id=7, subtask_id=12, task_type=5) as data:
        data.fields["linked_faces"] = link()          # -> subtask_execution
    # -> subtask_final (execution_time); on an exception also subtask_errors
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

from luna_events import series
from luna_events.checking import merge_extras, noted_on
from luna_events.errors import InvalidEvent
from luna_events.event import Event, now_ns
from luna_events.guard import report, report_error
from luna_events.monitor import Monitor, get_monitor
from luna_events.timing import MonitoringData, collecting, seconds_since

UNKNOWN_ERROR = 1


@contextmanager
def subtask(
    *,
    task_id: int,
    subtask_id: int,
    task_type: int,
    monitor: Monitor | None = None,
) -> Iterator[MonitoringData]:
    """Time a subtask and emit its series.

    Fields set on the yielded container (``save_result_time``, ``linked_faces``,
    ... or with :class:`~luna_events.timing.monitor_time`) go into
    ``subtask_execution``; ``subtask_final`` gets the execution time (and ``status``
    if set in ``data.fields``). An exception also emits ``subtask_errors`` with its
    ``error_code`` attribute (1 when it has none) and is re-raised untouched.
    Nothing here raises into the subtask: monitoring problems are reported.
    """
    monitor = monitor or get_monitor()
    started_ns = now_ns()
    started = time.perf_counter()
    ids = _Ids(task_id, subtask_id, task_type)
    with collecting() as data:
        failure: BaseException | None = None
        try:
            yield data
        except BaseException as error:
            failure = error
            raise
        finally:
            with noted_on(failure):  # strict mode never replaces the subtask's exception
                _emit_subtask(monitor, data, ids, started_ns, seconds_since(started), failure)


def _emit_subtask(
    monitor: Monitor,
    data: MonitoringData,
    ids: _Ids,
    started_ns: int,
    elapsed: float,
    failure: BaseException | None,
) -> None:
    """Emit ``subtask_errors`` (when the subtask raised ``failure``),
    ``subtask_execution`` and ``subtask_final``."""
    if failure is not None:
        _guarded(
            monitor,
            "subtask_errors",
            lambda: series.subtask_errors(
                task_id=ids.task_id,
                subtask_id=ids.subtask_id,
                task_type=ids.task_type,
                error_code=_error_code(failure),
            ),
        )
    status = _status(data)
    _guarded(
        monitor,
        "subtask_execution",
        lambda: _execution(data, ids, started_ns, monitor.strict),
    )
    _guarded(
        monitor,
        "subtask_final",
        lambda: series.subtask_final(
            task_id=ids.task_id,
            subtask_id=ids.subtask_id,
            task_type=ids.task_type,
            execution_time=elapsed,
            status=status,
        ),
    )


def _error_code(failure: BaseException) -> int:
    """The exception's ``error_code`` attribute when it is an int, else 1."""
    code = getattr(failure, "error_code", UNKNOWN_ERROR)
    return code if type(code) is int else UNKNOWN_ERROR


def _status(data: MonitoringData) -> int | None:
    """The ``status`` the subtask set in its fields (taken out of them), if an int."""
    try:
        status = data.fields.pop("status", None)
    except Exception as error:  # fields replaced by something else
        report_error("tasks", "subtask_final", error)
        return None
    if status is not None and type(status) is not int:
        report(
            "tasks", "subtask_final", "fields.status wrong_type", "status must be an int; left out"
        )
        return None
    return status


class _Ids(NamedTuple):
    task_id: int
    subtask_id: int
    task_type: int


def _execution(data: MonitoringData, ids: _Ids, started_ns: int, strict: bool) -> Event | None:
    if not data.fields:
        return None
    execution = series.subtask_execution(
        task_id=ids.task_id, subtask_id=ids.subtask_id, task_type=ids.task_type, time_ns=started_ns
    )
    merge_extras(execution, data.tags, data.fields, where="tasks", strict=strict)
    return execution if execution.fields else None  # every field was left out


def _guarded(monitor: Monitor, name: str, build: Callable[[], Event | None]) -> None:
    """Build and emit one event; report instead of raising (strict mode still raises)."""
    try:
        event = build()
    except Exception as error:
        if monitor.strict and isinstance(error, InvalidEvent):
            raise
        report_error("tasks", name, error)
        return
    if event is not None:
        monitor.emit(event)


def worker_queue(
    *,
    task_id: int,
    subtask_id: int,
    task_type: int,
    received_at: float,
    monitor: Monitor | None = None,
) -> None:
    """Emit ``worker_queue``: seconds from a worker receiving the subtask (``received_at``,
    a ``time.time()``) until it starts now."""
    _guarded(
        monitor or get_monitor(),
        "worker_queue",
        lambda: series.worker_queue(
            task_id=task_id,
            subtask_id=subtask_id,
            task_type=task_type,
            transport_time=max(0.0, round(time.time() - received_at, 9)),
        ),
    )


def worker_request(
    *, task_id: int, subtask_id: int, sending_started_at: float, monitor: Monitor | None = None
) -> None:
    """Emit ``worker_requests``: seconds from starting to send the task's subtasks
    (``sending_started_at``, a ``time.time()``) until this one was sent, now."""
    _guarded(
        monitor or get_monitor(),
        "worker_requests",
        lambda: series.worker_requests(
            task_id=task_id,
            subtask_id=subtask_id,
            transport_time=max(0.0, round(time.time() - sending_started_at, 9)),
        ),
    )
