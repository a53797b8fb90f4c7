"""``luna-events demo``: the main job, end to end, on this machine."""

from __future__ import annotations

import click

from luna_events.demo.run import run_demo


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
def demo(duration: float, rate: float) -> None:
    """Simulate luna-tasks and luna-remote-sdk traffic into a private InfluxDB.

    Prints what arrived per series, and exits 1 if anything sent did not arrive.
    """
    summaries = run_demo(duration, rate)
    if any(s.sent != s.arrived for s in summaries):
        raise SystemExit(1)
