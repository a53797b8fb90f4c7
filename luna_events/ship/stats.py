"""The shipper's counters, shown on its status line and written as its own series."""

from __future__ import annotations

import socket
from dataclasses import asdict, dataclass

from luna_events.catalog.shipper import SHIPPER
from luna_events.event import Event, now_ns


@dataclass
class ShipperStats:
    """Counters since start; ``spool_*``, ``lag_seconds`` and ``senders_working`` are
    current values."""

    lines_read: int = 0
    events_read: int = 0
    events_shipped: int = 0
    own_points_shipped: int = 0
    lines_skipped: int = 0
    events_dead_lettered: int = 0
    retries: int = 0
    spool_bytes: int = 0
    spool_batches: int = 0
    lag_seconds: float = 0.0
    segments_quarantined: int = 0
    records_damaged: int = 0
    senders_working: int = 0
    senders: int = 0
    sender_failures: int = 0
    write_failures: int = 0
    unfinished: str = ""
    """Why a ``--once`` run stopped before everything was read and acknowledged (not sent
    in the ``shipper`` series)."""

    def as_event(self, sink: str) -> Event:
        """The counters as a point of the ``shipper`` series."""
        fields = asdict(self)
        del fields["unfinished"]
        return Event(
            "shipper",
            now_ns(),
            {"service": SHIPPER, "host": socket.gethostname(), "sink": sink},
            fields,
        )

    def line(self) -> str:
        """One status line for a terminal."""
        text = (
            f"read {self.events_read:,} events ({self.lines_skipped:,} other lines) · "
            f"shipped {self.events_shipped:,} · dead-lettered {self.events_dead_lettered:,} · "
            f"retries {self.retries:,} · spool {self.spool_bytes / 1e6:.1f} MB "
            f"in {self.spool_batches} batches · lag {self.lag_seconds:.1f} s · "
            f"senders {self.senders_working}/{self.senders}"
        )
        if self.segments_quarantined or self.records_damaged:
            text += (
                f" · quarantined {self.segments_quarantined} segments "
                f"({self.records_damaged} damaged records)"
            )
        if self.write_failures:
            text += f" · write failures {self.write_failures:,}"
        return text
