"""The real ``luna-events ship`` command refuses every configuration mistake in one
line naming the key, with exit 2, before anything runs; ``--check-config`` prints
the effective configuration with secrets hidden."""

# ruff: noqa: E501  (the table of mistakes reads best one case a line)

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from luna_events.ship.config import ConfigError, convert

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
    ("url port", {"sink": {"url": "http://luna:t0ken-value@db:99999"}}, {}, 'sink.url = "http://***@db:99999": not a URL with a host and a port'),
    ("url ipv6", {}, {"LUNA_MONITORING_URL": "http://luna:t0ken-value@[::1:8086"}, 'sink.url (from LUNA_MONITORING_URL) = "http://***@[::1:8086": not a URL'),
    ("url # in password", {"sink": {"url": "http://luna:t0ken#value@db:8086"}}, {}, 'sink.url = "http://***@db:8086": an @ after the host: in a user or password write / ? # as %2F %3F %23'),
    ("url / in password", {}, {"LUNA_MONITORING_URL": "http://luna:t0ken/value@db"}, 'sink.url (from LUNA_MONITORING_URL) = "http://***@db": an @ after the host'),
    ("url no scheme", {"sink": {"url": "luna:t0ken-value@db:8086"}}, {}, 'sink.url = "***@db:8086": expected an http:// or https:// URL'),
    ("env url no scheme", {}, {"LUNA_MONITORING_URL": "luna:t0ken-value@db"}, 'LUNA_MONITORING_URL = "***@db" (for sink.url): expected an http://'),
    ("infinite timeout", {"sink": {"timeout_secs": float("inf")}}, {}, "sink.timeout_secs = inf: expected a number <= 86400.0"),
    ("infinite backoff", {"retry": {"max_backoff_secs": float("inf")}}, {}, "retry.max_backoff_secs = inf: expected a number <= 86400.0"),
    ("env infinite period", {}, {"LUNA_MONITORING_FLUSHING_PERIOD": "inf"}, 'LUNA_MONITORING_FLUSHING_PERIOD = "inf" (for batch.timeout_secs): expected a number <= 86400.0'),
    ("bool for int", {"sink": {"concurrency": True}}, {}, "sink.concurrency = true: expected an integer, got true or false"),
    ("empty secret file", {}, {"LUNA_MONITORING_USER": "u", "LUNA_MONITORING_PASSWORD_FILE": "{tmp}/empty"}, 'sink.password_file (from LUNA_MONITORING_PASSWORD_FILE) = "{tmp}/empty": the file is empty'),
    ("two-line secret file", {}, {"LUNA_MONITORING_USER": "u", "LUNA_MONITORING_PASSWORD_FILE": "{tmp}/two-lines"}, 'sink.password_file (from LUNA_MONITORING_PASSWORD_FILE) = "{tmp}/two-lines": expected the password alone on one line'),
    ("secret file is a dir", {}, {"LUNA_MONITORING_USER": "u", "LUNA_MONITORING_PASSWORD_FILE": "{tmp}"}, 'sink.password_file (from LUNA_MONITORING_PASSWORD_FILE) = "{tmp}": cannot read it: Is a directory'),
    ("placeholder secret", {"sink": {"username": "u", "password": "***"}}, {}, "sink.password = ***: the placeholder --check-config prints: give the secret itself"),
    ("misspelt password", {"sink": {"username": "u", "pasword": "t0ken-value"}}, {}, 'sink.pasword = ***: not a key of influxdb_v1 sinks; did you mean "password"?'),
    ("misspelt token", {"sink": {"type": "influxdb_v2", "bucket": "b", "tokn": "t0ken-value"}}, {}, 'sink.tokn = ***: not a key of influxdb_v2 sinks; did you mean "token"?'),
    ("v2 token and user", {"sink": {"type": "influxdb_v2", "bucket": "b", "token": "t0ken-value"}}, {"LUNA_MONITORING_USER": "luna", "LUNA_MONITORING_PASSWORD": "t0ken-pw"}, 'sink.username (from LUNA_MONITORING_USER) = "luna": influxdb_v2 takes a token, or username and password (InfluxDB 1.8+), not both'),
    ("env placeholder secret", {}, {"LUNA_MONITORING_USER": "u", "LUNA_MONITORING_PASSWORD": "***"}, "LUNA_MONITORING_PASSWORD = *** (for sink.password): the placeholder"),
]  # fmt: skip


def _mistake_run(
    tmp_path: Path, table: dict[str, Any], environ: dict[str, str]
) -> subprocess.Popen[str]:
    """Start ``luna-events ship --once`` on a config in ``tmp_path`` with ``table``
    merged into it and ``environ`` set."""
    data = ship_config(tmp_path, {"type": "influxdb_v1", "url": "http://127.0.0.1:9"})
    for key, value in table.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key].update(value)
        else:
            data[key] = value
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_text("{}\n")
    (tmp_path / "empty").write_text("")
    (tmp_path / "two-lines").write_text("t0ken-value\nsecond line\n")
    config = write_toml(tmp_path / "ship.toml", data)
    environ = {key: value.replace("{tmp}", str(tmp_path)) for key, value in environ.items()}
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_MONITORING_")}
    return subprocess.Popen(
        [sys.executable, "-m", "luna_events.cli", "ship", "-c", str(config), "--once", "-vv"],
        env={**clean, **environ},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def refusals(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Path, int, str]]:
    """Every mistake's run, started side by side (one process each, as an operator
    would run it): the case's directory, exit code and stderr."""
    started = {}
    for name, table, environ, _ in MISTAKES:
        tmp_path = tmp_path_factory.mktemp("mistake")
        started[name] = (tmp_path, _mistake_run(tmp_path, table, environ))
    outcomes = {}
    for name, (tmp_path, process) in started.items():
        _, stderr = process.communicate(timeout=120)
        outcomes[name] = (tmp_path, process.returncode, stderr)
    return outcomes


@pytest.mark.parametrize(
    ("name", "message"),
    [(case[0], case[3]) for case in MISTAKES],
    ids=[case[0] for case in MISTAKES],
)
def test_every_mistake_is_refused_in_one_line_naming_the_key(
    refusals: dict[str, tuple[Path, int, str]], name: str, message: str
):
    tmp_path, returncode, stderr = refusals[name]
    assert returncode == 2, stderr
    lines = stderr.splitlines()
    expected = f"luna-events ship: {message.replace('{tmp}', str(tmp_path))}"
    assert len(lines) == 1 and lines[0].startswith(expected), lines
    assert not (tmp_path / "data").exists(), "nothing ran"
    assert "t0ken" not in stderr, "no part of a secret is shown"


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
    with pytest.raises(ConfigError, match=r"^sink.token = \*\*\*: the placeholder --check-config"):
        convert(shown)  # read back, "***" is refused, not sent to InfluxDB as the token
    token_file = tmp_path / "token"
    token_file.write_text(secret + "\n")
    from_file = run_ship(
        "-c", str(example), "--check-config", env={"LUNA_MONITORING_TOKEN_FILE": str(token_file)}
    )
    assert from_file.returncode == 0, from_file.stderr
    assert f"token_file = {json.dumps(str(token_file))}" in from_file.stdout
    assert "token =" not in from_file.stdout and secret not in from_file.stdout
    again = tmp_path / "again.toml"  # a secret from a file: the output reads back as itself
    again.write_text(from_file.stdout, encoding="utf-8")
    assert run_ship("-c", str(again), "--check-config").stdout == from_file.stdout


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


@pytest.mark.parametrize("option", ["--since", "--bucket"])
@pytest.mark.parametrize("value", ["1w2", "0m", "90", "1h30m", "15 m", ""])
def test_report_refuses_a_duration_it_cannot_read(option: str, value: str):
    result = subprocess.run(
        [sys.executable, "-m", "luna_events.cli", "report", option, value],
        env={k: v for k, v in os.environ.items() if not k.startswith("LUNA_MONITORING_")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"luna-events report: {option} {value!r}: expected a duration like 30s, 15m, 2h, 1d, 1w"
    ]


@pytest.mark.parametrize("where", ["no/such/dir/out.lp", "."])
def test_a_file_sink_that_cannot_be_opened_is_refused_in_one_line(tmp_path: Path, where: str):
    path = tmp_path / where
    data = ship_config(tmp_path, {"type": "file", "path": str(path)})
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_text("{}\n")
    result = run_ship("-c", str(write_toml(tmp_path / "ship.toml", data)), "--once")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f'luna-events ship: sink.path = "{path}": cannot open it: '
        + ("Is a directory" if where == "." else "No such file or directory")
    ]


@pytest.mark.parametrize("seconds", ["nan", "inf", "-1"])
def test_a_drain_timeout_that_is_not_a_time_is_refused(seconds: str):
    result = run_ship("--check-config", "--drain-timeout", seconds, "/var/log/*.jsonl")
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"luna-events ship: --drain-timeout {float(seconds)}: expected seconds from 0 to 86400"
    ]


def test_standard_input_is_not_mixed_with_file_globs():
    result = run_ship("--check-config", "-", "/var/log/*.jsonl")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "luna-events ship: - /var/log/*.jsonl: - (standard input) is read alone, not with file globs"
    ]
