"""luna-remote-sdk helpers: time an estimator call, count estimator usages.

::

    with estimation("face_detection", batch_size=len(images)) as fields:
        detections = detector.detect(images)
        fields["detection_count"] = len(detections)

    usages = Usages()
    usages.add("face_detector", len(images))
    usages.emit()                                      # -> usages_statistic
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from luna_events.catalog import CATALOG
from luna_events.catalog.luna_remote_sdk import ESTIMATOR, SDK, USAGE_COUNTERS
from luna_events.checking import merge_extras
from luna_events.errors import InvalidEvent, Problem
from luna_events.event import Event, FieldValue, TagValue, now_ns
from luna_events.guard import report, report_error
from luna_events.monitor import Monitor, get_monitor
from luna_events.timing import seconds_since

ESTIMATOR_SERIES = frozenset(name for name, spec in CATALOG.items() if spec.group == ESTIMATOR)
USAGE_FIELDS = frozenset(name for name, _ in USAGE_COUNTERS)


@contextmanager
def estimation(
    name: str,
    *,
    batch_size: int,
    monitor: Monitor | None = None,
    **tags: TagValue,
) -> Iterator[dict[str, FieldValue]]:
    """Time one estimator call over a batch and emit it into the estimator's series.

    ``tags`` are the series' extra tags (``descriptor_version``, ``mode``); fields
    set on the yielded dict (``detection_count``, sizes) are written with
    ``execution_time``. Nothing is emitted if the call raises. An unknown estimator
    is reported (raised in strict mode), never raised into the call.
    """
    monitor = monitor or get_monitor()
    known = _known(
        name in ESTIMATOR_SERIES,
        monitor,
        name,
        "unknown_series",
        f"{name!r} is not an estimator series; see `luna-events catalog`",
    )
    fields: dict[str, FieldValue] = {}
    started_ns = now_ns()
    started = time.perf_counter()
    yield fields
    if not known:
        return
    try:
        event = Event(
            name,
            started_ns,
            {"service": SDK, "batch_size": batch_size},
            {"execution_time": seconds_since(started)},
        )
        merge_extras(event, tags, fields, where="sdk", strict=monitor.strict)
    except Exception as error:
        if monitor.strict and isinstance(error, InvalidEvent):
            raise
        report_error("sdk", name, error)
        return
    monitor.emit(event)


def _known(known: bool, monitor: Monitor, series: str, code: str, message: str) -> bool:
    """``known``; when not, raise in strict mode, else report."""
    if not known:
        if monitor.strict:
            raise InvalidEvent([Problem(code, "series", message)])
        report("sdk", series, code, message)
    return known


class Usages:
    """Counts estimator usages over one request; :meth:`emit` writes ``usages_statistic``."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, estimator: str, count: int = 1, *, monitor: Monitor | None = None) -> None:
        """Count ``count`` uses of ``estimator`` (``face_detector`` or ``face_detector_usages``).

        An unknown counter or a count that is not an int is reported (raised in strict
        mode) and not counted."""
        field_name = estimator if str(estimator).endswith("_usages") else f"{estimator}_usages"
        chosen = monitor or get_monitor()
        if not _known(
            field_name in USAGE_FIELDS,
            chosen,
            "usages_statistic",
            "unknown_field",
            f"no usages counter {field_name!r}; see `luna-events catalog`",
        ):
            return
        if not _known(
            type(count) is int,
            chosen,
            "usages_statistic",
            "wrong_type",
            f"the count of {field_name} must be an int, got {type(count).__name__}",
        ):
            return
        self.counts[field_name] += count

    def emit(self, monitor: Monitor | None = None) -> None:
        """Emit the counts (if any) as one ``usages_statistic`` point and reset them."""
        if self.counts:
            fields: dict[str, FieldValue] = dict(self.counts)
            self.counts.clear()
            (monitor or get_monitor()).emit(
                Event("usages_statistic", now_ns(), {"service": SDK}, fields)
            )
