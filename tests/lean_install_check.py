"""The lean install, as a service gets it: ``pip install luna-events`` with no extras.

Run by ``make lean`` (part of ``make test``). In a fresh venv it installs a copy of
this checkout (a real, non-editable install) plus structlog, as a service that
uses structlog has it; emits events through stdlib logging, structlog, the WSGI and
ASGI middlewares and the helpers; shows that none of the extras' modules were
imported (nor installed); lints what was written; and checks that the commands
needing an extra, or a checkout, refuse in one line with exit 2.

    python tests/lean_install_check.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXTRAS_MODULES = ("httpx", "influxdb_client", "grafana_foundation_sdk", "rich", "isal")
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "build", "dist"
)

SERVICE = r"""
import asyncio, json, logging, sys, wsgiref.util
import structlog
from luna_events import configure_logging, series, emit
import luna_events.compat  # the original platform's API, for migrating services
from luna_events.helpers.tasks import subtask
from luna_events.http.asgi import MonitoringMiddleware as AsgiMiddleware
from luna_events.http.wsgi import ROUTE_KEY, MonitoringMiddleware as WsgiMiddleware
from luna_events.logs.structlog_processors import LunaLineRenderer

path = sys.argv[1]
event = series.worker_queue(task_id=1, subtask_id=2, task_type=3, transport_time=0.25)
setup = configure_logging(service="luna-tasks-worker", path=path)
try:
    logging.getLogger("luna.monitoring").info("queue", extra=event.extra())
    emit(event)
    with subtask(task_id=1, subtask_id=2, task_type=3):
        pass

    def wsgi_app(environ, start_response):
        environ[ROUTE_KEY] = "/tasks/{task_id}"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/tasks/1"}
    wsgiref.util.setup_testing_defaults(environ)
    b"".join(WsgiMiddleware(wsgi_app, service="luna-tasks")(environ, lambda s, h, e=None: None))

    async def asgi_app(scope, receive, send):
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def nothing():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def ignore(message):
        pass

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "root_path": ""}
    asyncio.run(AsgiMiddleware(asgi_app, service="luna-tasks")(scope, nothing, ignore))
finally:
    setup.close()

with open(path, "ab") as log:
    structlog.configure(
        processors=[LunaLineRenderer(logger_name="luna.monitoring")],
        logger_factory=structlog.BytesLoggerFactory(log),
    )
    structlog.get_logger().info("queue", luna_event=event)
    structlog.get_logger().info("an ordinary structlog line", workers=4)

print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2:])))
"""


def run(*command: str | Path, expect: int = 0) -> subprocess.CompletedProcess[str]:
    """Run ``command``; fail the check when it exits otherwise than ``expect``."""
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True)
    if result.returncode != expect:
        sys.exit(
            f"lean install: {' '.join(map(str, command))} exited {result.returncode},"
            f" expected {expect}\n{result.stdout}{result.stderr}"
        )
    return result


def refuses_in_one_line(luna_events: Path, command: str, needle: str) -> None:
    """``luna-events COMMAND`` exits 2 with one line on stderr that contains ``needle``."""
    result = run(luna_events, command, expect=2)
    lines = result.stderr.strip().splitlines()
    if len(lines) != 1 or needle not in lines[0] or result.stdout:
        sys.exit(f"lean install: `luna-events {command}` said:\n{result.stdout}{result.stderr}")
    print(f"lean install: luna-events {command} -> exit 2: {lines[0]}")


def check(work: Path) -> None:
    """Every step of the check, in ``work``."""
    source = work / "source"
    shutil.copytree(ROOT, source, ignore=COPY_IGNORE)
    venv.EnvBuilder(with_pip=True).create(work / "venv")
    bin_dir = work / "venv" / "bin"
    run(bin_dir / "python", "-m", "pip", "install", "--quiet", str(source), "structlog")
    installed = run(bin_dir / "python", "-m", "pip", "list", "--format=freeze").stdout.lower()
    names = {line.split("==")[0].replace("-", "_") for line in installed.splitlines()}
    heavy = sorted(names & {m.lower() for m in EXTRAS_MODULES})
    if heavy:
        sys.exit(f"lean install: installed without extras, yet brought {heavy}")

    log = work / "service.jsonl"
    imported = run(bin_dir / "python", "-c", SERVICE, log, *EXTRAS_MODULES).stdout.strip()
    if imported != "[]":
        sys.exit(f"lean install: emitting imported {imported}")
    print(f"lean install: emitting imported none of {', '.join(EXTRAS_MODULES)}")

    luna_events = bin_dir / "luna-events"
    linted = run(luna_events, "lint", log)
    print(f"lean install: luna-events lint: {linted.stderr.strip()}")
    events = run(luna_events, "encode", log).stdout.splitlines()
    if len(events) < 6:
        sys.exit(f"lean install: expected at least 6 events, encode gave {len(events)}")
    listed = "import json; from luna_events.cli import COMMANDS; print(json.dumps(COMMANDS))"
    commands = json.loads(run(bin_dir / "python", "-c", listed).stdout)
    for name, (_, _, extra) in sorted(commands.items()):
        if extra is not None and name != "generate":
            refuses_in_one_line(luna_events, name, f"pip install 'luna-events[{extra}]'")
    refuses_in_one_line(luna_events, "generate", "runs only from a source checkout")
    run(luna_events, "catalog", "--series", "worker_queue")
    print(f"lean install: ok ({len(events)} events written, linted and encoded)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="Work in this directory and keep it.")
    arguments = parser.parse_args()
    if arguments.keep is not None:
        arguments.keep.mkdir(parents=True, exist_ok=False)
        check(arguments.keep)
        return
    with tempfile.TemporaryDirectory(prefix="luna-lean-") as work:
        check(Path(work))


if __name__ == "__main__":
    main()
