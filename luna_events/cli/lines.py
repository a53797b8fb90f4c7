"""``luna-events encode`` and ``luna-events lint``: JSON lines in, line protocol or reports out."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

import click

from luna_events import limits
from luna_events.jsonline import LineKind, too_long
from luna_events.ship.sources.splitter import LineSplitter
from luna_events.transform import Outcome, transform_line

READ_BYTES = 1 << 16


@dataclass
class Tally:
    """Counts of what the lines turned out to be."""

    lines: int = 0
    events: int = 0
    ordinary: int = 0
    invalid: int = 0
    unreadable: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.lines} lines: {self.events} events, {self.invalid} invalid, "
            f"{self.ordinary} ordinary"
        )


@contextmanager
def _open(name: str) -> Iterator[BinaryIO]:
    if name == "-":
        yield sys.stdin.buffer
        return
    with open(name, "rb") as stream:
        yield stream


def _read_lines(stream: BinaryIO, max_bytes: int) -> Iterator[Outcome]:
    """The outcome of every line of ``stream``, split by the shipper's own splitter: an
    over-long line is never held whole, and is ``line_too_long`` when its marker lies
    anywhere in it, also past the cut."""
    splitter = LineSplitter(max_bytes)
    read = getattr(stream, "read1", stream.read)
    while True:
        data = read(READ_BYTES)
        lines = splitter.feed(data) if data else splitter.finish()
        for index, line in enumerate(lines.lines):
            if index not in lines.oversized:
                yield transform_line(line, max_bytes=max_bytes)
            elif index in lines.marked:
                yield Outcome(LineKind.INVALID, problems=(too_long(max_bytes),))
            else:
                yield Outcome(LineKind.ORDINARY, reason="an over-long line without the marker")
        if not data:
            return


def _outcomes(
    names: tuple[str, ...], max_bytes: int, tally: Tally
) -> Iterator[tuple[str, int, Outcome]]:
    for name in names or ("-",):
        label = "<stdin>" if name == "-" else name
        try:
            with _open(name) as stream:
                for number, outcome in enumerate(_read_lines(stream, max_bytes), 1):
                    tally.lines += 1
                    if outcome.kind is LineKind.EVENT:
                        tally.events += 1
                    elif outcome.kind is LineKind.INVALID:
                        tally.invalid += 1
                    else:
                        tally.ordinary += 1
                    yield label, number, outcome
        except OSError as error:
            tally.unreadable.append(label)
            click.echo(printable(f"{label}: cannot read: {error.strerror or error}"), err=True)


_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with control characters and line separators written as escapes
    (``\\n``, ``\\x1b``), so a report stays one ``FILE:LINE: code: where: reason`` line."""
    return _UNPRINTABLE.sub(lambda m: repr(m[0])[1:-1], text)


def _report(label: str, number: int, outcome: Outcome, *, err: bool) -> None:
    """Each problem of a line as ``FILE:LINE: code: where: reason``, one a line."""
    for problem in outcome.problems:
        click.echo(printable(f"{label}:{number}: {problem.code}: {problem}"), err=err)


_FILES = click.argument("files", nargs=-1, type=click.Path(dir_okay=False, allow_dash=True))
_MAX = click.option(
    "--max-line-bytes",
    type=click.IntRange(min=1),
    default=limits.MAX_LINE_BYTES,
    show_default=True,
    help="Longer lines are rejected unread.",
)


@click.command()
@_FILES
@_MAX
def encode(files: tuple[str, ...], max_line_bytes: int) -> None:
    """Write line protocol for the monitoring events in FILES (default stdin).

    Ordinary log lines are skipped. Invalid events are reported on stderr and the
    command exits 1; every valid event is still written.
    """
    tally = Tally()
    out = sys.stdout.buffer
    for label, number, outcome in _outcomes(files, max_line_bytes, tally):
        if outcome.line_protocol is not None:
            out.write(outcome.line_protocol.encode() + b"\n")
        else:
            _report(label, number, outcome, err=True)
    out.flush()
    if tally.invalid or tally.unreadable:
        click.echo(tally.summary(), err=True)
        raise SystemExit(2 if tally.unreadable else 1)


@click.command()
@_FILES
@_MAX
@click.option("--strict", is_flag=True, help="Every line must be a monitoring event.")
@click.option("-q", "--quiet", is_flag=True, help="Print only problems, no summary.")
def lint(files: tuple[str, ...], max_line_bytes: int, strict: bool, quiet: bool) -> None:
    """Report every invalid monitoring line in FILES (default stdin), one problem a line:
    FILE:LINE: code: where: reason.

    Ordinary log lines are fine unless --strict. Exits 1 if any line is invalid,
    2 if a file cannot be read.
    """
    tally = Tally()
    bad = 0
    for label, number, outcome in _outcomes(files, max_line_bytes, tally):
        if outcome.kind is LineKind.INVALID:
            bad += 1
            _report(label, number, outcome, err=False)
        elif strict and outcome.kind is LineKind.ORDINARY:
            bad += 1
            click.echo(printable(f"{label}:{number}: not_an_event: line: {outcome.reason}"))
    if not quiet:
        click.echo(tally.summary(), err=True)
    if tally.unreadable:
        raise SystemExit(2)
    raise SystemExit(1 if bad else 0)
