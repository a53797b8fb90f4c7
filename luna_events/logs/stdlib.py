"""stdlib logging: a python-json-logger formatter that writes monitoring lines.

Services log events with plain ``logger.info``::

    logger.info("request", extra=event.extra())

Every record becomes one JSON line; a record that carries an event (the
``luna_event`` extra) becomes a monitoring line, every other record stays an
ordinary JSON log line in the same stream.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pythonjsonlogger.orjson import OrjsonFormatter

from luna_events.errors import LunaEventsError
from luna_events.event import CONTEXT_KEY, FORMAT_KEY, Event
from luna_events.logs.layout import event_line

RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)
"""Names ``extra=`` may not use: stdlib refuses them with a bare ``KeyError``."""


class LogRecordKeyError(LunaEventsError, ValueError):
    """An ``extra`` key would overwrite a ``LogRecord`` attribute."""


def check_extra(extra: dict[str, Any]) -> dict[str, Any]:
    """Refuse ``extra`` keys that stdlib logging would reject deep inside ``makeRecord``."""
    clashes = sorted(RECORD_ATTRIBUTES.intersection(extra))
    if clashes:
        raise LogRecordKeyError(
            f"extra keys {clashes} are LogRecord attributes and would make logging raise "
            "KeyError; rename them, or pass them as context: event.extra(**context)"
        )
    return extra


class JsonLineFormatter(OrjsonFormatter):
    """python-json-logger's orjson formatter, with a fast path for monitoring records.

    Ordinary records keep python-json-logger's behaviour (extras, exceptions) with
    the keys ``timestamp``, ``level``, ``logger`` and ``message``. Monitoring records
    are written directly in the shared layout (:mod:`luna_events.logs.layout`), which
    costs a fraction of the generic path. ``service`` fills in a missing ``service``
    tag.
    """

    def __init__(self, *, service: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "{created}{levelname}{name}{message}")
        kwargs.setdefault("style", "{")
        kwargs.setdefault(
            "rename_fields", {"created": "timestamp", "levelname": "level", "name": "logger"}
        )
        super().__init__(**kwargs)
        self.service = service

    def jsonify_log_record(self, log_data: Any) -> str:
        """python-json-logger's orjson output, falling back to the json module for
        values orjson refuses (ints beyond 64 bits, lone surrogates)."""
        try:
            text: str = super().jsonify_log_record(log_data)
            return text
        except TypeError:
            return json.dumps(log_data, default=str, separators=(",", ":"))

    def format(self, record: logging.LogRecord) -> str:
        event = record.__dict__.get(FORMAT_KEY)
        if type(event) is not Event:
            return super().format(record)
        context = record.__dict__.get(CONTEXT_KEY)
        if record.exc_info:
            context = {**(context or {}), "exc_info": self.formatException(record.exc_info)}
        return event_line(
            event,
            record.created,
            record.levelname,
            record.name,
            record.getMessage() if record.args else str(record.msg),
            self.service,
            context,
        ).decode()
