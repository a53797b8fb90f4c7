"""Building a sink from config: the built-in types, or a plugin by entry point.

A third-party sink registers a factory under the ``luna_events.sinks`` entry point
group. The factory declares its configuration as a msgspec struct in its
``config_type`` attribute; the ``[sink]`` table (without the shipper's own keys
``type`` and ``concurrency``) is converted with it, so unknown keys and wrong
types are refused before anything runs. The factory is called with that struct
and returns an object with ``name``, ``send(body) -> SendResult`` and ``close()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import entry_points
from typing import Any

from luna_events.ship.config import (
    BUILTIN_SINKS,
    ConfigError,
    FileSinkConfig,
    InfluxDBv1Config,
    InfluxDBv2Config,
    PluginSinkConfig,
    SinkConfig,
)
from luna_events.ship.secrets import redact
from luna_events.ship.sinks import Sink

ENTRY_POINT_GROUP = "luna_events.sinks"


def plugin_factory(name: str) -> Callable[[Any], Sink]:
    """The factory the ``luna_events.sinks`` entry point ``name`` names."""
    plugins = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if name not in plugins:
        known = ", ".join(sorted([*BUILTIN_SINKS, *plugins]))
        raise ConfigError(f'sink.type = "{name}": not a sink type (known: {known})')
    try:
        factory: Callable[[Any], Sink] = plugins[name].load()
    except Exception as error:  # an operator-installed package that does not import
        raise ConfigError(
            f'sink.type = "{name}": the plugin does not load: '
            + f"{type(error).__name__}: {error}".replace("\n", " ")
        ) from None
    return factory


@contextmanager
def _needs_the_ship_extra(sink_type: str) -> Iterator[None]:
    """A built-in sink's third-party module that is not installed (an upgrade without
    the extra brings no new dependency of it) is a one-line refusal, not a traceback."""
    try:
        yield
    except ModuleNotFoundError as error:
        module = (error.name or "").split(".")[0]
        if not module or module == "luna_events":
            raise
        raise ConfigError(
            f'sink.type = "{sink_type}" needs the [ship] extra (no module {module!r}): '
            "pip install 'luna-events[ship]'"
        ) from None


def build_sink(config: SinkConfig) -> Sink:
    """The sink ``config`` describes."""
    if isinstance(config, InfluxDBv1Config):
        with _needs_the_ship_extra(config.type):
            from luna_events.ship.sinks.influxdb_v1 import InfluxDBv1Sink

        return InfluxDBv1Sink(config)
    if isinstance(config, InfluxDBv2Config):
        with _needs_the_ship_extra(config.type):
            from luna_events.ship.sinks.influxdb_v2 import InfluxDBv2Sink

        return InfluxDBv2Sink(config)
    if isinstance(config, FileSinkConfig):
        from luna_events.ship.sinks.file import FileSink

        return FileSink(config)
    assert isinstance(config, PluginSinkConfig)
    factory = plugin_factory(config.type)
    try:
        return factory(config.settings)
    except Exception as error:  # the operator's plugin refusing the operator's settings
        raise ConfigError(
            f'sink.type = "{config.type}": the plugin refused its settings: '
            + redact(f"{type(error).__name__}: {error}").replace("\n", " ")
        ) from None
