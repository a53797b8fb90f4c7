"""The fallback shipper against real servers: exact counts in every scenario."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from luna_events.localservers import InfluxDB1, VictoriaMetrics
from luna_events.ship.config import ShipConfig
from luna_events.ship.config import load as load_ship_config
from luna_events.ship.run import build_topology

from .shipping import (
    BASE_TIME,
    ORDINARY,
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

pytestmark = pytest.mark.server


def load_config(tmp_path: Path, data: dict[str, Any]) -> ShipConfig:
    return load_ship_config(write_toml(tmp_path / "ship.toml", data), environ={})


class InProcessShipper:
    """A topology running in a thread, stopped like SIGTERM would."""

    def __init__(self, config: ShipConfig) -> None:
        self.topology = build_topology(config)
        self.thread = threading.Thread(target=self.topology.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.topology.stop.set()
        self.thread.join(60)
        assert not self.thread.is_alive()


@pytest.fixture
def private_influxdb() -> Iterator[InfluxDB1]:
    """An InfluxDB of the test's own, which the test may stop and start."""
    with InfluxDB1() as server:
        server.create_database("luna")
        yield server


def test_200k_events_across_files_with_rename_and_copytruncate_rotation(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(200_000)
    logs = tmp_path / "logs"
    logs.mkdir()
    names = ["tasks.jsonl", "sdk.jsonl", "worker.jsonl", "api.jsonl"]
    config = load_config(tmp_path, ship_config(tmp_path, influx_sink(influxdb, database)))
    shipper = InProcessShipper(config)
    handles = {name: open(logs / name, "ab") for name in names}
    try:
        for index, event in enumerate(events):
            name = names[index % 4]
            handles[name].write(line(event))
            if index % 97 == 0:
                handles[name].write(ORDINARY)
            if index == 50_000:  # logrotate's create: rename, then a new file
                handles["tasks.jsonl"].close()
                os.rename(logs / "tasks.jsonl", logs / "tasks.jsonl.1")
                handles["tasks.jsonl"] = open(logs / "tasks.jsonl", "ab")
            if index == 100_000:  # logrotate's copytruncate
                handles["sdk.jsonl"].flush()
                shutil.copyfile(logs / "sdk.jsonl", logs / "sdk.jsonl.1")
                handles["sdk.jsonl"].truncate(0)
                handles["sdk.jsonl"].seek(0)
            if index == 150_000:  # renamed out of the globs, then deleted while open
                handles["worker.jsonl"].close()
                os.rename(logs / "worker.jsonl", tmp_path / "worker.old")
                handles["worker.jsonl"] = open(logs / "worker.jsonl", "ab")
            if index % 5000 == 0:
                for handle in handles.values():
                    handle.flush()
            if index == 160_000:
                (tmp_path / "worker.old").unlink()
    finally:
        for handle in handles.values():
            handle.close()
    numbers = wait_for(influxdb, database, len(events))
    shipper.stop()
    assert sorted(numbers) == list(range(len(events))), "every event exactly once"
    stored_as_sent(influxdb, database, events)
    stats = shipper.topology.stats
    assert stats.events_dead_lettered == 0


def test_influxdb_down_mid_stream(tmp_path: Path, private_influxdb: InfluxDB1):
    """InfluxDB stops after 10,000 events; the other 20,000 are read, retried and
    spooled while it is down, and all arrive once it is back."""
    events = make_events(30_000, seed=7)
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "service.jsonl"
    config = load_config(tmp_path, ship_config(tmp_path, influx_sink(private_influxdb, "luna")))
    shipper = InProcessShipper(config)
    with open(log, "ab") as handle:
        for event in events[:10_000]:
            handle.write(line(event))
    wait_for(private_influxdb, "luna", 10_000, timeout=60)
    private_influxdb.stop()
    with open(log, "ab") as handle:
        for event in events[10_000:]:
            handle.write(line(event))
            handle.flush()
    stats = shipper.topology.stats
    deadline = time.monotonic() + 60
    while (stats.lines_read < len(events) or stats.retries < 3) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stats.lines_read == len(events) and stats.retries >= 3
    assert shipper.topology.spool.segments > 0, "the backlog waits in the spool"
    private_influxdb.start()
    numbers = wait_for(private_influxdb, "luna", len(events))
    shipper.stop()
    assert sorted(numbers) == list(range(len(events)))
    stored_as_sent(private_influxdb, "luna", events)


def test_shipper_killed_twice_with_sigkill_loses_nothing(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(60_000, seed=11)
    logs = tmp_path / "logs"
    logs.mkdir()
    config = write_toml(
        tmp_path / "ship.toml", ship_config(tmp_path, influx_sink(influxdb, database))
    )
    process = ShipperProcess(config)
    writer_done = threading.Event()

    def write() -> None:
        with open(logs / "a.jsonl", "ab") as first, open(logs / "b.jsonl", "ab") as second:
            for index, event in enumerate(events):
                (first if index % 2 else second).write(line(event))
                if index % 500 == 0:
                    first.flush()
                    second.flush()
                    time.sleep(0.06)
        writer_done.set()

    writer = threading.Thread(target=write)
    writer.start()
    arrived = 0
    for _ in range(2):
        deadline = time.monotonic() + 60  # kill once this shipper has delivered something
        while len(sequence_numbers(influxdb, database)) <= arrived and time.monotonic() < deadline:
            time.sleep(0.1)
        arrived = len(sequence_numbers(influxdb, database))
        process.kill()
        assert not writer_done.is_set(), "kill while the stream is still running"
        process = ShipperProcess(config)
    writer.join()
    numbers = wait_for(influxdb, database, len(events))
    code, stderr = process.terminate()
    assert code == 0, stderr
    assert sorted(set(numbers)) == list(range(len(events)))
    assert len(numbers) == len(events)
    stored_as_sent(influxdb, database, events)


def test_a_type_conflict_dead_letters_only_that_line(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(2_000, seed=13)
    conflicting = events[1_000]
    conflicting.fields["seq"] = "one thousand"  # every other point has seq as an int
    logs = tmp_path / "logs"
    logs.mkdir()
    with open(logs / "service.jsonl", "ab") as handle:
        for event in events:
            handle.write(line(event))
    config = load_config(tmp_path, ship_config(tmp_path, influx_sink(influxdb, database)))
    topology = build_topology(config, once=True)
    stats = topology.run(drain_timeout=60)
    assert stats.events_dead_lettered == 1 and stats.events_shipped == len(events) - 1
    assert sorted(sequence_numbers(influxdb, database)) == [
        i for i in range(len(events)) if i != 1_000
    ]
    records = [orjson.loads(r) for r in config.dead_letters.read_bytes().splitlines()]
    assert len(records) == 1
    assert "field type conflict" in records[0]["reason"]
    assert records[0]["sink"] == {"name": "influxdb_v1", "status": 400}
    assert '"one thousand"' in records[0]["line"] and records[0]["line"].startswith(
        conflicting.series
    )


def test_garbage_lines_are_dead_lettered_or_skipped_and_their_neighbours_arrive(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    events = make_events(400, seed=17)
    logs = tmp_path / "logs"
    logs.mkdir()
    garbage = [
        bytes(range(256)).replace(b"\n", b"") + b"\n",  # binary
        line(events[0])[:-40] + b"\n",  # truncated JSON (the marker survives)
        b'{"message": "' + b"x" * 1_000_000 + b'"}\n',  # a 1 MB ordinary line
        b'{"luna_event": {"v": 1, "pad": "' + b"y" * 1_100_000 + b'"}}\n',  # a 1.1 MB event line
        b'{"luna_event": {"v": 1, "series": "r\xff\xfe"}}\n',  # invalid UTF-8
        b'{"luna_event": {"v": 1, "series": "requests", "time": 1, "tags": {}, '
        b'"fields": {"x": 1}}}\n',
    ]
    with open(logs / "service.jsonl", "ab") as handle:
        for index, event in enumerate(events):
            handle.write(line(event))
            if index % 60 == 0:
                handle.write(garbage[(index // 60) % len(garbage)])
    config = load_config(tmp_path, ship_config(tmp_path, influx_sink(influxdb, database)))
    stats = build_topology(config, once=True).run(drain_timeout=60)
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
    records = [orjson.loads(r) for r in config.dead_letters.read_bytes().splitlines()]
    codes = {problem["code"] for record in records for problem in record["problems"]}
    assert codes >= {"malformed_json", "line_too_long", "invalid_utf8", "missing_tag"}
    assert all(record["source"]["path"].endswith("service.jsonl") for record in records)
    assert all(record["reason"] for record in records)
    with open(logs / "service.jsonl", "rb") as handle:
        for record in records:
            handle.seek(record["source"]["offset"])
            assert (
                handle.read(20) == (record.get("line") or "").encode()[:20]
                or "line_base64" in record
            )
    # the binary line (twice) and the 1 MB ordinary line; four dead letters, one each
    assert stats.lines_skipped == 3
    assert stats.events_dead_lettered == len(records) == 4
    assert stats.events_read == len(events) + 4


def test_influxdb_v2_path_through_influxdb_client_into_victoriametrics(
    tmp_path: Path, victoria: VictoriaMetrics
):
    events = [
        e
        for e in make_events(3_000, seed=19)
        if all(not isinstance(v, str) for v in e.fields.values())
    ]
    for index, event in enumerate(events):
        event.tags["run"] = "v2-path"
        event.time_ns = BASE_TIME + index * 1_000_000  # VictoriaMetrics keeps ms
    logs = tmp_path / "logs"
    logs.mkdir()
    with open(logs / "service.jsonl", "ab") as handle:
        for event in events:
            handle.write(line(event))
    sink = {
        "type": "influxdb_v2",
        "url": victoria.url,
        "org": "luna",
        "bucket": "luna_monitoring",
        "token": "secret-token",
    }
    config = load_config(tmp_path, ship_config(tmp_path, sink))
    stats = build_topology(config, once=True).run(drain_timeout=60)
    assert stats.events_shipped == len(events)
    stored: list[int] = []
    deadline = time.monotonic() + 60  # VictoriaMetrics makes what it took in searchable later
    while len(stored) < len(events) and time.monotonic() < deadline:
        time.sleep(0.2)
        stored = [
            value
            for series in victoria.export()
            if series["metric"].get("run") == "v2-path"
            and series["metric"]["__name__"].endswith("_seq")
            for value in series["values"]
        ]
    assert sorted(stored) == sorted(e.fields["seq"] for e in events)


def test_stdin_source_and_file_sink(tmp_path: Path):
    import subprocess
    import sys

    events = make_events(50, seed=23)
    out = tmp_path / "points.lp"
    config = write_toml(
        tmp_path / "ship.toml",
        ship_config(tmp_path, {"type": "file", "path": str(out)}, include="-"),
    )
    body = b"".join(line(e) for e in events) + ORDINARY
    result = subprocess.run(
        [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), "--once", "-"],
        input=body,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    from luna_events.lineprotocol import encode_line
    from luna_events.validation import validate

    assert out.read_bytes() == b"".join(encode_line(validate(e)).encode() + b"\n" for e in events)
    assert b"events shipped" in result.stderr and b"50" in result.stderr


def test_v1_sink_with_basic_auth_and_a_retention_policy(tmp_path: Path):
    events = make_events(500, seed=59)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_bytes(b"".join(line(e) for e in events))
    with InfluxDB1(admin=("luna", "s3cret")) as influx:
        influx.create_database("luna")
        influx.query('CREATE RETENTION POLICY "short" ON "luna" DURATION 520w REPLICATION 1')
        sink = {
            "type": "influxdb_v1",
            "url": influx.url,
            "database": "luna",
            "retention_policy": "short",
            "username": "luna",
            "password": "wrong",
        }
        config = load_config(tmp_path, ship_config(tmp_path, sink, retry={"auth_retry_secs": 0.2}))
        topology = build_topology(config, once=True)
        stats = topology.run(drain_timeout=2)
        assert stats.events_shipped == 0 and stats.retries > 0, "401: kept and retried"
        assert stats.spool_batches == 1
        sink["password"] = "s3cret"
        config = load_config(tmp_path, ship_config(tmp_path, sink))
        stats = build_topology(config, once=True).run(drain_timeout=30)
        assert stats.events_shipped == len(events), "the spooled batch goes out after the fix"
        stored = influx.query('SELECT count("seq") FROM "short"./.*/', "luna")
        counted = sum(s["values"][0][1] for r in stored["results"] for s in r.get("series", []))
        assert counted == len(events)
        assert sequence_numbers(influx, "luna") == [], "nothing in the default retention policy"
