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
from luna_events.event import Event, FieldValue, TagValue, now_ns
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
    ``execution_time``. Nothing is emitted if the call raises.
    """
    if name not in ESTIMATOR_SERIES:
        raise ValueError(f"{name!r} is not an estimator series; see `luna-events catalog`")
    fields: dict[str, FieldValue] = {}
    started_ns = now_ns()
    started = time.perf_counter()
    yield fields
    fields["execution_time"] = seconds_since(started)
    event = Event(name, started_ns, {"service": SDK, "batch_size": batch_size, **tags}, fields)
    (monitor or get_monitor()).emit(event)


class Usages:
    """Counts estimator usages over one request; :meth:`emit` writes ``usages_statistic``."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, estimator: str, count: int = 1) -> None:
        """Count ``count`` uses of ``estimator`` (``face_detector`` or ``face_detector_usages``)."""
        field_name = estimator if estimator.endswith("_usages") else f"{estimator}_usages"
        if field_name not in USAGE_FIELDS:
            raise ValueError(f"no usages counter {field_name!r}; see `luna-events catalog`")
        self.counts[field_name] += count

    def emit(self, monitor: Monitor | None = None) -> None:
        """Emit the counts (if any) as one ``usages_statistic`` point and reset them."""
        if self.counts:
            fields: dict[str, FieldValue] = dict(self.counts)
            (monitor or get_monitor()).emit(
                Event("usages_statistic", now_ns(), {"service": SDK}, fields)
            )
            self.counts.clear()
