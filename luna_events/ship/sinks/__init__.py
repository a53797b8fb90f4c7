"""Sinks: where batches of line protocol go, and what the answer was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SendResult:
    """A sink's answer to one batch.

    ``status`` is the HTTP status, or ``None`` when the request never got an answer
    (connection refused, timeout). ``retry_after`` is the server's ``Retry-After``
    in seconds, when it sent one.
    """

    status: int | None
    message: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        """The batch is stored: acknowledge it."""
        return self.status is not None and 200 <= self.status < 300


class Sink(Protocol):
    """Takes newline-terminated line protocol; answers like InfluxDB would."""

    name: str

    def send(self, body: bytes) -> SendResult:
        """Write one batch (uncompressed; the sink compresses if configured)."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
