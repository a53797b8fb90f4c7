"""The dead-letter file: one JSON line per line that could not be shipped, with why.

Records are written whole: each call appends complete lines and fsyncs them, and
a write that fails half way (disk full) is cut back to where it began, then
raises ``OSError`` for the caller to wait on; writers hold an exclusive ``flock``
on the file meanwhile, so a replay beside a running shipper never loses a record.
A record repeated after a crash carries the same ``key`` (the input's identity and
byte offset for an invalid line, a hash of the line protocol for a point the sink
refused), so readers de-duplicate by key (see :func:`read_records`).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from luna_events.errors import Problem

log = logging.getLogger("luna_events.ship")

MAX_KEPT_BYTES = 64 * 1024
"""Longest piece of a bad line kept in its record."""

INVALID = "invalid"
REJECTED = "rejected"


def _line_fields(data: bytes, full_length: int | None = None) -> dict[str, Any]:
    kept = data[:MAX_KEPT_BYTES]
    fields: dict[str, Any] = {"length": full_length if full_length is not None else len(data)}
    try:
        fields["line"] = kept.decode("utf-8")
    except UnicodeDecodeError:
        fields["line_base64"] = base64.b64encode(kept).decode()
    if fields["length"] > len(kept):
        fields["truncated"] = True
    return fields


def invalid_record(
    source_id: str,
    source: str,
    offset: int,
    line: bytes,
    problems: tuple[Problem, ...],
    full_length: int | None = None,
) -> dict[str, Any]:
    """The record of a monitoring line the transform refused, keyed by input and offset."""
    return {
        "key": f"{source_id}@{offset}",
        "kind": INVALID,
        "reason": "; ".join(str(p) for p in problems),
        "problems": [{"code": p.code, "path": p.path, "message": p.message} for p in problems],
        "source": {"path": source, "offset": offset, "id": source_id},
        **_line_fields(line, full_length),
    }


def rejected_record(
    sink: str, status: int | None, message: str, line_protocol: bytes
) -> dict[str, Any]:
    """The record of a point the sink refused for good, keyed by a hash of the point."""
    point = line_protocol.rstrip(b"\n")
    return {
        "key": "lp:" + hashlib.blake2b(point, digest_size=16).hexdigest(),
        "kind": REJECTED,
        "reason": f"{sink} refused the point ({status}): {message}",
        "problems": [{"code": "rejected_by_sink", "path": "line", "message": message}],
        "sink": {"name": sink, "status": status},
        **_line_fields(point),
    }


class DeadLetters:
    """Appends dead-letter records to a JSONL file (created on first use)."""

    def __init__(self, path: Path, *, fsync: bool = True) -> None:
        self.path = path
        self.fsync = fsync
        self._descriptor: int | None = None
        self._lock = threading.Lock()

    def write(self, records: Iterable[dict[str, Any]]) -> None:
        """Append whole records (all or none), then fsync. Raises ``OSError``."""
        now = time.time()
        data = b"".join(
            orjson.dumps({"time": now, **record}, option=orjson.OPT_APPEND_NEWLINE)
            for record in records
        )
        if not data:
            return
        with self._lock:
            if self._descriptor is not None and not self._still_there(self._descriptor):
                os.close(self._descriptor)  # moved or deleted (rotated, cleared): reopen
                self._descriptor = None
            if self._descriptor is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._descriptor = os.open(
                    self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
                )
            descriptor = self._descriptor
            # another writer (a replay beside the shipper) must not append between
            # the end taken here and a cut back to it
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            start = os.lseek(descriptor, 0, os.SEEK_END)
            if start and os.pread(descriptor, 1, start - 1) != b"\n":
                data = b"\n" + data  # after a record cut by a kill: never glued to it
            try:
                written = 0
                while written < len(data):
                    written += os.write(descriptor, data[written:])
                if self.fsync:
                    os.fsync(descriptor)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(descriptor, start)
                os.close(descriptor)  # releases the lock
                self._descriptor = None
                raise
            fcntl.flock(descriptor, fcntl.LOCK_UN)

    def _still_there(self, descriptor: int) -> bool:
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return False  # deleted or rotated away: the caller opens the path anew
        opened = os.fstat(descriptor)
        return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._descriptor is not None:
                os.close(self._descriptor)
                self._descriptor = None


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The records of a dead-letter file, each key once (the last record for a key wins);
    a line that is not a whole JSON object (cut by a crash, or edited by hand) is
    skipped with one WARNING that counts them."""
    latest: dict[str, dict[str, Any]] = {}
    damaged = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle):
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                record = None
            if not isinstance(record, dict):
                damaged += raw.strip() != b""
                continue
            key = str(record.get("key") or f"line:{number}")
            latest.pop(key, None)
            latest[key] = record
    if damaged:
        log.warning("%s: %d line(s) are not whole records (cut or edited); skipped", path, damaged)
    yield from latest.values()
