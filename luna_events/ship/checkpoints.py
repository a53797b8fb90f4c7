"""Checkpoints: how far each file has been read, kept in the data dir.

Files are known by their *fingerprint*, a checksum of their first line (as
Vector's ``file`` source does), not by path or inode: a renamed file keeps its
checkpoint, a copy made by copytruncate is recognised as already read up to the
checkpoint, and a new file that reuses a path or an inode starts from zero.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from luna_events.ship.sources import Position


class Checkpoints:
    """``fingerprint -> position`` (bytes of complete lines consumed), saved atomically."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "checkpoints.json"
        self.positions: dict[str, Position] = {}
        if self.path.exists():
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            for entry in saved.get("files", []):
                self.positions[entry["fingerprint"]] = Position(
                    entry.get("path", ""),
                    int(entry["offset"]),
                    bytes.fromhex(entry.get("tail", "")),
                )

    def get(self, fingerprint: str) -> Position | None:
        """Where a file was left, or ``None`` if it was never read."""
        return self.positions.get(fingerprint)

    def update(self, positions: dict[str, Position]) -> None:
        """Record ``fingerprint -> position`` and save (temp file, fsync, rename).

        Batches commit in order, so the latest position is the truth, even when it is
        smaller (a file truncated and read again from its start)."""
        self.positions.update(positions)
        self.save()

    def save(self) -> None:
        """Write all checkpoints atomically."""
        files = [
            {"fingerprint": f, "path": p.path, "offset": p.offset, "tail": p.tail.hex()}
            for f, p in self.positions.items()
        ]
        temporary = self.path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"version": 1, "files": files}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
