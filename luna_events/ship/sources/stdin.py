"""The ``stdin`` source: lines piped into ``luna-events ship``."""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Sequence
from typing import BinaryIO

from luna_events.ship.sources import Chunk, Position
from luna_events.ship.sources.splitter import LineSplitter

log = logging.getLogger("luna_events.ship")

READ_SIZE = 256 * 1024


class StdinSource:
    """Reads standard input (or any binary stream) to its end; keeps no checkpoints.

    A last line without a newline is shipped like any other: the stream cannot be
    read again."""

    def __init__(self, stream: BinaryIO | None = None, max_line_bytes: int = 1024 * 1024) -> None:
        self.stream = stream or sys.stdin.buffer
        self.splitter = LineSplitter(max_line_bytes)
        self.offset = 0
        """Where the next line starts (just after the last newline)."""
        self._total = 0
        self._ended = False

    def poll(self) -> Sequence[Chunk]:
        if self._ended:
            return []
        data = self._next()
        if data is None:
            return []
        start = self.offset
        if data:
            self._total += len(data)
            lines = self.splitter.feed(data)
            self.offset = self._total - self.splitter.buffered
        else:
            self._ended = True
            lines = self.splitter.finish()
            self.offset = self._total
        if not lines.lines:
            return []
        return [
            Chunk(
                "stdin",
                "<stdin>",
                start,
                self.offset,
                lines.lines,
                lines.oversized,
                lines.marked,
                Position("<stdin>", self.offset),
            )
        ]

    def _next(self) -> bytes | None:
        """The next bytes (``b""`` at the end), or ``None`` when none are ready yet: a
        non-blocking stdin (left so by a parent's event loop) is not at its end."""
        try:
            descriptor = self.stream.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            return getattr(self.stream, "read1", self.stream.read)(READ_SIZE)
        try:
            return os.read(descriptor, READ_SIZE)
        except BlockingIOError:  # not an error: nothing written yet, the caller polls again
            return None
        except OSError as error:  # it cannot be read again: what came is shipped
            log.error("cannot read standard input: %s; taking it as ended", error.strerror)
            return b""

    def at_end(self) -> bool:
        return self._ended

    def commit(self, positions: dict[str, Position]) -> None:
        """Standard input cannot be re-read: nothing to remember."""

    def close(self) -> None:
        """Nothing to release."""
