"""The ``file`` source: globs, file identity, checkpoints, rotation, open-file limits.

Like Vector's ``file`` source:

* files matching ``include`` (minus ``exclude``) are found again every
  ``glob_interval_secs``, so new files are picked up; a file is not read before
  its first line is complete;
* a file is known by its identity (device and inode, checksum of its first line,
  checksum of its first bytes: see docs/shipper.md, "File identity"), so files
  that start with the same header line are never confused;
* rename-and-create rotation: the renamed file is followed by its inode and read
  to its end, the new file is read from its start;
* copytruncate: a file that shrinks below the read offset, or whose bytes before
  it changed, is read again from its start; the copy, if it matches the globs, is
  recognised by its content and continues where reading stopped;
* a file deleted (or moved out of the globs) while open is read to its end, then
  let go after ``rotate_wait_secs``; a last line without a newline is then shipped
  if it is a whole JSON object, else reported;
* at most ``max_open_files`` files are open at once (fewer for 30 s after
  ``EMFILE``): files read to their end are closed when others wait, and reopened by
  path and identity when they grow;
* a partial last line waits for its newline (with ``--once``, at the end of the
  input, a last line that is a whole JSON object is shipped, anything else reported);
* files that cannot be opened (or are no regular files, or lie in a directory a
  glob cannot list) are reported once each, with the reason, and read as soon as
  they can be.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import logging
import os
import resource
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from stat import S_ISBLK, S_ISCHR, S_ISDIR, S_ISFIFO, S_ISREG, S_ISSOCK

import orjson

from luna_events.ship.checkpoints import Checkpoints
from luna_events.ship.config import SourceConfig
from luna_events.ship.lock import DataDirError
from luna_events.ship.sources import PREFIX_BYTES, TAIL_BYTES, Chunk, Position, printable
from luna_events.ship.sources.splitter import LineSplitter

log = logging.getLogger("luna_events.ship")

READ_SIZE = 256 * 1024
HEAD_BYTES = 4096
"""A first line longer than this is identified by its first 4 KiB."""
DEFAULT_MAX_OPEN_FILES = 512
"""Files held open at once, unless the open-file limit (less :data:`RESERVED_FILES`) is lower."""
RESERVED_FILES = 64
"""Descriptors left for everything else: spool, dead letters, sockets, the lock."""
EMFILE_REPORT_SECS = 30.0

_NO_ROOM = {errno.EMFILE, errno.ENFILE}


def _checksum(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def head_of(first_bytes: bytes) -> str | None:
    """The checksum of the first line in ``first_bytes``, or ``None`` while it is incomplete."""
    newline = first_bytes.find(b"\n")
    if newline < 0 and len(first_bytes) < HEAD_BYTES:
        return None
    return _checksum(first_bytes if newline < 0 else first_bytes[: newline + 1])


def open_file_budget(configured: int | None) -> int:
    """How many files to hold open: the setting, kept below the soft RLIMIT_NOFILE."""
    wanted = configured or DEFAULT_MAX_OPEN_FILES
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    room = soft - RESERVED_FILES if soft > 2 * RESERVED_FILES else soft // 2
    return max(1, min(wanted, room))


@dataclass
class _Tracked:
    key: str
    path: str
    head: str
    device: int
    inode: int
    offset: int
    """Just after the last complete line consumed (what the checkpoint records)."""
    splitter: LineSplitter
    prefix_len: int = 0
    prefix: str = ""
    descriptor: int | None = None
    active: float = 0.0
    """When it last gave lines (or was opened)."""
    size: int = 0
    """Its size when last looked at."""
    flushed: bool = False
    """Its unterminated last line was shipped or reported (``--once``, or it is gone)."""
    gone: bool = False
    """Deleted or moved out of the globs, read to its end but for a last line without
    a newline, which goes first (see :meth:`FileSource._last_line`)."""
    seen: bool = True
    """Found under some path by the latest discovery."""

    @property
    def read_to(self) -> int:
        """Where the next read starts."""
        return self.offset + self.splitter.buffered

    @property
    def position(self) -> Position:
        return Position(
            self.path,
            self.offset,
            self.splitter.tail,
            self.head,
            self.device,
            self.inode,
            self.prefix_len,
            self.prefix,
        )


@dataclass
class _Reports:
    """Problems told to the operator once each (unreadable files), or at a bounded rate."""

    unreadable: set[str] = field(default_factory=set)
    no_room_at: float = float("-inf")
    """When ``EMFILE`` was last reported."""
    no_room_last: float = float("-inf")
    """When ``EMFILE`` last happened."""


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
        self.budget = open_file_budget(config.max_open_files)
        self.max_open = self.budget
        """Files held open at most: :attr:`budget`, lowered for a while after ``EMFILE``."""
        self._tracked: dict[str, _Tracked] = {}
        self._waiting: deque[str] = deque()
        """Keys of closed files with bytes to read, in the order they asked."""
        self._next_glob = 0.0
        self._from_end = config.read_from == "end" and checkpoints.first_start
        """Files found by the first look start at their end (the first start only: files
        that appear later, also while the shipper is down, are read from their start)."""
        self._reports = _Reports()

    # discovery ------------------------------------------------------------------

    def _paths(self) -> list[str]:
        found: list[str] = []
        for pattern in self.config.include:
            matches = glob.glob(pattern)
            if not matches:
                self._check_directory(pattern)  # glob says nothing of what it cannot list
            elif self._reports.unreadable:
                self._readable(_directory_of(pattern))
            for path in sorted(matches):
                if not any(fnmatch(path, ex) for ex in self.config.exclude):
                    found.append(path)
        return list(dict.fromkeys(found))

    def _check_directory(self, pattern: str) -> None:
        """A pattern matched nothing: report its directory once if it cannot be listed."""
        directory = _directory_of(pattern)
        try:
            with os.scandir(directory):
                pass
        except FileNotFoundError:
            return  # not there yet
        except OSError as error:
            if error.errno not in _NO_ROOM:
                self._unreadable(directory, error)
            return
        self._readable(directory)

    def _discover(self) -> None:
        """Look at every path: follow known inodes, identify new files, let go of old ones."""
        by_inode = {(t.device, t.inode): t for t in self._tracked.values()}
        for tracked in self._tracked.values():
            tracked.seen = False
        started: dict[str, Position] = {}
        index = self._index()
        now = time.monotonic()
        present: set[tuple[int, int]] = set()
        for path in self._paths():
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                continue  # gone since the glob, or a link to nothing (yet)
            except OSError as error:
                self._unreadable(path, error)
                continue
            if not S_ISREG(stat.st_mode):
                self._unreadable(path, f"{_kind(stat.st_mode)}, not a regular file")
                continue
            present.add((stat.st_dev, stat.st_ino))
            known = by_inode.get((stat.st_dev, stat.st_ino))
            if known is not None:
                known.path = path  # renamed, or seen again
                known.seen = True
                if known.descriptor is None and stat.st_size != known.size:
                    self._wait(known)
                continue
            adopted = self._adopt(path, index, started, now)
            if adopted is not None:  # reached again by a link or another glob: one file
                by_inode[(adopted.device, adopted.inode)] = adopted
        for tracked in list(self._tracked.values()):
            if self._finished(tracked, now):
                self._forget(tracked)
        positions = self.checkpoints.positions
        self.checkpoints.touch(k for k, p in positions.items() if (p.device, p.inode) in present)
        self.checkpoints.expire(keep=self._tracked)
        if started:
            try:
                self.checkpoints.update(started)
            except OSError as error:  # kept in memory: saved with the next commit
                log.warning("cannot save the checkpoints now: %s", error.strerror)
        self._from_end = False

    def _index(self) -> dict[str, list[str]]:
        """``head -> checkpoint keys``."""
        index: dict[str, list[str]] = {}
        for key, position in self.checkpoints.positions.items():
            index.setdefault(position.head, []).append(key)
        return index

    def _open(self, path: str) -> int | None:
        """A read-only descriptor, or ``None`` (reported: unreadable, or no descriptor left)."""
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno in _NO_ROOM:
                self._no_room(path, error)
            else:
                self._unreadable(path, error)
            return None
        return descriptor

    def _unreadable(self, path: str, error: OSError | str) -> None:
        """Say once that ``path`` cannot be read, and why."""
        if path not in self._reports.unreadable:
            reason = error if isinstance(error, str) else error.strerror or str(error)
            self._reports.unreadable.add(path)
            log.warning("cannot read %s: %s; skipped until it can be read", path, reason)

    def _readable(self, path: str) -> None:
        """``path`` was read: say so if it was reported unreadable."""
        if path in self._reports.unreadable:
            self._reports.unreadable.discard(path)
            log.warning("%s can be read now: shipping it", path)

    def _no_room(self, path: str, error: OSError) -> None:
        """Out of descriptors: hold fewer files open, say so now and then, and wait."""
        self.max_open = max(1, min(self.max_open, self._open_count() * 3 // 4))
        open_files = sorted(
            (t for t in self._tracked.values() if t.descriptor is not None),
            key=lambda t: (t.size != t.read_to, t.active),  # files read to their end first
        )
        for tracked in open_files[: max(0, len(open_files) - self.max_open)]:
            self._close(tracked)  # room for the rest of the process (checkpoints, spool)
            if tracked.size != tracked.read_to:
                self._wait(tracked)
        now = self._reports.no_room_last = time.monotonic()
        if now - self._reports.no_room_at >= EMFILE_REPORT_SECS:
            self._reports.no_room_at = now
            log.error(
                "cannot open %s: %s; holding at most %d files open and waiting "
                "(raise LimitNOFILE / ulimit -n, or lower source.max_open_files)",
                path,
                error.strerror,
                self.max_open,
            )

    def _adopt(
        self, path: str, index: dict[str, list[str]], started: dict[str, Position], now: float
    ) -> _Tracked | None:
        """A file not followed yet: find its checkpoint by identity, or start it."""
        descriptor = self._open(path)
        if descriptor is None:
            return None
        keep = False
        try:
            stat = os.fstat(descriptor)
            if not S_ISREG(stat.st_mode):
                return None  # replaced since it was looked at (a fifo, a device)
            head = self._head(descriptor)
            if head is None:
                return None  # its first line is not complete yet
            device, inode, size = stat.st_dev, stat.st_ino, stat.st_size
            key = f"{head}.{device:x}.{inode:x}"
            if key in self._tracked:
                return self._tracked[key]
            splitter = LineSplitter(self.config.max_line_bytes)
            position = self._match(descriptor, head, device, inode, size, index)
            if position is not None:
                offset, prefix_len, prefix = position.offset, position.prefix_len, position.prefix
                splitter.tail = position.tail
            elif self._from_end:
                offset = _after_last_newline(descriptor, size)
                kept = min(offset, TAIL_BYTES)
                splitter.tail = os.pread(descriptor, kept, offset - kept)
                prefix_len = min(offset, PREFIX_BYTES)
                prefix = _checksum(os.pread(descriptor, prefix_len, 0))
            else:
                offset, prefix_len, prefix = 0, 0, ""
            tracked = _Tracked(
                key, path, head, device, inode, offset, splitter, prefix_len, prefix, active=now
            )
            if position is None and offset:
                started[key] = tracked.position  # "end": remembered at once
            elif position is not None and (position.device, position.inode) != (device, inode):
                started[key] = tracked.position  # a copy, or a migrated checkpoint
            self._tracked[key] = tracked
            tracked.size = size
            if self._open_count() < self.max_open:  # held even when read to its end: a
                tracked.descriptor = descriptor  # rename out of the globs loses nothing
                keep = True
            elif size != offset:
                self._waiting.append(key)
            self._readable(path)
            return tracked
        except OSError as error:
            self._unreadable(path, error)
            return None
        finally:
            if not keep:
                os.close(descriptor)

    def _head(self, descriptor: int) -> str | None:
        """The file's ``head``; with ``--once``, ``""`` while its first line has no
        newline (so that a file of one unterminated line is read, and reported or shipped)."""
        head = head_of(os.pread(descriptor, HEAD_BYTES, 0))
        return "" if head is None and self.once else head

    def _match(
        self,
        descriptor: int,
        head: str,
        device: int,
        inode: int,
        size: int,
        index: dict[str, list[str]],
    ) -> Position | None:
        """The checkpoint of this file: same inode and content, or else same content."""
        same_content: list[tuple[str, Position]] = []
        for key in index.get(head, ()):
            position = self.checkpoints.positions[key]
            if not _holds(descriptor, position, size):
                continue
            if (position.device, position.inode) == (device, inode):
                return position
            same_content.append((key, position))
        if not same_content:
            return None
        key, position = max(same_content, key=lambda item: item[1].offset)
        if not position.device:
            self.checkpoints.forget(key)  # a version 1 checkpoint, now adopted
        return position

    def _wait(self, tracked: _Tracked) -> None:
        if tracked.key not in self._waiting:
            self._waiting.append(tracked.key)

    def _forget(self, tracked: _Tracked) -> None:
        self._close(tracked)
        self._tracked.pop(tracked.key, None)

    def _close(self, tracked: _Tracked) -> None:
        if tracked.descriptor is not None:
            os.close(tracked.descriptor)
            tracked.descriptor = None

    def _open_count(self) -> int:
        return sum(t.descriptor is not None for t in self._tracked.values())

    def _reopen_waiting(self) -> None:
        """Open waiting files, closing files read to their end to make room."""
        if not self._waiting:
            return
        idle = sorted(
            (t for t in self._tracked.values() if t.descriptor is not None and t.size == t.read_to),
            key=lambda t: t.active,
        )
        count = self._open_count()
        turns = len(self._waiting)  # each waiting file once per poll at most
        while self._waiting and turns:
            turns -= 1
            tracked = self._tracked.get(self._waiting[0])
            if tracked is None or tracked.descriptor is not None:
                self._waiting.popleft()
                continue
            if count >= self.max_open:
                if not idle:
                    return
                self._close(idle.pop(0))
                count -= 1
            descriptor = self._open(tracked.path)
            if descriptor is None:
                if tracked.path in self._reports.unreadable:
                    self._waiting.rotate(-1)  # cannot be read (reported): the others first
                    continue
                return  # no descriptor now, or gone: try again later
            try:
                same = _same_file(descriptor, tracked)
            except OSError:
                same = False
            if not same:
                os.close(descriptor)  # rewritten, or another file under that path: look again
                self._waiting.popleft()
                self._forget(tracked)
                self._next_glob = 0.0
                continue
            self._waiting.popleft()
            tracked.descriptor = descriptor
            tracked.active = time.monotonic()
            count += 1

    # reading --------------------------------------------------------------------

    def poll(self) -> Sequence[Chunk]:
        now = time.monotonic()
        if now >= self._next_glob:
            self._discover()
            self._next_glob = now + self.config.glob_interval_secs
        if self.max_open < self.budget and now - self._reports.no_room_last >= EMFILE_REPORT_SECS:
            self.max_open = self.budget
            log.warning(
                "no 'Too many open files' for %.0f s: holding up to %d files open again",
                EMFILE_REPORT_SECS,
                self.budget,
            )
        self._reopen_waiting()
        chunks = []
        for tracked in list(self._tracked.values()):
            chunk = None if tracked.descriptor is None else self._read(tracked)
            if chunk is not None:
                chunks.append(chunk)
                tracked.active = now
            elif (
                (self.once or tracked.gone)
                and not tracked.flushed
                and tracked.size == tracked.read_to
            ):
                chunk = self._last_line(tracked)
                if chunk is not None:
                    chunks.append(chunk)
        return chunks

    def _read(self, tracked: _Tracked) -> Chunk | None:
        descriptor = tracked.descriptor
        assert descriptor is not None
        try:
            size = os.fstat(descriptor).st_size
            tracked.size = size
            read_to = tracked.read_to
            if size == read_to:
                return None  # nothing new (the cheap, common answer for idle files)
            if (
                size < read_to
                or (not tracked.prefix_len and self._head(descriptor) != tracked.head)
                or not _holds(descriptor, tracked.position, size)  # the prefix covers the head
            ):
                self._forget(tracked)  # truncated or rewritten under us: look again
                self._next_glob = 0.0
                return None
            data = os.pread(descriptor, READ_SIZE, read_to)
        except OSError as error:
            self._unreadable(tracked.path, error)
            return None
        if self._reports.unreadable:
            self._readable(tracked.path)
        if not data:
            return None
        tracked.flushed = tracked.gone = False
        start = tracked.offset
        lines = tracked.splitter.feed(data)
        if not lines.lines:
            return None
        tracked.offset = read_to + len(data) - tracked.splitter.buffered
        if tracked.prefix_len < PREFIX_BYTES and tracked.offset > tracked.prefix_len:
            length = min(tracked.offset, PREFIX_BYTES)
            try:
                prefix = _checksum(os.pread(descriptor, length, 0))
            except OSError:
                pass  # the shorter prefix stays: taken again at the next read
            else:
                tracked.prefix_len, tracked.prefix = length, prefix
        return Chunk(
            tracked.key,
            printable(tracked.path),
            start,
            tracked.offset,
            lines.lines,
            lines.oversized,
            lines.marked,
            tracked.position,
        )

    def _last_line(self, tracked: _Tracked) -> Chunk | None:
        """The end of a file (``--once``, or the file is gone): its last line has no newline."""
        tracked.flushed = True
        splitter = tracked.splitter
        if not splitter.buffered:
            return None
        if not splitter.discarding and _whole_json_object(splitter.pending):
            line = splitter.pending
            return Chunk(
                tracked.key,
                printable(tracked.path),
                tracked.offset,
                tracked.offset,
                [line],
                position=tracked.position,
            )
        log.warning(
            "%s: the last line (%d bytes at offset %d) has no newline and is %s: %s",
            tracked.path,
            splitter.buffered,
            tracked.offset,
            "over the line limit" if splitter.discarding else "not a whole JSON object",
            "the file is gone (deleted or moved out of the globs): not shipped"
            if tracked.gone
            else "not shipped now; it is read once its newline arrives",
        )
        return None

    def _finished(self, tracked: _Tracked, now: float) -> bool:
        """Let go of a file read to its end that is deleted, or no longer under its path."""
        if tracked.descriptor is None:
            return not tracked.seen  # closed, and gone from the globs: its checkpoint stays
        try:
            if os.fstat(tracked.descriptor).st_size > tracked.read_to:
                return False  # not read to its end yet (written just before it went)
            stat = os.stat(tracked.path)
            current = (stat.st_dev, stat.st_ino) == (tracked.device, tracked.inode)
        except OSError:
            current = False
        if current or not (self.once or now - tracked.active >= self.config.rotate_wait_secs):
            return False
        if tracked.splitter.buffered and not tracked.flushed:
            tracked.gone = True  # its last line is shipped or reported first (poll)
            return False
        return True

    def at_end(self) -> bool:
        """Every file is read to its last line, after a fresh look."""
        self._discover()
        if self._waiting:
            return False
        for tracked in self._tracked.values():
            if self.once and tracked.splitter.buffered and not tracked.flushed:
                return False
            if tracked.descriptor is None:
                continue
            try:
                size = os.fstat(tracked.descriptor).st_size
            except OSError:
                continue
            if size > tracked.read_to:
                return False
        return True

    def commit(self, positions: dict[str, Position]) -> None:
        self.checkpoints.update(positions)

    def close(self) -> None:
        for tracked in list(self._tracked.values()):
            self._close(tracked)
        self._tracked.clear()


def _holds(descriptor: int, position: Position, size: int) -> bool:
    """Whether the file still holds what was read up to ``position`` (it only grew)."""
    if position.offset > size or len(position.tail) > position.offset:
        return False
    if position.prefix_len and (
        _checksum(os.pread(descriptor, position.prefix_len, 0)) != position.prefix
    ):
        return False
    tail = position.tail
    return not tail or os.pread(descriptor, len(tail), position.offset - len(tail)) == tail


def _same_file(descriptor: int, tracked: _Tracked) -> bool:
    """Whether a path reopened still leads to the file followed (identity and content)."""
    stat = os.fstat(descriptor)
    return (stat.st_dev, stat.st_ino) == (tracked.device, tracked.inode) and _holds(
        descriptor, tracked.position, stat.st_size
    )


def _after_last_newline(descriptor: int, size: int) -> int:
    """The offset just after the file's last newline (where ``read_from = "end"`` starts)."""
    end = size
    while end > 0:
        begin = max(0, end - READ_SIZE)
        newline = os.pread(descriptor, end - begin, begin).rfind(b"\n")
        if newline >= 0:
            return begin + newline + 1
        end = begin
    return 0


def _directory_of(pattern: str) -> str:
    """The directory a glob pattern lists: its parts before the first wildcard."""
    fixed: list[str] = []
    for part in Path(pattern).parent.parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) if fixed else "."


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, for a message."""
    for test, name in (
        (S_ISDIR, "a directory"),
        (S_ISFIFO, "a fifo"),
        (S_ISCHR, "a character device"),
        (S_ISBLK, "a block device"),
        (S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "a special file"


def _whole_json_object(data: bytes) -> bool:
    try:
        return isinstance(orjson.loads(data), dict)
    except orjson.JSONDecodeError:
        return False


def make_data_dir(path: Path) -> Path:
    """Create the data dir (checkpoints, spool, dead letters) if needed."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataDirError(f"cannot create the data dir {path}: {error.strerror}") from None
    return path
