"""Checkpoints: how far each file has been read, kept in ``<data_dir>/checkpoints.json``.

Each entry is one file's :class:`~luna_events.ship.sources.Position`: its identity
(device, inode, first-line checksum, prefix checksum) and how far it was read (see
docs/shipper.md, "File identity"). The file is written atomically (a unique
temporary file, rename); with ``buffer.fsync`` also durably (fsync of the file before
the rename, of the directory after it), like the spool segments it follows: without
it the spool does not outlive a power loss either, so an fsync of the checkpoints
alone would buy nothing (a crash of the process loses neither). A damaged file (empty, cut,
not JSON, JSON of another shape) is moved aside, named in one ERROR line, and
reading starts again from the start of the files: re-sent points overwrite
themselves in InfluxDB, so that costs time, never data. Version 1 files (keyed by
the first-line checksum alone) are migrated, with a WARNING.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Container, Iterable
from pathlib import Path
from typing import Annotated

import msgspec

from luna_events.ship.lock import DataDirError
from luna_events.ship.sources import Position, printable

log = logging.getLogger("luna_events.ship")

VERSION = 2
NAME = "checkpoints.json"
EXPIRY_SECS = 7 * 24 * 3600
"""A checkpoint whose file has not been seen under the globs for this long is dropped."""

_Offset = Annotated[int, msgspec.Meta(ge=0)]
_Hex = Annotated[str, msgspec.Meta(pattern="^([0-9a-f]{2})*$")]


class _Version(msgspec.Struct):
    version: int


class _FileV1(msgspec.Struct, forbid_unknown_fields=True):
    fingerprint: str
    offset: _Offset
    path: str = ""
    tail: _Hex = ""


class _DocumentV1(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    files: list[_FileV1]


class _File(msgspec.Struct, forbid_unknown_fields=True):
    key: str
    path: str
    offset: _Offset
    tail: _Hex
    head: str
    device: int
    inode: int
    prefix_len: _Offset
    prefix: str
    seen: float


class _Document(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    files: list[_File]


_ENCODER = msgspec.json.Encoder()


class Checkpoints:
    """``key -> position`` for every file read, saved atomically."""

    def __init__(self, data_dir: Path, *, fsync: bool = True) -> None:
        self.directory = data_dir
        self.path = data_dir / NAME
        self.fsync = fsync
        """fsync each save (the shipper: as ``buffer.fsync``, the spool's setting)."""
        self.positions: dict[str, Position] = {}
        self.seen: dict[str, float] = {}
        """``key -> when its file was last seen`` (Unix time), to drop old entries."""
        self.first_start = False
        """No checkpoints were ever saved here (where ``read_from = "end"`` applies)."""
        for leftover in data_dir.glob(f"{NAME}.*.tmp"):
            try:
                leftover.unlink(missing_ok=True)  # a save cut short (we hold the lock)
            except OSError as error:  # harmless where it is: saves use unique names
                log.warning("cannot remove %s: %s", leftover, error.strerror)
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            self.first_start = True
            return
        except OSError as error:
            raise DataDirError(
                f"cannot read the checkpoints {self.path}: {error.strerror}"
            ) from None
        try:
            self.positions, self.seen = _decode(data)
        except (msgspec.DecodeError, ValueError) as error:
            self._set_aside(str(error) if data.strip() else "the file is empty")

    def _set_aside(self, reason: str) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = self.path.with_name(f"{NAME}.corrupt-{stamp}")
        try:
            os.replace(self.path, aside)
            where = f"moved aside to {aside}"
        except OSError as error:
            where = f"could not be moved aside ({error.strerror}); it will be overwritten"
        log.error(
            "checkpoints file %s is damaged (%s); %s; reading every file again from its "
            "start (re-sent points overwrite themselves)",
            self.path,
            reason,
            where,
        )

    def update(self, positions: dict[str, Position]) -> None:
        """Record ``key -> position`` and save.

        Batches commit in order, so the latest position is the truth, even when it is
        smaller (a file truncated and read again from its start)."""
        self.positions.update(positions)
        self.touch(positions)
        self.save()

    def touch(self, keys: Iterable[str]) -> None:
        """These files were seen now (under the globs)."""
        now = time.time()
        for key in keys:
            self.seen[key] = now

    def expire(self, keep: Container[str]) -> None:
        """Drop entries not seen for :data:`EXPIRY_SECS`, except ``keep`` (saved next time)."""
        limit = time.time() - EXPIRY_SECS
        for key in [k for k, seen in self.seen.items() if seen < limit and k not in keep]:
            self.forget(key)

    def forget(self, key: str) -> None:
        """Drop an entry (saved with the next :meth:`save`)."""
        self.positions.pop(key, None)
        self.seen.pop(key, None)

    def save(self) -> None:
        """Write all checkpoints atomically; an ``OSError`` leaves no temporary file."""
        now = time.time()
        document = _Document(
            VERSION,
            [
                _File(
                    key,
                    printable(p.path),
                    p.offset,
                    p.tail.hex(),
                    p.head,
                    p.device,
                    p.inode,
                    p.prefix_len,
                    p.prefix,
                    self.seen.get(key, now),
                )
                for key, p in self.positions.items()
            ],
        )
        body = _ENCODER.encode(document)
        descriptor, temporary = tempfile.mkstemp(
            prefix=f"{NAME}.", suffix=".tmp", dir=self.directory
        )
        try:
            with open(descriptor, "wb") as handle:
                handle.write(body)
                handle.flush()
                if self.fsync:
                    os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        if self.fsync:
            _fsync_directory(self.directory)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _decode(data: bytes) -> tuple[dict[str, Position], dict[str, float]]:
    """The positions in a checkpoints file and when each file was last seen;
    ``msgspec.DecodeError``/``ValueError`` if damaged."""
    version = msgspec.json.decode(data, type=_Version).version
    if version == 1:
        old = msgspec.json.decode(data, type=_DocumentV1)
        log.warning(
            "checkpoints file: migrating %d file(s) from version 1 (first-line checksum) "
            "to version %d (device, inode, first-line and prefix checksums)",
            len(old.files),
            VERSION,
        )
        positions = {
            f.fingerprint: Position(f.path, f.offset, bytes.fromhex(f.tail), head=f.fingerprint)
            for f in old.files
        }
        return positions, dict.fromkeys(positions, time.time())
    if version != VERSION:
        raise ValueError(f"unknown version {version}")
    document = msgspec.json.decode(data, type=_Document)
    for f in document.files:
        if len(f.tail) // 2 > f.offset or f.prefix_len > f.offset:
            raise ValueError(f"{f.path}: offset {f.offset} is before the bytes it records")
    positions = {
        f.key: Position(
            f.path,
            f.offset,
            bytes.fromhex(f.tail),
            f.head,
            f.device,
            f.inode,
            f.prefix_len,
            f.prefix,
        )
        for f in document.files
    }
    return positions, {f.key: f.seen for f in document.files}
