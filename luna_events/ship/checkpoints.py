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


class Checkpoints:
    """``fingerprint -> offset`` (bytes of complete lines consumed), saved atomically."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "checkpoints.json"
        self.offsets: dict[str, int] = {}
        self.paths: dict[str, str] = {}
        if self.path.exists():
            saved = json.loads(self.path.read_text(encoding="utf-8"))
            for entry in saved.get("files", []):
                self.offsets[entry["fingerprint"]] = int(entry["offset"])
                self.paths[entry["fingerprint"]] = entry.get("path", "")

    def get(self, fingerprint: str) -> int | None:
        """The saved offset of a file, or ``None`` if it was never read."""
        return self.offsets.get(fingerprint)

    def update(self, positions: dict[str, tuple[str, int]]) -> None:
        """Record ``fingerprint -> (path, offset)`` and save (temp file, fsync, rename)."""
        for fingerprint, (path, offset) in positions.items():
            if offset >= self.offsets.get(fingerprint, -1):
                self.offsets[fingerprint] = offset
                self.paths[fingerprint] = path
        self.save()

    def save(self) -> None:
        """Write all checkpoints atomically."""
        files = [
            {"fingerprint": f, "path": self.paths.get(f, ""), "offset": o}
            for f, o in self.offsets.items()
        ]
        temporary = self.path.with_suffix(".tmp")
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump({"version": 1, "files": files}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)
