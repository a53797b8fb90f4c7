"""Monitoring never hurts the service: problems met while building, checking or
emitting an event are reported here instead of raised.

Each kind of problem (where it happened, the series, the key or exception type) is
logged once as a warning on the ``luna_events.guard`` logger, then counted; while it
keeps happening a reminder with the count is logged at most once a minute.
:func:`problem_counts` gives the counters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

log = logging.getLogger("luna_events.guard")

REMIND_EVERY_S = 60.0
"""How often a problem that keeps happening is logged again, with its count."""

MAX_KINDS = 1000
"""How many kinds of problem are told apart; beyond them (keys built from request
data, say) every new kind is counted under one overflow kind per place, so the
warnings and the memory they take stay bounded."""

OVERFLOW = ("*", "other kinds of problem")
"""The (series, key) of the overflow kind."""

Kind = tuple[str, str, str]
"""(where, series, key or problem code)"""

_counts: Counter[Kind] = Counter()
_last_logged: dict[Kind, float] = {}
_lock = threading.Lock()


def report(where: str, series: str, key: str, message: str) -> None:
    """Count one problem of kind (``where``, ``series``, ``key``); log it when it is new,
    and at most once a minute while it repeats. Never raises."""
    try:
        kind = (where, series, key)
        now = time.monotonic()
        with _lock:
            if kind not in _counts and len(_counts) >= MAX_KINDS:
                kind = (where, *OVERFLOW)
                message = f"series {series}, {key}: {message}"
            _counts[kind] += 1
            count = _counts[kind]
            last = _last_logged.get(kind)
            due = last is None or now - last >= REMIND_EVERY_S
            if due:
                _last_logged[kind] = now
        if due:
            times = "" if count == 1 else f" ({count} times so far)"
            log.warning(
                "monitoring problem in %s, series %s, %s: %s%s", where, series, key, message, times
            )
    except Exception:  # the report itself must not raise into the caller
        pass


def report_error(where: str, series: str, error: BaseException) -> None:
    """Report an exception caught on the monitoring path (its type is the key)."""
    report(where, series, type(error).__name__, str(error) or repr(error))


def problem_counts() -> dict[Kind, int]:
    """How often each kind of problem happened in this process."""
    with _lock:
        return dict(_counts)


def reset_problem_counts() -> None:
    """Forget every count (for tests)."""
    with _lock:
        _counts.clear()
        _last_logged.clear()


def series_of(event: object) -> str:
    """The series name of something that should be an event, for reports."""
    name = getattr(event, "series", None)
    return name if isinstance(name, str) else type(event).__name__
