"""The real ``luna-events ship`` command refuses every configuration mistake in one
line naming the key, with exit 2, before anything runs; ``--check-config`` prints
the effective configuration with secrets hidden."""

# ruff: noqa: E501  (the table of mistakes reads best one case a line)

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from luna_events.ship.config import InfluxDBv2Config, convert

from .shipping import ship_config, write_toml

ROOT = Path(__file__).resolve().parent.parent


def run_ship(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``luna-events ship ARGS`` with only the ``LUNA_MONITORING_*`` variables in ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_MONITORING_")}
    return subprocess.run(
        [sys.executable, "-m", "luna_events.cli", "ship", *args],
        env={**clean, **(env or {})},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


MISTAKES: list[tuple[str, dict[str, Any], dict[str, str], str]] = [
    ("typo", {"sink": {"databse": "x"}}, {}, 'sink.databse = "x": not a key of influxdb_v1 sinks; did you mean "database"?'),
    ("string for int", {"batch": {"max_events": "5000"}}, {}, 'batch.max_events = "5000": expected an integer, got a string'),
    ("string for bool", {"enabled": "false"}, {}, 'enabled = "false": expected true or false, got a string'),
    ("word for int", {"sink": {"concurrency": "two"}}, {}, 'sink.concurrency = "two": expected an integer, got a string'),
    ("negative size", {"buffer": {"max_size": -1}}, {}, "buffer.max_size = -1: expected an integer >= 1"),
    ("user", {"sink": {"user": "admin"}}, {}, 'sink.user = "admin": not a key of influxdb_v1 sinks; did you mean "username"?'),
    ("zero concurrency", {"sink": {"concurrency": 0}}, {}, "sink.concurrency = 0: expected an integer >= 1"),
    ("read_from", {"source": {"read_from": "start"}}, {}, 'source.read_from = "start": expected one of "beginning", "end"'),
    ("url", {"sink": {"url": "influxdb:8086"}}, {}, 'sink.url = "influxdb:8086": expected an http:// or https:// URL'),
    ("v2 key on v1", {"sink": {"bucket": "b"}}, {}, 'sink.bucket = "b": not a key of influxdb_v1 sinks'),
    ("unknown table", {"sinks": {"type": "file"}}, {}, "sinks = {table}: not a key of the top level"),
    ("env number", {}, {"LUNA_MONITORING_FLUSHING_PERIOD": "soon"}, 'LUNA_MONITORING_FLUSHING_PERIOD = "soon" (for batch.timeout_secs): expected a number'),
    ("env bool", {}, {"LUNA_MONITORING_SSL_VERIFY": "maybe"}, 'LUNA_MONITORING_SSL_VERIFY = "maybe" (for sink.verify_ssl): expected true or false'),
    ("env range", {}, {"LUNA_MONITORING_FLUSHING_PERIOD": "-1"}, 'LUNA_MONITORING_FLUSHING_PERIOD = "-1" (for batch.timeout_secs): expected a number > 0'),
    ("env key of v2", {}, {"LUNA_MONITORING_TOKEN": "t0ken-value"}, "sink.token (from LUNA_MONITORING_TOKEN) = ***: not a key of influxdb_v1 sinks"),
    ("secret file", {}, {"LUNA_MONITORING_USER": "u", "LUNA_MONITORING_PASSWORD_FILE": "/nonexistent/pw"}, 'sink.password_file (from LUNA_MONITORING_PASSWORD_FILE) = "/nonexistent/pw": cannot read it'),
    ("v2 without token", {"sink": {"type": "influxdb_v2", "bucket": "b"}}, {}, "sink.token: influxdb_v2 needs a token"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("table", "environ", "message"),
    [case[1:] for case in MISTAKES],
    ids=[case[0] for case in MISTAKES],
)
def test_every_mistake_is_refused_in_one_line_naming_the_key(
    tmp_path: Path, table: dict[str, Any], environ: dict[str, str], message: str
):
    data = ship_config(tmp_path, {"type": "influxdb_v1", "url": "http://127.0.0.1:9"})
    for key, value in table.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_text("{}\n")
    config = write_toml(tmp_path / "ship.toml", data)
    result = run_ship("-c", str(config), "--once", "-vv", env=environ)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"luna-events ship: {message}"), lines
    assert not (tmp_path / "data").exists(), "nothing ran"
    assert "t0ken-value" not in result.stderr


def test_check_config_validates_the_example_and_hides_secrets(tmp_path: Path):
    example = ROOT / "deploy" / "ship.example.toml"
    secret = "example-secret-token-3141"
    result = run_ship("-c", str(example), "--check-config", env={"LUNA_MONITORING_TOKEN": secret})
    assert result.returncode == 0, result.stderr
    assert secret not in result.stdout + result.stderr
    shown = tomllib.loads(result.stdout)
    assert shown["sink"]["token"] == "***" and "token_file" not in shown["sink"]
    written = tomllib.loads(example.read_text(encoding="utf-8"))
    for table, content in written.items():
        if isinstance(content, dict):
            for key, value in content.items():
                if key != "token_file":
                    assert shown[table][key] == value, (table, key)
        else:
            assert shown[table] == content, table
    again = convert(shown)  # the printed config is itself a valid config
    assert isinstance(again.sink, InfluxDBv2Config) and again.sink.token is not None
    assert again.sink.token.reveal() == "***"


def test_the_examples_influxdb_v1_variant_validates_too(tmp_path: Path):
    text = (ROOT / "deploy" / "ship.example.toml").read_text(encoding="utf-8")
    v2_only = r'^(type = "influxdb_v2"|org = |bucket = |token_file = ).*$'
    variant = re.sub(r"^#   ", "", re.sub(v2_only, "", text, flags=re.M), flags=re.M)
    config = tmp_path / "v1.toml"
    config.write_text(variant, encoding="utf-8")
    result = run_ship(
        "-c", str(config), "--check-config", env={"LUNA_MONITORING_PASSWORD": "v1-secret-271"}
    )
    assert result.returncode == 0, result.stderr
    shown = tomllib.loads(result.stdout)["sink"]
    assert shown["type"] == "influxdb_v1" and shown["retention_policy"] == "autogen"
    assert shown["password"] == "***" and "v1-secret-271" not in result.stdout


def test_check_config_refuses_like_a_run(tmp_path: Path):
    config = write_toml(tmp_path / "ship.toml", {"sink": {"user": "admin"}})
    result = run_ship("-c", str(config), "--check-config", "/var/log/*.jsonl")
    assert result.returncode == 2 and "sink.user" in result.stderr
    assert result.stdout == ""
