"""Generate the Grafana dashboards in ``grafana/dashboards/`` from the catalog.

Built with grafana-foundation-sdk; the InfluxQL queries are raw queries against the
provisioned InfluxDB datasource (uid :data:`DATASOURCE_UID`), with Grafana's
``$timeFilter``, ``$__interval`` and the dashboards' template variables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat, table, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    ThresholdsMode,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.dashboard import Threshold as ThresholdModel

from luna_events.catalog import CATALOG
from luna_events.catalog.luna_remote_sdk import ESTIMATOR, USAGE_COUNTERS

DATASOURCE_UID = "luna-influxdb"
"""The InfluxQL datasource every panel uses (grafana/provisioning/datasources)."""
DATASOURCE = DataSourceRef(type_val="influxdb", uid=DATASOURCE_UID)
DIRECTORY = "grafana/dashboards"


@dataclass
class InfluxQL(cogvariants.Dataquery):
    """A raw InfluxQL query target."""

    query: str
    ref_id: str = "A"
    result_format: str = "time_series"
    alias: str = ""

    def to_json(self) -> dict[str, Any]:
        target: dict[str, Any] = {
            "refId": self.ref_id,
            "datasource": {"type": "influxdb", "uid": DATASOURCE_UID},
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias:
            target["alias"] = self.alias
        return target


@dataclass
class Query(cogbuilder.Builder[InfluxQL]):
    """Builder wrapper, as the SDK's panels take builders of targets."""

    target: InfluxQL = field(default_factory=lambda: InfluxQL(""))

    def build(self) -> InfluxQL:
        return self.target


def q(query: str, *, ref: str = "A", table_format: bool = False, alias: str = "") -> Query:
    """A raw InfluxQL target."""
    return Query(InfluxQL(query, ref, "table" if table_format else "time_series", alias))


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    """Absolute thresholds: ``(None, "green"), (0.5, "red")``."""
    return (
        dash.ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([ThresholdModel(value=value, color=color) for value, color in steps])
    )


OK = thresholds((None, "green"))


def series_panel(
    title: str,
    description: str,
    unit: str,
    targets: list[Query],
    *,
    limits: dash.ThresholdsConfig = OK,
    width: int = 12,
    stacked: bool = False,
) -> timeseries.Panel:
    """A time series panel with a description, a unit and thresholds."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .thresholds(limits)
        .height(8)
        .span(width)
        .targets(list(targets))
    )
    if stacked:
        panel = panel.fill_opacity(40)
    return panel


def table_panel(
    title: str, description: str, unit: str, query: str, *, width: int = 12
) -> table.Panel:
    """A table of one InfluxQL query in table format."""
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .thresholds(OK)
        .height(8)
        .span(width)
        .targets([q(query, table_format=True)])
    )


def stat_panel(
    title: str,
    description: str,
    unit: str,
    query: str,
    limits: dash.ThresholdsConfig,
    *,
    width: int = 6,
) -> stat.Panel:
    """A single-value panel with thresholds."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .thresholds(limits)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .height(5)
        .span(width)
        .targets([q(query)])
    )


def tag_variable(
    name: str, label: str, measurement: str, key: str, where: str = ""
) -> dash.QueryVariable:
    """A multi-value variable over a tag's values, with All."""
    source = measurement if measurement.startswith("/") else f'"{measurement}"'
    query = f'SHOW TAG VALUES FROM {source} WITH KEY = "{key}"' + (
        f" WHERE {where}" if where else ""
    )
    return (
        dash.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .multi(True)
        .include_all(True)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )


def base(uid: str, title: str, description: str) -> dash.Dashboard:
    """A dashboard with the project's defaults: last hour, 30 s refresh, UTC."""
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["luna", "monitoring"])
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("utc")
        .editable()
    )


SERVICE_FILTER = '"service" =~ /^$service$/'
ROUTE_FILTER = '"route" =~ /^$route$/'
HTTP_FILTER = f"{SERVICE_FILTER} AND {ROUTE_FILTER} AND $timeFilter"
ESTIMATORS = sorted(name for name, spec in CATALOG.items() if spec.group == ESTIMATOR)
ESTIMATOR_REGEX = "/^(" + "|".join(ESTIMATORS) + ")$/"


def overview() -> dash.Dashboard:
    """Request rate, latency, errors and status codes across services."""
    return (
        base("luna-overview", "LUNA overview", "HTTP requests and errors of every LUNA service.")
        .with_variable(tag_variable("service", "Service", "requests", "service"))
        .with_variable(tag_variable("route", "Route", "requests", "route", SERVICE_FILTER))
        .with_panel(
            series_panel(
                "Request rate",
                "Requests per second, per service (requests series).",
                "reqps",
                [
                    q(
                        f'SELECT count("execution_time") * 1000 / $__interval_ms FROM "requests" WHERE {HTTP_FILTER} GROUP BY time($__interval), "service" fill(0)',
                        alias="$tag_service",
                    )
                ],
            )
        )
        .with_panel(
            series_panel(
                "Error rate",
                "Failed requests per second, per service (errors series).",
                "reqps",
                [
                    q(
                        f'SELECT count("request_id") * 1000 / $__interval_ms FROM "errors" WHERE {HTTP_FILTER} GROUP BY time($__interval), "service" fill(0)',
                        alias="$tag_service",
                    )
                ],
                limits=thresholds((None, "green"), (1, "red")),
            )
        )
        .with_panel(
            series_panel(
                "Latency p50 / p95 / p99 per service",
                "Request execution time percentiles, per service.",
                "s",
                [
                    q(
                        f'SELECT percentile("execution_time", 50) AS "p50", percentile("execution_time", 95) AS "p95", percentile("execution_time", 99) AS "p99" FROM "requests" WHERE {HTTP_FILTER} GROUP BY time($__interval), "service"',
                        alias="$tag_service $col",
                    )
                ],
                limits=thresholds((None, "green"), (0.5, "orange"), (1, "red")),
                width=24,
            )
        )
        .with_panel(
            table_panel(
                "Latency per route",
                "Requests and execution time percentiles per route template over the range.",
                "s",
                f'SELECT count("execution_time") AS "requests", percentile("execution_time", 50) AS "p50", percentile("execution_time", 95) AS "p95", percentile("execution_time", 99) AS "p99" FROM "requests" WHERE {HTTP_FILTER} GROUP BY "service", "route"',
            )
        )
        .with_panel(
            table_panel(
                "Top error codes",
                "LUNA error codes of failed requests over the range, most frequent first per service.",
                "short",
                f'SELECT count("request_id") AS "errors" FROM "errors" WHERE {HTTP_FILTER} GROUP BY "service", "error_code", "status_code"',
            )
        )
        .with_panel(
            series_panel(
                "Status code mix",
                "Responses per interval by HTTP status code.",
                "short",
                [
                    q(
                        f'SELECT count("execution_time") FROM "requests" WHERE {HTTP_FILTER} GROUP BY time($__interval), "status_code" fill(0)',
                        alias="$tag_status_code",
                    )
                ],
                stacked=True,
                width=24,
            )
        )
    )


TASK_FILTER = '"task_type" =~ /^$task_type$/ AND $timeFilter'


def luna_tasks() -> dash.Dashboard:
    """Subtasks, their timings and errors, worker transport times, one task's detail."""
    return (
        base(
            "luna-tasks",
            "luna-tasks",
            "Task processing: subtasks per type, timings, errors, workers.",
        )
        .with_variable(tag_variable("task_type", "Task type", "subtask_final", "task_type"))
        .with_variable(
            tag_variable(
                "task_id", "Task", "subtask_final", "task_id", '"task_type" =~ /^$task_type$/'
            )
        )
        .with_panel(
            series_panel(
                "Subtasks per task type",
                "Finished subtasks per interval, per task type (subtask_final).",
                "short",
                [
                    q(
                        f'SELECT count("execution_time") FROM "subtask_final" WHERE {TASK_FILTER} GROUP BY time($__interval), "task_type" fill(0)',
                        alias="type $tag_task_type",
                    )
                ],
                stacked=True,
            )
        )
        .with_panel(
            series_panel(
                "Subtask execution time",
                "Mean and p95 subtask execution time per task type.",
                "s",
                [
                    q(
                        f'SELECT mean("execution_time") AS "mean", percentile("execution_time", 95) AS "p95" FROM "subtask_final" WHERE {TASK_FILTER} GROUP BY time($__interval), "task_type"',
                        alias="type $tag_task_type $col",
                    )
                ],
                limits=thresholds((None, "green"), (5, "orange"), (30, "red")),
            )
        )
        .with_panel(
            series_panel(
                "Subtask errors by code",
                "Subtask errors per interval by LUNA error code (subtask_errors).",
                "short",
                [
                    q(
                        f'SELECT count("error_code"::field) FROM "subtask_errors" WHERE {TASK_FILTER} GROUP BY time($__interval), "error_code"::tag fill(0)',
                        alias="code $tag_error_code",
                    )
                ],
                limits=thresholds((None, "green"), (1, "red")),
            )
        )
        .with_panel(
            series_panel(
                "Worker transport times",
                "Time in the worker queue (worker_queue) and to send a subtask to a worker (worker_requests).",
                "s",
                [
                    q(
                        f'SELECT mean("transport_time") AS "queue mean", percentile("transport_time", 95) AS "queue p95" FROM "worker_queue" WHERE {TASK_FILTER} GROUP BY time($__interval)',
                        ref="A",
                    ),
                    q(
                        'SELECT mean("transport_time") AS "send mean", percentile("transport_time", 95) AS "send p95" FROM "worker_requests" WHERE $timeFilter GROUP BY time($__interval)',
                        ref="B",
                    ),
                ],
                limits=thresholds((None, "green"), (1, "orange"), (5, "red")),
            )
        )
        .with_panel(
            table_panel(
                "Task drill-down",
                "Every finished subtask of the selected tasks, with its execution time and status.",
                "s",
                'SELECT "execution_time", "status", "subtask_id", "task_type" FROM "subtask_final" WHERE "task_id" =~ /^$task_id$/ AND $timeFilter',
                width=24,
            )
        )
    )


def luna_remote_sdk() -> dash.Dashboard:
    """Estimators, detections, image loading, usage counters, SDK loop and licensing."""
    usage = ", ".join(
        f'sum("{name}") AS "{name.removesuffix("_usages")}"' for name, _ in USAGE_COUNTERS
    )
    return (
        base(
            "luna-remote-sdk",
            "luna-remote-sdk",
            "SDK estimations, image loading, usage and licensing.",
        )
        .with_variable(
            dash.CustomVariable("estimator")
            .label("Estimator")
            .values(",".join(ESTIMATORS))
            .multi(True)
            .include_all(True)
        )
        .with_variable(tag_variable("batch_size", "Batch size", ESTIMATOR_REGEX, "batch_size"))
        .with_panel(
            series_panel(
                "Estimator execution time",
                "Mean estimation time per estimator series and batch size.",
                "s",
                [
                    q(
                        'SELECT mean("execution_time") FROM /^$estimator$/ WHERE "batch_size" =~ /^$batch_size$/ AND $timeFilter GROUP BY time($__interval), "batch_size"',
                        alias="$measurement (batch $tag_batch_size)",
                    )
                ],
                limits=thresholds((None, "green"), (0.1, "orange"), (0.5, "red")),
                width=24,
            )
        )
        .with_panel(
            series_panel(
                "Detections per request",
                "Mean detection_count of the detector series.",
                "short",
                [
                    q(
                        'SELECT mean("detection_count") FROM "face_detection", "body_detection", "human_detection" WHERE $timeFilter GROUP BY time($__interval)',
                        alias="$measurement",
                    )
                ],
            )
        )
        .with_panel(
            series_panel(
                "Image load time by format",
                "Mean image loading time per image format (image_load).",
                "s",
                [
                    q(
                        'SELECT mean("execution_time") FROM "image_load" WHERE $timeFilter GROUP BY time($__interval), "format"',
                        alias="$tag_format",
                    )
                ],
                limits=thresholds((None, "green"), (0.05, "orange"), (0.2, "red")),
            )
        )
        .with_panel(
            table_panel(
                "Image size by format",
                "Images loaded, mean size and mean dimensions per format over the range.",
                "decbytes",
                'SELECT count("execution_time") AS "images", mean("size") AS "mean size", mean("height") AS "mean height", mean("width") AS "mean width" FROM "image_load" WHERE $timeFilter GROUP BY "format"',
            )
        )
        .with_panel(
            series_panel(
                "Estimator usages",
                "usages_statistic: estimations performed per interval, per estimator.",
                "short",
                [
                    q(
                        f'SELECT {usage} FROM "usages_statistic" WHERE $timeFilter GROUP BY time($__interval)'
                    )
                ],
                stacked=True,
            )
        )
        .with_panel(
            series_panel(
                "SDK loop time per image count",
                "Mean sdkloop_task execution time by the number of images in a request.",
                "s",
                [
                    q(
                        'SELECT mean("execution_time") FROM "sdkloop_task" WHERE $timeFilter GROUP BY time($__interval), "image_count"',
                        alias="$tag_image_count images",
                    )
                ],
            )
        )
        .with_panel(
            stat_panel(
                "Liveness balance",
                "Liveness estimations left before the license expires (licensing); red below 100.",
                "short",
                'SELECT last("liveness_balance") FROM "licensing" WHERE $timeFilter',
                thresholds((None, "red"), (100, "orange"), (1000, "green")),
            )
        )
        .with_panel(
            table_panel(
                "License status",
                "License checks by status over the range, with the last warning.",
                "short",
                'SELECT count("liveness_balance") AS "checks", last("warnings") AS "last warning" FROM "licensing" WHERE $timeFilter GROUP BY "license_status"',
                width=18,
            )
        )
    )


def shipper() -> dash.Dashboard:
    """The fallback shipper's own counters."""
    rate = 'non_negative_derivative("{0}", 1s) AS "{1}"'
    return (
        base(
            "luna-shipper",
            "luna-events shipper",
            "Health of luna-events ship: throughput, dead letters, retries, lag, spool, senders, faults.",
        )
        .with_variable(tag_variable("host", "Host", "shipper", "host"))
        .with_panel(
            series_panel(
                "Events per second",
                "Events read and shipped per second, between the shipper's reports (shipper series).",
                "ops",
                [
                    q(
                        "SELECT "
                        + ", ".join(
                            rate.format(f, n)
                            for f, n in (("events_read", "read"), ("events_shipped", "shipped"))
                        )
                        + ' FROM "shipper" WHERE "host" =~ /^$host$/ AND $timeFilter GROUP BY "host"',
                        alias="$tag_host $col",
                    )
                ],
            )
        )
        .with_panel(
            series_panel(
                "Dead letters and retries",
                "Lines dead-lettered and sink requests retried, per second.",
                "ops",
                [
                    q(
                        "SELECT "
                        + ", ".join(
                            rate.format(f, n)
                            for f, n in (
                                ("events_dead_lettered", "dead-lettered"),
                                ("retries", "retries"),
                            )
                        )
                        + ' FROM "shipper" WHERE "host" =~ /^$host$/ AND $timeFilter GROUP BY "host"',
                        alias="$tag_host $col",
                    )
                ],
                limits=thresholds((None, "green"), (0.1, "red")),
            )
        )
        .with_panel(
            series_panel(
                "Lag",
                "Age of the oldest batch not yet acknowledged by the sink.",
                "s",
                [
                    q(
                        'SELECT last("lag_seconds") FROM "shipper" WHERE "host" =~ /^$host$/ AND $timeFilter GROUP BY time($__interval), "host"',
                        alias="$tag_host",
                    )
                ],
                limits=thresholds((None, "green"), (10, "orange"), (60, "red")),
            )
        )
        .with_panel(
            series_panel(
                "Spool size",
                "Bytes waiting in the disk buffer; reading pauses when it reaches buffer.max_size.",
                "decbytes",
                [
                    q(
                        'SELECT last("spool_bytes") FROM "shipper" WHERE "host" =~ /^$host$/ AND $timeFilter GROUP BY time($__interval), "host"',
                        alias="$tag_host",
                    )
                ],
                limits=thresholds(
                    (None, "green"), (128 * 1024 * 1024, "orange"), (240 * 1024 * 1024, "red")
                ),
            )
        )
        .with_panel(
            series_panel(
                "Senders working",
                "Senders running now against those configured (the sink's concurrency); "
                "fewer means a sender failed and waits to restart (see the shipper's log).",
                "short",
                [
                    q(
                        'SELECT last("senders_working") AS "working", last("senders") AS "configured"'
                        ' FROM "shipper" WHERE "host" =~ /^$host$/ AND $timeFilter GROUP BY time($__interval), "host"',
                        alias="$tag_host $col",
                    )
                ],
            )
        )
        .with_panel(
            series_panel(
                "Faults",
                "Per second: damaged spool segments quarantined, damaged records not sent, "
                "sender failures (restarted) and failed state writes (disk full...; reading "
                "waits). Anything above zero is in the shipper's log at ERROR.",
                "ops",
                [
                    q(
                        "SELECT "
                        + ", ".join(
                            rate.format(f, n)
                            for f, n in (
                                ("segments_quarantined", "segments quarantined"),
                                ("records_damaged", "records damaged"),
                                ("sender_failures", "sender failures"),
                                ("write_failures", "write failures"),
                            )
                        )
                        + ' FROM "shipper" WHERE "host" =~ /^$host$/ AND $timeFilter GROUP BY "host"',
                        alias="$tag_host $col",
                    )
                ],
                limits=thresholds((None, "green"), (0.001, "red")),
            )
        )
    )


DASHBOARDS = {
    "luna-overview.json": overview,
    "luna-tasks.json": luna_tasks,
    "luna-remote-sdk.json": luna_remote_sdk,
    "luna-shipper.json": shipper,
}


def render(builder: dash.Dashboard) -> str:
    """A dashboard as provisioned JSON, with panel ids numbered from 1."""
    document = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    for number, panel in enumerate(document.get("panels", []), start=1):
        panel["id"] = number
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def generate() -> dict[str, str]:
    """Every dashboard file, keyed by its path in the repository."""
    return {f"{DIRECTORY}/{name}": render(make()) for name, make in DASHBOARDS.items()}
