"""``luna-events dead-letters list|replay``: see what the shipper could not ship, and
ship it once the cause is fixed.

Records are de-duplicated by key (a record repeated after a crash counts once).
``replay`` checks invalid lines again (the catalog or the service may have been
fixed) and sends what passes, and the points the sink refused, through the
configured sink in batches of the shipper's size, split in halves down to the points
still refused (as the shipper's delivery policy does). Each success appends a ``replayed`` marker
for its key, so a second replay sends nothing twice; what still fails stays.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import click

from luna_events.jsonline import LineKind
from luna_events.ship import config as ship_config
from luna_events.ship.config import BatchConfig
from luna_events.ship.deadletters import INVALID, REJECTED, DeadLetters, read_records
from luna_events.ship.delivery import TOO_LARGE, refuses_lines
from luna_events.ship.run import default_config_path
from luna_events.ship.sinks import Sink
from luna_events.ship.sinks.registry import build_sink
from luna_events.transform import Transform

REPLAYED = "replayed"


def _dead_letter_file(config_path: Path | None, file: Path | None) -> Path:
    if file is not None:
        return file
    try:
        config = ship_config.load(config_path or default_config_path())
    except ship_config.ConfigError as error:
        _fail(str(error))
    return config.dead_letters


def _fail(message: str) -> NoReturn:
    click.echo(f"luna-events dead-letters: {message}", err=True)
    raise SystemExit(2)


def pending(path: Path) -> list[dict[str, Any]]:
    """The records not yet replayed, one per key."""
    try:
        return [r for r in read_records(path) if r.get("kind") != REPLAYED]
    except FileNotFoundError:
        return []
    except OSError as error:
        _fail(f"cannot read {path}: {error.strerror or error}")


def _kind(record: dict[str, Any]) -> str:
    if record.get("kind"):
        return str(record["kind"])
    return REJECTED if "sink" in record else INVALID


def _group(record: dict[str, Any]) -> str:
    problems = record.get("problems")
    first = problems[0] if isinstance(problems, list) and problems else None
    code = first.get("code", "?") if isinstance(first, dict) else "?"
    return f"{_kind(record)}: {code}"


def _reason(record: dict[str, Any]) -> str:
    return str(record.get("reason", ""))[:160]


def _line(record: dict[str, Any]) -> bytes | None:
    """The line as it was, or ``None`` when only a cut piece of it was kept."""
    if record.get("truncated"):
        return None
    if "line" in record:
        return str(record["line"]).encode()
    if "line_base64" in record:
        try:
            return base64.b64decode(str(record["line_base64"]), validate=True)
        except binascii.Error:
            return None  # edited by hand: as good as cut
    return None


config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The shipper's TOML config (default /etc/luna-events/ship.toml if present).",
)
file_option = click.option(
    "--file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The dead-letter file (default: the one the config names).",
)


@click.group("dead-letters")
def dead_letters() -> None:
    """What the shipper could not ship: list it, or replay it once the cause is fixed."""


@dead_letters.command("list")
@config_option
@file_option
@click.option("--records", is_flag=True, help="Also print each record (key, reason, line).")
def list_command(config_path: Path | None, file: Path | None, records: bool) -> None:
    """Dead letters waiting, grouped by reason (each key once)."""
    path = _dead_letter_file(config_path, file)
    waiting = pending(path)
    if not waiting:
        click.echo(f"{path}: no dead letters waiting")
        return
    click.echo(f"{path}: {len(waiting):,} dead letters waiting")
    groups = Counter(_group(r) for r in waiting)
    examples = {_group(r): _reason(r) for r in reversed(waiting)}
    for group, number in groups.most_common():
        click.echo(f"  {number:>8,}  {group}  (e.g. {examples[group]})")
    if records:
        for record in waiting:
            line = (_line(record) or b"<cut>").decode(errors="replace")[:200]
            click.echo(f"{record.get('key')}\t{_reason(record)}\t{line}")


@dead_letters.command("replay")
@config_option
@file_option
def replay_command(config_path: Path | None, file: Path | None) -> None:
    """Check invalid lines again and send them, and the refused points, through the
    configured sink. Exit 0 when nothing is left, 1 when something still fails."""
    try:
        config = ship_config.load(config_path or default_config_path())
    except ship_config.ConfigError as error:
        _fail(str(error))
    path = file or config.dead_letters
    waiting = pending(path)
    if not waiting:
        click.echo(f"{path}: no dead letters waiting")
        return
    try:
        sink = build_sink(config.sink)
    except ship_config.ConfigError as error:
        _fail(str(error))
    try:
        sent, left = _replay(waiting, sink, DeadLetters(path), config.batch)
    finally:
        sink.close()
    click.echo(f"{path}: {sent:,} replayed, {left:,} still waiting")
    if left:
        raise SystemExit(1)


class _Stopped(Exception):
    """The sink did not answer as a sink that works: stop replaying."""


def _replay(
    waiting: list[dict[str, Any]], sink: Sink, marks: DeadLetters, batch: BatchConfig
) -> tuple[int, int]:
    """Send what can be sent in batches (split in halves down to the points refused);
    mark each delivered key. The numbers replayed and still waiting."""
    transform = Transform()
    still: Counter[str] = Counter()
    ready: list[tuple[str, bytes]] = []
    for record in waiting:
        line = _line(record)
        if line is None:
            still["only a cut piece of the line was kept"] += 1
        elif _kind(record) == REJECTED:
            ready.append((str(record.get("key")), line.rstrip(b"\n") + b"\n"))
        else:
            outcome = transform(line)
            if outcome.kind is not LineKind.EVENT or outcome.line_protocol is None:
                still["still invalid: " + "; ".join(map(str, outcome.problems))[:160]] += 1
            else:
                ready.append((str(record.get("key")), outcome.line_protocol.encode() + b"\n"))
    sent = 0

    def send(points: list[tuple[str, bytes]]) -> None:
        nonlocal sent
        body = b"".join(protocol for _, protocol in points)
        result = sink.send(body)
        if result.ok:
            marks.write([{"key": key, "kind": REPLAYED} for key, _ in points])
            sent += len(points)
        elif result.status == TOO_LARGE or refuses_lines(result, body):
            if len(points) == 1:
                still[f"still refused ({result.status}): {result.message[:160]}"] += 1
            else:
                send(points[: len(points) // 2])
                send(points[len(points) // 2 :])
        else:
            answer = result.status if result.status is not None else "no answer"
            click.echo(
                f"{sink.name} did not take the points ({answer}: {result.message[:200]}); "
                f"stopping, {len(waiting) - sent - sum(still.values()):,} not tried",
                err=True,
            )
            raise _Stopped

    try:
        for begin, end in _batches([len(p) for _, p in ready], batch):
            send(ready[begin:end])
    except _Stopped:
        return sent, len(waiting) - sent
    except OSError as error:
        click.echo(f"cannot mark replayed records: {error}; stopping", err=True)
        return sent, len(waiting) - sent
    finally:
        marks.close()
    for reason, number in still.most_common():
        click.echo(f"  {number:>8,}  {reason}", err=True)
    return sent, sum(still.values())


def _batches(sizes: list[int], batch: BatchConfig) -> Iterator[tuple[int, int]]:
    """``(begin, end)`` of consecutive runs within the shipper's batch limits."""
    begin, size = 0, 0
    for number, length in enumerate(sizes):
        if number > begin and (
            number - begin >= batch.max_events or size + length > batch.max_bytes
        ):
            yield begin, number
            begin, size = number, 0
        size += length
    if begin < len(sizes):
        yield begin, len(sizes)
