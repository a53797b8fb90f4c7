"""Resource faults are waits, not crashes: a full data dir or dead-letter disk pauses
reading with a loud ERROR, and everything arrives exactly once when room comes back.
Disk-full tests mount a small tmpfs (root only; skipped otherwise, saying why)."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from luna_events.event import Event
from luna_events.localservers import InfluxDB1
from luna_events.ship.config import load as load_ship_config
from luna_events.ship.faults import WriteFaults
from luna_events.ship.run import build_topology
from luna_events.ship.stats import ShipperStats
from luna_events.ship.topology import Topology

from .shipping import (
    influx_sink,
    line,
    make_events,
    sequence_numbers,
    ship_config,
    stored_as_sent,
    wait_until,
    write_toml,
)

pytestmark = pytest.mark.server


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs of the test's own."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs to fill needs root (CI runs these as root)")
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; remove it to give the room back."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as handle:
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 65536)
        with contextlib.suppress(OSError):
            while True:
                handle.write(b"\0" * 512)
    return filler


class Shipper:
    """``luna-events ship -c CONFIG`` with its stderr in a file, read while it runs."""

    def __init__(self, config: Path) -> None:
        self.log = config.with_name("shipper.stderr")
        env = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_MONITORING_")}
        with open(self.log, "wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env=env,
            )

    @property
    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        wait_until(lambda: self.process.poll() is not None, "the shipper to stop")
        return self.process.returncode


def test_a_full_data_dir_pauses_reading_and_resumes_by_itself(
    tmp_path: Path, small_disk: Path, influxdb: InfluxDB1, database: str
) -> None:
    events = make_events(2_000, seed=95)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "service.jsonl"
    log.write_bytes(b"")
    data = ship_config(tmp_path, influx_sink(influxdb, database), data_dir=str(small_disk))
    shipper = Shipper(write_toml(tmp_path / "ship.toml", data))
    wait_until(lambda: (small_disk / "spool").is_dir(), "the shipper to start")
    filler = fill(small_disk)
    log.write_bytes(b"".join(line(e) for e in events))
    wait_until(lambda: "cannot write the spool" in shipper.stderr, "the ERROR")
    assert "No space left on device (ENOSPC)" in shipper.stderr
    assert "reading is paused (the unread lines wait in the logs behind the checkpoint)" in (
        shipper.stderr
    )
    assert shipper.process.poll() is None, "still running"
    assert sequence_numbers(influxdb, database) == []
    filler.unlink()
    wait_until(lambda: len(sequence_numbers(influxdb, database)) >= len(events), "delivery")
    wait_until(lambda: "can be written again" in shipper.stderr, "the recovery")
    code = shipper.stop()
    assert code == 0, shipper.stderr
    assert "Traceback" not in shipper.stderr
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)
    assert shipper.stderr.count("cannot write the spool") == 1, "rate-limited"


def invalid_line(number: int) -> bytes:
    return (
        b'{"luna_event": {"v": 1, "series": "requests", "time": %d, "tags": {}, '
        b'"fields": {"x": 1}}}\n' % (1_763_000_000_000_000_000 + number)
    )


def test_a_full_dead_letter_disk_pauses_reading_and_every_record_is_written_whole(
    tmp_path: Path, small_disk: Path, influxdb: InfluxDB1, database: str
) -> None:
    events = make_events(600, seed=97)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "service.jsonl"
    log.write_bytes(b"")
    dead_file = small_disk / "dead-letter.jsonl"
    data = ship_config(tmp_path, influx_sink(influxdb, database), dead_letter_path=str(dead_file))
    shipper = Shipper(write_toml(tmp_path / "ship.toml", data))
    wait_until(lambda: (tmp_path / "data" / "spool").is_dir(), "the shipper to start")
    filler = fill(small_disk)
    body = b"".join(
        line(e) + (invalid_line(n) if n % 30 == 0 else b"") for n, e in enumerate(events)
    )
    log.write_bytes(body)
    wait_until(lambda: "cannot write the dead-letter file" in shipper.stderr, "the ERROR")
    assert "No space left on device (ENOSPC)" in shipper.stderr
    assert shipper.process.poll() is None, "still running"
    assert not dead_file.exists() or dead_file.stat().st_size == 0, "nothing half written"
    filler.unlink()
    wait_until(lambda: len(sequence_numbers(influxdb, database)) >= len(events), "delivery")
    wait_until(
        lambda: dead_file.exists() and dead_file.read_bytes().count(b"\n") >= 20,
        "the dead letters",
    )
    code = shipper.stop()
    assert code == 0, shipper.stderr
    assert "Traceback" not in shipper.stderr
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)
    records = [orjson.loads(r) for r in dead_file.read_bytes().splitlines()]
    assert len(records) == 20 and len({r["key"] for r in records}) == 20
    for record in records:
        offset = record["source"]["offset"]
        assert record["key"].endswith(f"@{offset}")
        assert body[offset:].startswith(invalid_line(0)[:40])
        assert record["problems"][0]["code"] == "missing_tag"


def test_invalid_lines_read_again_after_a_lost_checkpoint_keep_their_keys(
    tmp_path: Path, influxdb: InfluxDB1, database: str
) -> None:
    events = make_events(200, seed=99)
    (tmp_path / "logs").mkdir()
    body = b"".join(
        line(e) + (invalid_line(n) if n % 50 == 0 else b"") for n, e in enumerate(events)
    )
    (tmp_path / "logs" / "service.jsonl").write_bytes(body)
    dead_file = tmp_path / "dead.jsonl"
    data = ship_config(tmp_path, influx_sink(influxdb, database), dead_letter_path=str(dead_file))
    config = write_toml(tmp_path / "ship.toml", data)
    command = [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), "--once"]
    first = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(
        [*command, "--data-dir", str(tmp_path / "fresh")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    records = [orjson.loads(r) for r in dead_file.read_bytes().splitlines()]
    assert len(records) == 8 and len({r["key"] for r in records}) == 4
    listed = subprocess.run(
        [sys.executable, "-m", "luna_events.cli", "dead-letters", "list", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "4 dead letters waiting" in listed.stdout and "invalid: missing_tag" in listed.stdout
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))


def once_topology(
    tmp_path: Path, influxdb: InfluxDB1, database: str, events: list[Event]
) -> Topology:
    """A ``--once`` topology over a log of ``events``, batches of 200."""
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_bytes(b"".join(line(e) for e in events))
    data = ship_config(tmp_path, influx_sink(influxdb, database), batch={"max_events": 200})
    return build_topology(
        load_ship_config(write_toml(tmp_path / "ship.toml", data), environ={}), once=True
    )


def failing_first(call: Callable[..., Any], error: OSError, times: int) -> Callable[..., Any]:
    """``call``, raising ``error`` on its first ``times`` calls."""
    failures = [error] * times

    def failing(*args: Any) -> Any:
        if failures:
            raise failures.pop()
        return call(*args)

    return failing


def test_a_failing_checkpoint_save_pauses_reading_without_a_crash(
    tmp_path: Path, influxdb: InfluxDB1, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    events = make_events(1_000, seed=101)
    topology = once_topology(tmp_path, influxdb, database, events)
    topology.source.commit = failing_first(  # type: ignore[method-assign]
        topology.source.commit, OSError(errno.ENOSPC, "No space left on device"), 3
    )
    with caplog.at_level(logging.WARNING, "luna_events.ship"):
        stats = topology.run(drain_timeout=120)
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)
    assert stats.write_failures == 3 and stats.spool_batches == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        "cannot write the checkpoints (No space left on device (ENOSPC)); reading is paused "
        "(what was read is safe in the spool); retrying until it works"
    ]
    assert any("checkpoints can be written again" in r.getMessage() for r in caplog.records)


def test_once_on_a_disk_that_stays_full_gives_up_at_the_drain_timeout_and_loses_nothing(
    tmp_path: Path, small_disk: Path, influxdb: InfluxDB1, database: str
) -> None:
    events = make_events(500, seed=103)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "service.jsonl").write_bytes(b"".join(line(e) for e in events))
    data = ship_config(tmp_path, influx_sink(influxdb, database), data_dir=str(small_disk))
    config = write_toml(tmp_path / "ship.toml", data)
    command = [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), "--once"]
    (small_disk / "spool").mkdir()
    filler = fill(small_disk)
    full = subprocess.run([*command, "--drain-timeout", "2"], capture_output=True, text=True)
    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    assert "could not write the spool in" in full.stderr
    assert "for 2 s (--drain-timeout): giving up; reading is paused" in full.stderr
    assert "not finished" in full.stderr
    assert sequence_numbers(influxdb, database) == []
    filler.unlink()
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)


def test_too_many_open_files_opening_a_segment_is_a_loud_wait_not_a_sender_failure(
    tmp_path: Path, influxdb: InfluxDB1, database: str, caplog: pytest.LogCaptureFixture
) -> None:
    events = make_events(600, seed=105)
    topology = once_topology(tmp_path, influxdb, database, events)
    topology.spool._load = failing_first(  # type: ignore[method-assign]
        topology.spool._load, OSError(errno.EMFILE, "Too many open files"), 4
    )
    with caplog.at_level(logging.WARNING, "luna_events.ship"):
        stats = topology.run(drain_timeout=120)
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)
    assert stats.sender_failures == 0 and stats.spool_batches == 0
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors == [
        f"cannot read the spool in {topology.spool.directory} (Too many open files (EMFILE)); "
        "sending waits (the batches are safe in the spool); retrying until it works"
    ]
    assert any("can be read again" in r.getMessage() for r in caplog.records)


def test_a_read_and_a_write_failing_on_the_same_spool_are_each_reported_and_recovered_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    faults = WriteFaults(ShipperStats(), threading.Lock())
    stop = threading.Event()
    failures = {"write": 1, "read": 1}

    def attempt(verb: str) -> None:
        if failures[verb]:
            failures[verb] -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        if verb == "write":  # a sender reads while the write is still failing
            assert faults.until_written(
                "spool in /x", "waits", lambda: attempt("read"), stop, verb="read"
            )

    with caplog.at_level(logging.WARNING, "luna_events.ship"):
        assert faults.until_written("spool in /x", "waits", lambda: attempt("write"), stop)
    messages = [r.getMessage() for r in caplog.records]
    assert [m.split(" (")[0].split(" after")[0] for m in messages] == [
        "cannot write the spool in /x",
        "cannot read the spool in /x",
        "the spool in /x can be read again",
        "the spool in /x can be written again",
    ]
