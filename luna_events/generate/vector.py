"""Generate the Vector road from the rule plan: ``vector/remap.vrl`` and ``vector/catalog.csv``.

``catalog.csv`` is the catalog as the remap's enrichment table: one row per series,
its name, and its tags, fields, types, required keys, allowed values and patterns as
JSON, which ``vector/remap.vrl`` looks up with
``get_enrichment_table_record("luna_catalog", {"series": ...})``. One indexed lookup
per event, instead of building the whole catalog in every event. The program is
rendered by :mod:`luna_events.generate.remap_vrl`.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from luna_events.catalog import CATALOG, SeriesSpec
from luna_events.generate import remap_vrl

PATH = "vector/catalog.csv"


def series_spec(spec: SeriesSpec) -> dict[str, Any]:
    """What the remap needs to know about one series."""
    tags: dict[str, Any] = {}
    for tag in spec.tags:
        rule: dict[str, Any] = {"t": tag.type.value}
        if tag.allowed:
            rule["a"] = list(tag.allowed)
        if tag.pattern:
            rule["p"] = tag.pattern
        tags[tag.name] = rule
    return {
        "tags": tags,
        "fields": {f.name: {"t": f.type.value} for f in spec.fields},
        "required_tags": {t.name: True for t in spec.required_tags},
        "required_fields": {f.name: True for f in spec.required_fields},
    }


def catalog_csv() -> str:
    """The enrichment table's CSV text."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["series", "spec"])
    for spec in CATALOG.values():
        writer.writerow([spec.name, json.dumps(series_spec(spec), separators=(",", ":"))])
    return out.getvalue()


def generate() -> dict[str, str]:
    """The generated file, keyed by its path in the repository."""
    return {PATH: catalog_csv(), remap_vrl.PATH: remap_vrl.remap_program()}
