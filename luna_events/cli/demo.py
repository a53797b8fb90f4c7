"""``luna-events demo``: the main job, end to end, on this machine."""

from __future__ import annotations

from pathlib import Path

import click

from luna_events.cli import requires_extra
from luna_events.demo.services import simulate_forever


@click.command()
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Seconds of simulated traffic.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=1),
    default=40.0,
    show_default=True,
    help="HTTP requests per second.",
)
@click.option(
    "--svg", type=click.Path(dir_okay=False, path_type=Path), help="Save the final report as SVG."
)
def demo(duration: float, rate: float, svg: Path | None) -> None:
    """Simulate luna-tasks and luna-remote-sdk traffic into a private InfluxDB.

    Prints what arrived per series, and exits 1 if anything sent did not arrive.
    """
    with requires_extra("demo", "dev"):
        from luna_events.demo.run import run_demo
    summaries = run_demo(duration, rate, svg=svg)
    if any(s.sent != s.arrived for s in summaries):
        raise SystemExit(1)


@click.command()
@click.option(
    "--logs",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Where the services' JSON log files go.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    default=20.0,
    show_default=True,
    help="HTTP requests per second.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=None,
    help="Stop after this many seconds (default: run until stopped).",
)
def simulate(directory: Path, rate: float, duration: float | None) -> None:
    """Simulated luna-tasks and luna-remote-sdk services logging live traffic (the compose demo)."""
    written = simulate_forever(directory, rate, duration_s=duration)
    click.echo(f"logged {written} events into {directory}", err=True)
