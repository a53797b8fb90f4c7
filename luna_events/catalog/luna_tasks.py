"""Series of luna-tasks and its workers (seed: luna-tasks monitoring page)."""

from __future__ import annotations

from luna_events.catalog.build import count, field, seconds, series, tag
from luna_events.catalog.common import error_code_tag, errors_series, requests_series
from luna_events.catalog.model import SeriesSpec, TagSpec, ValueType

TASKS = "luna-tasks"
WORKER = "luna-tasks-worker"
GROUP = "tasks"


def _task_tags(*, with_type: bool = True) -> tuple[TagSpec, ...]:
    tags: tuple[TagSpec, ...] = (
        tag("task_id", ValueType.INT, "task id"),
        tag("subtask_id", ValueType.INT, "subtask id"),
    )
    if with_type:
        tags += (tag("task_type", ValueType.INT, "task type (1, 2, 3, ...)"),)
    return tags


SERIES: tuple[SeriesSpec, ...] = (
    requests_series((TASKS, WORKER)),
    errors_series((TASKS, WORKER)),
    series(
        "subtask_errors",
        "an error in the pipeline of a subtask",
        (WORKER,),
        (*_task_tags(), error_code_tag()),
        (count("error_code", "LUNA error code", required=True),),
        group=GROUP,
    ),
    series(
        "subtask_execution",
        "progress of a subtask: per task type timings and counts",
        (WORKER,),
        _task_tags(),
        (
            seconds(
                "save_result_time", "time of saving the result in image-store (all task types)"
            ),
            count("linked_faces", "approximate linked faces count (linker task)"),
            count("extracted_descriptors", "extracted descriptors count (additional extract task)"),
            count("events", "removed event ids count (gc task)"),
            seconds("match_time", "matching time (cross-matching task)"),
            seconds("clusterization_report_build_time", "report build time (reporter task)"),
        ),
        group=GROUP,
    ),
    series(
        "subtask_final",
        "the end of a subtask's execution",
        (WORKER,),
        _task_tags(),
        (
            seconds("execution_time", "subtask execution time", required=True),
            field("status", ValueType.INT, "subtask status (SubtaskFinalPoint.status)"),
        ),
        group=GROUP,
    ),
    series(
        "worker_queue",
        "a worker took a subtask from its queue",
        (WORKER,),
        _task_tags(),
        (
            seconds(
                "transport_time",
                "time between a worker receiving the subtask and starting it",
                required=True,
            ),
        ),
        group=GROUP,
    ),
    series(
        "worker_requests",
        "a subtask was sent to a worker",
        (WORKER,),
        _task_tags(with_type=False),
        (
            seconds(
                "transport_time",
                "time from starting to send a task's subtasks to sending this one to a worker",
                required=True,
            ),
        ),
        group=GROUP,
    ),
)
