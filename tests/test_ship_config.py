"""Shipper configuration, secrets, self-metrics and the status line."""

from __future__ import annotations

import io
import os
import tomllib
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import Console

from luna_events.localservers import InfluxDB1
from luna_events.ship.config import (
    ConfigError,
    InfluxDBv1Config,
    InfluxDBv2Config,
    Secret,
    convert,
    load,
)
from luna_events.ship.config_render import effective, to_toml
from luna_events.ship.run import build_topology, ship
from luna_events.ship.sinks import SendResult
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
            "sink": {"type": "influxdb_v2", "url": "http://db:8086", "bucket": "from_file"},
            "batch": {"max_events": 1000},
        },
    )
    config = load(
        config_file,
        environ={
            "LUNA_MONITORING_URL": "http://influxdb:8086",
            "LUNA_MONITORING_VERSION": "2",
            "LUNA_MONITORING_ORGANIZATION": "luna",
            "LUNA_MONITORING_TOKEN_FILE": str(token_file),
            "LUNA_MONITORING_SSL_VERIFY": "0",
            "LUNA_MONITORING_FLUSHING_PERIOD": "2.5",
            "LUNA_EVENTS_DATA_DIR": str(tmp_path / "elsewhere"),
        },
    )
    sink = config.sink
    assert isinstance(sink, InfluxDBv2Config) and sink.url == "http://influxdb:8086"
    assert (sink.org, sink.bucket) == ("luna", "from_file")
    assert sink.token is not None and sink.token.reveal() == "s3cr3t-token"
    assert sink.verify_ssl is False and config.batch.timeout_secs == 2.5
    assert config.batch.max_events == 1000 and config.data_dir == tmp_path / "elsewhere"
    assert "s3cr3t" not in repr(config) and "s3cr3t" not in str(sink.token)
    assert not load(None, environ={"LUNA_MONITORING_ENABLED": "0"}).enabled
    with pytest.raises(ConfigError, match=r'^LUNA_MONITORING_VERSION = "3": expected 1 or 2$'):
        load(None, environ={"LUNA_MONITORING_VERSION": "3"})
    v1_file = write_toml(tmp_path / "v1.toml", {"sink": {"database": "from_file"}})
    with pytest.raises(
        ConfigError,
        match=r'^sink.database = "from_file": not a key of influxdb_v2 sinks '
        r"\(from LUNA_MONITORING_VERSION\)",
    ):
        load(v1_file, environ={"LUNA_MONITORING_VERSION": "2", "LUNA_MONITORING_TOKEN": "x"})


def test_credentials_in_the_url_move_into_auth():
    config = load(None, environ={"LUNA_MONITORING_URL": "http://luna:p%40ss@db:8086/"})
    sink = config.sink
    assert isinstance(sink, InfluxDBv1Config) and sink.url == "http://db:8086/"
    assert sink.username == "luna" and sink.password is not None
    assert sink.password.reveal() == "p@ss"
    with pytest.raises(ConfigError, match=r"^sink.url \(from LUNA_MONITORING_URL\): holds a pass"):
        load(
            None,
            environ={"LUNA_MONITORING_URL": "http://luna:x@db", "LUNA_MONITORING_PASSWORD": "y"},
        )


def test_unknown_sink_types_are_named(tmp_path: Path):
    with pytest.raises(
        ConfigError, match=r'^sink.type = "kafka": not a sink type \(known: file, influxdb_v1'
    ):
        load(write_toml(tmp_path / "ship.toml", {"sink": {"type": "kafka"}}), environ={})


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


class ListSinkSettings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The plugin's own configuration schema."""

    topic: str
    partitions: Annotated[int, msgspec.Meta(ge=1)] = 1
    api_key: Secret | None = None


class ListSink:
    """A third-party sink, as a plugin would provide it."""

    name = "list"
    config_type = ListSinkSettings
    received: ClassVar[list[bytes]] = []
    settings: ClassVar[list[ListSinkSettings]] = []

    def __init__(self, settings: ListSinkSettings) -> None:
        ListSink.settings.append(settings)

    def send(self, body: bytes) -> SendResult:
        ListSink.received.append(body)
        return SendResult(200)

    def close(self) -> None:
        pass


@pytest.fixture
def list_plugin(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[ListSink]]:
    """``ListSink`` registered as the ``list`` sink plugin, with nothing received yet."""
    import luna_events.ship.sinks.registry as registry

    entry = EntryPoint("list", "tests.test_ship_config:ListSink", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(
        registry,
        "entry_points",
        lambda group: [entry] if group == "luna_events.sinks" else [],
    )
    ListSink.received.clear()
    ListSink.settings.clear()
    yield ListSink
    ListSink.received.clear()
    ListSink.settings.clear()


def test_sinks_come_from_entry_points_with_their_own_schema(
    tmp_path: Path, list_plugin: type[ListSink]
):
    events = make_events(30, seed=41)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_bytes(b"".join(line(e) for e in events))
    sink = {"type": "list", "topic": "luna", "concurrency": 1, "api_key": "plugin-key-1"}
    data = ship_config(tmp_path, sink)
    config = load(write_toml(tmp_path / "ship.toml", data), environ={})
    stats = build_topology(config, once=True).run(drain_timeout=30)
    assert stats.events_shipped == 30
    assert list_plugin.settings == [
        ListSinkSettings(topic="luna", partitions=1, api_key=Secret("plugin-key-1"))
    ]
    assert sum(body.count(b"\n") for body in list_plugin.received) == 30
    shown = to_toml(effective(config))
    assert 'topic = "luna"' in shown and 'api_key = "***"' in shown
    assert "plugin-key-1" not in shown + repr(config)
    mistakes: list[tuple[dict[str, object], str]] = [
        ({"type": "list", "topik": "luna"}, r'^sink.topik = "luna": not a key .*"topic"\?$'),
        ({"type": "list", "topic": "luna", "partitions": 0}, r"^sink.partitions = 0: expected"),
        ({"type": "list", "topic": 5}, r"^sink.topic = 5: expected a string"),
        ({"type": "list"}, r"^sink.topic: missing \(the key is required\)$"),
        ({"type": "list", "topic": "luna", "api_key": 271828}, r"^sink.api_key = \*\*\*: expected"),
        (
            {"type": "list", "topic": "luna", "api_kye": "plugin-key-1"},
            r"^sink.api_kye = \*\*\*: not",
        ),
    ]
    for wrong, message in mistakes:
        path = write_toml(tmp_path / "ship.toml", ship_config(tmp_path, wrong))
        with pytest.raises(ConfigError, match=message) as refused:
            load(path, environ={})
        assert "271828" not in str(refused.value) and "plugin-key" not in str(refused.value)


TOML_VALUES = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.lists(st.one_of(st.text(max_size=4), st.integers()), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
KEYS = {
    "": ["enabled", "data_dir", "metrics_interval_secs", "dead_letter_path", "bogus"],
    "source": ["type", "include", "glob_interval_secs", "max_line_bytes", "read_from"],
    "sink": ["type", "url", "database", "username", "password", "concurrency", "token", "usr"],
    "batch": ["max_events", "max_bytes", "timeout_secs"],
    "buffer": ["max_size", "fsync"],
    "retry": ["initial_backoff_secs", "max_backoff_secs"],
}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(KEYS)).flatmap(
                lambda table: st.tuples(st.just(table), st.sampled_from(KEYS[table]))
            ),
            TOML_VALUES,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_document_is_a_config_or_one_line_naming_a_key(
    entries: list[tuple[tuple[str, str], object]],
):
    document: dict[str, Any] = {}
    for (table, key), value in entries:
        (document.setdefault(table, {}) if table else document)[key] = value
    if isinstance(document.get("sink"), dict):
        document["sink"].setdefault("type", "influxdb_v1")
    try:
        convert(document)
    except ConfigError as error:
        message = str(error)
        assert "\n" not in message
        keys = [key for (_, key), _ in entries] + [table for (table, _), _ in entries if table]
        assert any(message.startswith(key) or f".{key}" in message.split(" ")[0] for key in keys)


class NoSchemaSink(ListSink):
    """A plugin that does not declare its configuration."""

    config_type = None  # type: ignore[assignment]


class RefusingSink(ListSink):
    """A plugin whose factory refuses the settings it was given."""

    def __init__(self, settings: ListSinkSettings) -> None:
        key = settings.api_key.reveal() if settings.api_key else ""
        raise ValueError(f"key {key} is not allowed\non topic {settings.topic}")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "tests.test_ship_config:NoSchemaSink",
            'sink.type = "odd": the plugin declares no config_type',
        ),
        (
            "tests.no_such_module:Sink",
            'sink.type = "odd": the plugin does not load: ModuleNotFoundError',
        ),
        (
            "tests.test_ship_config:RefusingSink",
            'sink.type = "odd": the plugin refused its settings: '
            "ValueError: key *** is not allowed on topic luna",
        ),
    ],
)
def test_a_plugin_without_a_schema_or_that_fails_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, message: str
):
    import luna_events.ship.sinks.registry as registry

    entry = EntryPoint("odd", target, registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [entry])
    sink = {"type": "odd", "topic": "luna", "api_key": "plugin-key-2718"}
    config = ship_config(tmp_path, sink)
    with pytest.raises(ConfigError) as refused:
        registry.build_sink(load(write_toml(tmp_path / "ship.toml", config), environ={}).sink)
    assert str(refused.value).startswith(message) and "\n" not in str(refused.value)
    assert "plugin-key-2718" not in str(refused.value)


def test_report_reads_secrets_from_the_configs_files_and_the_v2_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from luna_events.cli.report import influxql_client

    for name in [n for n in os.environ if n.startswith("LUNA_MONITORING_")]:
        monkeypatch.delenv(name)
    (tmp_path / "token").write_text("report-token-1\n")
    (tmp_path / "password").write_text("report-password-2\n")
    v2 = {"type": "influxdb_v2", "bucket": "luna/autogen", "token_file": str(tmp_path / "token")}
    client = influxql_client(write_toml(tmp_path / "v2.toml", {"sink": v2}))
    assert client.database == "luna" and client.username is None
    assert client.token is not None and client.token.reveal() == "report-token-1"
    v1 = {"username": "luna", "password_file": str(tmp_path / "password"), "database": "db"}
    client = influxql_client(write_toml(tmp_path / "v1.toml", {"sink": v1}), database="other")
    assert (client.database, client.username, client.token) == ("other", "luna", None)
    assert client.password is not None and client.password.reveal() == "report-password-2"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("enabled = 1979-05-27", "enabled = 1979-05-27: expected true or false, got a date"),
        ("[source]\ninclude = [[1]]", "source.include[0] = [1]: expected a string, got a list"),
        ("[sink]\nurl = {a = 1}", "sink.url = {table}: expected a string, got a table"),
        ('"" = 1', '"" = 1: not a key of the top level; known: batch,'),
        ('"a\\nb" = 1', '"a\\nb" = 1: not a key of the top level; known: batch,'),
    ],
)
def test_every_toml_type_is_named_in_words(tmp_path: Path, document: str, message: str):
    (tmp_path / "ship.toml").write_text(document + "\n")
    with pytest.raises(ConfigError) as refused:
        load(tmp_path / "ship.toml", environ={})
    assert str(refused.value).startswith(message), str(refused.value)


SCALARS = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(),
)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.text(),
        st.one_of(
            SCALARS,
            st.lists(SCALARS, max_size=3),
            st.dictionaries(st.text(), st.one_of(SCALARS, st.lists(SCALARS, max_size=2))),
        ),
        max_size=5,
    )
)
@example({"del": "\x7f", "ä": {"": [1.5, "x"], "x y": {}}})
def test_check_config_output_is_toml_that_reads_back_as_itself(document: dict[str, Any]):
    assert tomllib.loads(to_toml(document)) == document
