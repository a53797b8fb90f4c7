"""The lean install's promises, checked fast in this venv (``make lean`` checks them in a
fresh one): the emitting side imports no extra, every subcommand is registered and
loads, a missing extra is named in one line, ``generate`` refuses outside a checkout."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import click
from click.testing import CliRunner

from luna_events.cli import COMMANDS, cli
from luna_events.cli import generate as generate_command
from luna_events.generate import GENERATORS

EXTRAS_MODULES = ("httpx", "influxdb_client", "grafana_foundation_sdk", "rich")

EMITTING = (
    "luna_events",
    "luna_events.compat",
    "luna_events.helpers.sdk",
    "luna_events.helpers.tasks",
    "luna_events.http.asgi",
    "luna_events.http.wsgi",
    "luna_events.logs.setup",
    "luna_events.logs.stdlib",
    "luna_events.logs.structlog_processors",
    "luna_events.cli.lines",
)


def test_the_emitting_side_imports_none_of_the_extras():
    program = (
        "import importlib, json, sys\n"
        f"for name in {EMITTING!r}: importlib.import_module(name)\n"
        f"extras = {EXTRAS_MODULES!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in extras)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


def test_every_subcommand_is_listed_and_loads():
    assert sorted(cli.list_commands(click.Context(cli))) == sorted(COMMANDS)
    for name, (module, attribute, _) in COMMANDS.items():
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command), name
        assert cli.get_command(click.Context(cli), name) is command


def test_a_subcommand_without_its_extra_names_it_in_one_line():
    program = (
        "import sys\n"
        "sys.modules['rich'] = None  # as if the [ship] extra were not installed\n"
        "from luna_events.cli import main\n"
        "sys.argv = ['luna-events', 'ship', '--once', 'x.jsonl']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "luna-events ship: needs the [ship] extra (no module 'rich'):"
        " pip install 'luna-events[ship]'"
    ]


def test_generate_knows_every_generator_and_refuses_outside_a_checkout(monkeypatch):
    assert set(generate_command.TARGETS) == set(GENERATORS)
    monkeypatch.setattr(generate_command, "source_checkout", lambda: None)
    result = CliRunner().invoke(cli, ["generate"])
    assert result.exit_code == 2
    assert len(result.output.splitlines()) == 1
    assert "runs only from a source checkout" in result.output
