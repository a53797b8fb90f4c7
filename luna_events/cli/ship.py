"""``luna-events ship``: tail JSON logs into InfluxDB."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from rich.console import Console

from luna_events.ship import config as ship_config
from luna_events.ship.run import default_config_path, fail, ship, summary_table


@click.command("ship")
@click.argument("include", nargs=-1)
@click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML config (default /etc/luna-events/ship.toml if present).",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Checkpoints, spool and dead letters.",
)
@click.option(
    "--once", is_flag=True, help="Read to the end of the input, ship, print a summary and exit."
)
@click.option(
    "--drain-timeout",
    type=float,
    default=None,
    help="With --once: give up waiting for the sink after this many seconds.",
)
@click.option(
    "--status/--no-status", default=None, help="Show the status line (default: on a terminal)."
)
@click.option("-v", "--verbose", count=True, help="More log output.")
def ship_command(
    include: tuple[str, ...],
    config_path: Path | None,
    data_dir: Path | None,
    once: bool,
    drain_timeout: float | None,
    status: bool | None,
    verbose: int,
) -> None:
    """Ship monitoring events from JSON log files (INCLUDE globs, or - for stdin) to the sink.

    Environment variables LUNA_MONITORING_* override the config file (see docs/shipper.md).
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = ship_config.load(config_path or default_config_path())
    except (OSError, ValueError) as error:
        fail(str(error))
    if include == ("-",):
        config.source.type = "stdin"
    elif include:
        config.source.type = "file"
        config.source.include = list(include)
    if data_dir is not None:
        config.data_dir = data_dir
    if not config.enabled:
        click.echo("monitoring is disabled (LUNA_MONITORING_ENABLED=0): nothing to ship", err=True)
        return
    try:
        stats = ship(config, once=once, drain_timeout=drain_timeout, status=status)
    except ship_config.ConfigError as error:
        fail(str(error))
    if once:
        Console(stderr=True).print(summary_table(stats))
        if stats.spool_batches:
            raise SystemExit(1)
