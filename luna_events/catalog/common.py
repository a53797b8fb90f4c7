"""Series every LUNA service emits: ``requests`` and ``errors``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from luna_events.catalog.build import ROUTE_PATTERN, field, seconds, series, tag
from luna_events.catalog.model import FieldSpec, SeriesSpec, TagSpec, ValueType

HTTP = "http"


def route_tag() -> TagSpec:
    """``route``: ``METHOD:/resource`` built from the route template, never the raw path."""
    return tag(
        "route",
        ValueType.STR,
        "request method and resource template, e.g. GET:/version",
        pattern=ROUTE_PATTERN,
    )


def status_code_tag() -> TagSpec:
    """``status_code``: the HTTP status of the response."""
    return tag("status_code", ValueType.INT, "HTTP status code of the response")


def error_code_tag() -> TagSpec:
    """``error_code``: the LUNA error code (0 success, 1 unknown, 11xxx API errors)."""
    return tag("error_code", ValueType.INT, "LUNA error code")


def request_id_field() -> FieldSpec:
    """``request_id``: the request id (``LUNA-Request-Id``)."""
    return field("request_id", ValueType.STR, "request id", required=True)


def requests_series(
    services: Sequence[str],
    extra_tags: Iterable[TagSpec] = (),
    extra_fields: Iterable[FieldSpec] = (),
) -> SeriesSpec:
    """``requests``: one point per HTTP request."""
    return series(
        "requests",
        "every HTTP request, with its execution time",
        services,
        (route_tag(), status_code_tag(), *extra_tags),
        (
            request_id_field(),
            seconds("execution_time", "request execution time", required=True),
            *extra_fields,
        ),
        group=HTTP,
    )


def errors_series(services: Sequence[str], extra_tags: Iterable[TagSpec] = ()) -> SeriesSpec:
    """``errors``: one point per failed HTTP request, with the LUNA error code."""
    return series(
        "errors",
        "every failed HTTP request, with its LUNA error code",
        services,
        (route_tag(), status_code_tag(), error_code_tag(), *extra_tags),
        (request_id_field(),),
        group=HTTP,
    )


def licensing_series(
    services: Sequence[str], statuses: tuple[str, ...], extra_fields: Iterable[FieldSpec]
) -> SeriesSpec:
    """``licensing``: a license check, with the statuses and counters a service reports."""
    return series(
        "licensing",
        "a license check: sent when the liveness balance runs out, or at start-up and daily",
        services,
        (tag("license_status", ValueType.STR, "license status", allowed=statuses),),
        (
            *extra_fields,
            field("warnings", ValueType.STR, "license warning messages"),
            field("errors", ValueType.STR, "license error messages"),
        ),
        group="licensing",
    )
