"""Where a service's finished events go: its monitoring logger, and its plugins."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from luna_events.event import FORMAT_KEY, Event

if TYPE_CHECKING:
    from luna_events.plugins import PluginRunner

DEFAULT_LOGGER = "luna.monitoring"


class Monitor:
    """Emits finished events: one log record each, then a hand-off to every plugin.

    ``service`` fills in the ``service`` tag of events that lack one.
    """

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        service: str | None = None,
        plugins: PluginRunner | None = None,
    ) -> None:
        self.logger = logger or logging.getLogger(DEFAULT_LOGGER)
        self.service = service
        self.plugins = plugins

    def emit(self, event: Event, message: str | None = None) -> None:
        """Log ``event`` as a monitoring line and pass it to the plugins. Never raises
        for a plugin's sake: plugins run isolated, off this thread."""
        if self.service is not None and "service" not in event.tags:
            event.tags["service"] = self.service
        self.logger.info(message or event.series, extra={FORMAT_KEY: event})
        if self.plugins is not None:
            self.plugins.submit(event)


_current = Monitor()


def get_monitor() -> Monitor:
    """The process-wide monitor (set by :func:`luna_events.configure_logging`)."""
    return _current


def set_monitor(monitor: Monitor) -> Monitor:
    """Replace the process-wide monitor; return the previous one."""
    global _current
    previous, _current = _current, monitor
    return previous


def emit(event: Event, message: str | None = None) -> None:
    """Emit ``event`` through the process-wide monitor."""
    _current.emit(event, message)
