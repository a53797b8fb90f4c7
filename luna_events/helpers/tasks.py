"""luna-tasks helpers: a subtask's execution, final and errors; worker transport times.

::

    with subtask(task_id=7, subtask_id=12, task_type=5) as data:
        data.fields["linked_faces"] = link()          # -> subtask_execution
    # -> subtask_final (execution_time); on an exception also subtask_errors
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from luna_events import series
from luna_events.event import now_ns
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
    ``error_code`` attribute (1 when it has none) and is re-raised.
    """
    monitor = monitor or get_monitor()
    started_ns = now_ns()
    started = time.perf_counter()
    with collecting() as data:
        try:
            yield data
        except BaseException as error:
            code = getattr(error, "error_code", UNKNOWN_ERROR)
            monitor.emit(
                series.subtask_errors(
                    task_id=task_id,
                    subtask_id=subtask_id,
                    task_type=task_type,
                    error_code=code if isinstance(code, int) else UNKNOWN_ERROR,
                )
            )
            raise
        finally:
            elapsed = seconds_since(started)
            status = data.fields.pop("status", None)
            if data.fields:
                execution = series.subtask_execution(
                    task_id=task_id, subtask_id=subtask_id, task_type=task_type, time_ns=started_ns
                )
                # never raise from here: that would replace the subtask's own exception
                for key, value in data.tags.items():
                    execution.tags.setdefault(key, value)
                execution.fields.update(data.fields)
                monitor.emit(execution)
            monitor.emit(
                series.subtask_final(
                    task_id=task_id,
                    subtask_id=subtask_id,
                    task_type=task_type,
                    execution_time=elapsed,
                    status=status if isinstance(status, int) else None,
                )
            )


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
    (monitor or get_monitor()).emit(
        series.worker_queue(
            task_id=task_id,
            subtask_id=subtask_id,
            task_type=task_type,
            transport_time=max(0.0, round(time.time() - received_at, 9)),
        )
    )


def worker_request(
    *, task_id: int, subtask_id: int, sending_started_at: float, monitor: Monitor | None = None
) -> None:
    """Emit ``worker_requests``: seconds from starting to send the task's subtasks
    (``sending_started_at``, a ``time.time()``) until this one was sent, now."""
    (monitor or get_monitor()).emit(
        series.worker_requests(
            task_id=task_id,
            subtask_id=subtask_id,
            transport_time=max(0.0, round(time.time() - sending_started_at, 9)),
        )
    )
