"""The disk buffer: a write-ahead spool of batches between the transform and the sink.

Each batch is one segment file, written to a temporary name and renamed into
place, so a segment is either whole or absent after a crash. A segment holds the
batch's line protocol and the byte offset where each line ends (a string field
may hold a newline, so lines cannot be found again by splitting on newlines).
Segments are taken oldest first (by as many senders as the sink's ``concurrency``)
and deleted once the sink has acknowledged them.
The spool is bounded: :meth:`Spool.wait_for_room` blocks the reader while it is
full, which is how backpressure reaches the sources; nothing is ever dropped.
"""

from __future__ import annotations

import os
import struct
import threading
import time
from array import array
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

MAGIC = b"LUNASPOOL1\n"
_COUNT = struct.Struct("<I")


@dataclass
class Segment:
    """One spooled batch."""

    path: Path
    body: bytes
    ends: array[int]
    """``ends[i]`` is the offset just after line ``i``'s newline in ``body``."""
    created: float

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


class Spool:
    """Segments in ``directory``, at most ``max_bytes`` in all."""

    def __init__(self, directory: Path, max_bytes: int, *, fsync: bool = False) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.max_bytes = max_bytes
        self.fsync = fsync
        self._condition = threading.Condition()
        self._sizes: dict[Path, int] = {}
        self._in_flight: set[Path] = set()
        for leftover in self.directory.glob("*.tmp"):
            leftover.unlink()
        for existing in sorted(self.directory.glob("*.seg")):
            self._sizes[existing] = existing.stat().st_size
        self._sequence = max((int(p.stem) for p in self._sizes), default=0)

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

    def wait_for_room(self, stop: threading.Event, poll: float = 0.1) -> bool:
        """Block while the spool is full; ``False`` if ``stop`` was set meanwhile."""
        with self._condition:
            while self.size >= self.max_bytes:
                if stop.is_set():
                    return False
                self._condition.wait(poll)
        return True

    def append(self, lines: list[str]) -> None:
        """Write a batch as a new segment (whole or not at all)."""
        body, ends = encode_segment(lines)
        with self._condition:
            self._sequence += 1
            path = self.directory / f"{self._sequence:016d}.seg"
        temporary = path.with_suffix(".tmp")
        with open(temporary, "wb") as handle:
            handle.write(MAGIC)
            handle.write(_COUNT.pack(len(ends)))
            handle.write(ends.tobytes())
            handle.write(body)
            handle.flush()
            if self.fsync:
                os.fsync(handle.fileno())
        os.replace(temporary, path)
        with self._condition:
            self._sizes[path] = path.stat().st_size
            self._condition.notify_all()

    def take(self, timeout: float) -> Segment | None:
        """The oldest segment no other sender has, waiting up to ``timeout`` seconds.

        The caller owns it until :meth:`ack` (delivered) or :meth:`release` (not)."""
        with self._condition:
            waiting = [p for p in self._sizes if p not in self._in_flight]
            if not waiting:
                self._condition.wait(timeout)
                waiting = [p for p in self._sizes if p not in self._in_flight]
            if not waiting:
                return None
            path = min(waiting)
            self._in_flight.add(path)
        return self._load(path)

    def release(self, segment: Segment) -> None:
        """Give an undelivered segment back, to be taken again later."""
        with self._condition:
            self._in_flight.discard(segment.path)
            self._condition.notify_all()

    @staticmethod
    def _load(path: Path) -> Segment:
        data = path.read_bytes()
        if not data.startswith(MAGIC):
            raise ValueError(f"{path} is not a spool segment")
        (count,) = _COUNT.unpack_from(data, len(MAGIC))
        index_start = len(MAGIC) + _COUNT.size
        ends = array("I")
        ends.frombytes(data[index_start : index_start + 4 * count])
        body = data[index_start + 4 * count :]
        return Segment(path, body, ends, path.stat().st_mtime)

    def ack(self, segment: Segment) -> None:
        """The sink has the whole segment: delete it and make room."""
        segment.path.unlink(missing_ok=True)
        with self._condition:
            self._sizes.pop(segment.path, None)
            self._in_flight.discard(segment.path)
            self._condition.notify_all()
