"""Private InfluxDB 1.x and VictoriaMetrics instances on 127.0.0.1, for tests and the demo.

Each server runs from the Debian package's binary with its own temporary data dir and
free ports, and never touches a system-wide instance. Use them as context managers::

    with InfluxDB1() as influx:
        influx.create_database("luna_monitoring")
        influx.write("luna_monitoring", body)
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from luna_events.errors import LunaEventsError


class ServerError(LunaEventsError, RuntimeError):
    """A private server could not be started or answered badly."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _binary(name: str, package: str) -> str:
    path = shutil.which(name) or (f"/usr/bin/{name}" if Path(f"/usr/bin/{name}").exists() else None)
    if path is None:
        raise ServerError(
            f"{name} is not installed: run `make servers` (apt-get install -y {package})"
        )
    return path


def _request(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None, timeout: float = 30
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=data, headers=headers or {}, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class _Server:
    """A child process with a data dir, started and stopped around a ``with`` block."""

    name = "server"

    def __init__(self) -> None:
        self.port = 0
        self.workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def url(self) -> str:
        """The HTTP base URL, e.g. ``http://127.0.0.1:40123``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the process is alive."""
        return self._process is not None and self._process.poll() is None

    def _command(self) -> list[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 30.0) -> Self:
        """Start the server (keeping its data dir across a stop/start) and wait until it answers."""
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix=f"luna-events-{self.name}-"))
            self.port = free_port()
        command = self._command()
        self._log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - closed in stop()
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise ServerError(f"{self.name} exited at start-up; see {self.workdir}/server.log")
            try:
                if self._ready():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise ServerError(f"{self.name} did not answer within {timeout}s")

    def stop(self) -> None:
        """Stop the server; its data dir stays until :meth:`close`."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def close(self) -> None:
        """Stop the server and delete its data dir."""
        self.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class InfluxDB1(_Server):
    """A private InfluxDB 1.x (the Debian ``influxd``), v1 API only: ``/write``, ``/query``.

    With ``admin=(user, password)`` authentication is on: the admin user is created
    at start-up and every request of this class authenticates as it.
    """

    name = "influxdb"

    def __init__(self, *, admin: tuple[str, str] | None = None) -> None:
        super().__init__()
        self.admin = admin

    def _auth_headers(self) -> dict[str, str]:
        if self.admin is None:
            return {}
        token = base64.b64encode(f"{self.admin[0]}:{self.admin[1]}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    def start(self, timeout: float = 30.0) -> Self:
        """Start the server; with ``admin``, create that user (the first user needs no auth)."""
        super().start(timeout)
        if self.admin is not None:
            user, password = self.admin
            statement = f"CREATE USER \"{user}\" WITH PASSWORD '{password}' WITH ALL PRIVILEGES"
            _request(
                f"{self.url}/query",
                urllib.parse.urlencode({"q": statement}).encode(),
                {"Content-Type": "application/x-www-form-urlencoded", **self._auth_headers()},
            )
        return self

    def _command(self) -> list[str]:
        assert self.workdir is not None
        rpc_port = free_port()
        config = self.workdir / "influxdb.conf"
        config.write_text(
            f"""reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"
[meta]
  dir = "{self.workdir}/meta"
  logging-enabled = false
[data]
  dir = "{self.workdir}/data"
  wal-dir = "{self.workdir}/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:{self.port}"
  log-enabled = false
  auth-enabled = {"true" if self.admin else "false"}
[logging]
  level = "warn"
""",
            encoding="utf-8",
        )
        return [_binary("influxd", "influxdb"), "run", "-config", str(config)]

    def _ready(self) -> bool:
        return _request(f"{self.url}/ping", timeout=1)[0] == 204

    def query(self, statement: str, database: str | None = None) -> dict[str, Any]:
        """Run InfluxQL; return the decoded JSON answer, raising on an error."""
        params = {"q": statement, "epoch": "ns"}
        if database:
            params["db"] = database
        status, body = _request(
            f"{self.url}/query",
            urllib.parse.urlencode(params).encode(),
            {"Content-Type": "application/x-www-form-urlencoded", **self._auth_headers()},
        )
        answer: dict[str, Any] = json.loads(body)
        errors = [r["error"] for r in answer.get("results", []) if "error" in r]
        if status != 200 or "error" in answer or errors:
            raise ServerError(
                f"query {statement!r} failed ({status}): {answer.get('error') or errors}"
            )
        return answer

    def create_database(self, database: str) -> None:
        """Create ``database`` (no-op if it exists)."""
        self.query(f'CREATE DATABASE "{database}"')

    def write(self, database: str, body: bytes, *, gzip: bool = False) -> tuple[int, bytes]:
        """POST line protocol to ``/write``; return the status and body."""
        headers = {"Content-Encoding": "gzip"} if gzip else {}
        headers.update(self._auth_headers())
        url = f"{self.url}/write?db={urllib.parse.quote(database)}&precision=ns"
        return _request(url, body, headers)

    def points(self, database: str, measurement: str | None = None) -> list[dict[str, Any]]:
        """Every point (of ``measurement``, or of all measurements) as dicts with
        ``measurement``, ``time`` (ns), ``tags`` and ``fields`` (nulls dropped).

        A name that is both a tag and a field comes back from ``SELECT *`` as the
        field ``name`` and the tag ``name_1``; it is given back as ``name`` in both."""
        tag_keys: dict[str, set[str]] = {}
        for row in self._rows(self.query("SHOW TAG KEYS", database)):
            tag_keys.setdefault(row["name"], set()).update(v[0] for v in row["values"])
        field_keys = {name: set(kinds) for name, kinds in self.field_types(database).items()}
        source = f'"{_quote_identifier(measurement)}"' if measurement else "/.*/"
        result = []
        for row in self._rows(self.query(f"SELECT * FROM {source}", database)):
            tags, fields = tag_keys.get(row["name"], set()), field_keys.get(row["name"], set())
            columns = row["columns"][1:]
            for values in row["values"]:
                point: dict[str, Any] = {
                    "measurement": row["name"],
                    "time": values[0],
                    "tags": {},
                    "fields": {},
                }
                for column, value in zip(columns, values[1:], strict=True):
                    if value is None:
                        continue
                    if column in fields:
                        point["fields"][column] = value
                    elif column in tags:
                        point["tags"][column] = value
                    elif column.endswith("_1") and column[:-2] in tags and column[:-2] in fields:
                        point["tags"][column[:-2]] = value
                result.append(point)
        return result

    def field_types(self, database: str) -> dict[str, dict[str, str]]:
        """``{measurement: {field: float|integer|string|boolean}}``."""
        types: dict[str, dict[str, str]] = {}
        for row in self._rows(self.query("SHOW FIELD KEYS", database)):
            types[row["name"]] = {name: kind for name, kind in row["values"]}
        return types

    @staticmethod
    def _rows(answer: dict[str, Any]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for result in answer.get("results", []):
            rows.extend(result.get("series", []))
        return rows


def _quote_identifier(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"')


class VictoriaMetrics(_Server):
    """A private VictoriaMetrics: accepts InfluxDB's ``/api/v2/write``, keeps numeric fields."""

    name = "victoria-metrics"

    def _command(self) -> list[str]:
        assert self.workdir is not None
        return [
            _binary("victoria-metrics", "victoria-metrics"),
            f"-storageDataPath={self.workdir}/data",
            f"-httpListenAddr=127.0.0.1:{self.port}",
            "-retentionPeriod=100y",
            "-loggerLevel=ERROR",
            "-search.disableCache",
        ]

    def _ready(self) -> bool:
        return _request(f"{self.url}/health", timeout=1)[0] == 200

    def export(self) -> list[dict[str, Any]]:
        """Every stored series as VictoriaMetrics exports it (labels, values, ms timestamps)."""
        _request(f"{self.url}/internal/force_flush")
        query = urllib.parse.urlencode({"match[]": '{__name__!=""}', "start": "0"})
        status, body = _request(f"{self.url}/api/v1/export?{query}")
        if status != 200:
            raise ServerError(f"export failed ({status}): {body[:200]!r}")
        return [json.loads(line) for line in body.splitlines() if line.strip()]
