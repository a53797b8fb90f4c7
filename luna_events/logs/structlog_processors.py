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
from collections.abc import MutableMapping
from typing import Any

from luna_events.event import CONTEXT_KEY, FORMAT_KEY, Event
from luna_events.logs.layout import render
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
_META = ("_record", "_from_structlog")


def _traceback(exc_info: Any) -> str:
    """A traceback as text, from ``True`` (the current exception), an exception or a tuple."""
    if exc_info is True:
        exc_info = sys.exc_info()
    elif isinstance(exc_info, BaseException):
        exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
    if not isinstance(exc_info, tuple) or exc_info[0] is None:
        return str(exc_info)
    return "".join(traceback.format_exception(*exc_info)).rstrip("\n")


class LunaLineRenderer:
    """The last processor: renders the event dict as one line in the shared layout.

    ``luna_event`` (an :class:`~luna_events.Event`) makes it a monitoring line;
    ``event`` is the message; other keys are context. Returns ``bytes`` for
    ``BytesLogger``, or ``str`` with ``as_str=True``.
    """

    def __init__(
        self, *, service: str | None = None, logger_name: str = DEFAULT_LOGGER, as_str: bool = False
    ) -> None:
        self.service = service
        self.logger_name = logger_name
        self.as_str = as_str

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> bytes | str:
        if len(event_dict) == 2 and FORMAT_KEY in event_dict and "event" in event_dict:
            # the common monitoring call, log.info(message, luna_event=event): no pops
            event = event_dict[FORMAT_KEY]
            line = render(
                time.time(),
                _LEVELS.get(method_name) or method_name.upper(),
                self.logger_name,
                str(event_dict["event"]),
                event if type(event) is Event else None,
                service=self.service,
            )
            return line.decode() if self.as_str else line
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
            timestamp = event_dict.pop("timestamp", None) or time.time()
            level = str(
                event_dict.pop("level", "") or _LEVELS.get(method_name, method_name)
            ).upper()
            name = event_dict.pop("logger", None) or self.logger_name
        line = render(
            timestamp,
            level,
            name,
            str(message),
            event if type(event) is Event else None,
            service=self.service,
            context=event_dict or None,
        )
        return line.decode() if self.as_str else line
