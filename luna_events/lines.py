"""Reading newline-framed input in bounded memory, whatever is in it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from luna_events import limits


@dataclass(frozen=True, slots=True)
class RawLine:
    """One line of input: its 1-based number, its bytes (no newline) and whether it was cut.

    An oversized line keeps only its first ``max_bytes + 1`` bytes; the rest is read
    and thrown away, so a 1 GB line costs no more memory than a short one.
    """

    number: int
    data: bytes
    oversized: bool


def iter_lines(stream: BinaryIO, max_bytes: int = limits.MAX_LINE_BYTES) -> Iterator[RawLine]:
    """Yield every line of ``stream``; a last line without a newline is yielded too."""
    number = 0
    while True:
        chunk = stream.readline(max_bytes + 1)
        if not chunk:
            return
        number += 1
        if chunk.endswith(b"\n"):
            yield RawLine(number, chunk[:-1], False)
            continue
        if len(chunk) <= max_bytes:
            yield RawLine(number, chunk, False)
            continue
        while True:
            rest = stream.readline(max_bytes + 1)
            if not rest or rest.endswith(b"\n"):
                break
        yield RawLine(number, chunk, True)
