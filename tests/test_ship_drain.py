"""The ``--once`` drain ends when the last batch is acknowledged, never before and
without hanging: many small batches, one to four senders, run after run in one
process, against a real InfluxDB 1.x."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from luna_events.localservers import InfluxDB1
from luna_events.ship.config import load as load_ship_config
from luna_events.ship.run import build_topology

from .faultproxy import FORWARD, HANG, FaultProxy
from .shipping import (
    ORDINARY,
    influx_sink,
    line,
    make_events,
    sequence_numbers,
    ship_config,
    write_toml,
)

pytestmark = pytest.mark.server

EVENTS = 300
FILES = 30


@pytest.mark.parametrize("senders", [1, 2, 4])
def test_once_runs_end_with_every_batch_acknowledged(
    tmp_path: Path, influxdb: InfluxDB1, senders: int
):
    switch_interval = sys.getswitchinterval()
    for run in range(5):
        database = f"drain_{senders}_{run}"
        influxdb.create_database(database)
        try:
            work = tmp_path / str(run)
            (work / "logs").mkdir(parents=True)
            events = make_events(EVENTS, seed=run)
            for index, event in enumerate(events):  # a chunk, so a batch, per file
                with open(work / "logs" / f"{index % FILES}.jsonl", "ab") as handle:
                    handle.write(line(event))
                    if index % 11 == 0:
                        handle.write(ORDINARY)
            sink = {**influx_sink(influxdb, database), "concurrency": senders}
            data = ship_config(work, sink, batch={"max_events": 1})
            config = load_ship_config(write_toml(work / "ship.toml", data), environ={})
            stats = build_topology(config, once=True).run(drain_timeout=120)
            assert stats.unfinished == ""
            assert (stats.spool_batches, stats.events_shipped) == (0, EVENTS)
            assert stats.lines_read == EVENTS + len(range(0, EVENTS, 11))
            assert sorted(sequence_numbers(influxdb, database)) == list(range(EVENTS))
            assert sys.getswitchinterval() == switch_interval
        finally:
            influxdb.query(f'DROP DATABASE "{database}"')


def test_drain_timeout_ends_a_once_run_whose_request_hangs_and_keeps_the_batch(
    tmp_path: Path, influxdb: InfluxDB1, database: str
):
    (tmp_path / "logs").mkdir()
    events = make_events(EVENTS, seed=93)
    (tmp_path / "logs" / "a.jsonl").write_bytes(b"".join(line(e) for e in events))
    with FaultProxy(influxdb.url, [HANG]) as proxy:
        sink = {**influx_sink(influxdb, database), "url": proxy.url, "timeout_secs": 3600}
        config = load_ship_config(
            write_toml(tmp_path / "ship.toml", ship_config(tmp_path, sink)), environ={}
        )
        stats = build_topology(config, once=True).run(drain_timeout=1)
        assert proxy.requests >= 1
        assert (stats.spool_batches, stats.events_shipped) == (1, 0)
        assert sequence_numbers(influxdb, database) == []
        proxy.set_steps([FORWARD])
        stats = build_topology(config, once=True).run(drain_timeout=120)
    assert (stats.spool_batches, stats.events_shipped, stats.unfinished) == (0, EVENTS, "")
    assert sorted(sequence_numbers(influxdb, database)) == list(range(EVENTS))
