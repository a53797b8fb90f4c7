"""A line-protocol file (or stdout) sink, for debugging and for checking a pipeline."""

from __future__ import annotations

import sys
from typing import BinaryIO

from luna_events.ship.config import FileSinkConfig
from luna_events.ship.sinks import SendResult


class FileSink:
    """Appends every batch to ``path`` (``-`` is standard output); always acknowledges."""

    name = "file"

    def __init__(self, config: FileSinkConfig) -> None:
        self._own = config.path != "-"
        self.stream: BinaryIO = open(config.path, "ab") if self._own else sys.stdout.buffer  # noqa: SIM115

    def send(self, body: bytes) -> SendResult:
        self.stream.write(body)
        self.stream.flush()
        return SendResult(200)

    def close(self) -> None:
        if self._own:
            self.stream.close()
