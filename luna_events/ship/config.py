"""Shipper configuration: a TOML file, then environment variables on top, read
through one typed schema (msgspec structs) that refuses anything it does not know.

The environment mirrors the original platform's ``LUNA_MONITORING`` section, so
the same deployment settings drive the services, the shipper and ``report``::

    LUNA_MONITORING_ENABLED=1                 # on/off (send_data_for_monitoring)
    LUNA_MONITORING_URL=http://influxdb:8086
    LUNA_MONITORING_VERSION=2                 # 1 or 2: the sink type
    LUNA_MONITORING_ORGANIZATION=luna  LUNA_MONITORING_BUCKET=luna_monitoring
    LUNA_MONITORING_TOKEN=...  or  LUNA_MONITORING_TOKEN_FILE=/run/secrets/token
    LUNA_MONITORING_DATABASE=luna_monitoring  LUNA_MONITORING_RETENTION_POLICY=autogen
    LUNA_MONITORING_USER=...  LUNA_MONITORING_PASSWORD=... (or _PASSWORD_FILE)
    LUNA_MONITORING_SSL_VERIFY=1
    LUNA_MONITORING_FLUSHING_PERIOD=1         # seconds: the batch timeout
    LUNA_EVENTS_DATA_DIR=/var/lib/luna-events

TOML values must have their type (``max_events = "5000"`` is refused); environment
values are strings and are converted to the key's type (``1``/``0``/``true``/``false``
for booleans). Every mistake is a :class:`ConfigError` whose message is one line
naming the key, the value and what was expected. Secrets are :class:`Secret`
values; credentials inside a URL are moved into ``username``/``password``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeAlias

import msgspec
from msgspec import Meta, Struct, field

from luna_events.ship.config_errors import ConfigError, explain, show, shown_value
from luna_events.ship.secrets import REDACTED, Secret, split_url_credentials

__all__ = [
    "BUILTIN_SINKS",
    "BatchConfig",
    "BufferConfig",
    "ConfigError",
    "FileSinkConfig",
    "InfluxDBv1Config",
    "InfluxDBv2Config",
    "PluginSinkConfig",
    "RetryConfig",
    "Secret",
    "ShipConfig",
    "SinkConfig",
    "SourceConfig",
    "check_sources",
    "load",
]

DEFAULT_PATH = Path("/etc/luna-events/ship.toml")
"""The config ``ship`` and ``report`` read when none is given, if it exists."""
ENV_PREFIX = "LUNA_MONITORING_"
DATA_DIR_VARIABLE = "LUNA_EVENTS_DATA_DIR"

MAX_SECONDS = 86400.0
"""The longest interval, timeout or backoff (a day); ``inf`` is not a time."""
PositiveFloat = Annotated[float, Meta(gt=0, le=MAX_SECONDS)]
NonNegativeFloat = Annotated[float, Meta(ge=0, le=MAX_SECONDS)]
PositiveInt = Annotated[int, Meta(ge=1)]
Name = Annotated[str, Meta(min_length=1)]
HttpUrl = Annotated[str, Meta(pattern=r"^https?://[^\s/?#]+")]


class _Table(Struct, forbid_unknown_fields=True, kw_only=True):
    """A TOML table: unknown keys are refused."""


class SourceConfig(_Table):
    """Where lines come from: file globs (``include``/``exclude``) or ``stdin``."""

    type: Literal["file", "stdin"] = "file"
    include: list[str] = []
    exclude: list[str] = []
    glob_interval_secs: PositiveFloat = 1.0
    rotate_wait_secs: NonNegativeFloat = 10.0
    max_line_bytes: PositiveInt = 1024 * 1024
    read_from: Literal["beginning", "end"] = "beginning"
    max_open_files: PositiveInt | None = None
    """Files held open at once (default 512, kept below the open-file limit)."""


class _SinkBase(_Table):
    concurrency: Annotated[int, Meta(ge=1, le=64)] = 2
    """Batches in flight at once (Vector's ``request.concurrency``)."""


class _HttpSinkBase(_SinkBase):
    url: HttpUrl = "http://127.0.0.1:8086"
    """``user:password@`` in it is moved into ``username``/``password``."""
    username: Name | None = None
    password: Secret | None = None
    password_file: Name | None = None
    verify_ssl: bool = True
    gzip: bool = True
    """Compress request bodies (InfluxDB also ingests gzipped batches faster)."""
    timeout_secs: PositiveFloat = 30.0


class InfluxDBv1Config(_HttpSinkBase):
    """InfluxDB 1.x ``/write``: database, retention policy, basic auth."""

    type: Literal["influxdb_v1"] = "influxdb_v1"
    database: Name = "luna_monitoring"
    retention_policy: Name | None = None


class InfluxDBv2Config(_HttpSinkBase):
    """InfluxDB 2.x: org, bucket and token (or username/password for 1.8+'s API)."""

    type: Literal["influxdb_v2"] = "influxdb_v2"
    org: Name | None = None
    bucket: Name | None = None
    """With 1.8+'s compatibility API: ``database/retention_policy``."""
    token: Secret | None = None
    token_file: Name | None = None


class FileSinkConfig(_SinkBase):
    """Line protocol appended to a file (``-``: standard output)."""

    type: Literal["file"] = "file"
    path: Name = "-"


class PluginSinkConfig(_SinkBase, kw_only=True):
    """A sink from the ``luna_events.sinks`` entry point group.

    ``settings`` is the rest of the ``[sink]`` table converted with the plugin
    factory's ``config_type`` (a msgspec struct).
    """

    type: Name
    settings: Any = None


SinkConfig: TypeAlias = InfluxDBv1Config | InfluxDBv2Config | FileSinkConfig | PluginSinkConfig
BUILTIN_SINKS: dict[str, type[_SinkBase]] = {
    "influxdb_v1": InfluxDBv1Config,
    "influxdb_v2": InfluxDBv2Config,
    "file": FileSinkConfig,
}
SHIPPER_SINK_KEYS = ("type", "concurrency")
"""Keys of a plugin's ``[sink]`` table the shipper itself reads."""


class BatchConfig(_Table):
    """When a batch is closed: whichever limit comes first."""

    max_events: PositiveInt = 5000
    max_bytes: PositiveInt = 1024 * 1024
    timeout_secs: PositiveFloat = 1.0


class BufferConfig(_Table):
    """The disk buffer (spool) between the transform and the sink."""

    max_size: PositiveInt = 256 * 1024 * 1024
    fsync: bool = False


class RetryConfig(_Table):
    """Backoff for 429/5xx/network errors, and the slow retry for auth/missing database."""

    initial_backoff_secs: PositiveFloat = 0.5
    max_backoff_secs: PositiveFloat = 30.0
    auth_retry_secs: PositiveFloat = 30.0


class _Settings(_Table):
    """Everything but ``[sink]``, which is read by its own type's schema."""

    enabled: bool = True
    data_dir: Path = Path("/var/lib/luna-events")
    source: SourceConfig = field(default_factory=SourceConfig)
    batch: BatchConfig = field(default_factory=BatchConfig)
    buffer: BufferConfig = field(default_factory=BufferConfig)
    retry: RetryConfig = field(default_factory=RetryConfig)
    dead_letter_path: Path | None = None
    """Default: ``<data_dir>/dead-letter.jsonl``."""
    metrics_interval_secs: NonNegativeFloat = 10.0
    """How often the shipper writes its own ``shipper`` series; 0 turns it off."""


class ShipConfig(_Settings):
    """The whole shipper configuration."""

    sink: SinkConfig = field(default_factory=InfluxDBv1Config)

    @property
    def dead_letters(self) -> Path:
        """Where dead-letter records are appended."""
        return self.dead_letter_path or self.data_dir / "dead-letter.jsonl"


# -- reading -----------------------------------------------------------------------

ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "ENABLED": ("enabled",),
    "URL": ("sink", "url"),
    "ORGANIZATION": ("sink", "org"),
    "BUCKET": ("sink", "bucket"),
    "TOKEN": ("sink", "token"),
    "TOKEN_FILE": ("sink", "token_file"),
    "DATABASE": ("sink", "database"),
    "RETENTION_POLICY": ("sink", "retention_policy"),
    "USER": ("sink", "username"),
    "PASSWORD": ("sink", "password"),
    "PASSWORD_FILE": ("sink", "password_file"),
    "SSL_VERIFY": ("sink", "verify_ssl"),
    "FLUSHING_PERIOD": ("batch", "timeout_secs"),
}
"""``LUNA_MONITORING_<name>`` to the key it sets (``VERSION`` sets ``sink.type``)."""
ALTERNATIVES = {"token": "token_file", "token_file": "token"} | {
    "password": "password_file",
    "password_file": "password",
}
VERSIONS = {"1": "influxdb_v1", "2": "influxdb_v2"}


def _decode(kind: type, value: Any) -> Any:
    if isinstance(value, kind):  # already converted (from the environment)
        return value
    if kind is Secret and isinstance(value, str):
        if value == REDACTED:
            raise TypeError("the placeholder --check-config prints: give the secret itself")
        return Secret(value)
    if kind is Path and isinstance(value, str) and value:
        return Path(value)
    raise TypeError(f"expected a non-empty string, got {type(value).__name__}")


def _convert(data: Any, kind: Any, *, strict: bool = True) -> Any:
    return msgspec.convert(data, kind, strict=strict, dec_hook=_decode)


def load(path: Path | None = None, environ: Mapping[str, str] | None = None) -> ShipConfig:
    """Read ``path`` (TOML) if given, then the ``LUNA_MONITORING_*`` variables."""
    data = read_toml(path) if path else {}
    origins = apply_environment(data, os.environ if environ is None else environ)
    return convert(data, origins)


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML file as a dict; unreadable or malformed files are a :class:`ConfigError`."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"{path}: cannot read it: {error.strerror or error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None


def apply_environment(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Put the set ``LUNA_MONITORING_*`` variables into ``data`` (converted to their
    keys' types); the answer maps each key path to the variable that set it."""
    origins: dict[str, str] = {}
    for secret in ("TOKEN", "PASSWORD"):
        if environ.get(ENV_PREFIX + secret) and environ.get(f"{ENV_PREFIX}{secret}_FILE"):
            raise ConfigError(f"{ENV_PREFIX}{secret} and {ENV_PREFIX}{secret}_FILE are both set")
    sink = _subtable(data, "sink")
    if version := environ.get(ENV_PREFIX + "VERSION"):
        if version not in VERSIONS:
            raise ConfigError(f"{ENV_PREFIX}VERSION = {show(version)}: expected 1 or 2")
        sink["type"] = VERSIONS[version]
        origins["sink.type"] = ENV_PREFIX + "VERSION"
    sink_kind = BUILTIN_SINKS.get(sink.get("type", "influxdb_v1"))
    settings: list[tuple[str, tuple[str, ...], str]] = [
        (ENV_PREFIX + name, keys, value)
        for name, keys in ENVIRONMENT.items()
        if (value := environ.get(ENV_PREFIX + name))
    ]
    if data_dir := environ.get(DATA_DIR_VARIABLE):
        settings.append((DATA_DIR_VARIABLE, ("data_dir",), data_dir))
    for variable, keys, value in settings:
        table = data if len(keys) == 1 else _subtable(data, keys[0])
        key = keys[-1]
        kind = {"": _Settings, "sink": sink_kind, "batch": BatchConfig}[".".join(keys[:-1])]
        hint = _hints(kind).get(key) if kind is not None else None
        if hint is not None:
            try:
                table[key] = _convert(value, hint, strict=False)
            except (msgspec.ValidationError, TypeError) as error:
                raise ConfigError(
                    f"{variable} = {shown_value(key, value)} (for {'.'.join(keys)}): "
                    f"{explain(str(error))}"
                ) from None
        else:
            table[key] = value
        if key in ALTERNATIVES:
            table.pop(ALTERNATIVES[key], None)
        origins[".".join(keys)] = variable
    return origins


def _subtable(data: dict[str, Any], key: str) -> dict[str, Any]:
    table = data.setdefault(key, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{key} = {show(table)}: expected a table [{key}]")
    return table


def _hints(kind: type) -> dict[str, Any]:
    return {f.name: f.type for f in msgspec.structs.fields(kind)}


def convert(data: dict[str, Any], origins: Mapping[str, str] | None = None) -> ShipConfig:
    """``data`` (a parsed TOML document with the environment applied) as a :class:`ShipConfig`."""
    origins = origins or {}
    rest = {k: v for k, v in data.items() if k != "sink"}
    settings: _Settings = _checked(rest, _Settings, "", origins)
    sink = convert_sink(_subtable(data, "sink") if "sink" in data else {}, origins)
    config = ShipConfig(**msgspec.structs.asdict(settings), sink=sink)
    if config.retry.initial_backoff_secs > config.retry.max_backoff_secs:
        raise ConfigError(
            f"retry.initial_backoff_secs = {show(config.retry.initial_backoff_secs)}: "
            f"expected at most retry.max_backoff_secs ({show(config.retry.max_backoff_secs)})"
        )
    return config


def _checked(table: Any, kind: Any, prefix: str, origins: Mapping[str, str]) -> Any:
    try:
        return _convert(table, kind)
    except msgspec.ValidationError as error:
        raise ConfigError.from_validation(error, prefix, table, kind, origins) from None


def convert_sink(table: dict[str, Any], origins: Mapping[str, str] | None = None) -> SinkConfig:
    """The ``[sink]`` table through its type's schema (a plugin's own for plugins)."""
    origins = origins or {}
    kind_name = table.get("type", "influxdb_v1")
    if not isinstance(kind_name, str) or not kind_name:
        raise ConfigError(f"sink.type = {show(kind_name)}: expected a sink type name")
    builtin = BUILTIN_SINKS.get(kind_name)
    if builtin is None:
        return _plugin_sink(kind_name, table, origins)
    sink: SinkConfig = _checked(table, builtin, "sink", origins)
    if isinstance(sink, InfluxDBv1Config | InfluxDBv2Config):
        _resolve_credentials(sink, origins)
    return sink


def _plugin_sink(name: str, table: dict[str, Any], origins: Mapping[str, str]) -> SinkConfig:
    from luna_events.ship.sinks.registry import plugin_factory

    factory = plugin_factory(name)
    config_type = getattr(factory, "config_type", None)
    if not (isinstance(config_type, type) and issubclass(config_type, Struct)):
        raise ConfigError(
            f"sink.type = {show(name)}: the plugin declares no config_type "
            "(a msgspec.Struct its factory reads)"
        )
    shipper_keys = {k: table[k] for k in SHIPPER_SINK_KEYS if k in table}
    base: PluginSinkConfig = _checked(shipper_keys, PluginSinkConfig, "sink", origins)
    own = {k: v for k, v in table.items() if k not in SHIPPER_SINK_KEYS}
    known = [f.encode_name for f in msgspec.structs.fields(config_type)]
    for key in own:
        if key not in known:
            raise ConfigError.unknown_key("sink", key, own[key], known, name, origins)
    base.settings = _checked(own, config_type, "sink", origins)
    return base


def _resolve_credentials(
    sink: InfluxDBv1Config | InfluxDBv2Config, origins: Mapping[str, str]
) -> None:
    where = f"sink.url{_origin(origins, 'sink.url')}"
    try:
        clean, username, password = split_url_credentials(sink.url)
    except ValueError as error:
        raise ConfigError(f"{where} = {shown_value('url', sink.url)}: {error}") from None
    if clean != sink.url:
        if username and sink.username and username != sink.username:
            raise ConfigError(f"{where}: holds user {username!r} and sink.username is set too")
        if password and (sink.password or sink.password_file):
            raise ConfigError(f"{where}: holds a password and sink.password is set too")
        sink.url = clean
        sink.username = sink.username or username
        sink.password = sink.password or password
    secrets = ["password"] + (["token"] if isinstance(sink, InfluxDBv2Config) else [])
    for name in secrets:
        file_key = f"{name}_file"
        file = getattr(sink, file_key)
        if file is None:
            continue
        if getattr(sink, name) is not None:
            raise ConfigError(f"sink.{name} and sink.{file_key} are both set: keep one")
        where = f"sink.{file_key}{_origin(origins, 'sink.' + file_key)} = {show(file)}"
        try:
            value = Path(file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise ConfigError(f"{where}: cannot read it: {reason}") from None
        if not value:
            raise ConfigError(f"{where}: the file is empty, expected the {name} in it")
        if "\n" in value or "\r" in value:
            raise ConfigError(f"{where}: expected the {name} alone on one line, not several lines")
        setattr(sink, name, Secret(value))
    if sink.password and not sink.username:
        raise ConfigError("sink.password is set but sink.username is not")
    if isinstance(sink, InfluxDBv2Config):
        if not sink.token and not sink.username:
            raise ConfigError(
                "sink.token: influxdb_v2 needs a token (or token_file), or username and "
                "password for InfluxDB 1.8+'s compatibility API"
            )
        if sink.token and sink.username:
            raise ConfigError(
                f"sink.username{_origin(origins, 'sink.username')} = {show(sink.username)}: "
                "influxdb_v2 takes a token, or username and password (InfluxDB 1.8+), not both"
            )
        if not sink.bucket:
            raise ConfigError(
                'sink.bucket: influxdb_v2 needs a bucket (1.8+: "database/retention_policy")'
            )


def check_sources(config: ShipConfig) -> None:
    """Refuse a file source without globs (they may come from the command line)."""
    if config.source.type == "file" and not config.source.include:
        raise ConfigError(
            "source.include = []: the file source needs at least one glob "
            "(in the config or as command-line arguments)"
        )


def _origin(origins: Mapping[str, str], path: str) -> str:
    return f" (from {origins[path]})" if path in origins else ""
