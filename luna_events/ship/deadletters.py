"""The dead-letter file: one JSON line per line that could not be shipped, with why."""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path
from typing import Any

import orjson

from luna_events.errors import Problem

MAX_KEPT_BYTES = 64 * 1024
"""Longest piece of a bad line kept in its record."""


def _line_fields(data: bytes, full_length: int | None = None) -> dict[str, Any]:
    kept = data[:MAX_KEPT_BYTES]
    fields: dict[str, Any] = {"length": full_length if full_length is not None else len(data)}
    try:
        fields["line"] = kept.decode("utf-8")
    except UnicodeDecodeError:
        fields["line_base64"] = base64.b64encode(kept).decode()
    if fields["length"] > len(kept):
        fields["truncated"] = True
    return fields


class DeadLetters:
    """Appends dead-letter records to a JSONL file (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None
        self._lock = threading.Lock()
        self.count = 0

    def _write(self, record: dict[str, Any]) -> None:
        record = {"time": time.time(), **record}
        with self._lock:
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = open(self.path, "ab")  # noqa: SIM115 - closed in close()
            self._handle.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
            self._handle.flush()
            self.count += 1

    def invalid(
        self,
        source: str,
        offset: int,
        line: bytes,
        problems: tuple[Problem, ...],
        full_length: int | None = None,
    ) -> None:
        """A monitoring line the transform refused: its problems and where it came from."""
        self._write(
            {
                "reason": "; ".join(str(p) for p in problems),
                "problems": [
                    {"code": p.code, "path": p.path, "message": p.message} for p in problems
                ],
                "source": {"path": source, "offset": offset},
                **_line_fields(line, full_length),
            }
        )

    def rejected(self, sink: str, status: int | None, message: str, line_protocol: bytes) -> None:
        """A point the sink refused for good (a 400/422 on that line alone, or a 413)."""
        self._write(
            {
                "reason": f"{sink} refused the point ({status}): {message}",
                "problems": [{"code": "rejected_by_sink", "path": "line", "message": message}],
                "sink": {"name": sink, "status": status},
                **_line_fields(line_protocol.rstrip(b"\n")),
            }
        )

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
