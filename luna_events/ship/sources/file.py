"""The ``file`` source: globs, new files, checkpoints, rotation, partial lines.

Like Vector's ``file`` source:

* files matching ``include`` (minus ``exclude``) are found again every
  ``glob_interval_secs``, so new files are picked up;
* a file is known by the checksum of its first line (its fingerprint) and is not
  read before that line is complete;
* rename-and-create rotation: the renamed file is read to its end through the
  open descriptor, the new file is read from its start;
* copytruncate: a file that shrinks below the read offset was truncated, and is
  read again from its start under its new fingerprint; the copy, if it matches
  the globs, is recognised by its fingerprint and continues where reading stopped;
* a file deleted while open is read to its end, then let go;
* a partial last line is left until its newline arrives.
"""

from __future__ import annotations

import glob
import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import BinaryIO

from luna_events.ship.checkpoints import Checkpoints
from luna_events.ship.config import SourceConfig
from luna_events.ship.sources import TAIL_BYTES, Chunk, Position

READ_SIZE = 256 * 1024
FINGERPRINT_BYTES = 4096
"""A first line longer than this is fingerprinted on its first 4 KiB."""
OVERSIZED_PREFIX = 1024


def fingerprint_of(handle: BinaryIO) -> str | None:
    """The checksum of a file's first line, or ``None`` while that line is incomplete."""
    handle.seek(0)
    return _fingerprint_bytes(handle.read(FINGERPRINT_BYTES))


def _fingerprint_bytes(head: bytes) -> str | None:
    newline = head.find(b"\n")
    if newline < 0 and len(head) < FINGERPRINT_BYTES:
        return None
    first = head if newline < 0 else head[: newline + 1]
    return hashlib.blake2b(first, digest_size=12).hexdigest()


@dataclass
class _Tracked:
    fingerprint: str
    path: str
    handle: BinaryIO
    device: int
    inode: int
    offset: int
    pending: bytes = b""
    discarding: int = 0
    """Bytes of an oversized line dropped so far (0 when not inside one)."""
    discard_prefix: bytes = b""
    idle_since: float = 0.0
    tail: bytes = b""
    """The bytes just before ``offset``, to notice a rewrite that keeps the first line."""


class FileSource:
    """Tails every file matching the configured globs."""

    def __init__(
        self, config: SourceConfig, checkpoints: Checkpoints, *, once: bool = False
    ) -> None:
        if not config.include:
            raise ValueError("the file source needs at least one include glob")
        self.config = config
        self.checkpoints = checkpoints
        self.once = once
        self._tracked: dict[str, _Tracked] = {}
        self._next_glob = 0.0
        self._first_discovery = True

    # discovery ------------------------------------------------------------------

    def _paths(self) -> list[str]:
        found: list[str] = []
        for pattern in self.config.include:
            for path in sorted(glob.glob(pattern)):
                if not any(fnmatch(path, ex) for ex in self.config.exclude) and os.path.isfile(
                    path
                ):
                    found.append(path)
        return list(dict.fromkeys(found))

    def _discover(self) -> None:
        by_inode = {(t.device, t.inode): t for t in self._tracked.values()}
        for path in self._paths():
            try:
                handle = open(path, "rb")  # noqa: SIM115 - kept open while tracked
            except OSError:
                continue
            stat = os.fstat(handle.fileno())
            known = by_inode.get((stat.st_dev, stat.st_ino))
            fingerprint = fingerprint_of(handle)
            if known is not None:
                if fingerprint == known.fingerprint:
                    known.path = path  # renamed, or seen again: keep reading what is open
                    handle.close()
                    continue
                self._forget(known)  # same file, other first line: truncated or rewritten
            if fingerprint is None or fingerprint in self._tracked:
                handle.close()  # first line incomplete, or a copy of a tracked file
                continue
            position = self.checkpoints.get(fingerprint)
            tail = b""
            if position is None:
                # "end" is for files that were there when the shipper started; a file
                # that appears later (a rotation, a new service) is read from its start
                at_start = self.config.read_from == "end" and self._first_discovery
                saved = stat.st_size if at_start else 0
            elif _still_there(handle, position.offset, position.tail, stat.st_size):
                saved, tail = position.offset, position.tail
            else:
                saved = 0  # rewritten under the same first line: read it again
            handle.seek(saved)
            self._tracked[fingerprint] = _Tracked(
                fingerprint,
                path,
                handle,
                stat.st_dev,
                stat.st_ino,
                saved,
                idle_since=time.monotonic(),
                tail=tail,
            )
        self._first_discovery = False

    def _forget(self, tracked: _Tracked) -> None:
        tracked.handle.close()
        self._tracked.pop(tracked.fingerprint, None)

    # reading --------------------------------------------------------------------

    def poll(self) -> Sequence[Chunk]:
        now = time.monotonic()
        if now >= self._next_glob:
            self._discover()
            self._next_glob = now + self.config.glob_interval_secs
        chunks = []
        for tracked in list(self._tracked.values()):
            chunk = self._read(tracked)
            if chunk is not None:
                chunks.append(chunk)
                tracked.idle_since = now
            elif self._finished(tracked, now):
                self._forget(tracked)
        return chunks

    def _read(self, tracked: _Tracked) -> Chunk | None:
        try:
            descriptor = tracked.handle.fileno()
            size = os.fstat(descriptor).st_size
            consumed = tracked.offset + len(tracked.pending) + tracked.discarding
            if size == consumed:
                return None  # nothing new (the cheap, common answer for idle files)
            first_line = os.pread(descriptor, FINGERPRINT_BYTES, 0)
            if (
                size < consumed
                or _fingerprint_bytes(first_line) != tracked.fingerprint
                or not _still_there(tracked.handle, tracked.offset, tracked.tail, size)
            ):
                self._forget(tracked)  # truncated or rewritten under us: look again
                self._next_glob = 0.0
                return None
            data = tracked.handle.read(READ_SIZE)
        except (OSError, ValueError):
            return None
        if not data:
            return None
        buffer = tracked.pending + data
        if not tracked.discarding:
            complete, newline, rest = buffer.rpartition(b"\n")
            if newline and len(rest) <= self.config.max_line_bytes:
                lines = complete.split(b"\n")
                if (
                    len(complete) <= self.config.max_line_bytes
                    or max(map(len, lines)) <= self.config.max_line_bytes
                ):
                    start = tracked.offset
                    tracked.offset += len(complete) + 1
                    tracked.pending = rest
                    tracked.tail = _tail(tracked.tail, buffer[: len(complete) + 1])
                    return Chunk(
                        tracked.fingerprint,
                        tracked.path,
                        start,
                        tracked.offset,
                        lines,
                        tail=tracked.tail,
                    )
        return self._read_carefully(tracked, buffer)

    def _read_carefully(self, tracked: _Tracked, buffer: bytes) -> Chunk | None:
        """Line splitting when an oversized line is involved: keep its prefix, drop the rest."""
        limit = self.config.max_line_bytes
        known_before = not tracked.discarding  # else the bytes before buffer[0] were dropped
        base = tracked.offset + tracked.discarding  # file offset of buffer[0]
        start = line_start = tracked.offset
        lines: list[bytes] = []
        oversized: dict[int, int] = {}
        position = 0
        while True:
            newline = buffer.find(b"\n", position)
            if newline < 0:
                if tracked.discarding:
                    tracked.discarding += len(buffer) - position
                elif len(buffer) - position > limit:  # an oversized line begins: drop it
                    tracked.discard_prefix = buffer[position : position + OVERSIZED_PREFIX]
                    tracked.discarding = len(buffer) - position
                else:
                    tracked.pending = buffer[position:]
                    break
                tracked.pending = b""
                break
            length = newline - position + tracked.discarding
            if tracked.discarding or length > limit:
                oversized[len(lines)] = length
                prefix = (
                    tracked.discard_prefix
                    or buffer[position : min(newline, position + OVERSIZED_PREFIX)]
                )
                lines.append(prefix)
                tracked.discarding = 0
                tracked.discard_prefix = b""
            else:
                lines.append(buffer[position:newline])
            position = newline + 1
            line_start = base + position
        tracked.offset = line_start
        if not lines:
            return None
        tracked.tail = _tail(tracked.tail if known_before else b"", buffer[: line_start - base])
        return Chunk(
            tracked.fingerprint, tracked.path, start, line_start, lines, oversized, tracked.tail
        )

    def _finished(self, tracked: _Tracked, now: float) -> bool:
        """Let go of a file read to its end that is deleted, or no longer under its path."""
        if tracked.pending or tracked.discarding:
            return False
        try:
            stat = os.stat(tracked.path)
            current = (stat.st_dev, stat.st_ino) == (tracked.device, tracked.inode)
        except OSError:
            current = False
        if current:
            return False
        return self.once or now - tracked.idle_since >= self.config.rotate_wait_secs

    def at_end(self) -> bool:
        """Every tracked file is read to its last complete line, after a fresh look."""
        self._discover()
        for tracked in self._tracked.values():
            try:
                size = os.fstat(tracked.handle.fileno()).st_size
            except OSError:
                continue
            if size > tracked.offset + len(tracked.pending) + tracked.discarding:
                return False
        return True

    def commit(self, positions: dict[str, Position]) -> None:
        self.checkpoints.update(positions)

    def close(self) -> None:
        for tracked in list(self._tracked.values()):
            tracked.handle.close()
        self._tracked.clear()

    @property
    def files(self) -> dict[str, str]:
        """``path -> fingerprint`` of the files being read."""
        return {t.path: t.fingerprint for t in self._tracked.values()}


def _tail(previous: bytes, consumed: bytes) -> bytes:
    """The last :data:`TAIL_BYTES` of what has been consumed."""
    if len(consumed) >= TAIL_BYTES:
        return consumed[-TAIL_BYTES:]
    return (previous + consumed)[-TAIL_BYTES:]


def _still_there(handle: BinaryIO, offset: int, tail: bytes, size: int) -> bool:
    """Whether the file still holds ``tail`` just before ``offset`` (it only grew)."""
    if offset > size:
        return False
    if not tail:
        return True
    return os.pread(handle.fileno(), len(tail), offset - len(tail)) == tail


def make_data_dir(path: Path) -> Path:
    """Create the data dir (checkpoints, spool, dead letters) if needed."""
    path.mkdir(parents=True, exist_ok=True)
    return path
