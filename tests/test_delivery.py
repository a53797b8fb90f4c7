"""The delivery policy, answer by answer, and backpressure against a real InfluxDB."""

from __future__ import annotations

import json
import threading
import time
from array import array
from collections.abc import Callable
from pathlib import Path

from luna_events.localservers import InfluxDB1
from luna_events.ship.config import RetryConfig
from luna_events.ship.config import load as load_ship_config
from luna_events.ship.deadletters import DeadLetters
from luna_events.ship.delivery import Delivery
from luna_events.ship.run import build_topology
from luna_events.ship.sinks import SendResult
from luna_events.ship.spool import Segment, encode_segment
from luna_events.ship.stats import ShipperStats

from .shipping import influx_sink, line, make_events, sequence_numbers, ship_config, write_toml


class ScriptedSink:
    """Answers with a script of results; records every body it was sent."""

    name = "scripted"

    def __init__(self, answer: Callable[[bytes, int], SendResult]) -> None:
        self.answer = answer
        self.bodies: list[bytes] = []

    def send(self, body: bytes) -> SendResult:
        self.bodies.append(body)
        return self.answer(body, len(self.bodies))

    def close(self) -> None:
        pass


def segment_of(lines: list[str]) -> Segment:
    body, ends = encode_segment(lines)
    return Segment(Path("/nonexistent"), body, array("I", ends))


def delivery_for(sink: ScriptedSink, tmp_path: Path, retry: RetryConfig | None = None):
    stats = ShipperStats()
    dead = DeadLetters(tmp_path / "dead.jsonl")
    retry = retry or RetryConfig(
        initial_backoff_secs=0.01, max_backoff_secs=0.05, auth_retry_secs=0.05
    )
    return Delivery(sink, dead, retry, stats, threading.Event()), stats, dead


LINES = [f'm,k=v f={i},s="line {i}" {i}' for i in range(8)]


def test_413_splits_until_the_pieces_fit_and_a_lone_giant_is_dead_lettered(tmp_path: Path):
    def answer(body: bytes, _: int) -> SendResult:
        if b'"line 5"' in body:
            return SendResult(413, "request entity too large")
        return SendResult(204) if body.count(b"\n") <= 2 else SendResult(413, "too large")

    sink = ScriptedSink(answer)
    delivery, stats, _ = delivery_for(sink, tmp_path)
    assert delivery.deliver(segment_of(LINES))
    assert stats.events_shipped == 7 and stats.events_dead_lettered == 1
    record = json.loads((tmp_path / "dead.jsonl").read_text())
    assert record["line"] == LINES[5] and record["sink"]["status"] == 413


def test_retry_after_is_honoured_and_5xx_backs_off(tmp_path: Path):
    def answer(body: bytes, attempt: int) -> SendResult:
        if attempt == 1:
            return SendResult(429, "slow down", retry_after=0.3)
        if attempt == 2:
            return SendResult(503, "busy")
        return SendResult(204)

    sink = ScriptedSink(answer)
    delivery, stats, _ = delivery_for(sink, tmp_path)
    started = time.monotonic()
    assert delivery.deliver(segment_of(LINES))
    assert time.monotonic() - started >= 0.3
    assert stats.retries == 2 and stats.events_shipped == 8
    assert all(body == sink.bodies[0] for body in sink.bodies), "the same batch, resent whole"


def test_auth_failures_keep_the_data_and_retry_slowly(tmp_path: Path, caplog):
    def answer(body: bytes, attempt: int) -> SendResult:
        return SendResult(401, "authorization failed") if attempt < 3 else SendResult(204)

    sink = ScriptedSink(answer)
    retry = RetryConfig(initial_backoff_secs=0.001, max_backoff_secs=0.001, auth_retry_secs=0.2)
    delivery, stats, _ = delivery_for(sink, tmp_path, retry)
    started = time.monotonic()
    assert delivery.deliver(segment_of(LINES))
    assert time.monotonic() - started >= 0.4, "two slow retries"
    assert stats.events_shipped == 8 and stats.events_dead_lettered == 0
    assert "refuses writes (401: authorization failed): keeping the data" in caplog.text


def test_stopping_mid_retry_leaves_the_batch_undelivered(tmp_path: Path):
    sink = ScriptedSink(lambda body, attempt: SendResult(None, "connection refused"))
    delivery, _, _ = delivery_for(sink, tmp_path)
    delivery.stop.set()
    assert delivery.deliver(segment_of(LINES)) is False


def test_missing_database_and_a_full_spool_hold_reading_until_influxdb_is_ready(
    tmp_path: Path, influxdb: InfluxDB1
):
    """404 from a real InfluxDB: data kept, the small spool fills, reading stops
    (backpressure); once the database exists, every event arrives exactly once."""
    database = "created_later"
    events = make_events(20_000, seed=37)
    (tmp_path / "logs").mkdir()
    log = tmp_path / "logs" / "a.jsonl"
    log.write_bytes(b"".join(line(e) for e in events))
    data = ship_config(
        tmp_path,
        influx_sink(influxdb, database),
        buffer={"max_size": 200_000},
        retry={"auth_retry_secs": 0.3},
    )
    config = load_ship_config(write_toml(tmp_path / "ship.toml", data), environ={})
    topology = build_topology(config)
    runner = threading.Thread(target=topology.run, daemon=True)
    runner.start()
    checkpoints = tmp_path / "data" / "checkpoints.json"
    read: list[int] = []  # lines read, one reading per poll
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        read = [*read[-4:], topology.stats.lines_read]
        held = len(read) == 5 and len(set(read)) == 1  # reading stood still for a second
        if held and topology.stats.retries > 0 and checkpoints.exists():
            break
        time.sleep(0.25)
    assert topology.stats.events_shipped == 0 and topology.stats.retries > 0
    assert topology.spool.size >= 200_000, "the spool filled up"
    assert read[-1] < len(events), "reading stopped: backpressure"
    checkpoint = json.loads(checkpoints.read_text())["files"][0]
    assert checkpoint["offset"] < log.stat().st_size, "the checkpoint stopped there too"
    influxdb.create_database(database)
    deadline = time.monotonic() + 60
    while len(sequence_numbers(influxdb, database)) < len(events) and time.monotonic() < deadline:
        time.sleep(0.2)
    topology.stop.set()
    runner.join(30)
    assert sorted(sequence_numbers(influxdb, database)) == list(range(len(events)))
