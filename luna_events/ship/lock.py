"""The data-dir lock: one shipper per data dir.

Two shippers on one data dir would race on the checkpoints, delete each other's
spool segments and send everything twice. The first one to start holds an
exclusive ``flock`` on the data dir itself and on ``<data_dir>/lock`` for as long as
its process lives (the kernel lets go when the process ends, even after ``kill
-9``): deleting the lock file does not free the directory's lock, and the file's
lock keeps out shippers of earlier versions (and works where directories cannot be
locked: NFS). A second one is refused with the holder's pid, written to the lock
file.
"""

from __future__ import annotations

import errno
import fcntl
import os
import tempfile
from pathlib import Path

from luna_events.errors import LunaEventsError

LOCK_NAME = "lock"

_held: dict[Path, list[int]] = {}
"""Data dirs this process holds, with the locked descriptors (kept open)."""
_BUSY = {errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES}


class DataDirError(LunaEventsError):
    """The data dir cannot be used: in use by another shipper, or its state unreadable."""


def hold(data_dir: Path) -> None:
    """Lock ``data_dir`` for the rest of this process's life, or raise :class:`DataDirError`.

    Taking a lock this process already holds is a no-op."""
    key = data_dir.resolve()
    if key in _held:
        return
    path = key / LOCK_NAME
    try:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise DataDirError(f"cannot open the lock file {path}: {error.strerror}") from None
    try:
        locked = _lock(key, descriptor)
    except OSError as error:  # the lock file's lock goes with its descriptor
        holder = _holder(descriptor)
        os.close(descriptor)
        if error.errno in _BUSY:
            raise DataDirError(
                f"data dir {key} is in use by another luna-events ship (pid {holder}); "
                "give each shipper its own data_dir"
            ) from None
        raise DataDirError(f"cannot lock {path}: {error.strerror}") from None
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # the pid is only a courtesy for the message above; the lock is what counts
    try:
        _check_writable(key)
    except DataDirError:
        for held in locked:
            os.close(held)
        raise
    _held[key] = locked


def _check_writable(directory: Path) -> None:
    """Refuse a data dir that cannot be written (permissions, read-only); a full disk is
    not refused: its writes wait until there is room."""
    try:
        descriptor, probe = tempfile.mkstemp(prefix=".write-test.", dir=directory)
    except OSError as error:
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            return
        raise DataDirError(f"data dir {directory} is not writable: {error.strerror}") from None
    os.close(descriptor)
    os.unlink(probe)


def _lock(directory: Path, lock_file: int) -> list[int]:
    """Lock ``lock_file`` and ``directory`` (where directories can be locked: not on
    NFS); the locked descriptors, to keep open. ``OSError`` with an errno in
    :data:`_BUSY` when another process holds either."""
    fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(descriptor)
        if error.errno in _BUSY:
            raise
        return [lock_file]  # the lock file alone
    return [lock_file, descriptor]


def _holder(descriptor: int) -> str:
    """The pid written by the lock's holder, or ``unknown``."""
    try:
        text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return "unknown"
    return text if text.isdigit() else "unknown"
