"""The original platform's request monitoring plugins, run as luna-events plugins.

A plugin written against the seeds subclasses :class:`BaseRequestMonitoringPlugin`
and implements ``async flushPointToMonitoring(point, logger)``; name it in
``configure_logging(plugins=["package.module:MyPlugin"])``. It receives the points
of every request (``requests`` and ``errors``) as the seed's point classes, on the
plugin's own thread, off the request path.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from typing import Any

from luna_events.compat.points import BaseRequestMonitoringPoint, point_from_event
from luna_events.event import Event

REQUEST_SERIES = frozenset({"requests", "errors"})


class BaseRequestMonitoringPlugin:
    """Base class for requests monitoring plugins. The plugin runner creates the
    instance as the seeds' ``cls(app)`` with ``app=None``; ``initialize`` runs before
    the first point and ``close`` when the runner closes."""

    def __init__(self, app: Any = None) -> None:
        self.app = app
        self.logger = logging.getLogger(f"luna_events.plugins.{type(self).__name__}")
        self._initialized = False

    @classmethod
    def create_plugin(cls) -> BaseRequestMonitoringPlugin:
        """How the plugin runner creates it: a subclass's ``__init__(self, app)`` gets
        ``None`` (there is no application object here)."""
        return cls(None)

    async def initialize(self) -> None:
        """Prepare the plugin (called once, before the first point)."""

    async def close(self) -> None:
        """Release what :meth:`initialize` took."""

    @abstractmethod
    async def flushPointToMonitoring(
        self, point: BaseRequestMonitoringPoint, logger: logging.Logger
    ) -> None:
        """Handle one finished point of a request."""

    async def flush_point(self, event: Event) -> None:
        """The luna-events plugin entry: request events become the seed's points."""
        if event.series not in REQUEST_SERIES:
            return
        if not self._initialized:
            self._initialized = True
            await self.initialize()
        point = point_from_event(event)
        await self.flushPointToMonitoring(point, self.logger)  # type: ignore[arg-type]


class RequestMonitoringPlugin(BaseRequestMonitoringPlugin):
    """The seed's example plugin: sends request data to a third-party source. Here it
    logs each point at debug level; override :meth:`flushPointToMonitoring`."""

    async def flushPointToMonitoring(
        self, point: BaseRequestMonitoringPoint, logger: logging.Logger
    ) -> None:
        """Log the point (an example)."""
        logger.debug("monitoring point %s %s %s", point.series, point.tags, point.fields)
