"""``luna-events catalog``: print the series catalog."""

from __future__ import annotations

from typing import Any

import click
import orjson

from luna_events.catalog import CATALOG, FieldSpec, SeriesSpec, TagSpec


def catalog_as_json() -> list[dict[str, Any]]:
    """The catalog as plain data (what ``--format json`` prints)."""
    return [_series_json(spec) for spec in CATALOG.values()]


def _item_json(item: TagSpec | FieldSpec) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": item.name,
        "type": str(item.type),
        "required": item.required,
        "unit": str(item.unit) if item.unit else None,
        "description": item.description,
    }
    if isinstance(item, TagSpec):
        data["allowed"] = list(item.allowed)
        data["pattern"] = item.pattern
    return data


def _series_json(spec: SeriesSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "description": spec.description,
        "group": spec.group,
        "services": list(spec.services),
        "tags": [_item_json(t) for t in spec.tags],
        "fields": [_item_json(f) for f in spec.fields],
    }


def _describe(items: tuple[TagSpec, ...] | tuple[FieldSpec, ...]) -> str:
    return "\n".join(f"{i.name}{'*' if i.required else ''}: {i.type}" for i in items)


@click.command()
@click.option(
    "--format", "format_", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@click.option("--series", "only", multiple=True, help="Show only these series.")
def catalog(format_: str, only: tuple[str, ...]) -> None:
    """Print every series with its tags and fields (* = required)."""
    unknown = [name for name in only if name not in CATALOG]
    if unknown:
        raise click.UsageError(f"unknown series: {', '.join(unknown)}")
    specs = [CATALOG[name] for name in (only or CATALOG)]
    if format_ == "json":
        data = [_series_json(spec) for spec in specs]
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    try:
        from rich.console import Console
        from rich.table import Table
    except ModuleNotFoundError:  # the lean install has no rich: plain text
        for spec in specs:
            click.echo(f"{spec.name} ({', '.join(spec.services)}): {spec.description}")
            click.echo(f"  tags:   {_describe(spec.tags).replace(chr(10), ', ')}")
            click.echo(f"  fields: {_describe(spec.fields).replace(chr(10), ', ')}")
        return
    table = Table(title=f"{len(specs)} series", show_lines=True)
    for column in ("series", "services", "tags", "fields"):
        table.add_column(column)
    for spec in specs:
        table.add_row(
            f"{spec.name}\n[dim]{spec.description}[/dim]",
            "\n".join(spec.services),
            _describe(spec.tags),
            _describe(spec.fields),
        )
    Console().print(table)
