"""``luna-events generate``: write the files derived from the catalog."""

from __future__ import annotations

from pathlib import Path

import click

from luna_events.generate import GENERATORS, stale_files, write_files


@click.command()
@click.argument("targets", nargs=-1, type=click.Choice([*GENERATORS, "all"]))
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The repository root.",
)
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a file is stale.")
def generate(targets: tuple[str, ...], root: Path, check: bool) -> None:
    """Regenerate derived files (TARGETS: python, docs, ... or all; default all)."""
    chosen = list(GENERATORS) if not targets or "all" in targets else list(targets)
    if check:
        stale = stale_files(root, chosen)
        for path in stale:
            click.echo(f"stale: {path} (run `luna-events generate`)", err=True)
        raise SystemExit(1 if stale else 0)
    for path in write_files(root, chosen):
        click.echo(f"wrote {path}")
