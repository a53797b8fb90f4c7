"""Files derived from the catalog. Each generator returns ``{path: content}``.

``luna-events generate`` writes them; ``luna-events generate --check`` (and the test
suite) fails when a committed file differs from what the catalog gives.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from luna_events.generate import docs, grafana, python_api, vector

Generator = Callable[[], dict[str, str]]

GENERATORS: dict[str, Generator] = {
    "python": python_api.generate,
    "docs": docs.generate,
    "vector": vector.generate,
    "grafana": grafana.generate,
}
"""Every generator by target name."""


def stale_files(root: Path, targets: list[str]) -> list[str]:
    """Paths (relative to ``root``) whose content differs from what is generated."""
    stale = []
    for target in targets:
        for relative, content in GENERATORS[target]().items():
            path = root / relative
            if not path.exists() or path.read_text(encoding="utf-8") != content:
                stale.append(relative)
    return stale


def write_files(root: Path, targets: list[str]) -> list[str]:
    """Write every generated file of ``targets`` under ``root``; return the paths written."""
    written = []
    for target in targets:
        for relative, content in GENERATORS[target]().items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            written.append(relative)
    return written
