"""The delivery policy: what each answer from the sink means for a batch.

* 2xx: acknowledged.
* 400/422 (a partial write: InfluxDB has already stored the good points): the
  batch is split in halves and each half resent, down to the single lines the
  sink refuses, which go to the dead-letter file. Resending stored points is
  harmless: they carry their own timestamps and overwrite themselves.
* 413: split and resent; a single line that is still too large is dead-lettered.
* 401/403/404 (credentials, missing database): the data is kept, the problem is
  logged loudly, and the batch is retried slowly.
* 429, 5xx, no answer: exponential backoff with jitter, honouring ``Retry-After``.
"""

from __future__ import annotations

import logging
import random
import threading

from luna_events.ship.config import RetryConfig
from luna_events.ship.deadletters import DeadLetters
from luna_events.ship.sinks import SendResult, Sink
from luna_events.ship.spool import Segment
from luna_events.ship.stats import ShipperStats

log = logging.getLogger("luna_events.ship")

PARTIAL = frozenset({400, 422})
TOO_LARGE = 413
NEEDS_OPERATOR = frozenset({401, 403, 404})


class Delivery:
    """Sends spooled batches to a sink until each is fully acknowledged or dead-lettered."""

    def __init__(
        self,
        sink: Sink,
        dead_letters: DeadLetters,
        retry: RetryConfig,
        stats: ShipperStats,
        stop: threading.Event,
    ) -> None:
        self.sink = sink
        self.dead_letters = dead_letters
        self.retry = retry
        self.stats = stats
        self.stop = stop
        self._count = threading.Lock()  # several senders share the counters

    def deliver(self, segment: Segment) -> bool:
        """``True`` once every line is acknowledged or dead-lettered; ``False`` if
        stopped first (the segment stays in the spool)."""
        return self._deliver(segment, 0, segment.lines)

    def _deliver(self, segment: Segment, first: int, last: int) -> bool:
        attempt = 0
        while True:
            result = self.sink.send(segment.line_range(first, last))
            if result.ok:
                with self._count:
                    self.stats.events_shipped += last - first
                return True
            if result.status in PARTIAL or result.status == TOO_LARGE:
                if last - first == 1:
                    self._reject(segment, first, result)
                    return True
                middle = (first + last) // 2
                return self._deliver(segment, first, middle) and self._deliver(
                    segment, middle, last
                )
            wait = self._wait(result, attempt)
            with self._count:
                self.stats.retries += 1
            attempt += 1
            if self.stop.wait(wait):
                return False

    def _reject(self, segment: Segment, index: int, result: SendResult) -> None:
        self.dead_letters.rejected(
            self.sink.name, result.status, result.message, segment.line_range(index, index + 1)
        )
        with self._count:
            self.stats.events_dead_lettered += 1

    def _wait(self, result: SendResult, attempt: int) -> float:
        if result.status in NEEDS_OPERATOR:
            log.error(
                "%s refuses writes (%s: %s): keeping the data, retrying in %.0f s",
                self.sink.name,
                result.status,
                result.message,
                self.retry.auth_retry_secs,
            )
            return self.retry.auth_retry_secs
        backoff = min(self.retry.max_backoff_secs, self.retry.initial_backoff_secs * 2.0**attempt)
        wait = backoff * random.uniform(0.5, 1.0)
        if result.retry_after is not None:
            wait = max(wait, min(result.retry_after, max(300.0, self.retry.max_backoff_secs)))
        if attempt == 0 or attempt % 10 == 0:
            log.warning(
                "%s did not take a batch (%s: %s); retrying in %.1f s",
                self.sink.name,
                result.status if result.status is not None else "no answer",
                result.message,
                wait,
            )
        return wait
