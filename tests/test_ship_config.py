"""Shipper configuration, secrets, self-metrics and the status line."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import ClassVar

import pytest
from rich.console import Console

from luna_events.localservers import InfluxDB1
from luna_events.ship.config import ConfigError, Secret, ShipConfig, load
from luna_events.ship.run import build_topology, ship
from luna_events.ship.sinks.registry import build_sink
from luna_events.validation import validate

from .shipping import influx_sink, line, make_events, ship_config, write_toml


def test_toml_then_environment_like_the_platforms_monitoring_section(tmp_path: Path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cr3t-token\n")
    config_file = write_toml(
        tmp_path / "ship.toml",
        {
            "data_dir": str(tmp_path / "data"),
            "source": {"include": ["/var/log/luna/*.jsonl"]},
            "sink": {"type": "influxdb_v1", "url": "http://db:8086", "database": "from_file"},
            "batch": {"max_events": 1000},
        },
    )
    config = load(
        config_file,
        environ={
            "LUNA_MONITORING_URL": "http://influxdb:8086",
            "LUNA_MONITORING_VERSION": "2",
            "LUNA_MONITORING_ORGANIZATION": "luna",
            "LUNA_MONITORING_BUCKET": "luna_monitoring",
            "LUNA_MONITORING_TOKEN_FILE": str(token_file),
            "LUNA_MONITORING_SSL_VERIFY": "0",
            "LUNA_MONITORING_FLUSHING_PERIOD": "2.5",
        },
    )
    assert config.sink.type == "influxdb_v2" and config.sink.url == "http://influxdb:8086"
    assert (config.sink.org, config.sink.bucket) == ("luna", "luna_monitoring")
    assert config.sink.token is not None and config.sink.token.reveal() == "s3cr3t-token"
    assert config.sink.verify_ssl is False and config.batch.timeout_secs == 2.5
    assert config.batch.max_events == 1000 and config.sink.database == "from_file"
    assert "s3cr3t" not in repr(config) and "s3cr3t" not in str(config.sink.token)
    assert not load(None, environ={"LUNA_MONITORING_ENABLED": "0"}).enabled
    with pytest.raises(ConfigError, match="VERSION must be 1 or 2"):
        load(None, environ={"LUNA_MONITORING_VERSION": "3"})


def test_secrets_never_reach_the_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    config = ShipConfig(data_dir=tmp_path)
    config.sink.url = "http://127.0.0.1:9"  # nothing listens: the sink logs its failure
    config.sink.username = "luna"
    config.sink.password = Secret("hunter2-password")
    sink = build_sink(config.sink)
    result = sink.send(b"m f=1 1\n")
    sink.close()
    assert result.status is None
    logging.getLogger("test").error("config: %r", config)
    assert "hunter2" not in caplog.text and "hunter2" not in repr(config)


def test_unknown_sink_types_are_named(tmp_path: Path):
    config = ShipConfig(data_dir=tmp_path)
    config.sink.type = "kafka"
    with pytest.raises(ConfigError, match=r"unknown sink type 'kafka' \(known: file, influxdb_v1"):
        build_sink(config.sink)


def test_the_shipper_writes_its_own_series(tmp_path: Path, influxdb: InfluxDB1, database: str):
    events = make_events(100, seed=29)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_bytes(b"".join(line(e) for e in events))
    data = ship_config(tmp_path, influx_sink(influxdb, database), metrics_interval_secs=0.01)
    config = load(write_toml(tmp_path / "ship.toml", data), environ={})
    stats = build_topology(config, once=True).run(drain_timeout=60)
    assert stats.events_shipped >= len(events)
    points = influxdb.points(database, "shipper")
    assert points, "the shipper series arrived"
    assert (
        points[0]["tags"]["service"] == "luna-events-ship"
        and points[0]["tags"]["sink"] == "influxdb_v1"
    )
    assert {"events_read", "events_shipped", "spool_bytes", "lag_seconds"} <= set(
        points[-1]["fields"]
    )
    validate(stats.as_event("influxdb_v1"))


def test_status_line_on_a_terminal(tmp_path: Path):
    events = make_events(20, seed=31)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_bytes(b"".join(line(e) for e in events))
    data = ship_config(tmp_path, {"type": "file", "path": str(tmp_path / "out.lp")})
    config = load(write_toml(tmp_path / "ship.toml", data), environ={})
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=200)
    stats = ship(config, once=True, status=True, console=console)
    assert stats.events_shipped == 20
    assert "shipped" in screen.getvalue() and "spool" in screen.getvalue()


class ListSink:
    """A third-party sink, as a plugin would provide it."""

    name = "list"
    received: ClassVar[list[bytes]] = []

    def __init__(self, config) -> None:
        self.options = config.options

    def send(self, body: bytes):
        from luna_events.ship.sinks import SendResult

        ListSink.received.append(body)
        return SendResult(200)

    def close(self) -> None:
        pass


def test_sinks_come_from_entry_points(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from importlib.metadata import EntryPoint

    import luna_events.ship.sinks.registry as registry

    group = registry.ENTRY_POINT_GROUP
    monkeypatch.setattr(
        registry,
        "entry_points",
        lambda group: [EntryPoint("list", "tests.test_ship_config:ListSink", group)],
    )
    events = make_events(30, seed=41)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_bytes(b"".join(line(e) for e in events))
    data = ship_config(tmp_path, {"type": "list", "topic": "luna"})
    config = load(write_toml(tmp_path / "ship.toml", data), environ={})
    stats = build_topology(config, once=True).run(drain_timeout=30)
    assert stats.events_shipped == 30 and group == "luna_events.sinks"
    assert sum(body.count(b"\n") for body in ListSink.received) == 30
