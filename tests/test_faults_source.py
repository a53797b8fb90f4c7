"""Faults at the shipper's sources: files that share a first line, more files than
descriptors, unreadable files, ``read_from = "end"`` across restarts, a last line
without a newline, over-long lines with a late marker. Real InfluxDB and the real
``luna-events ship`` command; exact counts and the messages an operator sees."""

from __future__ import annotations

import itertools
import os
import resource
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from luna_events.event import Event
from luna_events.jsonline import MARKER
from luna_events.localservers import InfluxDB1
from luna_events.ship.checkpoints import Checkpoints
from luna_events.ship.config import SourceConfig
from luna_events.ship.sources import Chunk
from luna_events.ship.sources import file as file_source
from luna_events.ship.sources.file import FileSource
from luna_events.ship.sources.splitter import OVERSIZED_PREFIX, LineSplitter
from luna_events.ship.sources.stdin import StdinSource

from .shipping import (
    ORDINARY,
    influx_sink,
    line,
    make_events,
    sequence_numbers,
    ship_config,
    stored_as_sent,
    wait_for,
    write_toml,
)
from .test_faults_state import as_non_root, run_once, summary_count
from .test_file_source import read_all

HEADER = b"# service log, format 3\n"
"""The same first line in every file of a service (what broke the first-line checksum)."""


class Shipper:
    """``luna-events ship -c CONFIG`` in follow mode, with an optional ``preexec_fn``."""

    def __init__(self, config: Path, preexec: Callable[[], None] | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_MONITORING_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=preexec,
        )

    def stop(self) -> str:
        self.process.terminate()
        _, stderr = self.process.communicate(timeout=120)
        assert self.process.returncode == 0, stderr
        assert "Traceback" not in stderr, stderr
        return stderr


# the splitter ----------------------------------------------------------------------


def split_in_pieces(
    data: bytes, cuts: list[int], limit: int
) -> tuple[list[bytes], dict[int, int], set[int]]:
    splitter = LineSplitter(limit)
    lines: list[bytes] = []
    oversized: dict[int, int] = {}
    marked: set[int] = set()
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    for begin, end in itertools.pairwise(points):
        out = splitter.feed(data[begin:end])
        oversized.update({i + len(lines): n for i, n in out.oversized.items()})
        marked.update(i + len(lines) for i in out.marked)
        lines.extend(out.lines)
    return lines, oversized, marked


@given(
    st.lists(
        st.tuples(st.integers(0, 300), st.sampled_from([b"", MARKER, b'"luna\\u005fevent"'])),
        max_size=12,
    ),
    st.lists(st.integers(0, 10_000), max_size=30),
)
def test_any_cutting_of_the_stream_gives_the_same_lines(
    shapes: list[tuple[int, bytes]], cuts: list[int]
):
    limit = 100
    lines = [b"x" * (size // 2) + marker + b"y" * (size - size // 2) for size, marker in shapes]
    data = b"".join(piece + b"\n" for piece in lines)
    got, oversized, marked = split_in_pieces(data, cuts, limit)
    assert len(got) == len(lines)
    for index, original in enumerate(lines):
        if len(original) <= limit:
            assert got[index] == original and index not in oversized
        else:
            assert got[index] == original[:OVERSIZED_PREFIX] and oversized[index] == len(original)
            assert (index in marked) == (b"luna" in original), "the marker, wherever it lies"


def test_stdin_ships_a_last_line_without_newline_and_flags_late_markers(tmp_path: Path):
    late = b'{"context": "' + b"z" * 3_000_000 + b'", "luna_event": {"v": 1}}\n'
    stream = tmp_path / "in"
    stream.write_bytes(b"first\n" + late + b'{"last": 1}')
    with open(stream, "rb") as handle:
        source = StdinSource(handle, max_line_bytes=1000)
        chunks: list[Chunk] = []
        while not source.at_end():
            chunks.extend(source.poll())
    lines = [line for chunk in chunks for line in chunk.lines]
    assert lines[0] == b"first" and lines[-1] == b'{"last": 1}' and len(lines) == 3
    [flagged] = [c for c in chunks if c.marked]
    assert flagged.oversized == dict.fromkeys(flagged.marked, len(late) - 1)
    assert chunks[-1].end == stream.stat().st_size


# files on real servers ---------------------------------------------------------------


@pytest.mark.server
def test_files_that_share_their_first_line_are_all_shipped(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(15_000, seed=201)
    logs = tmp_path / "logs"
    logs.mkdir()
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, influx_sink(influxdb, database))
    )
    parts = [events[n * 2_500 : (n + 1) * 2_500] for n in range(6)]
    for number, part in enumerate(parts[:3]):  # present at start, each with the same header
        (logs / f"svc-{number}.jsonl").write_bytes(HEADER + b"".join(line(e) for e in part))
    shipper = Shipper(config)
    try:
        wait_for(influxdb, database, 7_500, timeout=120)
        current = logs / "svc.jsonl"  # a service that rotates by rename, header first
        for part in parts[3:]:
            with open(current, "ab") as handle:
                handle.write(HEADER)
                for event in part:
                    handle.write(line(event))
            os.rename(current, logs / f"svc.jsonl.{time.monotonic_ns()}")
        numbers = wait_for(influxdb, database, len(events), timeout=120)
    finally:
        stderr = shipper.stop()
    assert sorted(numbers) == list(range(len(events))), "every event exactly once"
    stored_as_sent(influxdb, database, events)
    loud = [r for r in stderr.splitlines() if " WARNING " in r or " ERROR " in r]
    assert all("signal" in r for r in loud), stderr
    again = run_once(config)
    assert summary_count(again.stderr, "events shipped") == 0, "each file has its own checkpoint"


def limit_open_files(limit: int) -> Callable[[], None]:
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    return preexec


@pytest.mark.server
def test_2000_files_under_a_1024_open_file_limit(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    files = 2_000
    events = make_events(files * 4, seed=203)
    logs = tmp_path / "logs"
    logs.mkdir()
    for number in range(files):
        (logs / f"f{number:04}.jsonl").write_bytes(
            line(events[number]) + line(events[files + number])
        )
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, influx_sink(influxdb, database))
    )
    shipper = Shipper(config, preexec=limit_open_files(1024))
    try:
        wait_for(influxdb, database, 2 * files, timeout=180)
        for number in range(files):  # every file grows again, after it was closed
            with open(logs / f"f{number:04}.jsonl", "ab") as handle:
                handle.write(line(events[2 * files + number]) + line(events[3 * files + number]))
        numbers = wait_for(influxdb, database, len(events), timeout=180)
    finally:
        stderr = shipper.stop()
    assert "Too many open files" not in stderr
    assert sorted(numbers) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)


@pytest.mark.server
def test_too_few_descriptors_is_a_loud_wait_not_a_crash(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(600, seed=205)
    logs = tmp_path / "logs"
    logs.mkdir()
    for number in range(200):
        (logs / f"f{number:03}.jsonl").write_bytes(
            b"".join(line(e) for e in events[number * 3 : number * 3 + 3])
        )
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, influx_sink(influxdb, database))
    )
    # 40 descriptors: the interpreter, the spool and the HTTP client leave only a few
    shipper = Shipper(config, preexec=limit_open_files(40))
    try:
        numbers = wait_for(influxdb, database, len(events), timeout=180)
    finally:
        shipper.stop()
    assert sorted(numbers) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)


@pytest.mark.server
def test_an_unreadable_file_is_reported_once_and_shipped_when_it_can_be_read(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(1_400, seed=207)
    logs, private, listed = tmp_path / "logs", tmp_path / "private", tmp_path / "listed"
    logs.mkdir()
    private.mkdir()
    listed.mkdir()
    readable, locked = logs / "open.jsonl", logs / "locked.jsonl"
    readable.write_bytes(b"".join(line(e) for e in events[:500]))
    locked.write_bytes(b"".join(line(e) for e in events[500:1_000]))
    (private / "a.jsonl").write_bytes(b"".join(line(e) for e in events[1_200:1_300]))
    (listed / "a.jsonl").write_bytes(b"".join(line(e) for e in events[1_300:]))
    locked.chmod(0o000)
    private.chmod(0o000)  # a directory glob cannot list says nothing by itself
    listed.chmod(0o444)  # listed, but its files cannot be looked at
    settings = ship_config(tmp_path, influx_sink(influxdb, database))
    settings["source"]["include"] += [str(private / "*.jsonl"), str(listed / "*.jsonl")]
    config = write_toml(tmp_path / "ship.toml", settings)
    command = [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config)]
    process = subprocess.Popen(as_non_root(command), stderr=subprocess.PIPE, text=True)
    try:
        wait_for(influxdb, database, 500, timeout=60)
        later = events[1_000:1_200]  # a file found later: discovery ran again meanwhile
        (logs / "later.jsonl").write_bytes(b"".join(line(e) for e in later))
        wait_for(influxdb, database, 700, timeout=60)
        locked.chmod(0o644)
        private.chmod(0o755)
        listed.chmod(0o755)
        numbers = wait_for(influxdb, database, len(events), timeout=60)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0 and "Traceback" not in stderr, stderr
    assert sorted(numbers) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)
    for unreadable in (locked, private, listed / "a.jsonl"):
        reports = [row for row in stderr.splitlines() if str(unreadable) in row]
        assert len(reports) == 2, stderr
        assert "WARNING" in reports[0] and "Permission denied" in reports[0]
        assert "can be read now" in reports[1]


def older_events(count: int, seed: int) -> list[Event]:
    """Events apart from :func:`make_events`' in time and sequence (``seq`` from 10,000)."""
    old = make_events(count, seed=seed)
    for event in old:
        event.fields["seq"] = int(event.fields["seq"]) + 10_000
        event.time_ns += 10**12
    return old


@pytest.mark.server
def test_read_from_end_after_a_restart_ships_what_was_written_meanwhile(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    old = older_events(300, seed=209)
    events = make_events(2_000, seed=211)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "a.jsonl"
    log.write_bytes(b"".join(line(e) for e in old)[:-1])  # the last line not finished
    config = write_toml(
        tmp_path / "ship.toml",
        ship_config(tmp_path, influx_sink(influxdb, database), source={"read_from": "end"}),
    )
    shipper = Shipper(config)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "data" / "checkpoints.json").exists():
            assert time.monotonic() < deadline, "the starting position is saved at once"
            time.sleep(0.05)
    finally:
        shipper.stop()
    with open(log, "ab") as handle:  # the rest of the unfinished line, then new events
        handle.write(b"\n" + b"".join(line(e) for e in events[:1_000]))
    shipper = Shipper(config)
    try:
        wait_for(influxdb, database, 1_001, timeout=60)
        with open(log, "ab") as handle:
            handle.write(b"".join(line(e) for e in events[1_000:]))
        numbers = wait_for(influxdb, database, len(events) + 1, timeout=60)
    finally:
        shipper.stop()
    # the unfinished line was where reading started: it is shipped, older lines are not
    assert sorted(numbers) == [*range(len(events)), 10_299]
    stored_as_sent(influxdb, database, [*events, old[-1]])


@pytest.mark.server
def test_once_ships_a_whole_last_line_without_newline_and_reports_a_partial_one(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(101, seed=213)
    logs = tmp_path / "logs"
    logs.mkdir()
    whole, partial = logs / "whole.jsonl", logs / "partial.jsonl"
    whole.write_bytes(b"".join(line(e) for e in events[:50]) + line(events[50])[:-1])
    body = b"".join(line(e) for e in events[51:])
    partial.write_bytes(body[:-30])
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, influx_sink(influxdb, database))
    )
    first = run_once(config)
    assert first.returncode == 0 and "Traceback" not in first.stderr, first.stderr
    assert summary_count(first.stderr, "events shipped") == 100
    [report] = [row for row in first.stderr.splitlines() if "WARNING" in row]
    last_start = body.rfind(b"\n", 0, len(body) - 1) + 1
    assert f"{partial}: the last line ({len(body) - 30 - last_start} bytes" in report
    assert f"at offset {last_start}" in report and "not a whole JSON object" in report
    with open(partial, "ab") as handle:
        handle.write(body[-30:])
    second = run_once(config)
    assert summary_count(second.stderr, "events shipped") == 2, "both last lines, once more"
    assert "WARNING" not in second.stderr
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)


@pytest.mark.server
def test_an_over_long_line_with_its_marker_past_the_cut_is_dead_lettered(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(300, seed=215)
    long_context = orjson.dumps({"traceback": "x" * 3_000_000})[:-1] + b", "
    late = long_context + line(events[0])[1:]  # context keys first: the marker 3 MB in
    logs = tmp_path / "logs"
    logs.mkdir()
    before = b"".join(line(e) for e in events[1:150])
    body = before + late + ORDINARY * 3
    body += b"".join(line(e) for e in events[150:])
    (logs / "a.jsonl").write_bytes(body)
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, influx_sink(influxdb, database))
    )
    for source, extra, stdin in (("file", (), None), ("stdin", ("-",), body)):
        result = subprocess.run(
            [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), "--once", *extra],
            input=stdin,
            capture_output=True,
            timeout=300,
        )
        stderr = result.stderr.decode()
        assert result.returncode == 0 and "Traceback" not in stderr, (source, stderr)
        assert summary_count(stderr, "dead-lettered") == 1, source
        assert summary_count(stderr, "ordinary lines skipped") == 3, source
    records = [
        orjson.loads(r) for r in (tmp_path / "data" / "dead-letter.jsonl").read_bytes().splitlines()
    ]
    assert len(records) == 2
    for record in records:
        assert [p["code"] for p in record["problems"]] == ["line_too_long"]
        assert record["length"] == len(late) - 1 and record["source"]["offset"] == len(before)
    assert sorted(sequence_numbers(influxdb, database)) == list(range(1, len(events)))


def test_out_of_descriptors_while_opening_is_a_reported_wait(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    logs = tmp_path / "logs"
    logs.mkdir()
    for number in range(60):
        (logs / f"f{number:02}.log").write_bytes(
            b"".join(b"%d-%d\n" % (number, n) for n in range(3))
        )
    data = tmp_path / "data"
    data.mkdir()
    files = FileSource(
        SourceConfig(include=[str(logs / "*.log")], glob_interval_secs=0), Checkpoints(data)
    )
    files.max_open = files.budget = 1_000  # a setting above what the process may open
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + 10, hard))
    try:
        lines: list[bytes] = []
        for _ in range(200):
            chunks = files.poll()
            lines.extend(line for chunk in chunks for line in chunk.lines)
            files.commit({chunk.source_id: chunk.position for chunk in chunks})
            if len(lines) == 180:
                break
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert sorted(lines) == sorted(b"%d-%d" % (f, n) for f in range(60) for n in range(3))
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1, "reported at a bounded rate"
    assert "Too many open files" in errors[0].getMessage()
    assert "holding at most" in errors[0].getMessage() and files.max_open < 10
    monkeypatch.setattr(file_source, "EMFILE_REPORT_SECS", 0.05)  # the limit is back
    deadline = time.monotonic() + 60
    while files.max_open < files.budget:
        assert time.monotonic() < deadline, "the full budget comes back by itself"
        files.poll()
        time.sleep(0.01)
    files.close()
    assert "holding up to 1000 files open again" in caplog.records[-1].getMessage()


def test_identity_follows_rotation_copytruncate_and_inode_reuse_under_one_header(
    tmp_path: Path,
):
    logs = tmp_path / "logs"
    logs.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    config = SourceConfig(include=[str(logs / "*.log*")], glob_interval_secs=0, rotate_wait_secs=0)

    def append(path: Path, *lines: bytes) -> None:
        with open(path, "ab") as handle:
            handle.write(b"".join(item + b"\n" for item in lines))

    header = HEADER.rstrip(b"\n")
    files = FileSource(config, Checkpoints(data))
    append(logs / "a.log", header, b"a1", b"a2")
    append(logs / "b.log", header, b"b1")
    assert sorted(read_all(files)) == sorted([header, b"a1", b"a2", header, b"b1"])
    shutil.copyfile(logs / "a.log", logs / "a.log.1")  # copytruncate
    os.truncate(logs / "a.log", 0)
    append(logs / "a.log", header, b"a3")
    assert read_all(files) == [header, b"a3"], "the copy is known by its content: nothing again"
    (logs / "b.log").unlink()  # its inode may be reused by the next file
    append(logs / "c.log", header, b"c1")
    assert read_all(files) == [header, b"c1"]
    os.rename(logs / "a.log", logs / "a.log.2")  # rename rotation; the writer goes on a bit
    append(logs / "a.log.2", b"a4")
    append(logs / "a.log", header, b"a5")
    assert sorted(read_all(files)) == sorted([b"a4", header, b"a5"])
    files.close()
    restarted = FileSource(config, Checkpoints(data))
    for name, line_ in (("a.log", b"a6"), ("a.log.2", b"a7"), ("c.log", b"c2")):
        append(logs / name, line_)
    assert sorted(read_all(restarted)) == [b"a6", b"a7", b"c2"], "each file has its own checkpoint"


def test_a_file_rewritten_while_closed_is_read_again(tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    files = FileSource(
        SourceConfig(include=[str(logs / "*.log")], glob_interval_secs=0, max_open_files=1),
        Checkpoints(data),
    )
    header = HEADER.rstrip(b"\n")
    for name in "abc":
        (logs / f"{name}.log").write_bytes(header + b"\n" + name.encode() + b"1\n")

    assert sorted(read_all(files, 10)) == sorted([header, b"a1", header, b"b1", header, b"c1"])
    with open(logs / "b.log", "r+b") as rewritten:  # rewritten in place, same inode
        rewritten.truncate(0)
        rewritten.write(header + b"\nb2 is longer\n")
    for name in "ac":
        with open(logs / f"{name}.log", "ab") as handle:
            handle.write(name.encode() + b"2\n")
    assert sorted(read_all(files, 10)) == sorted([b"a2", header, b"b2 is longer", b"c2"])


@pytest.mark.server
def test_a_file_read_to_its_end_at_start_is_followed_out_of_the_globs(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(1_001, seed=217)
    logs, rotated = tmp_path / "logs", tmp_path / "rotated"
    logs.mkdir()
    rotated.mkdir()
    app = logs / "app.jsonl"
    app.write_bytes(b"".join(line(e) for e in events[:300]))
    config = write_toml(
        tmp_path / "ship.toml",
        ship_config(tmp_path, influx_sink(influxdb, database), include=str(logs / "*.jsonl")),
    )
    assert summary_count(run_once(config).stderr, "events shipped") == 300
    shipper = Shipper(config)  # a restart: the file is at its checkpoint
    try:
        (logs / "probe.jsonl").write_bytes(line(events[1_000]))
        wait_for(influxdb, database, 301, timeout=60)  # found by a glob: app.jsonl too
        with open(app, "ab") as handle:  # written, rotated out of the globs, one more line
            handle.write(b"".join(line(e) for e in events[300:700]))
            os.rename(app, rotated / "app.jsonl.1")
            handle.write(line(events[700]))
        app.write_bytes(b"".join(line(e) for e in events[701:1_000]))
        numbers = wait_for(influxdb, database, len(events), timeout=60)
    finally:
        shipper.stop()
    assert sorted(numbers) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)


def test_a_file_gone_from_the_globs_is_read_to_its_end_before_it_is_let_go(tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    config = SourceConfig(include=[str(logs / "app.log")], glob_interval_secs=0, rotate_wait_secs=0)
    (logs / "app.log").write_bytes(b"h\na1\n")

    first = FileSource(config, Checkpoints(data))
    assert read_all(first) == [b"h", b"a1"]
    first.close()
    files = FileSource(config, Checkpoints(data))
    assert read_all(files) == []
    with open(logs / "app.log", "ab") as handle:
        handle.write(b"a2\n")
    os.rename(logs / "app.log", tmp_path / "app.log.1")
    (logs / "app.log").write_bytes(b"h2\nb1\n")
    assert sorted(read_all(files)) == [b"a2", b"b1", b"h2"]
    assert [t.path for t in files._tracked.values()] == [str(logs / "app.log")]


def test_one_file_reached_by_several_paths_holds_one_descriptor(tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    (logs / "a.log").write_bytes(b"h\na1\n")
    os.symlink("a.log", logs / "current.log")
    os.link(logs / "a.log", logs / "hard.log")
    before = len(os.listdir("/proc/self/fd"))
    files = FileSource(
        SourceConfig(include=[str(logs / "*.log"), str(logs / "a.*")], glob_interval_secs=0),
        Checkpoints(data),
    )
    lines = [line for _ in range(3) for chunk in files.poll() for line in chunk.lines]
    assert lines == [b"h", b"a1"], "read once"
    assert len(os.listdir("/proc/self/fd")) == before + 1
    files.close()
    assert len(os.listdir("/proc/self/fd")) == before, "no descriptor left behind"


@pytest.mark.server
def test_once_reads_a_file_of_one_line_without_newline(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(2, seed=219)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "whole.jsonl").write_bytes(line(events[0])[:-1])
    (logs / "partial.jsonl").write_bytes(line(events[1])[:-20])
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, influx_sink(influxdb, database))
    )
    first = run_once(config)
    assert first.returncode == 0 and "Traceback" not in first.stderr, first.stderr
    assert summary_count(first.stderr, "events shipped") == 1
    [report] = [row for row in first.stderr.splitlines() if "WARNING" in row]
    assert f"{logs / 'partial.jsonl'}: the last line" in report
    assert "not a whole JSON object" in report
    with open(logs / "partial.jsonl", "ab") as handle:
        handle.write(line(events[1])[-20:])
    second = run_once(config)
    assert summary_count(second.stderr, "events shipped") == 2, "both, from their start"
    assert "WARNING" not in second.stderr
    assert sorted(sequence_numbers(influxdb, database)) == [0, 1]
    stored_as_sent(influxdb, database, events)


def test_what_is_not_a_regular_file_is_reported_once_and_never_blocks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    logs = tmp_path / "logs"
    logs.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    os.mkfifo(logs / "fifo.log")
    os.symlink("/dev/null", logs / "null.log")
    (logs / "dir.log").mkdir()
    (logs / "crlf.log").write_bytes(b"h\r\na1\r\n")
    files = FileSource(
        SourceConfig(include=[str(logs / "*.log")], glob_interval_secs=0), Checkpoints(data)
    )
    lines = [line for _ in range(3) for chunk in files.poll() for line in chunk.lines]
    assert lines == [b"h\r", b"a1\r"], "bytes as they are (the JSON parser takes the \\r)"
    reports = sorted(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert reports == [
        f"cannot read {logs / name}: {kind}, not a regular file; skipped until it can be read"
        for name, kind in (
            ("dir.log", "a directory"),
            ("fifo.log", "a fifo"),
            ("null.log", "a character device"),
        )
    ]


@pytest.mark.server
def test_read_from_end_ships_a_file_rotated_in_while_the_shipper_was_down(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    old = older_events(200, seed=221)
    events = make_events(700, seed=223)
    logs = tmp_path / "logs"
    logs.mkdir()
    app = logs / "app.jsonl"
    app.write_bytes(b"".join(line(e) for e in old))
    config = write_toml(
        tmp_path / "ship.toml",
        ship_config(tmp_path, influx_sink(influxdb, database), source={"read_from": "end"}),
    )
    first = run_once(config)
    assert summary_count(first.stderr, "events shipped") == 0, "the old lines are skipped"
    with open(app, "ab") as handle:  # while the shipper is down: written, rotated, written
        handle.write(b"".join(line(e) for e in events[:300]))
    os.rename(app, logs / "app.jsonl.1")
    app.write_bytes(b"".join(line(e) for e in events[300:]))
    second = run_once(config)
    assert second.returncode == 0 and "Traceback" not in second.stderr, second.stderr
    assert summary_count(second.stderr, "events shipped") == len(events)
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)


def test_a_deleted_file_with_an_unterminated_last_line_is_let_go(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    logs = tmp_path / "logs"
    logs.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    whole, partial = logs / "whole.log", logs / "partial.log"
    whole.write_bytes(b'h\n{"luna_event": {"v": 1}}')  # the writer died before its newline
    partial.write_bytes(b'h\n{"luna_event": {"v"')
    before = len(os.listdir("/proc/self/fd"))
    files = FileSource(
        SourceConfig(include=[str(logs / "*.log")], glob_interval_secs=0, rotate_wait_secs=0),
        Checkpoints(data),
    )

    assert read_all(files) == [b"h", b"h"]
    assert len(os.listdir("/proc/self/fd")) == before + 2
    whole.unlink()  # rotated away: its space must come back
    partial.unlink()
    assert read_all(files) == [b'{"luna_event": {"v": 1}}'], "a whole JSON object is shipped"
    assert len(os.listdir("/proc/self/fd")) == before, "both let go"
    [report] = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert f"{partial}: the last line (19 bytes at offset 2)" in report
    assert "not a whole JSON object" in report and "the file is gone" in report


@pytest.mark.server
def test_a_waiting_file_that_cannot_be_opened_does_not_hold_up_the_others(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(600, seed=225)
    logs = tmp_path / "logs"
    logs.mkdir()
    names = [logs / f"{name}.jsonl" for name in "abc"]
    for number, path in enumerate(names):
        path.write_bytes(b"".join(line(e) for e in events[number * 100 : number * 100 + 100]))
    config = write_toml(
        tmp_path / "ship.toml",
        ship_config(tmp_path, influx_sink(influxdb, database), source={"max_open_files": 1}),
    )
    command = [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config)]
    process = subprocess.Popen(as_non_root(command), stderr=subprocess.PIPE, text=True)
    try:
        wait_for(influxdb, database, 300, timeout=60)
        names[0].chmod(0o000)  # one file closed for want of room, then locked
        for number, path in enumerate(names):
            with open(path, "ab") as handle:
                handle.write(b"".join(line(e) for e in events[300 + number * 100 :][:100]))
        shipped = wait_for(influxdb, database, 500, timeout=60)
        assert sorted(shipped) == [*range(300), *range(400, 600)], "b and c go on"
        names[0].chmod(0o644)
        numbers = wait_for(influxdb, database, len(events), timeout=60)
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0 and "Traceback" not in stderr, stderr
    assert sorted(numbers) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)


@pytest.mark.server
def test_a_log_whose_name_is_not_utf8_is_shipped(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(100, seed=227)
    logs = tmp_path / "logs"
    logs.mkdir()
    broken = b'{"luna_event": {"v": 1, "series": "requests"}, "message": "no time"}\n'
    name = os.fsencode(logs) + b"/app-\xff\xfe.jsonl"  # a name in Latin-1, say
    with open(name, "wb") as handle:
        handle.write(b"".join(line(e) for e in events) + broken)
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, influx_sink(influxdb, database))
    )
    first = run_once(config)
    assert first.returncode == 0 and "Traceback" not in first.stderr, first.stderr
    assert summary_count(first.stderr, "events shipped") == len(events)
    assert summary_count(first.stderr, "dead-lettered") == 1
    [record] = (tmp_path / "data" / "dead-letter.jsonl").read_bytes().splitlines()
    assert orjson.loads(record)["source"]["path"] == f"{logs}/app-\\xff\\xfe.jsonl"
    again = run_once(config)
    assert summary_count(again.stderr, "events shipped") == 0, "its checkpoint was saved"
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)


@pytest.mark.server
def test_a_non_blocking_stdin_is_read_to_its_end(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(400, seed=229)
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, influx_sink(influxdb, database))
    )
    read_end, write_end = os.pipe()
    os.set_blocking(read_end, False)  # as an event loop in the parent may leave it
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_MONITORING_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), "--once", "-"],
        stdin=read_end,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    os.close(read_end)
    with open(write_end, "wb") as pipe:
        pipe.write(b"".join(line(e) for e in events[:200]))
        pipe.flush()
        wait_for(influxdb, database, 200, timeout=60)  # read, and the pipe empty since
        pipe.write(b"".join(line(e) for e in events[200:]))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0 and "Traceback" not in stderr, stderr
    assert summary_count(stderr, "events shipped") == len(events)
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)
