"""Damaged spool segments: every intact record delivered exactly once, no damaged record
stored, the damage named at ERROR, the segment quarantined; senders that fail start
again. Against a real InfluxDB, with the real ``luna-events ship`` where the operator
view matters."""

from __future__ import annotations

import logging
import os
import re
import struct
import subprocess
import sys
import threading
from array import array
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from luna_events.event import Event
from luna_events.lineprotocol import encode_line
from luna_events.localservers import InfluxDB1
from luna_events.ship.config import load as load_ship_config
from luna_events.ship.deadletters import DeadLetters, read_records
from luna_events.ship.run import build_topology
from luna_events.ship.sinks import SendResult, Sink
from luna_events.ship.spool import (
    MAGIC,
    OLD_MAGIC,
    Spool,
    decode_segment,
    encode_records,
    encode_segment,
)
from luna_events.validation import validate

from .shipping import (
    influx_sink,
    line,
    make_events,
    sequence_numbers,
    ship_config,
    stored_as_sent,
    write_toml,
)

PER_RECORD = 10


def protocol(event: Event) -> str:
    return encode_line(validate(event))


# the format, without a server -----------------------------------------------------------


@given(
    st.lists(
        st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 7),
)
def test_records_give_back_exactly_the_lines(lines: list[str], per_record: int) -> None:
    body, ends = encode_segment(lines)
    decoded_body, decoded_ends, damage = decode_segment(
        MAGIC + encode_records(body, ends, per_record)
    )
    assert damage is None and decoded_body == body and decoded_ends == ends


def split(body: bytes, ends: array[int]) -> list[bytes]:
    return [body[(ends[i - 1] if i else 0) : ends[i]] for i in range(len(ends))]


@given(st.integers(0, 2000), st.binary(min_size=1, max_size=64))
def test_any_cut_or_overwrite_gives_only_whole_lines_that_were_written(
    at: int, garbage: bytes
) -> None:
    lines = [f'm,k=v f={i}i,s="line\\n {i}" {i}' for i in range(40)]
    body, ends = encode_segment(lines)
    data = MAGIC + encode_records(body, ends, 4)
    written = set(split(body, ends))
    at = at % len(data)
    for damaged in (data[:at], data[:at] + garbage + data[at + len(garbage) :]):
        got_body, got_ends, damage = decode_segment(damaged)
        got = split(got_body, got_ends)
        assert set(got) <= written and len(got) == len(set(got))
        if damaged != data:
            assert damage is not None


def test_an_unreadable_segment_is_quarantined_and_the_next_one_taken(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", 1 << 20)
    spool.append(["m f=0i 1"])
    spool.append(["m f=1i 1"])
    first = tmp_path / "spool" / "0000000000000001.seg"
    first.unlink()
    first.mkdir()  # replaced under the spool: read() fails with EISDIR
    segment = spool.take(timeout=0.1)
    assert segment is not None and segment.body == b"m f=1i 1\n"
    assert (tmp_path / "quarantine" / "0000000000000001.seg").is_dir()
    spool.ack(segment)
    assert spool.segments == 0 and spool.records_damaged == 1


def test_what_is_not_a_segment_is_left_alone_loudly_and_never_blocks_a_sender(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    (directory / "0000000000000001.seg").mkdir()
    (directory / "0000000000000002.seg").symlink_to(tmp_path / "nowhere")
    os.mkfifo(directory / "0000000000000003.seg")  # opening it would block a sender for good
    (directory / "0000000000000004.tmp").mkdir()
    with caplog.at_level(logging.ERROR, "luna_events.ship"):
        spool = Spool(directory, 1 << 20)
    left_alone = sorted(r.getMessage() for r in caplog.records)
    assert left_alone == [
        f"spool: {directory / name} is not one of its segments; leaving it alone"
        for name in (
            "0000000000000001.seg",
            "0000000000000002.seg",
            "0000000000000003.seg",
            "0000000000000004.tmp",
        )
    ]
    assert spool.segments == 0 and spool.take(timeout=0) is None
    spool.append(["m f=1i 1"])  # after the numbers in use
    assert (directory / "0000000000000005.seg").is_file()


def test_a_spool_dir_that_cannot_be_used_is_a_one_line_refusal(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    data = tmp_path / "data"
    data.mkdir()
    (data / "spool").write_text("not a directory")
    config = write_toml(
        tmp_path / "ship.toml",
        ship_config(tmp_path, {"type": "file", "path": str(tmp_path / "out.lp")}),
    )
    result = subprocess.run(
        [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), "--once"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    assert (
        result.stderr
        == f"luna-events ship: cannot use the spool dir {data / 'spool'}: File exists\n"
    )


# damaged segments through the real command ------------------------------------------------


def old_format(lines: list[str]) -> bytes:
    body, ends = encode_segment(lines)
    return OLD_MAGIC + struct.pack("<I", len(ends)) + ends.tobytes() + body


@pytest.mark.server
def test_damaged_segments_deliver_their_intact_records_and_go_to_quarantine(
    tmp_path: Path, influxdb: InfluxDB1, database: str
) -> None:
    events = make_events(400, seed=71)
    lines = [protocol(e) for e in events]
    groups = [lines[n : n + 50] for n in range(0, 400, 50)]  # 8 segments of 5 records
    data_dir = tmp_path / "data"
    spool = Spool(data_dir / "spool", 1 << 30, record_lines=PER_RECORD)
    for group in groups[:6]:
        spool.append(group)
    paths = sorted((data_dir / "spool").glob("*.seg"))
    (data_dir / "spool" / "0000000000000007.seg").write_bytes(old_format(groups[6]))
    cut_old = old_format(groups[7])
    (data_dir / "spool" / "0000000000000008.seg").write_bytes(cut_old[: len(cut_old) - 30])

    def where(path: Path, index: int) -> int:
        """Offset of line ``index`` of the segment's group in its file."""
        group = groups[paths.index(path)]
        return path.read_bytes().index(group[index].encode())

    intact = list(range(0, 50))  # segment 1 stays whole
    # segment 2: cut inside the body of its fourth record
    cut = where(paths[1], 3 * PER_RECORD) + 7
    paths[1].write_bytes(paths[1].read_bytes()[:cut])
    intact += list(range(50, 80))
    # segment 3: cut inside the index of its fourth record (just before its body)
    cut = where(paths[2], 3 * PER_RECORD) - 6
    paths[2].write_bytes(paths[2].read_bytes()[:cut])
    intact += list(range(100, 130))
    # segment 4: emptied, as a power loss leaves a file whose data never reached the disk
    paths[3].write_bytes(b"")
    # segment 5: garbage over the middle of its third record
    data = bytearray(paths[4].read_bytes())
    at = where(paths[4], 2 * PER_RECORD + 4)
    data[at : at + 12] = b"\x00garbage\xff\xfe!!"
    paths[4].write_bytes(bytes(data))
    intact += list(range(200, 220)) + list(range(230, 250))
    # segment 6: a single flipped byte in a value of its last record
    data = bytearray(paths[5].read_bytes())
    at = where(paths[5], 45) + data[where(paths[5], 45) :].index(b"seq=") + 4
    data[at] = ord("9") if data[at] != ord("9") else ord("8")
    paths[5].write_bytes(bytes(data))
    intact += list(range(250, 290))
    intact += list(range(300, 350))  # the old-format segment is whole

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "empty.jsonl").write_bytes(b"")
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, influx_sink(influxdb, database))
    )
    result = subprocess.run(
        [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), "--once"],
        capture_output=True,
        timeout=300,
    )
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert sorted(sequence_numbers(influxdb, database)) == intact
    stored_as_sent(influxdb, database, [events[i] for i in intact])
    for name, problem in (
        ("0000000000000002.seg", "cut inside a record"),
        ("0000000000000003.seg", "cut inside a record"),
        ("0000000000000004.seg", "the file is empty"),
        ("0000000000000005.seg", "checksum mismatch"),
        ("0000000000000006.seg", "checksum mismatch"),
        ("0000000000000008.seg", "a segment of the previous format"),
    ):
        assert f"ERROR luna_events.ship: spool: segment {name} is damaged ({problem}" in stderr
    assert re.search(
        r"segment 0000000000000005.seg is damaged \(checksum mismatch\): 4 record\(s\) with "
        r"40 line\(s\) intact and sent, 1 damaged record\(s\) \(\d+ bytes, 10 line\(s\)\) "
        r"not sent; it goes to \S+/data/quarantine",
        stderr,
    )
    assert re.search(
        r"segment 0000000000000002.seg is damaged \(cut inside a record; 1 more record\(s\) "
        r"missing at the end\): 3 record\(s\) with 30 line\(s\) intact and sent, 2 damaged "
        r"record\(s\) \(\d+ bytes, 20 line\(s\)\) not sent",
        stderr,
    )
    quarantined = sorted(p.name for p in (data_dir / "quarantine").iterdir())
    assert quarantined == [f"000000000000000{n}.seg" for n in (2, 3, 4, 5, 6, 8)]
    assert not list((data_dir / "spool").glob("*.seg"))
    assert "6 quarantined, 8 damaged records not sent" in stderr


# supervised senders ------------------------------------------------------------------------


class FailingFirst:
    """A sink that raises on its first ``failures`` sends, then passes them on."""

    def __init__(self, inner: Sink, failures: int) -> None:
        self.inner = inner
        self.name = inner.name
        self.failures = failures
        self._lock = threading.Lock()

    def send(self, body: bytes) -> SendResult:
        with self._lock:
            self.failures -= 1
            failing = self.failures >= 0
        if failing:
            raise RuntimeError("the sink blew up")
        return self.inner.send(body)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.server
def test_a_failing_sender_is_logged_and_restarted_and_nothing_is_lost(
    tmp_path: Path, influxdb: InfluxDB1, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    events = make_events(3_000, seed=73)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_bytes(b"".join(line(e) for e in events))
    data = ship_config(tmp_path, influx_sink(influxdb, database), batch={"max_events": 500})
    config = load_ship_config(write_toml(tmp_path / "ship.toml", data), environ={})
    topology = build_topology(config, once=True)
    flaky = FailingFirst(topology.sink, 3)
    topology.sink = topology._delivery.sink = flaky
    with caplog.at_level(logging.ERROR, "luna_events.ship"):
        stats = topology.run(drain_timeout=120)
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)
    assert stats.sender_failures == 3 and stats.events_shipped == len(events)
    assert stats.senders_working == stats.senders == 2 and stats.spool_batches == 0
    failed = [r for r in caplog.records if "failed (RuntimeError: the sink blew up)" in r.message]
    assert len(failed) == 3 and not any(r.exc_info for r in failed)
    assert "starting it again in" in failed[0].getMessage()


def test_dead_letters_follow_their_file_when_it_is_rotated_or_cleared(tmp_path: Path) -> None:
    from luna_events.ship.deadletters import DeadLetters

    path = tmp_path / "dead-letter.jsonl"
    dead = DeadLetters(path)
    dead.write([{"key": "a"}])
    path.rename(tmp_path / "dead-letter.jsonl.1")
    dead.write([{"key": "b"}])
    path.unlink()
    dead.write([{"key": "c"}])
    dead.close()
    assert [orjson.loads(r)["key"] for r in path.read_bytes().splitlines()] == ["c"]
    rotated = (tmp_path / "dead-letter.jsonl.1").read_bytes().splitlines()
    assert [orjson.loads(r)["key"] for r in rotated] == ["a"]


def test_a_dead_letter_write_waits_for_another_writer_on_the_same_file(tmp_path: Path) -> None:
    """A replay beside a running shipper: neither appends inside the other's write (a
    failed write is cut back to where it began, which must still be its own start)."""
    path = tmp_path / "dead.jsonl"
    path.write_bytes(b"")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys; f = open(sys.argv[1], 'ab'); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('held', flush=True); sys.stdin.readline()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "held\n"
    letters = DeadLetters(path)
    writer = threading.Thread(target=letters.write, args=([{"key": "k", "kind": "x"}],))
    writer.start()
    writer.join(0.3)
    assert writer.is_alive(), "waits for the other writer's lock"
    holder.stdin.write("\n")
    holder.stdin.flush()
    holder.wait(30)
    writer.join(30)
    letters.close()
    assert [orjson.loads(r)["key"] for r in path.read_bytes().splitlines()] == ["k"]


def test_a_dead_letter_cut_by_a_kill_never_swallows_the_next_record(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    path.write_bytes(b'{"key":"a","kind":"invalid"}\n{"key":"b","kind":"inv')  # SIGKILL here
    letters = DeadLetters(path)
    letters.write([{"key": "c", "kind": "invalid"}])
    letters.close()
    assert [r["key"] for r in read_records(path)] == ["a", "c"]
