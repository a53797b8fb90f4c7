"""Shipper configuration: a TOML file, then environment variables on top.

The environment mirrors the original platform's ``LUNA_MONITORING`` section, so
the same deployment settings drive the services and the shipper::

    LUNA_MONITORING_ENABLED=1                 # on/off (send_data_for_monitoring)
    LUNA_MONITORING_URL=http://influxdb:8086
    LUNA_MONITORING_VERSION=2                 # 1 or 2
    LUNA_MONITORING_ORGANIZATION=luna  LUNA_MONITORING_BUCKET=luna_monitoring
    LUNA_MONITORING_TOKEN=...  or  LUNA_MONITORING_TOKEN_FILE=/run/secrets/token
    LUNA_MONITORING_DATABASE=luna_monitoring  LUNA_MONITORING_RETENTION_POLICY=autogen
    LUNA_MONITORING_USER=...  LUNA_MONITORING_PASSWORD=... (or _PASSWORD_FILE)
    LUNA_MONITORING_SSL_VERIFY=1
    LUNA_MONITORING_FLUSHING_PERIOD=1         # seconds: the batch timeout

Secrets are :class:`Secret` values: their ``repr`` and ``str`` never show them.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "LUNA_MONITORING_"


class ConfigError(ValueError):
    """The configuration is incomplete or contradictory."""


class Secret:
    """A credential that never appears in logs, reprs or status output."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass
class SourceConfig:
    """Where lines come from: file globs (``include``/``exclude``) or ``stdin``."""

    type: str = "file"
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    glob_interval_secs: float = 1.0
    rotate_wait_secs: float = 10.0
    max_line_bytes: int = 1024 * 1024
    read_from: str = "beginning"


@dataclass
class SinkConfig:
    """Where points go. ``type``: ``influxdb_v1``, ``influxdb_v2``, ``file`` or a plugin."""

    type: str = "influxdb_v1"
    url: str = "http://127.0.0.1:8086"
    database: str = "luna_monitoring"
    retention_policy: str | None = None
    username: str | None = None
    password: Secret | None = None
    org: str | None = None
    bucket: str | None = None
    token: Secret | None = None
    verify_ssl: bool = True
    gzip: bool = True
    """Compress request bodies (InfluxDB also ingests gzipped batches faster)."""
    timeout_secs: float = 30.0
    concurrency: int = 2
    """Batches in flight at once (Vector's ``request.concurrency``)."""
    path: str = "-"
    options: dict[str, Any] = field(default_factory=dict)
    """Everything else in the table, for plugin sinks."""


@dataclass
class BatchConfig:
    """When a batch is closed: whichever limit comes first."""

    max_events: int = 5000
    max_bytes: int = 1024 * 1024
    timeout_secs: float = 1.0


@dataclass
class BufferConfig:
    """The disk buffer (spool) between the transform and the sink."""

    max_size: int = 256 * 1024 * 1024
    fsync: bool = False


@dataclass
class RetryConfig:
    """Backoff for 429/5xx/network errors, and the slow retry for auth/missing database."""

    initial_backoff_secs: float = 0.5
    max_backoff_secs: float = 30.0
    auth_retry_secs: float = 30.0


@dataclass
class ShipConfig:
    """The whole shipper configuration."""

    enabled: bool = True
    data_dir: Path = Path("/var/lib/luna-events")
    source: SourceConfig = field(default_factory=SourceConfig)
    sink: SinkConfig = field(default_factory=SinkConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    buffer: BufferConfig = field(default_factory=BufferConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    dead_letter_path: Path | None = None
    """Default: ``<data_dir>/dead-letter.jsonl``."""
    metrics_interval_secs: float = 10.0
    """How often the shipper writes its own ``shipper`` series; 0 turns it off."""

    @property
    def dead_letters(self) -> Path:
        """Where dead-letter records are appended."""
        return self.dead_letter_path or self.data_dir / "dead-letter.jsonl"


def _secret(value: Any, file: Any) -> Secret | None:
    if file:
        return Secret(Path(file).read_text(encoding="utf-8").strip())
    return Secret(str(value)) if value else None


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _table(data: Mapping[str, Any], key: str, kind: type[Any] | None = None) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{key}] must be a table")
    if kind is not None:
        unknown = sorted(set(value) - set(kind.__dataclass_fields__))
        if unknown:
            known = ", ".join(sorted(kind.__dataclass_fields__))
            raise ConfigError(f"unknown key(s) {', '.join(unknown)} in [{key}]; known: {known}")
    return dict(value)


def _number(value: str, name: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {value!r}") from None


def _sink(table: dict[str, Any]) -> SinkConfig:
    known = {
        f for f in SinkConfig.__dataclass_fields__ if f not in {"password", "token", "options"}
    }
    sink = SinkConfig(**{k: v for k, v in table.items() if k in known})
    sink.password = _secret(table.get("password"), table.get("password_file"))
    sink.token = _secret(table.get("token"), table.get("token_file"))
    secrets = {"password", "password_file", "token", "token_file"}
    sink.options = {k: v for k, v in table.items() if k not in known and k not in secrets}
    return sink


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> ShipConfig:
    """Read ``path`` (TOML) if given, then apply ``LUNA_MONITORING_*`` variables."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8")) if path else {}
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: {error}") from None
    top = {"enabled", "data_dir", "source", "sink", "batch", "buffer", "retry"}
    unknown = sorted(set(data) - top - {"dead_letter_path", "metrics_interval_secs"})
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(unknown)} at the top of {path}")
    try:
        config = ShipConfig(
            enabled=bool(data.get("enabled", True)),
            data_dir=Path(data.get("data_dir", ShipConfig.data_dir)),
            source=SourceConfig(**_table(data, "source", SourceConfig)),
            sink=_sink(_table(data, "sink")),
            batch=BatchConfig(**_table(data, "batch", BatchConfig)),
            buffer=BufferConfig(**_table(data, "buffer", BufferConfig)),
            retry=RetryConfig(**_table(data, "retry", RetryConfig)),
            dead_letter_path=Path(data["dead_letter_path"]) if "dead_letter_path" in data else None,
            metrics_interval_secs=float(data.get("metrics_interval_secs", 10.0)),
        )
    except TypeError as error:
        raise ConfigError(f"{path}: {error}") from None
    apply_environment(config, os.environ if environ is None else environ)
    return config


def apply_environment(config: ShipConfig, environ: Mapping[str, str]) -> None:
    """Override ``config`` with the ``LUNA_MONITORING_*`` variables that are set."""

    def get(name: str) -> str | None:
        value = environ.get(ENV_PREFIX + name)
        return value if value not in (None, "") else None

    sink = config.sink
    if (enabled := get("ENABLED")) is not None:
        config.enabled = _truthy(enabled)
    if (url := get("URL")) is not None:
        sink.url = url
    if (version := get("VERSION")) is not None:
        if version not in {"1", "2"}:
            raise ConfigError(f"{ENV_PREFIX}VERSION must be 1 or 2, not {version!r}")
        sink.type = "influxdb_v1" if version == "1" else "influxdb_v2"
    for name, attribute in (
        ("ORGANIZATION", "org"),
        ("BUCKET", "bucket"),
        ("DATABASE", "database"),
        ("RETENTION_POLICY", "retention_policy"),
        ("USER", "username"),
    ):
        if (value := get(name)) is not None:
            setattr(sink, attribute, value)
    if get("TOKEN") or get("TOKEN_FILE"):
        sink.token = _secret(get("TOKEN"), get("TOKEN_FILE"))
    if get("PASSWORD") or get("PASSWORD_FILE"):
        sink.password = _secret(get("PASSWORD"), get("PASSWORD_FILE"))
    if (verify := get("SSL_VERIFY")) is not None:
        sink.verify_ssl = _truthy(verify)
    if (period := get("FLUSHING_PERIOD")) is not None:
        config.batch.timeout_secs = _number(period, ENV_PREFIX + "FLUSHING_PERIOD")
    if (data_dir := environ.get("LUNA_EVENTS_DATA_DIR")) is not None:
        config.data_dir = Path(data_dir)
