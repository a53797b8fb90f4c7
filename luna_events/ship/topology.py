"""The topology: source -> remap -> spool -> sink, with acknowledgements.

A reader thread and ``concurrency`` sender threads. The reader polls the source,
runs each line through the remap transform, and closes a batch at
``max_events``/``max_bytes`` or after ``timeout_secs``; a closed batch is written
to the spool, and only then does the source's checkpoint move past its lines.
Each sender takes the oldest spooled batch nobody else holds, delivers it (see
:mod:`~luna_events.ship.delivery`) and deletes it when acknowledged. A ``kill -9``
at any point loses nothing: lines not yet spooled are read again from the
checkpoint, batches not yet acknowledged are sent again, and InfluxDB overwrites
the duplicate points with themselves.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from luna_events.errors import Problem
from luna_events.jsonline import LineKind
from luna_events.lineprotocol import encode_line
from luna_events.ship.config import ShipConfig
from luna_events.ship.deadletters import DeadLetters
from luna_events.ship.delivery import Delivery
from luna_events.ship.sinks import Sink
from luna_events.ship.sources import Chunk, Position, Source
from luna_events.ship.spool import Spool
from luna_events.ship.stats import ShipperStats
from luna_events.transform import Transform
from luna_events.validation import validate

log = logging.getLogger("luna_events.ship")


@dataclass
class _Batch:
    lines: list[str]
    size: int
    positions: dict[str, Position]
    opened: float


class Topology:
    """Runs one source into one sink until stopped (or, with ``once``, until drained)."""

    def __init__(
        self, config: ShipConfig, source: Source, sink: Sink, *, once: bool = False
    ) -> None:
        self.config = config
        self.source = source
        self.sink = sink
        self.once = once
        self.stats = ShipperStats()
        self.stop = threading.Event()
        self.transform = Transform(max_bytes=config.source.max_line_bytes)
        self.spool = Spool(
            config.data_dir / "spool", config.buffer.max_size, fsync=config.buffer.fsync
        )
        self.dead_letters = DeadLetters(config.dead_letters)
        self._sender_stop = threading.Event()
        self._delivery = Delivery(
            sink, self.dead_letters, config.retry, self.stats, self._sender_stop
        )
        self._batch = self._new_batch()
        self._next_metrics = time.monotonic() + config.metrics_interval_secs
        self._hurry = False

    # running --------------------------------------------------------------------

    def run(self, drain_timeout: float | None = None, grace: float = 5.0) -> ShipperStats:
        """Ship until :attr:`stop` is set (or, with ``once``, until everything read is
        acknowledged or ``drain_timeout`` passes). On stop the open batch is spooled
        and the sender gets ``grace`` seconds to empty the spool."""
        senders = [
            threading.Thread(target=self._send_loop, name=f"luna-ship-sender-{n}", daemon=True)
            for n in range(max(1, self.config.sink.concurrency))
        ]
        for sender in senders:
            sender.start()
        try:
            self._read_loop()
        finally:
            if self.config.metrics_interval_secs:
                self._add_metrics()  # the final counters
            self._close_batch()
            drained = self.once and not self.stop.is_set()
            limit = (drain_timeout if drained else grace) or float("inf")
            deadline = time.monotonic() + limit
            while self.spool.segments and time.monotonic() < deadline and not self._hurry:
                time.sleep(0.05)
            self._sender_stop.set()
            for sender in senders:
                sender.join()
            self.refresh()
            self.source.close()
            self.sink.close()
            self.dead_letters.close()
        return self.stats

    def hurry(self) -> None:
        """Stop without waiting for the spool to drain (a second SIGTERM)."""
        self._hurry = True
        self.stop.set()

    def refresh(self) -> None:
        """Bring the spool figures in :attr:`stats` up to date."""
        self.stats.spool_bytes = self.spool.size
        self.stats.spool_batches = self.spool.segments
        self.stats.lag_seconds = self.spool.oldest_age()

    # the reader -----------------------------------------------------------------

    def _new_batch(self) -> _Batch:
        return _Batch([], 0, {}, time.monotonic())

    def _read_loop(self) -> None:
        batch_config = self.config.batch
        while not self.stop.is_set():
            chunks = self.source.poll()
            for chunk in chunks:
                self._take(chunk)
                batch = self._batch
                if (
                    len(batch.lines) >= batch_config.max_events
                    or batch.size >= batch_config.max_bytes
                ):
                    self._close_batch()
            now = time.monotonic()
            if self.config.metrics_interval_secs and now >= self._next_metrics:
                self._add_metrics()
                self._next_metrics = now + self.config.metrics_interval_secs
            if chunks:
                continue
            if self._batch.positions and now - self._batch.opened >= batch_config.timeout_secs:
                self._close_batch()
            if self.once and self.source.at_end():
                return
            self.stop.wait(0.02)

    def _take(self, chunk: Chunk) -> None:
        batch = self._batch
        encode = self.transform.encode
        encoded: list[str] = []
        append = encoded.append
        oversized = chunk.oversized
        events = 0
        for index, line in enumerate(chunk.lines):
            if oversized and index in oversized:
                self._oversized(chunk, index)
                continue
            protocol = encode(line)
            if protocol is not None:
                append(protocol)
                continue
            outcome = self.transform(line)
            if outcome.kind is LineKind.INVALID:
                self.dead_letters.invalid(
                    chunk.path, chunk.offset_of(index), line, outcome.problems
                )
                self.stats.events_dead_lettered += 1
                events += 1
            elif outcome.kind is LineKind.EVENT:  # valid, but not on the fast path (a BOM)
                append(outcome.line_protocol or "")
            else:
                self.stats.lines_skipped += 1
        self.stats.lines_read += len(chunk.lines)
        self.stats.events_read += events + len(encoded)
        batch.lines.extend(encoded)
        batch.size += sum(map(len, encoded)) + len(encoded)
        batch.positions[chunk.source_id] = chunk.position

    def _oversized(self, chunk: Chunk, index: int) -> None:
        if b'"luna_event"' in chunk.lines[index]:
            self.stats.events_read += 1
            limit = self.config.source.max_line_bytes
            problem = Problem(
                "line_too_long", "line", f"line is longer than the {limit}-byte limit"
            )
            self.dead_letters.invalid(
                chunk.path,
                chunk.offset_of(index),
                chunk.lines[index],
                (problem,),
                chunk.oversized[index],
            )
            self.stats.events_dead_lettered += 1
        else:
            self.stats.lines_skipped += 1

    def _add_metrics(self) -> None:
        self.refresh()
        self._batch.lines.append(encode_line(validate(self.stats.as_event(self.sink.name))))

    def _close_batch(self) -> None:
        batch = self._batch
        if not batch.lines and not batch.positions:
            batch.opened = time.monotonic()
            return
        if batch.lines:
            if not self.spool.wait_for_room(self.stop):
                return  # stopping while full: the lines stay unread behind the checkpoint
            self.spool.append(batch.lines)
        self.source.commit(batch.positions)
        self._batch = self._new_batch()

    # the sender -----------------------------------------------------------------

    def _send_loop(self) -> None:
        while not self._sender_stop.is_set():
            segment = self.spool.take(timeout=0.1)
            if segment is None:
                continue
            if self._delivery.deliver(segment):
                self.spool.ack(segment)
            else:
                self.spool.release(segment)
