"""The series catalog: the one source of truth for every monitoring series.

The Python API (:mod:`luna_events.series`), validation, the VRL type table in
``vector/`` and the Grafana dashboards are all derived from :data:`CATALOG`.
To add a service, declare its series in a module here and list it in
``_SERVICE_MODULES``.
"""

from __future__ import annotations

from luna_events.catalog import luna_remote_sdk, luna_tasks, platform, shipper
from luna_events.catalog.build import merge
from luna_events.catalog.model import Catalog, FieldSpec, SeriesSpec, TagSpec, Unit, ValueType

_SERVICE_MODULES = (luna_tasks, luna_remote_sdk, platform, shipper)

CATALOG = Catalog(merge(spec for module in _SERVICE_MODULES for spec in module.SERIES))
"""Every known series, merged across services."""

__all__ = ["CATALOG", "Catalog", "FieldSpec", "SeriesSpec", "TagSpec", "Unit", "ValueType"]
