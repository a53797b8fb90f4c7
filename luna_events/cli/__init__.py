"""The ``luna-events`` command line.

Subcommands are imported only when they run, so ``lint`` and ``encode`` work with
the lean install and a subcommand whose extra is missing says which one to install.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click

COMMANDS: dict[str, tuple[str, str, str | None]] = {
    "catalog": ("luna_events.cli.catalog", "catalog", None),
    "encode": ("luna_events.cli.lines", "encode", None),
    "lint": ("luna_events.cli.lines", "lint", None),
    "generate": ("luna_events.cli.generate", "generate", "dev"),
    "demo": ("luna_events.cli.demo", "demo", "dev"),
    "simulate": ("luna_events.cli.demo", "simulate", None),
    "ship": ("luna_events.cli.ship", "ship_command", "ship"),
    "report": ("luna_events.cli.report", "report_command", "ship"),
    "dead-letters": ("luna_events.cli.deadletters", "dead_letters", "ship"),
}
"""Every subcommand: (module, attribute, the extra that brings its dependencies)."""


def missing_extra(command: str, extra: str, error: ModuleNotFoundError) -> NoReturn:
    """Say in one line which extra ``command`` needs, and exit 2."""
    click.echo(
        f"luna-events {command}: needs the [{extra}] extra"
        f" (no module {(error.name or '?').split('.')[0]!r}):"
        f" pip install 'luna-events[{extra}]'",
        err=True,
    )
    raise SystemExit(2)


@contextmanager
def requires_extra(command: str, extra: str) -> Iterator[None]:
    """Turn a missing third-party module inside the block into :func:`missing_extra`."""
    try:
        yield
    except ModuleNotFoundError as error:
        if error.name is None or error.name.split(".")[0] == "luna_events":
            raise
        missing_extra(command, extra, error)


def _unavailable(name: str, extra: str, error: ModuleNotFoundError) -> click.Command:
    """A stand-in that lists the command in --help and explains when it is run."""

    def explain() -> None:
        missing_extra(name, extra, error)

    return click.Command(
        name,
        callback=explain,
        help=f"(needs: pip install 'luna-events[{extra}]')",
        add_help_option=False,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that subcommand is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute, extra = COMMANDS[cmd_name]
        try:
            command = getattr(importlib.import_module(module), attribute)
        except ModuleNotFoundError as error:
            if extra is None or error.name is None or error.name.startswith("luna_events"):
                raise
            return _unavailable(cmd_name, extra, error)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="luna-events")
def cli() -> None:
    """Monitoring events for LUNA services: catalog, checking, encoding and shipping."""


def main() -> None:
    """Entry point: run the CLI and turn stray OS errors into a message, not a traceback."""
    try:
        cli.main(standalone_mode=True)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(1)
