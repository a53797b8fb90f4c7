"""Faults in the shipper's state: damaged checkpoints, two shippers on one data dir,
a full disk under the checkpoints, version 1 checkpoints. Real InfluxDB, the real
``luna-events ship`` command where the operator's view matters."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from luna_events.localservers import InfluxDB1
from luna_events.ship import lock
from luna_events.ship.checkpoints import Checkpoints
from luna_events.ship.config import SourceConfig
from luna_events.ship.sources import Position
from luna_events.ship.sources.file import FileSource

from .shipping import (
    ShipperProcess,
    influx_sink,
    line,
    make_events,
    sequence_numbers,
    ship_config,
    stored_as_sent,
    wait_for,
    write_toml,
)


def run_once(config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """``luna-events ship -c CONFIG --once`` to its end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_MONITORING_")}
    return subprocess.run(
        [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), "--once", *extra],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def as_non_root(command: list[str]) -> list[str]:
    """``command`` without the capabilities that let root read and write any file (the
    permissions a service user meets); skips the test when they cannot be dropped."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
    capabilities = "-dac_override,-dac_read_search,-fowner"
    return [setpriv, f"--inh-caps={capabilities}", f"--bounding-set={capabilities}", *command]


def summary_count(stderr: str, label: str) -> int:
    """A figure of the ``--once`` summary table."""
    for row in stderr.splitlines():
        if row.strip("│| ").startswith(label):  # a row of the table, not a log line
            return int(row.split(label)[1].strip(" │|").replace(",", "").split()[0])
    raise AssertionError(f"no {label!r} in the summary:\n{stderr}")


DAMAGE = {
    "empty": lambda good: b"",
    "cut": lambda good: good[: len(good) // 2],
    "garbage": lambda good: bytes(range(256)) * 4,
    "wrong shape": lambda good: orjson.dumps({"version": 2, "files": {"a": 1}}),
    "wrong types": lambda good: orjson.dumps({"version": 2, "files": [{"key": 1, "offset": -5}]}),
    "offset before its tail": lambda good: _with_offsets(good, 2),
}


def _with_offsets(good: bytes, offset: int) -> bytes:
    """``good`` with every offset set to ``offset`` (a flipped bit, a hand edit)."""
    document = orjson.loads(good)
    for entry in document["files"]:
        entry["offset"] = offset
    return orjson.dumps(document)


@pytest.mark.server
@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_checkpoints_are_set_aside_and_every_file_is_read_again(
    tmp_path: Path, influxdb: InfluxDB1, database: str, damage: str
):
    events = make_events(1_000, seed=101)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_bytes(b"".join(line(e) for e in events[:600]))
    (logs / "b.jsonl").write_bytes(b"".join(line(e) for e in events[600:]))
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, influx_sink(influxdb, database))
    )
    first = run_once(config)
    assert first.returncode == 0, first.stderr
    checkpoints = tmp_path / "data" / "checkpoints.json"
    damaged = DAMAGE[damage](checkpoints.read_bytes())
    checkpoints.write_bytes(damaged)

    second = run_once(config)

    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr
    errors = [row for row in second.stderr.splitlines() if " ERROR " in row]
    assert len(errors) == 1, second.stderr
    aside = list(checkpoints.parent.glob("checkpoints.json.corrupt-*"))
    assert len(aside) == 1
    assert str(checkpoints) in errors[0] and str(aside[0]) in errors[0]
    assert "reading every file again from its start" in errors[0]
    assert aside[0].read_bytes() == damaged, "kept for a post-mortem"
    assert summary_count(second.stderr, "events shipped") == len(events), "read again whole"
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)
    third = run_once(config)
    assert summary_count(third.stderr, "events shipped") == 0, "fresh checkpoints saved"


@pytest.mark.server
def test_a_second_shipper_on_the_same_data_dir_is_refused(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(3_000, seed=103)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_bytes(b"".join(line(e) for e in events[:1_000]))
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, influx_sink(influxdb, database))
    )
    first = ShipperProcess(config)
    try:
        wait_for(influxdb, database, 1_000, timeout=60)
        pid = str(first.process.pid)
        for extra in ((), ("--once",), ("--once", "lock deleted")):
            if "lock deleted" in extra:  # a cleaner of old files, an operator
                (tmp_path / "data" / "lock").unlink()
                extra, pid = ("--once",), "unknown"
            second = subprocess.run(
                [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), *extra],
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 2, second.stderr
            assert "Traceback" not in second.stderr
            assert second.stderr.strip().count("\n") == 0, "one line"
            assert str((tmp_path / "data").resolve()) in second.stderr
            assert f"pid {pid}" in second.stderr
        with open(logs / "a.jsonl", "ab") as handle:
            handle.write(b"".join(line(e) for e in events[1_000:]))
        numbers = wait_for(influxdb, database, len(events), timeout=60)
    finally:
        code, stderr = first.terminate()
    assert code == 0 and "Traceback" not in stderr, stderr
    assert sorted(numbers) == list(range(len(events)))
    stored_as_sent(influxdb, database, events)
    after = run_once(config)  # the lock went with the first process
    assert after.returncode == 0, after.stderr


@pytest.fixture
def small_disk(tmp_path: Path) -> Any:
    """A 1 MiB tmpfs (needs root: CI runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_checkpoint_save_on_a_full_disk_raises_and_leaves_nothing_behind(small_disk: Path):
    checkpoints = Checkpoints(small_disk)
    checkpoints.update({"k": Position("/logs/a", 10, b"x\n", "h", 1, 2, 10, "p")})
    saved = (small_disk / "checkpoints.json").read_bytes()
    filler = small_disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    with pytest.raises(OSError):
        while True:
            os.write(descriptor, b"\0" * 4096)
    os.close(descriptor)
    many = {f"k{n}": Position(f"/logs/{n}", 32 + n, b"y" * 32, "h") for n in range(2_000)}
    with pytest.raises(OSError) as raised:
        checkpoints.update(many)
    assert raised.value.errno == errno.ENOSPC
    assert sorted(p.name for p in small_disk.iterdir()) == ["checkpoints.json", "filler"]
    assert (small_disk / "checkpoints.json").read_bytes() == saved, "the old file is whole"
    filler.unlink()
    checkpoints.save()  # room again: the same call succeeds
    assert len(Checkpoints(small_disk).positions) == 2_001


def test_version_1_checkpoints_are_migrated_loudly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "a.log"
    log.write_bytes(b"HEADER\nline1\nline2\n")
    data = tmp_path / "data"
    data.mkdir()
    fingerprint = hashlib.blake2b(b"HEADER\n", digest_size=12).hexdigest()
    version_1 = {
        "version": 1,
        "files": [{"fingerprint": fingerprint, "path": str(log), "offset": 13, "tail": ""}],
    }
    (data / "checkpoints.json").write_bytes(orjson.dumps(version_1))
    with open(log, "ab") as handle:
        handle.write(b"line3\n")
    files = FileSource(
        SourceConfig(include=[str(logs / "*.log")], glob_interval_secs=0), Checkpoints(data)
    )
    assert "migrating 1 file(s) from version 1" in caplog.text
    lines = [line for chunk in files.poll() for line in chunk.lines]
    assert lines == [b"line2", b"line3"], "continues where version 1 left off"
    saved = orjson.loads((data / "checkpoints.json").read_bytes())
    assert saved["version"] == 2 and [f["offset"] for f in saved["files"]] == [13]


def test_checkpoints_that_cannot_be_read_are_a_one_line_refusal(tmp_path: Path):
    (tmp_path / "logs").mkdir()
    (tmp_path / "data" / "checkpoints.json").mkdir(parents=True)  # not a file at all
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, {"type": "file", "path": "-"})
    )
    result = run_once(config)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"luna-events ship: cannot read the checkpoints {tmp_path / 'data' / 'checkpoints.json'}"
        ": Is a directory"
    ]


def test_checkpoints_of_files_gone_for_a_week_are_dropped(tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_bytes(b"a1\n")
    data = tmp_path / "data"
    data.mkdir()
    config = SourceConfig(include=[str(logs / "*.log")], glob_interval_secs=0)
    files = FileSource(config, Checkpoints(data))
    for chunk in files.poll():
        files.commit({chunk.source_id: chunk.position})
    files.close()
    checkpoints = Checkpoints(data)
    [kept] = checkpoints.positions
    checkpoints.positions["gone"] = Position("/logs/rotated-long-ago.log", 5, b"x\n", "h", 1, 2)
    eight_days_ago = time.time() - 8 * 24 * 3600
    checkpoints.seen = dict.fromkeys(checkpoints.positions, eight_days_ago)
    checkpoints.save()
    restarted = FileSource(config, Checkpoints(data))
    (logs / "a.log").write_bytes(b"a1\na2\n")
    lines = [line for chunk in restarted.poll() for line in chunk.lines]
    restarted.checkpoints.save()
    assert lines == [b"a2"]
    assert list(Checkpoints(data).positions) == [kept], "the present file's entry is kept"


def test_after_damaged_checkpoints_read_from_end_still_reads_from_the_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log").write_bytes(b"a1\na2\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "checkpoints.json").write_bytes(b'{"version": 2, "files": [')
    config = SourceConfig(include=[str(logs / "*.log")], glob_interval_secs=0, read_from="end")
    files = FileSource(config, Checkpoints(data))
    assert [line for chunk in files.poll() for line in chunk.lines] == [b"a1", b"a2"]
    [error] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "is damaged" in error.getMessage() and "corrupt-" in error.getMessage()


def test_a_data_dir_that_cannot_be_written_is_a_one_line_refusal(tmp_path: Path):
    (tmp_path / "logs").mkdir()
    data = tmp_path / "data"
    data.mkdir()
    (data / "lock").write_bytes(b"")  # left by an earlier run as another user
    (data / "lock").chmod(0o666)
    (data / "checkpoints.json.1a2b.tmp").write_bytes(b"{")  # a save cut short
    data.chmod(0o555)
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, {"type": "file", "path": "-"})
    )
    command = [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), "--once"]
    result = subprocess.run(as_non_root(command), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"luna-events ship: data dir {data} is not writable: Permission denied"
    ]


def test_a_shipper_of_an_earlier_version_holding_the_lock_file_keeps_this_one_out(
    tmp_path: Path,
):
    data = tmp_path / "data"
    data.mkdir()
    earlier = (  # what version 1 of the lock did: flock on <data_dir>/lock alone
        "import fcntl, os, sys\n"
        "d = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(d, fcntl.LOCK_EX)\n"
        "os.write(d, b'%d\\n' % os.getpid())\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", earlier, str(data / "lock")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(lock.DataDirError, match=f"in use by .* \\(pid {holder.pid}\\)"):
            lock.hold(data)
    finally:
        holder.communicate(timeout=30)


@pytest.mark.parametrize("durable", [True, False])
def test_checkpoints_are_fsynced_as_the_spool_is(
    tmp_path: Path, durable: bool, monkeypatch: pytest.MonkeyPatch
):
    """With ``buffer.fsync`` a save is durable (fsync of the file and the directory)
    after the spool segment it follows; without it neither is (a power loss takes the
    spool too), and the save stays atomic (a rename)."""
    from luna_events.ship.config import load
    from luna_events.ship.run import build_topology

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_bytes(b"ordinary\n")
    sink = {"type": "influxdb_v1", "url": "http://127.0.0.1:9", "database": "x"}
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, sink, buffer={"fsync": durable})
    )
    topology = build_topology(load(config, environ={}), once=True)
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        synced.append(descriptor)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    topology.source.commit({"k": Position("/logs/a.jsonl", 9, b"y\n", "h", 1, 2)})
    topology.source.close()
    assert len(synced) == (2 if durable else 0)
    assert list(Checkpoints(tmp_path / "data").positions) == ["k"]
