"""``luna-events ship``: tail JSON logs into InfluxDB."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from rich.console import Console

from luna_events.ship import config as ship_config
from luna_events.ship.config import MAX_SECONDS
from luna_events.ship.config_render import effective, to_toml
from luna_events.ship.run import default_config_path, fail, ship, summary_table
from luna_events.ship.secrets import install_redaction


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
    "--fail-on-dead-letters",
    is_flag=True,
    help="With --once: exit 3 if anything was dead-lettered (1 still wins: undelivered).",
)
@click.option(
    "--status/--no-status", default=None, help="Show the status line (default: on a terminal)."
)
@click.option(
    "--check-config",
    is_flag=True,
    help="Check the configuration, print it as TOML (secrets as ***) and exit (2 if wrong).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv: everything).")
def ship_command(
    include: tuple[str, ...],
    config_path: Path | None,
    data_dir: Path | None,
    once: bool,
    drain_timeout: float | None,
    fail_on_dead_letters: bool,
    status: bool | None,
    check_config: bool,
    verbose: int,
) -> None:
    """Ship monitoring events from JSON log files (INCLUDE globs, or - for stdin) to the sink.

    Environment variables LUNA_MONITORING_* override the config file (see docs/shipper.md).
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    install_redaction()
    if drain_timeout is not None and not 0 <= drain_timeout <= MAX_SECONDS:
        fail(f"--drain-timeout {drain_timeout}: expected seconds from 0 to {MAX_SECONDS:g}")
    try:
        config = ship_config.load(config_path or default_config_path())
    except ship_config.ConfigError as error:
        fail(str(error))
    if include == ("-",):
        config.source.type = "stdin"
    elif "-" in include:
        fail(f"{' '.join(include)}: - (standard input) is read alone, not with file globs")
    elif include:
        config.source.type = "file"
        config.source.include = list(include)
    if data_dir is not None:
        config.data_dir = data_dir
    try:
        ship_config.check_sources(config)
    except ship_config.ConfigError as error:
        fail(str(error))
    if check_config:
        click.echo(to_toml(effective(config)))
        return
    if not config.enabled:
        click.echo("monitoring is disabled (LUNA_MONITORING_ENABLED=0): nothing to ship", err=True)
        return
    try:
        stats = ship(config, once=once, drain_timeout=drain_timeout, status=status)
    except ship_config.ConfigError as error:
        fail(str(error))
    if once:
        Console(stderr=True).print(
            summary_table(stats, config.dead_letters, config.data_dir / "quarantine")
        )
        if stats.spool_batches or stats.unfinished:
            raise SystemExit(1)
        if fail_on_dead_letters and stats.events_dead_lettered:
            raise SystemExit(3)
