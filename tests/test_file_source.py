"""The file source on its own: start positions, truncation, oversized lines."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from luna_events.ship.checkpoints import Checkpoints
from luna_events.ship.config import SourceConfig
from luna_events.ship.sources.file import FileSource


def source(tmp_path: Path, **options: Any) -> FileSource:
    config = SourceConfig(
        include=[str(tmp_path / "logs" / "*.log")], glob_interval_secs=0, **options
    )
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    return FileSource(config, Checkpoints(data))


def read_all(files: FileSource, rounds: int = 5) -> list[bytes]:
    """The lines ``rounds`` polls give, each chunk committed as the topology would."""
    lines: list[bytes] = []
    for _ in range(rounds):
        for chunk in files.poll():
            lines.extend(chunk.lines)
            files.commit({chunk.source_id: chunk.position})
    return lines


def test_read_from_end_skips_only_what_was_there_at_start(tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_bytes(b"old-first\nold-second\n")
    files = source(tmp_path, read_from="end")
    assert read_all(files) == []
    with open(logs / "a.log", "ab") as handle:
        handle.write(b"appended\n")
    assert read_all(files) == [b"appended"]
    os.rename(logs / "a.log", tmp_path / "a.log.1")
    (logs / "a.log").write_bytes(b"new-first\nnew-second\n")
    assert read_all(files) == [b"new-first", b"new-second"], "a rotated-in file is read whole"


def test_truncation_that_keeps_the_first_line_restarts_at_the_top(tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "a.log"
    log.write_bytes(b"HEADER\nline1\nline2\nline3\n")
    files = source(tmp_path)
    assert read_all(files) == [b"HEADER", b"line1", b"line2", b"line3"]
    log.write_bytes(b"HEADER\nnew1\n")
    with open(log, "ab") as handle:
        handle.write(b"new2\nnew3\nnew4 more text here\n")
    assert read_all(files) == [b"HEADER", b"new1", b"new2", b"new3", b"new4 more text here"]
    restarted = source(tmp_path)
    with open(log, "ab") as handle:
        handle.write(b"new5\n")
    assert read_all(restarted) == [b"new5"], "the checkpoint followed the truncation"


def test_an_oversized_lines_prefix_stops_at_its_newline(tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_bytes(b"first\n" + b"x" * 500 + b'\n{"luna_event":{"v":1}}\nlast\n')
    files = source(tmp_path, max_line_bytes=100)
    chunks = [c for _ in range(3) for c in files.poll()]
    lines = [line for chunk in chunks for line in chunk.lines]
    assert lines[0] == b"first" and lines[2:] == [b'{"luna_event":{"v":1}}', b"last"]
    assert lines[1] == b"x" * 500, "the prefix (up to 1 KiB) ends where the line ends"
    assert {i: n for chunk in chunks for i, n in chunk.oversized.items()} == {1: 500}
