"""``luna-events generate``: write the files derived from the catalog."""

from __future__ import annotations

from pathlib import Path

import click

import luna_events
from luna_events.cli import requires_extra

TARGETS = ("python", "docs", "vector", "grafana")
"""The generators' names (``luna_events.generate.GENERATORS``)."""


def source_checkout() -> Path | None:
    """The repository this package runs from, or None for an installed wheel."""
    root = Path(luna_events.__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    if pyproject.is_file() and 'name = "luna-events"' in pyproject.read_text(encoding="utf-8"):
        return root
    return None


@click.command()
@click.argument("targets", nargs=-1, type=click.Choice([*TARGETS, "all"]))
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write (default: the source checkout this package runs from).",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a file is stale.")
def generate(targets: tuple[str, ...], root: Path | None, check: bool) -> None:
    """Regenerate derived files (TARGETS: python, docs, ... or all; default all).

    Runs only from a source checkout: an installed package has no repository to write.
    """
    checkout = source_checkout()
    if checkout is None:
        click.echo(
            "luna-events generate: runs only from a source checkout (this package is installed"
            f" in {Path(luna_events.__file__).parent.parent}): clone the repository and run"
            " `make generate` there",
            err=True,
        )
        raise SystemExit(2)
    with requires_extra("generate", "dev"):
        from luna_events.generate import stale_files, write_files
    root = checkout if root is None else root
    chosen = list(TARGETS) if not targets or "all" in targets else list(targets)
    if check:
        stale = stale_files(root, chosen)
        for path in stale:
            click.echo(f"stale: {path} (run `luna-events generate`)", err=True)
        raise SystemExit(1 if stale else 0)
    for path in write_files(root, chosen):
        click.echo(f"wrote {path}")
