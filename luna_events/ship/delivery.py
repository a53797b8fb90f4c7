"""The delivery policy: what each answer from the sink means for a batch.

* 2xx: acknowledged.
* A *partial write*, where InfluxDB has stored the good points and names what it
  refused: 1.x answers ``400`` with ``partial write`` in its body, 2.x answers
  ``422``; a ``400`` whose body says ``unable to parse '<line>'`` about a line of
  this very batch is the same refusal (InfluxDB 1.x leaves out ``partial write``
  when no line of the body was stored), and so is a ``400`` saying ``field type
  conflict`` (1.x, when a batch conflicts with itself). The batch is split in halves and each
  half resent, down to the single lines refused, which go to the dead-letter
  file. Resending stored points is harmless: they carry their own timestamps and
  overwrite themselves. Splitting is bounded to :data:`SPLITS_PER_SECOND` requests.
* 413: split and resent; a single line that is still too large is dead-lettered.
* Any other 400 (a proxy, a whole-request error): the batch is kept and retried
  with backoff, and the answer logged at ERROR: it never dead-letters good events.
* 401/403/404 (credentials, missing database): the data is kept, the problem is
  logged loudly, and the batch is retried slowly.
* 429, 5xx, no answer: exponential backoff with jitter, honouring ``Retry-After``.
"""

from __future__ import annotations

import logging
import random
import re
import threading
import time

import orjson

from luna_events.ship.config import RetryConfig
from luna_events.ship.deadletters import DeadLetters, rejected_record
from luna_events.ship.faults import WriteFaults
from luna_events.ship.sinks import SendResult, Sink
from luna_events.ship.spool import Segment
from luna_events.ship.stats import ShipperStats

log = logging.getLogger("luna_events.ship")

TOO_LARGE = 413
NEEDS_OPERATOR = frozenset({401, 403, 404})
SPLITS_PER_SECOND = 50.0
OWN_SERIES_TEXT = "shipper,"
OWN_SERIES = OWN_SERIES_TEXT.encode()
_UNPARSABLE = re.compile(r"unable to parse '(.+?)': ", re.DOTALL)


def refuses_lines(result: SendResult, body: bytes) -> bool:
    """Whether the answer is a per-line refusal: InfluxDB's partial write (1.x ``400``
    saying ``partial write``, 2.x ``422``), or a ``400`` naming a line of ``body`` it
    cannot parse. A bare ``400`` (a proxy) is not, nor one naming a line that is not in
    ``body`` (even as a partial write: it cannot be about this batch)."""
    if result.status == 422:
        return True
    if result.status != 400:
        return False
    message = _error_text(result.message)
    named = _UNPARSABLE.search(message)
    if named is not None:  # an answer about lines of another request is not about these
        return named.group(1).encode() in body
    # the second: InfluxDB 1.x when a batch conflicts with itself
    return "partial write" in message or "field type conflict" in message


def _error_text(message: str) -> str:
    """The ``error`` (1.x) or ``message`` (2.x) of InfluxDB's JSON answer, unescaped;
    any other answer as it is."""
    try:
        answer = orjson.loads(message)
    except orjson.JSONDecodeError:
        return message
    if isinstance(answer, dict):
        text = answer.get("error", answer.get("message"))
        if isinstance(text, str):
            return text
    return message


def own_points(segment: Segment, first: int, last: int) -> int:
    """How many of lines ``first``..``last - 1`` are the shipper's own ``shipper`` point:
    it is always a batch's last line (a service's ``shipper`` line is invalid)."""
    if last != segment.lines or last == first:
        return 0
    return int(segment.body.startswith(OWN_SERIES, segment.ends[last - 2] if last > 1 else 0))


class Delivery:
    """Sends spooled batches to a sink until each is fully acknowledged or dead-lettered."""

    def __init__(
        self,
        sink: Sink,
        dead_letters: DeadLetters,
        retry: RetryConfig,
        stats: ShipperStats,
        stop: threading.Event,
        faults: WriteFaults | None = None,
    ) -> None:
        self.sink = sink
        self.dead_letters = dead_letters
        self.retry = retry
        self.stats = stats
        self.stop = stop
        self._count = threading.Lock()  # several senders share the counters
        self.faults = faults or WriteFaults(stats, self._count)
        self._split_lock = threading.Lock()
        self._next_split = 0.0

    def deliver(self, segment: Segment) -> bool:
        """``True`` once every line is acknowledged or dead-lettered; ``False`` if
        stopped first (the segment stays in the spool)."""
        if not segment.lines:
            return True
        return self._deliver(segment, 0, segment.lines)

    def _deliver(self, segment: Segment, first: int, last: int) -> bool:
        attempt = 0
        whole = first == 0 and last == segment.lines
        while True:
            if not whole and not self._split_allowed():
                return False
            body = segment.line_range(first, last)
            result = self.sink.send(body)
            if result.ok:
                own = own_points(segment, first, last)
                with self._count:
                    self.stats.events_shipped += last - first - own
                    self.stats.own_points_shipped += own
                return True
            if result.status == TOO_LARGE or refuses_lines(result, body):
                if last - first == 1:
                    return self._reject(body, result)
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

    def _split_allowed(self) -> bool:
        """Wait for this split request's turn (at most :data:`SPLITS_PER_SECOND`)."""
        with self._split_lock:
            now = time.monotonic()
            turn = max(now, self._next_split)
            self._next_split = turn + 1.0 / SPLITS_PER_SECOND
        return turn <= now or not self.stop.wait(turn - now)

    def _reject(self, line: bytes, result: SendResult) -> bool:
        record = rejected_record(self.sink.name, result.status, result.message, line)
        written = self.faults.until_written(
            f"dead-letter file {self.dead_letters.path}",
            "the batch holding the refused point stays in the spool",
            lambda: self.dead_letters.write([record]),
            self.stop,
        )
        if written:
            with self._count:
                self.stats.events_dead_lettered += 1
        return written

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
            if result.status is not None and 400 <= result.status < 500:
                log.error(
                    "%s answered %s to a whole batch without naming a refused line of it (%s): "
                    "not InfluxDB's partial-write answer (a proxy?); keeping the batch, "
                    "retrying in %.1f s",
                    self.sink.name,
                    result.status,
                    result.message[:200] or "no message",
                    wait,
                )
            else:
                log.warning(
                    "%s did not take a batch (%s: %s); retrying in %.1f s",
                    self.sink.name,
                    result.status if result.status is not None else "no answer",
                    result.message,
                    wait,
                )
        return wait
