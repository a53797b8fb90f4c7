"""The original platform's monitoring objects and InfluxDB adapters, writing to the log.

``LunaRequestInfluxMonitoring(credentials, host, port, ssl, flushingPeriod)`` and the
adapters keep their signatures, but send nothing to InfluxDB themselves: each point
is written at once as a JSON line through luna-events' logging (the log is the
buffer, so nothing is held in memory and nothing is lost at exit), and
``luna-events ship`` or Vector delivers the lines. The credentials are accepted
and ignored; one info line says so.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterable
from typing import Any

from luna_events.compat.points import BaseMonitoringPoint, point_to_event, time_ns_of
from luna_events.guard import report_error, series_of
from luna_events.monitor import get_monitor

DELIVERY_NOTE = (
    "luna_events.compat: the InfluxDB settings given to the monitoring are not used; "
    "points are written as JSON lines to this service's log, and `luna-events ship` "
    "or Vector delivers them to InfluxDB with the credentials in its own config "
    "(see docs/migrating.md)"
)
_noted = threading.Event()


def _note_delivery() -> None:
    """Say once per process, in the service's log, where delivery now happens. Until
    :func:`~luna_events.configure_logging` has named the service (a monitoring object
    built at import comes first), the note waits for the first points."""
    monitor = get_monitor()
    if not _noted.is_set() and monitor.service is not None:
        _noted.set()
        monitor.logger.info(DELIVERY_NOTE)


class _Done:
    """The result of a call that the original made ``async``: awaiting it, or not,
    both work."""

    def __await__(self) -> Generator[Any, None, None]:
        return
        yield


class BaseMonitoringAdapter:
    """Base monitoring adapter: :meth:`addPointsToBuffer` writes each point at once.

    ``settings`` and ``flushingPeriod`` are kept as attributes and not used; there is
    no client, scheduler, buffer or job (the attributes exist, empty).
    """

    def __init__(self, settings: Any, flushingPeriod: float) -> None:
        self._influxSettings = settings
        self.flushingPeriod = flushingPeriod
        self.client: Any = None
        self.backgroundScheduler: Any = None
        self._buffer: list[BaseMonitoringPoint] = []
        self._job: Any = None
        _note_delivery()

    def initializeMonitoring(self) -> _Done:
        """Nothing to start: points are written when they are added."""
        return _Done()

    def stopMonitoring(self) -> _Done:
        """Nothing to flush: every point is already in the log."""
        return _Done()

    def addPointsToBuffer(self, points: Iterable[BaseMonitoringPoint]) -> None:
        """Write each point as a monitoring line now. Never raises (in strict mode an
        invalid point raises :class:`~luna_events.errors.InvalidEvent`)."""
        _note_delivery()
        monitor = get_monitor()
        try:
            for point in points:
                try:
                    event = point_to_event(point)
                except Exception as error:
                    report_error("compat", series_of(point), error)
                    continue
                monitor.emit(event)
        except TypeError as error:  # points that are not iterable
            report_error("compat", series_of(points), error)

    @staticmethod
    def convertPointToDict(point: BaseMonitoringPoint) -> dict[str, Any]:
        """The point as the original gave it to the InfluxDB client: ``time`` in ns,
        ``measurement``, ``tags`` (values as str) and ``fields``."""
        return {
            "time": time_ns_of(point.eventTime),
            "measurement": point.series,
            "tags": {key: str(value) for key, value in point.tags.items()},
            "fields": point.fields,
        }


class InfluxMonitoringAdapter(BaseMonitoringAdapter):
    """The InfluxDB 2.x adapter's signature; ``settings`` (url, bucket, organization,
    token) now belong in the shipper's or Vector's config. ``bucket`` is kept."""

    def __init__(self, settings: Any, flushingPeriod: float) -> None:
        super().__init__(settings, flushingPeriod)
        self.bucket = getattr(settings, "bucket", None)


class BaseLunaMonitoring:
    """Base class for monitoring: hands points to its adapter."""

    def __init__(self, adapter: BaseMonitoringAdapter | None = None) -> None:
        self.adapter = adapter if adapter is not None else BaseMonitoringAdapter(None, 1)

    def initializeMonitoring(self) -> _Done:
        """Start monitoring (nothing to start)."""
        return self.adapter.initializeMonitoring()

    def stopMonitoring(self) -> _Done:
        """Stop monitoring (nothing to flush)."""
        return self.adapter.stopMonitoring()

    def flushPoints(self, points: Iterable[BaseMonitoringPoint]) -> None:
        """Write the points now (see :meth:`BaseMonitoringAdapter.addPointsToBuffer`)."""
        self.adapter.addPointsToBuffer(points)


class LunaRequestInfluxMonitoring(BaseLunaMonitoring):
    """The original request monitoring to InfluxDB; the settings are kept, unused."""

    def __init__(
        self,
        credentials: Any,
        host: str = "localhost",
        port: int = 8086,
        ssl: bool = False,
        flushingPeriod: float = 1,
    ) -> None:
        self.settings = {"credentials": credentials, "host": host, "port": port, "ssl": ssl}
        self.flushingPeriod = flushingPeriod
        super().__init__(InfluxMonitoringAdapter(self.settings, flushingPeriod))
