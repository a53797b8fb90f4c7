"""Sources: where lines come from (files, stdin)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Position:
    """How far an input has been consumed, and which file it is.

    ``offset`` is just after the last complete line consumed and ``tail`` (up to
    :data:`TAIL_BYTES`) the bytes just before it: if they changed, the file was
    rewritten and the offset means nothing any more. A file's identity is its
    ``device`` and ``inode`` plus ``head`` (the checksum of its first line) and
    ``prefix`` (the checksum of its first ``prefix_len`` bytes, at most
    :data:`PREFIX_BYTES`): see docs/shipper.md, "File identity".
    """

    path: str
    offset: int
    tail: bytes = b""
    head: str = ""
    device: int = 0
    inode: int = 0
    prefix_len: int = 0
    prefix: str = ""


TAIL_BYTES = 32
PREFIX_BYTES = 4096


def printable(path: str) -> str:
    """``path`` as text any encoder takes: a name that is not UTF-8 shows its odd bytes
    as ``\\xNN`` (for checkpoints, dead letters and messages; files are opened by
    their real name)."""
    if path.isascii():
        return path
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(slots=True)
class Chunk:
    """Complete lines read from one input, and where they sit in it.

    ``start`` is the byte offset of the first line and ``end`` the offset just
    after the last one's newline: once the chunk is acknowledged, the input's
    checkpoint moves to ``end``. ``oversized`` maps the index of a line that was
    cut at the line limit to its full length; only its first bytes are kept, and
    ``marked`` holds the indexes of those that carry the monitoring marker anywhere
    in their full length (the topology dead-letters them as ``line_too_long``).
    A final line without a newline (``--once``) leaves ``end`` where it starts, so
    the checkpoint does not move past it.
    """

    source_id: str
    path: str
    start: int
    end: int
    lines: list[bytes]
    oversized: dict[int, int] = field(default_factory=dict)
    marked: set[int] = field(default_factory=set)
    position: Position = Position("", 0)
    """Where the input stands once this chunk is acknowledged."""

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
