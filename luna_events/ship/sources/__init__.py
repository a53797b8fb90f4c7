"""Sources: where lines come from (files, stdin)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Position:
    """How far an input has been consumed: the offset, and the bytes just before it.

    ``tail`` (up to :data:`TAIL_BYTES`) tells a file that was rewritten under the
    same first line from one that only grew: if the bytes before the offset changed,
    the offset means nothing any more.
    """

    path: str
    offset: int
    tail: bytes = b""


TAIL_BYTES = 32


@dataclass(slots=True)
class Chunk:
    """Complete lines read from one input, and where they sit in it.

    ``start`` is the byte offset of the first line and ``end`` the offset just
    after the last one's newline: once the chunk is acknowledged, the input's
    checkpoint moves to ``end``. ``oversized`` maps the index of a line that was
    cut at the line limit to its full length; only its first bytes are kept.
    """

    source_id: str
    path: str
    start: int
    end: int
    lines: list[bytes]
    oversized: dict[int, int] = field(default_factory=dict)
    tail: bytes = b""
    """The last bytes before ``end`` (see :class:`Position`)."""

    @property
    def position(self) -> Position:
        """Where the input stands once this chunk is acknowledged."""
        return Position(self.path, self.end, self.tail)

    def offset_of(self, index: int) -> int:
        """Byte offset of line ``index`` in its input (for dead-letter records)."""
        offset = self.start
        for position in range(index):
            offset += self.oversized.get(position, len(self.lines[position])) + 1
        return offset


class Source(Protocol):
    """What the topology reads from."""

    def poll(self) -> Sequence[Chunk]:
        """Whatever complete lines are available now (possibly none)."""
        ...

    def at_end(self) -> bool:
        """Whether every input is read up to its last complete line (for ``--once``)."""
        ...

    def commit(self, positions: dict[str, Position]) -> None:
        """Lines up to these offsets are acknowledged or in the buffer: remember that."""
        ...

    def close(self) -> None:
        """Release files and save state."""
        ...
