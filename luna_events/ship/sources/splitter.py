"""The one line splitter of the shipper's sources (files and standard input).

Bytes go in as they are read, in pieces of any size; complete lines come out. A
line longer than ``max_line_bytes`` is never held whole: its first
:data:`OVERSIZED_PREFIX` bytes are kept, its full length is counted, and the rest
is scanned for the monitoring marker as it goes by, however far past the cut the
marker lies (also when it straddles two pieces), so that an over-long monitoring
line is dead-lettered as ``line_too_long`` and never counted as an ordinary line.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from luna_events.jsonline import MARKER, has_marker
from luna_events.ship.sources import TAIL_BYTES

OVERSIZED_PREFIX = 1024
"""Bytes kept of an over-long line (for its dead-letter record)."""
_CARRY = 6 * len(MARKER)
"""Bytes kept between pieces: more than the marker in its longest spelling (all escaped)."""


@dataclass(slots=True)
class Lines:
    """The lines one :meth:`LineSplitter.feed` completed (as in a ``Chunk``)."""

    lines: list[bytes] = field(default_factory=list)
    oversized: dict[int, int] = field(default_factory=dict)
    marked: set[int] = field(default_factory=set)

    def add_oversized(self, prefix: bytes, length: int, marked: bool) -> None:
        """An over-long line: its kept prefix, its full length, whether it has the marker."""
        index = len(self.lines)
        self.lines.append(prefix)
        self.oversized[index] = length
        if marked:
            self.marked.add(index)


class LineSplitter:
    """Splits a byte stream into lines, cutting those over ``max_line_bytes``."""

    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self.pending = b""
        """The start of a line whose newline has not come yet (within the limit)."""
        self.discarding = 0
        """Bytes so far of an over-long line whose newline has not come (0: none)."""
        self._prefix = b""
        self._marked = False
        self._carry = b""
        self._recent = b""
        self.tail = b""
        """The last :data:`TAIL_BYTES` up to and including the last newline fed."""

    @property
    def buffered(self) -> int:
        """Bytes fed that belong to the line still open."""
        return len(self.pending) + self.discarding

    def feed(self, data: bytes) -> Lines:
        """Take the next bytes of the stream; return the lines they complete."""
        out = Lines()
        recent = self._recent
        self._recent = (
            data[-TAIL_BYTES:] if len(data) >= TAIL_BYTES else (recent + data)[-TAIL_BYTES:]
        )
        last = data.rfind(b"\n")
        if last < 0:
            self._extend(data)
            return out
        self.tail = (
            data[last + 1 - TAIL_BYTES : last + 1]
            if last + 1 >= TAIL_BYTES
            else (recent + data[: last + 1])[-TAIL_BYTES:]
        )
        first = data.find(b"\n")
        self._extend(data[:first])
        self._close(out)
        if last > first:
            middle = data[first + 1 : last]
            pieces = middle.split(b"\n")
            limit = self.max_line_bytes
            if len(middle) <= limit or max(map(len, pieces)) <= limit:
                out.lines.extend(pieces)
            else:
                for piece in pieces:
                    if len(piece) <= limit:
                        out.lines.append(piece)
                    else:
                        out.add_oversized(piece[:OVERSIZED_PREFIX], len(piece), has_marker(piece))
        self._extend(data[last + 1 :])
        return out

    def finish(self) -> Lines:
        """The end of the stream: the last line, if it has no newline."""
        out = Lines()
        if self.pending or self.discarding:
            self._close(out)
        return out

    def _extend(self, piece: bytes) -> None:
        """More bytes of the line still open (no newline in ``piece``)."""
        if not piece:
            return
        if self.discarding:
            self.discarding += len(piece)
            if len(self._prefix) < OVERSIZED_PREFIX:
                self._prefix += piece[: OVERSIZED_PREFIX - len(self._prefix)]
            window = self._carry + piece
            self._marked = self._marked or has_marker(window)
            self._carry = window[-_CARRY:]
            return
        if len(self.pending) + len(piece) <= self.max_line_bytes:
            self.pending += piece
            return
        whole = self.pending + piece
        self.pending = b""
        self.discarding = len(whole)
        self._prefix = whole[:OVERSIZED_PREFIX]
        self._marked = has_marker(whole)
        self._carry = whole[-_CARRY:]

    def _close(self, out: Lines) -> None:
        """The open line has ended."""
        if self.discarding:
            out.add_oversized(self._prefix, self.discarding, self._marked)
            self.discarding = 0
            self._prefix = self._carry = b""
            self._marked = False
        else:
            out.lines.append(self.pending)
            self.pending = b""
