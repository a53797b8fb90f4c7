"""A line-protocol file (or stdout) sink, for debugging and for checking a pipeline."""

from __future__ import annotations

import sys
from typing import BinaryIO

from luna_events.ship.config import ConfigError, FileSinkConfig
from luna_events.ship.config_errors import show
from luna_events.ship.sinks import SendResult


class FileSink:
    """Appends every batch to ``path`` (``-`` is standard output); always acknowledges."""

    name = "file"

    def __init__(self, config: FileSinkConfig) -> None:
        self._own = config.path != "-"
        try:
            self.stream: BinaryIO = open(config.path, "ab") if self._own else sys.stdout.buffer  # noqa: SIM115
        except OSError as error:
            raise ConfigError(
                f"sink.path = {show(config.path)}: cannot open it: {error.strerror or error}"
            ) from None

    def send(self, body: bytes) -> SendResult:
        self.stream.write(body)
        self.stream.flush()
        return SendResult(200)

    def close(self) -> None:
        if self._own:
            self.stream.close()
