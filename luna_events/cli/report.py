"""``luna-events report``: the overview in a terminal."""

from __future__ import annotations

import os
import re
from pathlib import Path

import click
from rich.console import Console

from luna_events.report import InfluxQLClient, ReportError, report
from luna_events.ship import config as ship_config
from luna_events.ship.config import ConfigError, InfluxDBv1Config, InfluxDBv2Config

DURATION = re.compile(r"[1-9][0-9]*[smhdw]")
"""``--since`` and ``--bucket``: a whole number of seconds, minutes, hours, days or weeks."""


def influxql_client(
    config_path: Path | None, url: str | None = None, database: str | None = None
) -> InfluxQLClient:
    """A client with the shipper's settings: its TOML ``[sink]``, then ``LUNA_MONITORING_*``
    (and ``*_FILE``), then ``url``/``database``; URL credentials become basic auth."""
    data = ship_config.read_toml(config_path) if config_path else {}
    origins = ship_config.apply_environment(data, os.environ)
    sink_table = data.setdefault("sink", {})
    if url:
        sink_table["url"] = url
        origins["sink.url"] = "--url"
    sink = ship_config.convert_sink(sink_table, origins)
    if isinstance(sink, InfluxDBv1Config):
        name = database or sink.database
        token = None
    elif isinstance(sink, InfluxDBv2Config):
        name = database or (sink.bucket or "").split("/")[0]
        token = sink.token
    else:
        raise ConfigError(f'sink.type = "{sink.type}": report reads InfluxDB (influxdb_v1 or _v2)')
    return InfluxQLClient(
        sink.url, name, token=token, username=sink.username, password=sink.password
    )


@click.command("report")
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The shipper's TOML config (default /etc/luna-events/ship.toml if present).",
)
@click.option("--url", default=None, help="InfluxDB URL (default: the shipper's sink URL).")
@click.option(
    "--database",
    default=None,
    help="Database (default: the sink's database; influxdb_v2: its bucket's DBRP name).",
)
@click.option("--since", default="15m", show_default=True, help="How far back: 30s, 15m, 2h, 1d.")
@click.option("--bucket", default="1m", show_default=True, help="Sparkline bucket width.")
@click.option(
    "--svg", type=click.Path(dir_okay=False, path_type=Path), help="Also save the report as SVG."
)
def report_command(
    config_path: Path | None,
    url: str | None,
    database: str | None,
    since: str,
    bucket: str,
    svg: Path | None,
) -> None:
    """Request rate, latency percentiles, errors and status codes, from InfluxDB.

    Reads the same settings as `luna-events ship`: the TOML config's [sink], then
    LUNA_MONITORING_URL, _VERSION, _DATABASE, _BUCKET, _TOKEN(_FILE), _USER and
    _PASSWORD(_FILE) (see docs/shipper.md).
    """
    default = ship_config.DEFAULT_PATH
    try:
        for option, value in (("--since", since), ("--bucket", bucket)):
            if not DURATION.fullmatch(value):
                raise ConfigError(
                    f"{option} {value!r}: expected a duration like 30s, 15m, 2h, 1d, 1w"
                )
        client = influxql_client(
            config_path or (default if default.exists() else None), url, database
        )
    except ConfigError as error:
        click.echo(f"luna-events report: {error}", err=True)
        raise SystemExit(2) from None
    console = Console(record=svg is not None)
    try:
        console.print(report(client, since, bucket))
    except ReportError as error:
        raise click.ClickException(str(error)) from error
    if svg is not None:
        console.save_svg(str(svg), title="luna-events report")
