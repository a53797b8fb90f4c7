"""``luna-events report``: the overview in a terminal."""

from __future__ import annotations

import os
from pathlib import Path

import click
from rich.console import Console

from luna_events.report import InfluxQLClient, ReportError, report


@click.command("report")
@click.option(
    "--url",
    default=lambda: os.environ.get("LUNA_MONITORING_URL", "http://127.0.0.1:8086"),
    show_default="$LUNA_MONITORING_URL or http://127.0.0.1:8086",
)
@click.option(
    "--database",
    default=lambda: os.environ.get("LUNA_MONITORING_DATABASE", "luna_monitoring"),
    show_default="luna_monitoring",
)
@click.option("--since", default="15m", show_default=True, help="How far back: 30s, 15m, 2h, 1d.")
@click.option("--bucket", default="1m", show_default=True, help="Sparkline bucket width.")
@click.option(
    "--svg", type=click.Path(dir_okay=False, path_type=Path), help="Also save the report as SVG."
)
def report_command(url: str, database: str, since: str, bucket: str, svg: Path | None) -> None:
    """Request rate, latency percentiles, errors and status codes, from InfluxDB.

    Credentials come from LUNA_MONITORING_TOKEN, or LUNA_MONITORING_USER and _PASSWORD.
    """
    client = InfluxQLClient(
        url,
        database,
        token=os.environ.get("LUNA_MONITORING_TOKEN"),
        username=os.environ.get("LUNA_MONITORING_USER"),
        password=os.environ.get("LUNA_MONITORING_PASSWORD"),
    )
    console = Console(record=svg is not None)
    try:
        console.print(report(client, since, bucket))
    except ReportError as error:
        raise click.ClickException(str(error)) from error
    if svg is not None:
        console.save_svg(str(svg), title="luna-events report")
