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

Faults are waits, not crashes. A spool, checkpoint or dead-letter write that
fails (disk full...) pauses reading until it works (see
:mod:`~luna_events.ship.faults`). A sender that fails is logged in one line and
started again with backoff; its segment goes back to the spool. On stop the
open batch is spooled and the senders get a bounded time; a second stop (or the
end of that time) closes the sink to abort a request in flight.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from luna_events.errors import Problem
from luna_events.jsonline import LineKind
from luna_events.lineprotocol import encode_line
from luna_events.ship.config import ShipConfig
from luna_events.ship.deadletters import DeadLetters, invalid_record
from luna_events.ship.delivery import OWN_SERIES_TEXT, Delivery
from luna_events.ship.faults import WriteFaults
from luna_events.ship.sinks import Sink
from luna_events.ship.sources import Chunk, Position, Source
from luna_events.ship.spool import Segment, Spool
from luna_events.ship.stats import ShipperStats
from luna_events.transform import Transform
from luna_events.validation import validate

log = logging.getLogger("luna_events.ship")

SWITCH_INTERVAL = 0.0005
"""Seconds a thread waits for the GIL before the running one must hand it over, while a
topology runs (Python's default is 5 ms). The reader holds the GIL whenever it works; a
sender comes back for it after every read, compression and socket call of a request,
and waited up to 5 ms each time: the requests to the sink were that much slower."""


class _QuickSwitches:
    """Holds the process's GIL switch interval at :data:`SWITCH_INTERVAL` (or below)
    while at least one topology runs, and gives the interval it found back when the last
    one ends, however runs in one process overlap (tests, an embedding program)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._found = 0.0

    def __enter__(self) -> None:
        with self._lock:
            if not self._runs:
                self._found = sys.getswitchinterval()
                sys.setswitchinterval(min(self._found, SWITCH_INTERVAL))
            self._runs += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._runs -= 1
            if not self._runs:
                sys.setswitchinterval(self._found)


_QUICK_SWITCHES = _QuickSwitches()


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
            config.data_dir / "spool",
            config.buffer.max_size,
            fsync=config.buffer.fsync,
            quarantine=config.data_dir / "quarantine",
        )
        self.dead_letters = DeadLetters(config.dead_letters)
        self._sender_stop = threading.Event()
        self._counters = threading.Lock()
        self.faults = WriteFaults(self.stats, self._counters)
        self._delivery = Delivery(
            sink, self.dead_letters, config.retry, self.stats, self._sender_stop, self.faults
        )
        self.stats.senders = max(1, config.sink.concurrency)
        self._batch = self._new_batch()
        self._next_metrics = time.monotonic() + config.metrics_interval_secs
        self._hurry = False
        self.stopping = False
        """Set by the first stop signal (the second then hurries)."""
        self._gave_up = False
        self._drain_timeout: float | None = None
        self._sink_closed = False
        self._sink_lock = threading.Lock()

    # running --------------------------------------------------------------------

    def run(self, drain_timeout: float | None = None, grace: float = 5.0) -> ShipperStats:
        """Ship until :attr:`stop` is set (or, with ``once``, until everything read is
        acknowledged or ``drain_timeout`` passes). On stop the open batch is spooled
        and the sender gets ``grace`` seconds to empty the spool.

        While it runs, the whole process hands the GIL over within
        :data:`SWITCH_INTERVAL` (``sys.setswitchinterval``, process-wide); the interval
        it had is given back when the last running topology ends."""
        self._drain_timeout = drain_timeout if self.once else None
        senders = [
            threading.Thread(
                target=self._send_loop, args=(n,), name=f"luna-ship-sender-{n}", daemon=True
            )
            for n in range(self.stats.senders)
        ]
        self.stats.senders_working = len(senders)
        with _QUICK_SWITCHES:
            self._run(senders, drain_timeout, grace)
        return self.stats

    def _run(
        self, senders: list[threading.Thread], drain_timeout: float | None, grace: float
    ) -> None:
        for sender in senders:
            sender.start()
        try:
            self._read_loop()
            stopped = self.once and self.stop.is_set() and not self.stats.unfinished
            if stopped and not self.source.at_end():
                self.stats.unfinished = (
                    "stopped before the end of the input; the unread lines wait in the "
                    "logs behind the checkpoint"
                )
        finally:
            if self.config.metrics_interval_secs:
                self._add_metrics()  # the final counters
            self._close_batch()
            deadline = self._drain(drain_timeout, grace)
            self._sender_stop.set()
            self.spool.wake()  # senders waiting for a segment see the stop at once
            self._join(senders, deadline)
            self.refresh()
            self.source.close()
            self._close_sink()
            self.dead_letters.close()
            self._report_left()

    def _drain(self, drain_timeout: float | None, grace: float) -> float:
        """Wait for the senders to empty the spool: in ``--once`` up to
        ``drain_timeout``, after a stop up to ``grace`` seconds (also when the stop
        comes during the ``--once`` drain). The deadline it kept to."""
        stopping = self.stop.is_set()
        limit = grace if stopping or not self.once else drain_timeout
        deadline = time.monotonic() + (limit if limit is not None else float("inf"))
        while self.spool.segments and not self._hurry and not self._gave_up:
            now = time.monotonic()
            if not stopping and self.stop.is_set():
                stopping = True
                deadline = min(deadline, now + grace)
            if now >= deadline:
                break
            self.spool.wait_for_change(min(0.05, deadline - now))  # woken by each ack
        return deadline

    def _join(self, senders: list[threading.Thread], deadline: float) -> None:
        """Let the senders finish their request until ``deadline``; then close the sink,
        which aborts a request in flight (its batch stays in the spool)."""
        while not self._hurry and not self._gave_up:
            alive = [s for s in senders if s.is_alive()]
            now = time.monotonic()
            if not alive or now >= deadline:
                break
            alive[0].join(min(0.02, deadline - now))
        if any(s.is_alive() for s in senders):
            log.warning("a request to %s is still in flight: closing it", self.sink.name)
            self._close_sink()
            end = time.monotonic() + 1.0
            while any(s.is_alive() for s in senders) and time.monotonic() < end:
                time.sleep(0.02)

    def _close_sink(self) -> None:
        with self._sink_lock:
            if self._sink_closed:
                return
            self._sink_closed = True
        try:
            self.sink.close()
        except Exception as error:  # closing under a request in flight
            log.debug("closing %s: %s", self.sink.name, error)

    def _report_left(self) -> None:
        if self.stats.events_dead_lettered:
            log.warning(
                "%d events dead-lettered to %s (see them: luna-events dead-letters list)",
                self.stats.events_dead_lettered,
                self.dead_letters.path,
            )
        if self.stats.spool_batches:
            log.warning(
                "stopped with %d batches (%s bytes) in the spool %s: they are sent at the "
                "next start",
                self.stats.spool_batches,
                f"{self.stats.spool_bytes:,}",
                self.spool.directory,
            )
        else:
            log.info("stopped with the spool empty")

    def hurry(self) -> None:
        """Stop without waiting for the spool to drain (a second SIGTERM)."""
        self._hurry = True
        self.stop.set()

    def refresh(self) -> None:
        """Bring the spool figures in :attr:`stats` up to date."""
        self.stats.spool_bytes = self.spool.size
        self.stats.spool_batches = self.spool.segments
        self.stats.lag_seconds = self.spool.oldest_age()
        self.stats.segments_quarantined = self.spool.segments_quarantined
        self.stats.records_damaged = self.spool.records_damaged

    # the reader -----------------------------------------------------------------

    def _new_batch(self) -> _Batch:
        return _Batch([], 0, {}, time.monotonic())

    def _read_loop(self) -> None:
        batch_config = self.config.batch
        while not self.stop.is_set():
            chunks = self.source.poll()
            for chunk in chunks:
                if not self._take(chunk):
                    return  # stopped while the dead-letter file could not be written
                batch = self._batch
                if (
                    len(batch.lines) >= batch_config.max_events
                    or batch.size >= batch_config.max_bytes
                ):
                    self._close_batch()
            now = time.monotonic()
            if self.config.metrics_interval_secs and now >= self._next_metrics:
                self._add_metrics()
                self._close_batch()
                self._next_metrics = now + self.config.metrics_interval_secs
            if chunks:
                continue
            if self._batch.positions and now - self._batch.opened >= batch_config.timeout_secs:
                self._close_batch()
            if self.once and self.source.at_end():
                return
            self.stop.wait(0.02)

    def _take(self, chunk: Chunk) -> bool:
        """Transform a chunk into the open batch; its dead letters are written first
        (all at once). ``False`` if stopped while they could not be written: the chunk
        is then left out, to be read again from the checkpoint."""
        batch = self._batch
        encode_run = self.transform.encode_run
        encoded: list[str] = []
        lines = chunk.lines
        oversized = chunk.oversized
        invalid: list[dict[str, Any]] = []
        skipped = 0
        index, end = 0, len(lines)
        cuts = iter(sorted(oversized))  # lines cut at the line limit: never parsed
        cut = next(cuts, end)
        while index < end:
            if index == cut:
                if index in chunk.marked:  # the marker anywhere in the full line
                    invalid.append(self._too_long(chunk, index))
                else:
                    skipped += 1
                index += 1
                cut = next(cuts, end)
                continue
            # ordinary log lines are skipped after one byte scan, never parsed
            index, ordinary = encode_run(lines, index, cut, encoded)
            skipped += ordinary
            if index == cut:
                continue
            line = lines[index]  # a monitoring line the fast path did not take
            outcome = self.transform(line)
            if outcome.kind is LineKind.INVALID:
                invalid.append(
                    invalid_record(
                        chunk.source_id, chunk.path, chunk.offset_of(index), line, outcome.problems
                    )
                )
            elif outcome.kind is LineKind.EVENT:  # valid, but not on the fast path (a BOM)
                encoded.append(outcome.line_protocol or "")
            else:
                skipped += 1
            index += 1
        if invalid and not self._write(
            f"dead-letter file {self.dead_letters.path}",
            "reading is paused (the unread lines wait in the logs behind the checkpoint)",
            lambda: self.dead_letters.write(invalid),
        ):
            return False
        with self._counters:
            self.stats.events_dead_lettered += len(invalid)
        self.stats.lines_skipped += skipped
        self.stats.lines_read += len(chunk.lines)
        self.stats.events_read += len(invalid) + len(encoded)
        batch.lines.extend(encoded)
        batch.size += sum(map(len, encoded)) + len(encoded)
        batch.positions[chunk.source_id] = chunk.position
        return True

    def _too_long(self, chunk: Chunk, index: int) -> dict[str, Any]:
        limit = self.config.source.max_line_bytes
        problem = Problem("line_too_long", "line", f"line is longer than the {limit}-byte limit")
        return invalid_record(
            chunk.source_id,
            chunk.path,
            chunk.offset_of(index),
            chunk.lines[index],
            (problem,),
            chunk.oversized[index],
        )

    def _add_metrics(self) -> None:
        """The counters as the open batch's last line (closed right after), so that the
        senders find the shipper's own point without a scan; newer counters replace
        a point still waiting there."""
        self.refresh()
        point = encode_line(validate(self.stats.as_event(self.sink.name)))
        lines = self._batch.lines
        if lines and lines[-1].startswith(OWN_SERIES_TEXT):
            lines[-1] = point
        else:
            lines.append(point)

    def _close_batch(self) -> None:
        batch = self._batch
        if not batch.lines and not batch.positions:
            batch.opened = time.monotonic()
            return
        if batch.lines:
            if not self._wait_for_room():
                return  # stopping while full: the lines stay unread behind the checkpoint
            lines = batch.lines
            if not self._write(
                f"spool in {self.spool.directory}",
                "reading is paused (the unread lines wait in the logs behind the checkpoint)",
                lambda: self.spool.append(lines),
            ):
                return
            batch.lines = []
            batch.size = 0
        if not self._write(
            "checkpoints",
            "reading is paused (what was read is safe in the spool)",
            lambda: self.source.commit(batch.positions),
        ):
            return  # read again after a restart: duplicates are harmless
        self._batch = self._new_batch()

    def _write(self, what: str, consequence: str, action: Callable[[], None]) -> bool:
        """Run a state write until it works (see :class:`WriteFaults`); ``False`` if
        stopped first or, with ``--once`` and a drain timeout, when it failed that long
        (the run then stops, unfinished: exit 1)."""
        if self.faults.until_written(
            what, consequence, action, self.stop, give_up_after=self._drain_timeout
        ):
            return True
        if not self.stop.is_set():  # the senders still get the grace time
            self.stats.unfinished = f"could not write the {what} for {self._drain_timeout:.0f} s"
            self.stop.set()
        return False

    def _wait_for_room(self) -> bool:
        """Wait for room in the spool; with ``--once`` and a drain timeout, give up when
        the sink takes nothing for that long."""
        if self._drain_timeout is None:
            return self.spool.wait_for_room(self.stop)
        if self.spool.wait_for_room(self.stop, timeout=self._drain_timeout):
            return True
        if not self.stop.is_set():
            log.error(
                "%s took no batch for %.0f s (--drain-timeout) while the spool was full; giving up",
                self.sink.name,
                self._drain_timeout,
            )
            self.stats.unfinished = (
                f"{self.sink.name} took no batch for {self._drain_timeout:.0f} s"
            )
            self._gave_up = True  # no grace: the sink takes nothing
            self.stop.set()
        return False

    # the sender -----------------------------------------------------------------

    def _send_loop(self, number: int) -> None:
        """Deliver segments until stopped; a failure is logged, its segment given back,
        and the loop goes on after a backoff: a sender never dies."""
        failures = 0
        while not self._sender_stop.is_set():
            segment = None
            try:
                segment = self._next_segment()
                if segment is None:
                    continue
                if self._delivery.deliver(segment):
                    self.spool.ack(segment)
                else:
                    self.spool.release(segment)
                failures = 0
            except Exception as error:
                if segment is not None:
                    self.spool.release(segment)
                if self._sender_stop.is_set():
                    return  # the sink was closed under it: stopping
                failures += 1
                self._sender_failed(number, error, min(30.0, 0.5 * 2.0 ** (failures - 1)))

    def _next_segment(self) -> Segment | None:
        """The next segment to send; a fault of the moment opening it (too many open
        files) is a loud wait, shared by the senders, not a sender failure."""
        taken: list[Segment | None] = [None]

        def take() -> None:
            taken[0] = self.spool.take(timeout=0.1, stop=self._sender_stop)

        self.faults.until_written(
            f"spool in {self.spool.directory}",
            "sending waits (the batches are safe in the spool)",
            take,
            self._sender_stop,
            verb="read",
        )
        return taken[0]

    def _sender_failed(self, number: int, error: Exception, wait: float) -> None:
        with self._counters:
            self.stats.sender_failures += 1
            self.stats.senders_working -= 1
        log.error(
            "sender %d failed (%s: %s); starting it again in %.1f s (%d of %d senders working)",
            number,
            type(error).__name__,
            error,
            wait,
            self.stats.senders_working,
            self.stats.senders,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        self._sender_stop.wait(wait)
        with self._counters:
            self.stats.senders_working += 1
