"""The ``stdin`` source: lines piped into ``luna-events ship``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import BinaryIO

from luna_events.ship.sources import Chunk, Position


class StdinSource:
    """Reads standard input (or any binary stream) to its end; keeps no checkpoints."""

    def __init__(self, stream: BinaryIO | None = None, max_line_bytes: int = 1024 * 1024) -> None:
        self.stream = stream or sys.stdin.buffer
        self.max_line_bytes = max_line_bytes
        self.offset = 0
        self._ended = False

    def poll(self) -> Sequence[Chunk]:
        if self._ended:
            return []
        lines: list[bytes] = []
        oversized: dict[int, int] = {}
        start = self.offset
        while len(lines) < 1000:
            line = self.stream.readline(self.max_line_bytes + 1)
            if not line:
                self._ended = True
                break
            length = len(line)
            if not line.endswith(b"\n"):
                if length <= self.max_line_bytes:  # a last line without a newline
                    lines.append(line)
                    self.offset += length
                    continue
                while (rest := self.stream.readline(self.max_line_bytes + 1)) and not rest.endswith(
                    b"\n"
                ):
                    length += len(rest)
                length += len(rest)
                oversized[len(lines)] = length - 1
                lines.append(line[:1024])
                self.offset += length
                continue
            lines.append(line[:-1])
            self.offset += length
        return [Chunk("stdin", "<stdin>", start, self.offset, lines, oversized)] if lines else []

    def at_end(self) -> bool:
        return self._ended

    def commit(self, positions: dict[str, Position]) -> None:
        """Standard input cannot be re-read: nothing to remember."""

    def close(self) -> None:
        """Nothing to release."""
