"""The original LUNA platform's monitoring API, on top of luna-events.

Code written against the platform's monitoring classes runs unchanged but for
the import line::

    from luna_events.compat import RequestMonitoringPoint, LunaRequestInfluxMonitoring

Points are written at once as JSON lines through the service's monitoring logger
(:func:`luna_events.configure_logging`); the shipper or Vector delivers them to
InfluxDB as the original adapter wrote them. See docs/migrating.md.
"""

from __future__ import annotations

from luna_events.compat.monitoring import (
    BaseLunaMonitoring,
    BaseMonitoringAdapter,
    InfluxMonitoringAdapter,
    LunaRequestInfluxMonitoring,
)
from luna_events.compat.plugins import BaseRequestMonitoringPlugin, RequestMonitoringPlugin
from luna_events.compat.points import (
    BaseMonitoringPoint,
    BaseRequestMonitoringPoint,
    DataForMonitoring,
    RequestErrorMonitoringPoint,
    RequestMonitoringPoint,
    SubtaskErrorPoint,
    SubtaskExecutionPoint,
    SubtaskFinalPoint,
    SubtaskMonitoringBasePoint,
    WorkerQueuePoint,
    WorkerRequestPoint,
    getRoute,
    monitorTime,
    point_from_event,
    point_to_event,
)

__all__ = [
    "BaseLunaMonitoring",
    "BaseMonitoringAdapter",
    "BaseMonitoringPoint",
    "BaseRequestMonitoringPlugin",
    "BaseRequestMonitoringPoint",
    "DataForMonitoring",
    "InfluxMonitoringAdapter",
    "LunaRequestInfluxMonitoring",
    "RequestErrorMonitoringPoint",
    "RequestMonitoringPlugin",
    "RequestMonitoringPoint",
    "SubtaskErrorPoint",
    "SubtaskExecutionPoint",
    "SubtaskFinalPoint",
    "SubtaskMonitoringBasePoint",
    "WorkerQueuePoint",
    "WorkerRequestPoint",
    "getRoute",
    "monitorTime",
    "point_from_event",
    "point_to_event",
]
