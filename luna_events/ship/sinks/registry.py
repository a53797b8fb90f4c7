"""Building a sink from config: the built-in types, or a plugin by entry point.

A third-party sink registers a factory under the ``luna_events.sinks`` entry point
group; it is called with the :class:`~luna_events.ship.config.SinkConfig` and
returns an object with ``name``, ``send(body) -> SendResult`` and ``close()``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points

from luna_events.ship.config import ConfigError, SinkConfig
from luna_events.ship.sinks import Sink

ENTRY_POINT_GROUP = "luna_events.sinks"


def _builtin() -> dict[str, Callable[[SinkConfig], Sink]]:
    from luna_events.ship.sinks.file import FileSink
    from luna_events.ship.sinks.influxdb_v1 import InfluxDBv1Sink
    from luna_events.ship.sinks.influxdb_v2 import InfluxDBv2Sink

    return {"influxdb_v1": InfluxDBv1Sink, "influxdb_v2": InfluxDBv2Sink, "file": FileSink}


def build_sink(config: SinkConfig) -> Sink:
    """The sink ``config.type`` names."""
    builtin = _builtin()
    if config.type in builtin:
        return builtin[config.type](config)
    plugins = {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}
    if config.type in plugins:
        factory: Callable[[SinkConfig], Sink] = plugins[config.type].load()
        return factory(config)
    known = ", ".join(sorted([*builtin, *plugins]))
    raise ConfigError(f"unknown sink type {config.type!r} (known: {known})")
