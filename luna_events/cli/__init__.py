"""The ``luna-events`` command line."""

from __future__ import annotations

import sys

import click

from luna_events.cli.catalog import catalog
from luna_events.cli.demo import demo, simulate
from luna_events.cli.generate import generate
from luna_events.cli.lines import encode, lint
from luna_events.cli.report import report_command
from luna_events.cli.ship import ship_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="luna-events")
def cli() -> None:
    """Monitoring events for LUNA services: catalog, checking, encoding and shipping."""


cli.add_command(catalog)
cli.add_command(encode)
cli.add_command(lint)
cli.add_command(generate)
cli.add_command(demo)
cli.add_command(simulate)
cli.add_command(ship_command)
cli.add_command(report_command)


def main() -> None:
    """Entry point: run the CLI and turn stray OS errors into a message, not a traceback."""
    try:
        cli.main(standalone_mode=True)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
