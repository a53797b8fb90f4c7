"""Resource faults on the shipper's own writes: a loud, bounded-rate wait, not a crash.

A spool append, a checkpoint save or a dead-letter write that fails with an
``OSError`` (disk full, quota, too many open files, permissions) is retried with
backoff until it works; meanwhile the data stays where it was (unread lines
behind the checkpoint, unacknowledged batches in the spool). The first failure
is logged at ERROR, then at most one reminder every :data:`REMIND_SECS`, and the
recovery once.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable

from luna_events.ship.stats import ShipperStats

log = logging.getLogger("luna_events.ship")

REMIND_SECS = 30.0
MAX_WAIT_SECS = 5.0


def describe(error: OSError) -> str:
    """``No space left on device (ENOSPC)``, or the error as it prints."""
    name = errno.errorcode.get(error.errno or 0)
    if error.strerror and name:
        where = f" on {error.filename}" if error.filename else ""
        return f"{error.strerror} ({name}){where}"
    return str(error) or type(error).__name__


class WriteFaults:
    """Runs state writes until they succeed, counting and reporting failures."""

    def __init__(self, stats: ShipperStats, counters: threading.Lock) -> None:
        self.stats = stats
        self.counters = counters
        self._lock = threading.Lock()
        self._failing: dict[tuple[str, str], tuple[float, float]] = {}
        """(verb, what) -> (first failure, last message), monotonic."""

    def until_written(
        self,
        what: str,
        consequence: str,
        action: Callable[[], None],
        stop: threading.Event,
        *,
        give_up_after: float | None = None,
        verb: str = "write",
    ) -> bool:
        """Run ``action`` until it does not raise ``OSError``; ``False`` if ``stop`` is
        set first, or when it has failed for ``give_up_after`` seconds (logged; the
        caller stops). ``consequence`` says what waits meanwhile (for the message),
        ``verb`` what is done to ``what`` (``write``, ``read``)."""
        attempt = 0
        started = time.monotonic()
        while True:
            try:
                action()
            except OSError as error:
                self._failed(what, consequence, error, verb)
                if give_up_after is not None and time.monotonic() - started >= give_up_after:
                    log.error(
                        "could not %s the %s for %.0f s (--drain-timeout): giving up; %s",
                        verb,
                        what,
                        give_up_after,
                        consequence,
                    )
                    return False
                wait = min(MAX_WAIT_SECS, 0.2 * 2.0**attempt)
                if give_up_after is not None:
                    wait = max(0.0, min(wait, started + give_up_after - time.monotonic()))
                attempt += 1
                if stop.wait(wait):
                    return False
                continue
            if attempt:
                self._recovered(what, verb)
            return True

    def _failed(self, what: str, consequence: str, error: OSError, verb: str) -> None:
        with self.counters:
            self.stats.write_failures += 1
        now = time.monotonic()
        with self._lock:
            first, last = self._failing.get((verb, what), (now, 0.0))
            if last and now - last < REMIND_SECS:
                return
            self._failing[verb, what] = (first, now)
        if last:
            log.error(
                "still cannot %s the %s (%s) after %.0f s; %s",
                verb,
                what,
                describe(error),
                now - first,
                consequence,
            )
        else:
            log.error(
                "cannot %s the %s (%s); %s; retrying until it works",
                verb,
                what,
                describe(error),
                consequence,
            )

    def _recovered(self, what: str, verb: str) -> None:
        with self._lock:
            failing = self._failing.pop((verb, what), None)
        if failing is None:
            return  # another thread doing the same reported it
        first, _ = failing
        done = {"write": "written"}.get(verb, verb)  # read -> read
        log.warning(
            "the %s can be %s again after %.0f s; going on", what, done, time.monotonic() - first
        )
