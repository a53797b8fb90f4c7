"""``configure_logging``: the whole set-up of a service's monitoring in one call."""

from __future__ import annotations

import atexit
import logging
import logging.handlers
import queue
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from luna_events.checking import StrictFilter, WarningFilter, strict_from_env
from luna_events.errors import UsageError
from luna_events.event import FORMAT_KEY
from luna_events.guard import report_error, series_of
from luna_events.logs.stdlib import JsonLineFormatter
from luna_events.monitor import DEFAULT_LOGGER, Monitor, get_monitor, set_monitor
from luna_events.plugins import PluginRunner, load_plugins


class _DeferredQueueHandler(logging.handlers.QueueHandler):
    """A QueueHandler that leaves formatting to the listener thread.

    The stock ``prepare`` formats the record on the caller's thread; here the
    caller only enqueues, so the request path pays for no JSON at all.
    """

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        return record


class _ReportsWriteErrors(logging.Handler):
    """A record the handler cannot format or write is reported through
    :mod:`luna_events.guard` (one warning per kind, then counted), not a traceback on
    stderr for every record."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        event = record.__dict__.get(FORMAT_KEY)
        series = series_of(event) if event is not None else "(ordinary line)"
        report_error("write", series, error if error is not None else RuntimeError(record.msg))


class _FileHandler(_ReportsWriteErrors, logging.handlers.WatchedFileHandler):
    """The log file, reopened when logrotate moves it."""


class _StreamHandler(_ReportsWriteErrors, logging.StreamHandler):  # type: ignore[type-arg]
    """The given stream."""


_ACTIVE: list[LoggingSetup] = []
"""Set-ups not yet closed, oldest first."""


@atexit.register
def _close_all() -> None:
    """At exit, close the set-ups still open, newest first (one handler for all of them)."""
    for setup in reversed(list(_ACTIVE)):
        setup.close()


@dataclass
class LoggingSetup:
    """What :func:`configure_logging` set up; :meth:`close` flushes and detaches it."""

    logger: logging.Logger
    handler: logging.Handler
    """The handler that writes (a file or stream handler)."""
    installed: logging.Handler
    """The handler added to ``logger``: the queue handler, or ``handler`` itself."""
    monitor: Monitor
    previous_monitor: Monitor
    listener: logging.handlers.QueueListener | None = None
    plugins: PluginRunner | None = None
    strict_filter: logging.Filter | None = None
    """In strict mode, the filter on ``logger`` that raises for invalid events."""

    def close(self) -> None:
        """Let the plugins finish, write out everything queued, close the file, and put
        the previous monitor back. Only what this set-up added is removed."""
        if self.plugins is not None:
            self.plugins.close()  # may still log, through the handlers below
            self.plugins = None
        self.logger.removeHandler(self.installed)
        if self.strict_filter is not None:
            self.logger.removeFilter(self.strict_filter)
        if self.listener is not None:
            self.listener.stop()  # writes out what is queued
            self.listener = None
        self.handler.close()
        if self in _ACTIVE:
            _ACTIVE.remove(self)
        for later in _ACTIVE:  # splice this set-up out of the chain of monitors
            if later.previous_monitor is self.monitor:
                later.previous_monitor = self.previous_monitor
        if get_monitor() is self.monitor:
            set_monitor(self.previous_monitor)


def configure_logging(
    *,
    service: str,
    path: str | Path | None = None,
    stream: IO[str] | None = None,
    logger: str | logging.Logger = DEFAULT_LOGGER,
    level: int = logging.INFO,
    use_queue: bool = True,
    plugins: list[str] | None = None,
    strict: bool | None = None,
    **formatter_options: Any,
) -> LoggingSetup:
    """Send ``logger`` (default ``luna.monitoring``) to JSON lines and make it the monitor.

    Give ``path`` (a file, reopened when logrotate moves it) or ``stream``. With
    ``use_queue`` the request path only enqueues records; a listener thread formats
    and writes them. ``plugins`` are loaded by name (see :mod:`luna_events.plugins`).
    Ordinary records sent to the same logger become ordinary JSON lines.

    ``strict`` (default: ``LUNA_EVENTS_STRICT``) validates every monitoring record on
    the caller's thread and raises :class:`~luna_events.errors.InvalidEvent` for an
    invalid event. Otherwise the handler warns once per (series, problem) and writes
    the record as given (see :mod:`luna_events.checking`).
    """
    if (path is None) == (stream is None):
        raise UsageError("give exactly one of path= or stream=")
    target: logging.Handler
    target = _FileHandler(path, encoding="utf-8") if path is not None else _StreamHandler(stream)
    target.setFormatter(JsonLineFormatter(service=service, **formatter_options))
    strict = strict_from_env() if strict is None else strict
    chosen = logging.getLogger(logger) if isinstance(logger, str) else logger
    strict_filter = StrictFilter(service) if strict else None
    if strict_filter is not None:
        chosen.addFilter(strict_filter)
    else:
        target.addFilter(WarningFilter(service))
    chosen.setLevel(level)
    chosen.propagate = False
    listener = None
    if use_queue:
        records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        installed: logging.Handler = _DeferredQueueHandler(records)
        chosen.addHandler(installed)
        listener = logging.handlers.QueueListener(records, target, respect_handler_level=True)
        listener.start()
    else:
        installed = target
        chosen.addHandler(target)
    runner = PluginRunner(load_plugins(plugins)) if plugins else None
    monitor = Monitor(chosen, service=service, plugins=runner, strict=strict)
    previous = set_monitor(monitor)
    setup = LoggingSetup(
        chosen, target, installed, monitor, previous, listener, runner, strict_filter
    )
    _ACTIVE.append(setup)
    return setup
