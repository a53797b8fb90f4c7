"""``luna-events report``: the key overview panels as terminal tables, read from InfluxDB.

For hosts without Grafana. It runs the same kind of InfluxQL the overview
dashboard runs (InfluxDB 1.x, or 2.x through its v1 ``/query`` compatibility API
with a DBRP mapping) and draws request rate sparklines with block characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from luna_events.errors import LunaEventsError
from luna_events.ship.secrets import Secret, split_url_credentials

SPARKS = "▁▂▃▄▅▆▇█"
LATENCY = (
    'count("execution_time"), percentile("execution_time", 50), '
    'percentile("execution_time", 95), percentile("execution_time", 99)'
)


class ReportError(LunaEventsError, RuntimeError):
    """InfluxDB could not answer a report query."""


@dataclass
class InfluxQLClient:
    """A minimal InfluxQL client: ``/query`` with optional token or basic auth.

    Credentials in ``url`` are moved into ``username``/``password``, so that
    error messages, which show the URL, never show them.
    """

    url: str
    database: str
    token: Secret | None = None
    username: str | None = None
    password: Secret | None = None

    def __post_init__(self) -> None:
        self.url, username, password = split_url_credentials(self.url)
        self.username = self.username or username
        self.password = self.password or password

    def rows(self, statement: str) -> list[dict[str, Any]]:
        """The series of one statement's answer (each with name, tags, columns, values)."""
        headers = {"Authorization": f"Token {self.token.reveal()}"} if self.token else {}
        password = self.password.reveal() if self.password else ""
        auth = (self.username, password) if self.username else None
        try:
            response = httpx.post(
                f"{self.url.rstrip('/')}/query",
                data={"q": statement, "db": self.database, "epoch": "s"},
                headers=headers,
                auth=auth,
                timeout=30,
            )
        except httpx.HTTPError as error:
            raise ReportError(f"cannot reach InfluxDB at {self.url}: {error}") from error
        if response.status_code != 200:
            text = " ".join(response.text.split())[:200]  # one line, even from a web page
            raise ReportError(f"InfluxDB answered {response.status_code}: {text}")
        try:
            results = response.json().get("results", [])
        except (ValueError, AttributeError):
            raise ReportError(f"{self.url} answered 200 without InfluxDB's JSON") from None
        series: list[dict[str, Any]] = []
        for result in results:
            if "error" in result:
                raise ReportError(f"{statement}: {result['error']}")
            series.extend(result.get("series", []))
        return series


def sparkline(values: list[float]) -> str:
    """Values as a row of block characters, scaled to their maximum."""
    top = max(values, default=0) or 1
    return "".join(
        SPARKS[min(len(SPARKS) - 1, int(v / top * (len(SPARKS) - 1) + 0.5))] for v in values
    )


def _ms(seconds: float | None) -> str:
    """Milliseconds, without the unit: the column header names it (80 columns fit)."""
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def services_table(client: InfluxQLClient, since: str, bucket: str) -> Table:
    """Per service: request rate with a sparkline, latency percentiles, error ratio."""
    table = Table(
        title=f"Requests, last {since} (under each service: its rate per {bucket})",
        title_justify="left",
    )
    table.add_column("service", no_wrap=True)  # the sparkline goes under the name: 80 columns fit
    for column in ("req/s", "p50 ms", "p95 ms", "p99 ms", "errors"):
        table.add_column(column, justify="right")
    window = f"time > now() - {since}"
    totals = {
        s["tags"]["service"]: s["values"][0]
        for s in client.rows(f'SELECT {LATENCY} FROM "requests" WHERE {window} GROUP BY "service"')
    }
    errors = {
        s["tags"]["service"]: s["values"][0][1]
        for s in client.rows(
            f'SELECT count("request_id") FROM "errors" WHERE {window} GROUP BY "service"'
        )
    }
    rates = {
        s["tags"]["service"]: [row[1] or 0 for row in s["values"]]
        for s in client.rows(
            f'SELECT count("execution_time") FROM "requests" WHERE {window} '
            f'GROUP BY time({bucket}), "service" fill(0)'
        )
    }
    seconds = _seconds(since)
    for service, (_, count, p50, p95, p99) in sorted(totals.items()):
        failed = errors.get(service, 0)
        table.add_row(
            Text.assemble(service, "\n", sparkline(rates.get(service, []))),
            f"{count / seconds:.1f}",
            _ms(p50),
            _ms(p95),
            _ms(p99),
            f"{failed} ({failed / count:.1%})" if count else "0",
        )
    return table


def routes_table(client: InfluxQLClient, since: str, limit: int = 10) -> Table:
    """The slowest routes by p95."""
    table = Table(title=f"Slowest routes (p95), last {since}", title_justify="left")
    table.add_column("route (service)", no_wrap=True)  # never cut: routes differ at the end
    for column in ("requests", "p50 ms", "p95 ms", "p99 ms"):
        table.add_column(column, justify="right")
    rows = []
    for series in client.rows(
        f'SELECT {LATENCY} FROM "requests" WHERE time > now() - {since} GROUP BY "service", "route"'
    ):
        _, count, p50, p95, p99 = series["values"][0]
        rows.append((p95 or 0, series["tags"]["service"], series["tags"]["route"], count, p50, p99))
    for p95, service, route, count, p50, p99 in sorted(rows, reverse=True)[:limit]:
        where = Text.assemble(route, "\n", (service, "dim"))
        table.add_row(where, str(count), _ms(p50), _ms(p95), _ms(p99))
    return table


def errors_table(client: InfluxQLClient, since: str, limit: int = 10) -> Table:
    """The most frequent LUNA error codes."""
    table = Table(title=f"Top error codes, last {since}", title_justify="left")
    for column in ("service", "error code", "status", "count"):
        table.add_column(column, justify="right" if column == "count" else "left")
    rows = [
        (s["values"][0][1], s["tags"]["service"], s["tags"]["error_code"], s["tags"]["status_code"])
        for s in client.rows(
            f'SELECT count("request_id") FROM "errors" WHERE time > now() - {since} '
            'GROUP BY "service", "error_code", "status_code"'
        )
    ]
    for count, service, code, status in sorted(rows, reverse=True)[:limit]:
        table.add_row(service, code, status, str(count))
    return table


def status_table(client: InfluxQLClient, since: str) -> Table:
    """Responses by HTTP status code, with their share."""
    table = Table(title=f"Status codes, last {since}", title_justify="left")
    for column in ("status", "count", "share"):
        table.add_column(column, justify="left" if column != "count" else "right")
    statement = (
        f'SELECT count("execution_time") FROM "requests" WHERE time > now() - {since} '
        'GROUP BY "status_code"'
    )
    rows = [(s["tags"]["status_code"], s["values"][0][1]) for s in client.rows(statement)]
    total = sum(count for _, count in rows) or 1
    for status, count in sorted(rows):
        share = count / total
        table.add_row(status, str(count), f"{'█' * max(1, round(share * 30))} {share:.1%}")
    return table


def _seconds(since: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    return float(since[:-1]) * units[since[-1]]


def report(client: InfluxQLClient, since: str = "15m", bucket: str = "1m") -> RenderableType:
    """The whole report."""
    return Panel(
        Group(
            services_table(client, since, bucket),
            routes_table(client, since),
            errors_table(client, since),
            status_table(client, since),
        ),
        title=f"LUNA monitoring · {client.database}",
        title_align="left",
    )
