"""The disk buffer: a write-ahead spool of batches between the transform and the sink.

Each batch is one segment file, written to a temporary name and renamed into
place, so a segment is either whole or absent after a clean crash. Inside, the
batch is cut into *records* of up to :data:`RECORD_LINES` lines; each record
carries a sync marker, its line count, where its lines sit in the batch, its
length and a CRC-32 of all of that, so a record proves itself on load. A segment
damaged underneath the spool (cut by a power loss, emptied, overwritten) still
gives every intact record; a cut or garbled record is never sent. Such a segment
is moved to the quarantine directory once its intact records are delivered, and
the damage is logged at ERROR with counts (see :class:`Damage`).

A record stores the byte offset where each of its lines ends (a string field may
hold a newline, so lines cannot be found again by splitting on newlines).
Segments are taken oldest first (by as many senders as the sink's ``concurrency``)
and deleted once the sink has acknowledged them. The spool is bounded:
:meth:`Spool.wait_for_room` blocks the reader while it is full, which is how
backpressure reaches the sources; nothing is ever dropped.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
import struct
import sys
import threading
import time
import zlib
from array import array
from dataclasses import dataclass
from itertools import accumulate, pairwise
from pathlib import Path

from luna_events.ship.lock import DataDirError

log = logging.getLogger("luna_events.ship")

MAGIC = b"LUNASPOOL2\n"
OLD_MAGIC = b"LUNASPOOL1\n"
"""The previous format: one index and one body, no checksums."""
_OLD_COUNT = struct.Struct("<I")

_TOTALS = struct.Struct("<III")
"""After the magic: lines and records in the segment, CRC-32 of those two (a file cut
between two records is told from a whole one by these)."""
RECORD_MARK = b"\xd5LSR"
_HEADER = struct.Struct("<4sIQII")
"""mark, line count, offset of the record's first byte in the batch body, body
length, CRC-32 of the header fields after the mark, the index and the body."""
_CHECKED = struct.Struct("<IQI")
RECORD_LINES = 128
"""Lines per record: what a damaged record can cost at most."""

TRANSIENT = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EINTR, errno.EAGAIN})
"""Errors reading a segment that say nothing about the segment itself."""


@dataclass(frozen=True)
class Damage:
    """What was wrong with a segment, and what of it could still be used."""

    problem: str
    records_intact: int
    lines_intact: int
    records_damaged: int
    bytes_unreadable: int
    lines_lost: int | None = None
    """Lines written but not intact, when the segment's header says how many."""


@dataclass
class Segment:
    """One spooled batch."""

    path: Path
    body: bytes
    ends: array[int]
    """``ends[i]`` is the offset just after line ``i``'s newline in ``body``."""
    damage: Damage | None = None
    """Set when the file was damaged: only its intact records are here."""

    @property
    def lines(self) -> int:
        """Number of lines in the batch."""
        return len(self.ends)

    def line_range(self, first: int, last: int) -> bytes:
        """Lines ``first`` to ``last - 1`` as one newline-terminated body."""
        begin = self.ends[first - 1] if first else 0
        return self.body[begin : self.ends[last - 1]]


def encode_segment(lines: list[str]) -> tuple[bytes, array[int]]:
    """Join lines of line protocol into a UTF-8 body and the byte offset where each ends."""
    body = ("\n".join(lines) + "\n").encode()
    sizes = (
        map(len, lines)
        if len(body) == sum(map(len, lines)) + len(lines)
        else (len(line.encode()) for line in lines)
    )
    ends = array("I", accumulate(size + 1 for size in sizes))
    return body, ends


def _little(ends: array[int]) -> bytes:
    if sys.byteorder == "little":
        return ends.tobytes()
    swapped = array("I", ends)
    swapped.byteswap()
    return swapped.tobytes()


def _from_little(data: bytes | memoryview) -> array[int]:
    ends = array("I")
    ends.frombytes(data)
    if sys.byteorder != "little":
        ends.byteswap()
    return ends


def encode_records(body: bytes, ends: array[int], per_record: int = RECORD_LINES) -> bytes:
    """A batch as self-checking records (the segment file without its magic)."""
    records = -(-len(ends) // per_record)
    totals = struct.pack("<II", len(ends), records)
    parts: list[bytes | memoryview] = [totals, struct.pack("<I", zlib.crc32(totals))]
    view = memoryview(body)  # pieces copied once, by the join
    for first in range(0, len(ends), per_record):
        last = min(first + per_record, len(ends))
        start = ends[first - 1] if first else 0
        piece = view[start : ends[last - 1]]
        index = _little(ends[first:last])
        checked = _CHECKED.pack(last - first, start, len(piece))
        crc = zlib.crc32(piece, zlib.crc32(index, zlib.crc32(checked)))
        parts += (_HEADER.pack(RECORD_MARK, last - first, start, len(piece), crc), index, piece)
    return b"".join(parts)


def decode_segment(data: bytes) -> tuple[bytes, array[int], Damage | None]:
    """The intact lines of a segment file, and what was damaged (``None`` if nothing)."""
    if data.startswith(OLD_MAGIC):
        return _decode_old(data)
    if not data:
        return b"", array("I"), Damage("the file is empty", 0, 0, 1, 0)
    expected: tuple[int, int] | None = None
    if data.startswith(MAGIC) and len(data) >= len(MAGIC) + _TOTALS.size:
        lines_written, records_written, crc = _TOTALS.unpack_from(data, len(MAGIC))
        if zlib.crc32(data[len(MAGIC) : len(MAGIC) + 8]) == crc:
            expected = (lines_written, records_written)
    position = len(MAGIC) + _TOTALS.size if expected else data.find(RECORD_MARK)
    problems: list[str] = [] if expected else ["no spool header"]
    unreadable = 0 if expected else (len(data) if position < 0 else position)
    pieces: list[tuple[int, memoryview, array[int]]] = []
    damaged = 0 if expected else 1
    view = memoryview(data)  # records copied once, by the join
    while 0 <= position < len(data):
        record = _read_record(view, position)
        if isinstance(record, tuple):
            pieces.append(record[0])
            position = record[1]
            continue
        problems.append(record)
        damaged += 1
        resume = data.find(RECORD_MARK, position + 1)
        unreadable += (resume if resume >= 0 else len(data)) - position
        position = resume
    lines = sum(len(ends) for _, _, ends in pieces)
    if expected and len(pieces) + damaged < expected[1]:
        missing = expected[1] - len(pieces) - damaged
        problems.append(f"{missing} more record(s) missing at the end")
        damaged += missing
    if not pieces:
        body, ends = b"", array("I")
    elif not damaged and all(
        start == (pieces[n - 1][2][-1] if n else 0) for n, (start, _, _) in enumerate(pieces)
    ):
        body = b"".join(piece for _, piece, _ in pieces)
        ends = pieces[0][2]
        for _, _, more in pieces[1:]:
            ends.extend(more)
    else:  # records missing: their lines no longer sit where the offsets say
        ends, offset = array("I"), 0
        for start, piece, piece_ends in pieces:
            ends.extend(end - start + offset for end in piece_ends)
            offset += len(piece)
        body = b"".join(piece for _, piece, _ in pieces)
    if not damaged:
        return body, ends, None
    problem = "; ".join(dict.fromkeys(problems))
    lost = expected[0] - lines if expected else None
    return body, ends, Damage(problem, len(pieces), lines, damaged, unreadable, lost)


def _read_record(
    data: memoryview, position: int
) -> tuple[tuple[int, memoryview, array[int]], int] | str:
    """The record at ``position`` and where the next one starts, or what is wrong."""
    if len(data) - position < _HEADER.size:
        return "cut inside a record header"
    mark, count, start, length, crc = _HEADER.unpack_from(data, position)
    if mark != RECORD_MARK:
        return "garbage between records"
    index_at = position + _HEADER.size
    body_at = index_at + 4 * count
    end = body_at + length
    if end > len(data):
        return "cut inside a record"
    index = data[index_at:body_at]
    piece = data[body_at:end]
    if zlib.crc32(piece, zlib.crc32(index, zlib.crc32(data[position + 4 : index_at - 4]))) != crc:
        return "checksum mismatch"
    ends = _from_little(index)
    if not count or ends[-1] - start != length or ends[0] <= start:
        return "inconsistent record"
    return (start, piece, ends), end


def _decode_old(data: bytes) -> tuple[bytes, array[int], Damage | None]:
    """A segment of the previous format: used only if every part of it is consistent."""
    index_start = len(OLD_MAGIC) + _OLD_COUNT.size
    if len(data) >= index_start:
        (count,) = _OLD_COUNT.unpack_from(data, len(OLD_MAGIC))
        body_start = index_start + 4 * count
        if count and body_start <= len(data):
            ends = _from_little(data[index_start:body_start])
            body = data[body_start:]
            if (
                ends[-1] == len(body)
                and all(a < b for a, b in pairwise(ends))
                and all(body[end - 1] == 0x0A for end in ends)
            ):
                return body, ends, None
    problem = "a segment of the previous format (no checksums) that is cut or inconsistent"
    return b"", array("I"), Damage(problem, 0, 0, 1, len(data))


class Spool:
    """Segments in ``directory``, at most ``max_bytes`` in all.

    Damaged segments go to ``quarantine`` (default: ``quarantine`` next to
    ``directory``) once their intact records are delivered."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        *,
        fsync: bool = False,
        quarantine: Path | None = None,
        record_lines: int = RECORD_LINES,
    ) -> None:
        self.directory = directory
        self.quarantine = quarantine or directory.parent / "quarantine"
        self.max_bytes = max_bytes
        self.fsync = fsync
        self.record_lines = record_lines
        self.segments_quarantined = 0
        self.records_damaged = 0
        self._condition = threading.Condition()
        self._sizes: dict[Path, int] = {}
        self._in_flight: set[Path] = set()
        self._reported: set[Path] = set()
        self._sequence = self._scan()

    def _scan(self) -> int:
        """Take the segments found in the directory (removing half-written ones); the
        highest sequence number in use. Raises :class:`DataDirError` when the directory
        cannot be used."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            entries = sorted(self.directory.iterdir())
        except OSError as error:
            raise DataDirError(
                f"cannot use the spool dir {self.directory}: {error.strerror or error}"
            ) from None
        sequence = 0
        for entry in entries:
            if entry.suffix not in (".seg", ".tmp"):
                continue
            if entry.stem.isdigit():
                sequence = max(sequence, int(entry.stem))
            try:
                info = entry.lstat()
                regular = stat.S_ISREG(info.st_mode)
                if regular and entry.suffix == ".tmp":
                    entry.unlink()  # a segment whose write never finished
                    continue
            except FileNotFoundError:
                continue  # gone between the listing and the look: nothing to load
            except OSError as error:
                log.error("spool: cannot look at %s (%s)", entry, error.strerror or error)
                continue
            if regular and entry.stem.isdigit():
                self._sizes[entry] = info.st_size
            else:
                log.error("spool: %s is not one of its segments; leaving it alone", entry)
        return sequence

    @property
    def size(self) -> int:
        """Bytes spooled."""
        return sum(self._sizes.values())

    @property
    def segments(self) -> int:
        """Batches spooled."""
        return len(self._sizes)

    def oldest_age(self) -> float:
        """Seconds since the oldest spooled batch was written (0 when empty)."""
        with self._condition:
            oldest = min(self._sizes, default=None)
        if oldest is None:
            return 0.0
        try:
            return max(0.0, time.time() - oldest.stat().st_mtime)
        except OSError:
            return 0.0

    def wait_for_room(
        self, stop: threading.Event, poll: float = 0.1, timeout: float | None = None
    ) -> bool:
        """Block while the spool is full; ``False`` if ``stop`` was set meanwhile (or
        ``timeout`` seconds passed without a batch leaving)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._condition:
            while self.size >= self.max_bytes:
                if stop.is_set():
                    return False
                if deadline is not None and time.monotonic() >= deadline:
                    return False
                before = len(self._sizes)
                self._condition.wait(poll)
                if deadline is not None and len(self._sizes) < before:
                    deadline = time.monotonic() + (timeout or 0.0)
        return True

    def append(self, lines: list[str]) -> None:
        """Write a batch as a new segment (whole or not at all).

        Raises :class:`OSError` (disk full, ...) with nothing left behind."""
        body, ends = encode_segment(lines)
        records = encode_records(body, ends, self.record_lines)
        with self._condition:
            self._sequence += 1
            path = self.directory / f"{self._sequence:016d}.seg"
        temporary = path.with_suffix(".tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write(MAGIC)
                handle.write(records)
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        if self.fsync:
            _fsync_directory(self.directory)
        with self._condition:
            self._sizes[path] = len(MAGIC) + len(records)
            self._condition.notify_all()

    def take(self, timeout: float, stop: threading.Event | None = None) -> Segment | None:
        """The oldest segment no other sender has, waiting up to ``timeout`` seconds
        (or until ``stop`` is set and :meth:`wake` called).

        The caller owns it until :meth:`ack` (delivered) or :meth:`release` (not).
        A segment that cannot be read at all is quarantined and the next one taken.
        Raises :class:`OSError` only for faults of the moment (too many open files)."""
        waited = False
        while True:
            with self._condition:
                waiting = [p for p in self._sizes if p not in self._in_flight]
                if not waiting and not waited:
                    if stop is not None and stop.is_set():
                        return None
                    self._condition.wait(timeout)
                    waited = True
                    waiting = [p for p in self._sizes if p not in self._in_flight]
                if not waiting:
                    return None
                path = min(waiting)
                self._in_flight.add(path)
            try:
                return self._load(path)
            except OSError as error:
                if error.errno in TRANSIENT:
                    self._give_back(path)
                    raise
                log.error(
                    "spool: cannot read segment %s (%s); no line of it was sent",
                    path,
                    error.strerror or error,
                )
                with self._condition:  # senders share the counters
                    self.records_damaged += 1
                self._set_aside(path)
            except BaseException:
                self._give_back(path)  # never left in flight
                raise

    def wake(self) -> None:
        """Wake every thread waiting in :meth:`take` or :meth:`wait_for_change` (a
        stop was set)."""
        with self._condition:
            self._condition.notify_all()

    def wait_for_change(self, timeout: float) -> None:
        """While the spool holds segments, wait up to ``timeout`` seconds for one to
        come or go (or for :meth:`wake`)."""
        with self._condition:
            if self._sizes:
                self._condition.wait(timeout)

    def release(self, segment: Segment) -> None:
        """Give an undelivered segment back, to be taken again later."""
        self._give_back(segment.path)

    def _give_back(self, path: Path) -> None:
        with self._condition:
            self._in_flight.discard(path)
            self._condition.notify_all()

    def _load(self, path: Path) -> Segment:
        with open(path, "rb") as handle:
            data = handle.read()
        body, ends, damage = decode_segment(data)
        if damage is not None and path not in self._reported:
            with self._condition:
                self._reported.add(path)
                self.records_damaged += damage.records_damaged
            lost = f", {damage.lines_lost} line(s)" if damage.lines_lost is not None else ""
            log.error(
                "spool: segment %s is damaged (%s): %d record(s) with %d line(s) intact and "
                "sent, %d damaged record(s) (%d bytes%s) not sent; it goes to %s",
                path.name,
                damage.problem,
                damage.records_intact,
                damage.lines_intact,
                damage.records_damaged,
                damage.bytes_unreadable,
                lost,
                self.quarantine,
            )
        return Segment(path, body, ends, damage)

    def ack(self, segment: Segment) -> None:
        """The sink has the whole segment: delete it (or quarantine it) and make room."""
        if segment.damage is not None:
            self._set_aside(segment.path)
            return
        segment.path.unlink(missing_ok=True)
        self._forget(segment.path)

    def _set_aside(self, path: Path) -> None:
        """Move a damaged segment to the quarantine directory (or leave it, loudly)."""
        try:
            self.quarantine.mkdir(parents=True, exist_ok=True)
            target = self.quarantine / path.name
            if target.exists():
                target = target.with_name(f"{path.name}.{time.time_ns()}")
            os.replace(path, target)
            with self._condition:
                self.segments_quarantined += 1
        except OSError as error:
            log.error(
                "spool: cannot move damaged segment %s to %s (%s); "
                "it is ignored until the next start",
                path,
                self.quarantine,
                error.strerror or error,
            )
        self._forget(path)

    def _forget(self, path: Path) -> None:
        with self._condition:
            self._sizes.pop(path, None)
            self._in_flight.discard(path)
            self._condition.notify_all()


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
