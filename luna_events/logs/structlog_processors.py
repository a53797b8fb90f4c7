"""structlog: a renderer that writes the same monitoring lines as the stdlib formatter.

Native path (bytes, orjson)::

    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, LunaLineRenderer()],
        logger_factory=structlog.BytesLoggerFactory(open("service.log", "ab")),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )
    structlog.get_logger().info("request", luna_event=event)

Bridged to stdlib: pass ``processors=[LunaLineRenderer(as_str=True)]`` to a
``structlog.stdlib.ProcessorFormatter`` (not ``processor=``, which strips the
record first); the record's name, level and time are then used, and the renderer
removes ProcessorFormatter's ``_record`` and ``_from_structlog`` keys itself.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, NoReturn

from luna_events.checking import warn_problems
from luna_events.event import CONTEXT_KEY, FORMAT_KEY, Event
from luna_events.guard import report_error, series_of
from luna_events.logs.layout import event_line, render
from luna_events.monitor import DEFAULT_LOGGER

_LEVELS = {
    "exception": "ERROR",
    "warn": "WARNING",
    "msg": "INFO",
    "critical": "CRITICAL",
    "error": "ERROR",
    "warning": "WARNING",
    "info": "INFO",
    "debug": "DEBUG",
}
_time = time.time


def _traceback(exc_info: Any) -> str:
    """A traceback as text, from ``True`` (the current exception), an exception or a tuple."""
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if not isinstance(exc_info, tuple) or exc_info[0] is None:
        return str(exc_info)
    return "".join(traceback.format_exception(*exc_info)).rstrip("\n")


Processor = Callable[[Any, str, MutableMapping[str, Any]], bytes | str]
"""What structlog calls a processor: ``(logger, method_name, event_dict) -> rendered``."""


def LunaLineRenderer(
    *, service: str | None = None, logger_name: str = DEFAULT_LOGGER, as_str: bool = False
) -> Processor:
    """The last processor: renders the event dict as one line in the shared layout.

    ``luna_event`` (an :class:`~luna_events.Event`) makes it a monitoring line
    (anything else there is written as given and warned about, as on the stdlib path);
    ``event`` is the message; other keys are context. Returns ``bytes`` for
    ``BytesLogger``, or ``str`` with ``as_str=True``. ``service`` fills in a missing
    ``service`` tag; ``logger_name`` is the line's ``logger`` unless the event dict
    names one.

    It returns a bound method, not an object with ``__call__``: calling an instance
    costs about 0.01x of a bare ``logger.info`` on the native path (docs/performance.md),
    and CPython calls a bound method as directly as a function. Unlike a closure it
    pickles, and so does a structlog logger holding it (``multiprocessing``).
    """
    return _LineRenderer(service, logger_name, as_str).render_line


@dataclass(frozen=True, slots=True)
class _LineRenderer:
    """The settings of :func:`LunaLineRenderer`; its :meth:`render_line` is the processor."""

    service: str | None
    logger_name: str
    as_str: bool

    def render_line(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> bytes | str:
        """Render ``event_dict`` (see :func:`LunaLineRenderer`)."""
        event = event_dict.get(FORMAT_KEY)
        if type(event) is Event and len(event_dict) == 2 and "event" in event_dict:
            # the common monitoring call, log.info(message, luna_event=event): no pops
            message = event_dict["event"]
            try:
                line = event_line(
                    event,
                    _time(),
                    _LEVELS.get(method_name) or method_name.upper(),
                    self.logger_name,
                    message if type(message) is str else str(message),
                    self.service,
                )
            except Exception as error:
                _drop(event, error)
            return line.decode() if self.as_str else line
        record = event_dict.get("_record")
        try:
            line = _render_any(method_name, event_dict, self.service, self.logger_name)
        except Exception as error:
            if record is not None:
                raise  # bridged to stdlib: its handler reports it, as for the stdlib formatter
            _drop(event, error)
        return line.decode() if self.as_str else line


def _drop(event: object, error: Exception) -> NoReturn:
    """A line the native path cannot write (values JSON cannot hold, an event whose tags
    are not a dict): reported once per kind (:mod:`luna_events.guard`), as the stdlib
    handler reports it, and dropped, never raised into the caller of ``log.info``."""
    from structlog import DropEvent  # structlog is calling: it is installed

    report_error("write", series_of(event) if event is not None else "(ordinary line)", error)
    raise DropEvent


def _render_any(
    method_name: str, event_dict: MutableMapping[str, Any], service: str | None, logger_name: str
) -> bytes:
    """Any event dict: context keys, ``exc_info``, and a stdlib record (bridged)."""
    record: logging.LogRecord | None = event_dict.pop("_record", None)
    event_dict.pop("_from_structlog", None)
    message = event_dict.pop("event", "")
    event = event_dict.pop(FORMAT_KEY, None)
    if record is not None and event is None:
        # a stdlib record (logger.info(..., extra=event.extra()) or Monitor.emit)
        # rendered through ProcessorFormatter: the event rides on the record
        event = record.__dict__.get(FORMAT_KEY)
        event_dict.update(record.__dict__.get(CONTEXT_KEY) or {})
    exc_info = event_dict.pop("exc_info", None) or (record.exc_info if record else None)
    if exc_info:
        event_dict["exc_info"] = _traceback(exc_info)
    if record is not None:
        timestamp: float | str = record.created
        level = record.levelname
        name = record.name
        event_dict.pop("timestamp", None)
        event_dict.pop("level", None)
        event_dict.pop("logger", None)
    else:
        timestamp = event_dict.pop("timestamp", None) or _time()
        level = str(event_dict.pop("level", "") or _LEVELS.get(method_name, method_name)).upper()
        name = event_dict.pop("logger", None) or logger_name
    if event is not None and type(event) is not Event:
        # not an Event (a dict, a subclass): written as given and warned about, as the
        # stdlib formatter and configure_logging's handler do, so the shipper
        # dead-letters it; never dropped unseen
        warn_problems(event, "check", service)
        event_dict[FORMAT_KEY] = event
        event = None
    return render(
        timestamp, level, name, str(message), event, service=service, context=event_dict or None
    )
