"""Where a service's finished events go: its monitoring logger, and its plugins."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from luna_events.checking import check_strictly, strict_from_env, warn_problems
from luna_events.errors import InvalidEvent
from luna_events.event import FORMAT_KEY, Event
from luna_events.guard import report_error, series_of

if TYPE_CHECKING:
    from luna_events.plugins import PluginRunner

DEFAULT_LOGGER = "luna.monitoring"


class Monitor:
    """Emits finished events: one log record each, then a hand-off to every plugin.

    ``service`` fills in the ``service`` tag of events that lack one. With ``strict``
    (default: the ``LUNA_EVENTS_STRICT`` environment variable) an invalid event raises
    :class:`~luna_events.errors.InvalidEvent`; otherwise :meth:`emit` never raises:
    what goes wrong is reported once per kind and counted (:mod:`luna_events.guard`).
    """

    def __init__(
        self,
        logger: logging.Logger | None = None,
        *,
        service: str | None = None,
        plugins: PluginRunner | None = None,
        strict: bool | None = None,
    ) -> None:
        self.logger = logger or logging.getLogger(DEFAULT_LOGGER)
        self.service = service
        self.plugins = plugins
        self.strict = strict_from_env() if strict is None else strict

    def emit(self, event: Event, message: str | None = None) -> None:
        """Log ``event`` as a monitoring line and pass it to the plugins.

        Plugins run isolated, off this thread. In strict mode an invalid event raises
        :class:`~luna_events.errors.InvalidEvent` and is not written; otherwise nothing
        raises from here."""
        if type(event) is not Event:
            if self.strict:
                check_strictly(event)
            warn_problems(event, "emit")
            return
        try:
            if self.service is not None and "service" not in event.tags:
                event.tags["service"] = self.service
        except Exception as error:  # tags that are not a dict
            report_error("emit", series_of(event), error)
        if self.strict:
            check_strictly(event)
        try:
            self.logger.info(message or event.series, extra={FORMAT_KEY: event})
        except Exception as error:  # a broken handler or filter: reported, strict or not
            if self.strict and isinstance(error, InvalidEvent):
                raise
            report_error("emit", series_of(event), error)
        if self.plugins is not None:
            try:
                self.plugins.submit(event)
            except Exception as error:
                report_error("plugins", series_of(event), error)


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
    """Emit ``event`` through the process-wide monitor (see :meth:`Monitor.emit`)."""
    _current.emit(event, message)
