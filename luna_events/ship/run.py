"""Starting the shipper: config to topology, signals, the status line, the summary."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.live import Live
from rich.table import Table

from luna_events.ship import lock
from luna_events.ship.checkpoints import Checkpoints
from luna_events.ship.config import ShipConfig
from luna_events.ship.sinks.registry import build_sink
from luna_events.ship.sources import Source
from luna_events.ship.sources.file import FileSource, make_data_dir
from luna_events.ship.sources.stdin import StdinSource
from luna_events.ship.stats import ShipperStats
from luna_events.ship.topology import Topology

log = logging.getLogger("luna_events.ship")


def build_topology(config: ShipConfig, *, once: bool = False) -> Topology:
    """The source, sink and topology ``config`` describes."""
    make_data_dir(config.data_dir)
    lock.hold(config.data_dir)  # before anything reads or writes the data dir
    source: Source
    if config.source.type == "stdin":
        source = StdinSource(max_line_bytes=config.source.max_line_bytes)
    else:
        checkpoints = Checkpoints(config.data_dir, fsync=config.buffer.fsync)
        source = FileSource(config.source, checkpoints, once=once)
    return Topology(config, source, build_sink(config.sink), once=once)


def _install_signals(topology: Topology) -> None:
    """The first SIGTERM/SIGINT/SIGHUP starts a bounded stop, the second stops at once.

    The handlers do nothing themselves: Python runs a handler in the main thread
    between two bytecodes, possibly while that thread holds the lock of the very
    ``threading.Event`` the handler would set (inside ``stop.wait()``), which
    deadlocks the stop for good. The signal's number reaches a watcher thread through
    ``signal.set_wakeup_fd`` instead, and the watcher logs and stops the topology.
    """
    watched, wakeup = socket.socketpair()
    wakeup.setblocking(False)
    signal.set_wakeup_fd(wakeup.fileno(), warn_on_full_buffer=False)

    def on_signal(number: int) -> None:
        if topology.stopping:
            log.warning("signal %d again: stopping at once", number)
            topology.hurry()
        else:
            log.warning(
                "signal %d: spooling the open batch and stopping (send it again to stop at once)",
                number,
            )
            topology.stopping = True
            topology.stop.set()

    stopping_signals = {signal.SIGTERM, signal.SIGINT}
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # nohup: stays ignored
        stopping_signals.add(signal.SIGHUP)  # a closed terminal: stop as cleanly

    def watch() -> None:
        with watched, wakeup:  # both sockets live as long as the watcher
            while numbers := watched.recv(64):
                for number in numbers:
                    if number in stopping_signals:  # the fd carries every handled signal
                        on_signal(number)

    threading.Thread(target=watch, name="luna-events-signals", daemon=True).start()
    for number in stopping_signals:
        signal.signal(number, _noted)


def _noted(number: int, frame: FrameType | None) -> None:
    """A signal's Python handler: the wakeup fd has already told the watcher thread."""


def summary_table(
    stats: ShipperStats, dead_letters: Path | None = None, quarantine: Path | None = None
) -> Table:
    """The end-of-run summary: the services' events apart from the shipper's own points,
    where dead letters went (the full path is in the log line above it), sender
    health, damage found and what is left."""
    dead = f"{stats.events_dead_lettered:,}"
    if stats.events_dead_lettered and dead_letters is not None:
        dead += f" → {dead_letters.name}"
    senders = f"{stats.senders_working} of {stats.senders} working"
    if stats.sender_failures:
        senders += f", {stats.sender_failures:,} failures (see the log)"
    rows = [
        ("lines read", f"{stats.lines_read:,}"),
        ("monitoring events read", f"{stats.events_read:,}"),
        ("events shipped", f"{stats.events_shipped:,}"),
        ("shipper's own points shipped", f"{stats.own_points_shipped:,}"),
        ("ordinary lines skipped", f"{stats.lines_skipped:,}"),
        ("dead-lettered", dead),
        ("retries", f"{stats.retries:,}"),
        ("senders", senders),
    ]
    if stats.segments_quarantined or stats.records_damaged:
        rows.append(
            (
                "damaged spool segments",
                f"{stats.segments_quarantined} quarantined, "
                f"{stats.records_damaged} damaged records not sent",
            )
        )
        if quarantine is not None:
            rows.append(("quarantine", quarantine.name))
    if stats.unfinished:
        rows.append(("not finished", stats.unfinished))
    if stats.write_failures:
        rows.append(("failed state writes (waited)", f"{stats.write_failures:,}"))
    rows.append(
        ("left in the spool", f"{stats.spool_batches} batches, {stats.spool_bytes:,} bytes")
    )
    table = Table(title="luna-events ship", show_header=False)
    for label, value in rows:
        table.add_row(label, value)
    return table


def ship(
    config: ShipConfig,
    *,
    once: bool = False,
    drain_timeout: float | None = None,
    status: bool | None = None,
    console: Console | None = None,
) -> ShipperStats:
    """Run the shipper in this thread until stopped (or drained, with ``once``)."""
    console = console or Console(stderr=True)
    try:
        topology = build_topology(config, once=once)
    except lock.DataDirError as error:
        fail(str(error))
    if threading.current_thread() is threading.main_thread():
        _install_signals(topology)
    show_status = console.is_terminal if status is None else status
    done = threading.Event()

    def refresh_status(live: Live) -> None:
        while not done.wait(0.5):
            topology.refresh()
            live.update(topology.stats.line())

    if show_status:
        with Live(topology.stats.line(), console=console, transient=True) as live:
            updater = threading.Thread(target=refresh_status, args=(live,), daemon=True)
            updater.start()
            stats = topology.run(drain_timeout=drain_timeout)
            done.set()
            updater.join()
    else:
        stats = topology.run(drain_timeout=drain_timeout)
    return stats


def default_config_path() -> Path | None:
    """``/etc/luna-events/ship.toml`` when it exists."""
    path = Path("/etc/luna-events/ship.toml")
    return path if path.exists() else None


def fail(message: str) -> None:
    """Print a configuration error and exit 2."""
    print(f"luna-events ship: {message}", file=sys.stderr)
    raise SystemExit(2)
