"""No secret in anything the shipper or ``report`` writes, against an InfluxDB with
auth on: credentials from the environment, a ``*_FILE`` and the URL, at ``-vv``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from luna_events.localservers import InfluxDB1

from .shipping import line, make_events, sequence_numbers, ship_config, write_toml

pytestmark = pytest.mark.server

ROOT = Path(__file__).resolve().parent.parent
DATABASE = "luna"
SECRETS = {
    "url_user": "url-secret-91bc-x",
    "env_user": "env-secret-5d2e-y",
    "file_user": "file-secret-c4a8-z",
    "odd_user": "odd-secret@9e1/#?:x",  # percent-encoded in the URL
}
WRONG = "wrong-secret-7f3a-w"
BAD_EVENT = (
    b'{"luna_event": {"v": 1, "series": "requests", "time": 1, "tags": {}, "fields": {"x": 1}}}\n'
)


def luna_events(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """``luna-events ARGS`` with only the ``LUNA_MONITORING_*`` variables in ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LUNA_MONITORING_")}
    return subprocess.run(
        [sys.executable, "-m", "luna_events.cli", *args],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        timeout=180,
    )


def with_users(influx: InfluxDB1, grant: str) -> None:
    for user, password in SECRETS.items():
        influx.query(f"CREATE USER \"{user}\" WITH PASSWORD '{password}'")
        influx.query(f'GRANT {grant} ON "{DATABASE}" TO "{user}"')


def test_no_secret_in_anything_the_shipper_writes(tmp_path: Path):
    logs = tmp_path / "logs"
    logs.mkdir()
    events = make_events(500, seed=67)
    written: list[bytes] = []
    with InfluxDB1(admin=("admin", "admin-password-0")) as influx:
        influx.create_database(DATABASE)
        with_users(influx, "WRITE")
        host = influx.url.split("://", 1)[1]
        secret_file = tmp_path / "password"
        secret_file.write_text(SECRETS["file_user"] + "\n")
        runs = [
            (f"http://url_user:{WRONG}@{host}", {}, 1),  # 401: kept in the spool
            (f"http://url_user:{SECRETS['url_user']}@{host}", {}, 0),
            (f"http://odd_user:{quote(SECRETS['odd_user'], safe='')}@{host}", {}, 0),
            (
                influx.url,
                {
                    "LUNA_MONITORING_USER": "env_user",
                    "LUNA_MONITORING_PASSWORD": SECRETS["env_user"],
                },
                0,
            ),
            (
                influx.url,
                {
                    "LUNA_MONITORING_USER": "file_user",
                    "LUNA_MONITORING_PASSWORD_FILE": str(secret_file),
                },
                0,
            ),
        ]
        for number, (url, env, expected) in enumerate(runs):
            part = events[number * 100 : (number + 1) * 100]
            with open(logs / "service.jsonl", "ab") as handle:
                handle.write(b"".join(line(e) for e in part) + BAD_EVENT)
            data = ship_config(
                tmp_path,
                {"type": "influxdb_v1", "url": url, "database": DATABASE},
                metrics_interval_secs=0.05,
            )
            config = write_toml(tmp_path / f"ship{number}.toml", data)
            checked = luna_events("ship", "-c", str(config), "--check-config", env=env)
            assert checked.returncode == 0, checked.stderr
            if "LUNA_MONITORING_PASSWORD_FILE" in env:  # shown as its file: it reads back
                assert f'password_file = "{secret_file}"'.encode() in checked.stdout
            else:
                assert b'password = "***"' in checked.stdout
            result = luna_events(
                "ship", "-c", str(config), "--once", "--drain-timeout", "3", "-vv", env=env
            )
            assert result.returncode == expected, result.stderr.decode()[-2000:]
            written += [checked.stdout, checked.stderr, result.stdout, result.stderr]
        assert sorted(sequence_numbers(influx, DATABASE)) == list(range(len(events)))
        own = influx.query('SELECT * FROM "shipper"', DATABASE)
        assert own["results"][0]["series"], "the shipper wrote its own series"
        written.append(json.dumps(own).encode())
        everything = influx.query("SELECT * FROM /.*/", DATABASE)
        written.append(json.dumps(everything).encode())
    output = b"".join(written)
    assert b"HTTP Request: POST" in output, "httpx logged its requests (-vv)"
    assert b"401" in output, "the wrong password was refused and said so"
    files = [p for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert any(p.name.startswith("dead-letter") for p in files), files
    assert any("spool" in p.parts for p in (tmp_path / "data").rglob("*")), "a spool was used"
    written += [p.read_bytes() for p in files]
    for secret in [*SECRETS.values(), quote(SECRETS["odd_user"], safe=""), WRONG]:
        leaks = [blob[:200] for blob in written if secret.encode() in blob]
        assert not leaks, (secret, leaks)


def test_report_reads_the_shippers_credentials(tmp_path: Path):
    events = make_events(300, seed=71)
    with InfluxDB1(admin=("admin", "admin-password-0")) as influx:
        influx.create_database(DATABASE)
        with_users(influx, "READ")
        from luna_events.lineprotocol import encode_line
        from luna_events.validation import validate

        body = b"".join(encode_line(validate(e)).encode() + b"\n" for e in events)
        assert influx.write(DATABASE, body)[0] == 204
        secret_file = tmp_path / "password"
        secret_file.write_text(SECRETS["file_user"] + "\n")
        base = {"LUNA_MONITORING_URL": influx.url, "LUNA_MONITORING_DATABASE": DATABASE}
        service = str(events[0].tags["service"])
        outputs: list[bytes] = []
        for env in (
            {
                "LUNA_MONITORING_USER": "file_user",
                "LUNA_MONITORING_PASSWORD_FILE": str(secret_file),
            },
            {"LUNA_MONITORING_USER": "env_user", "LUNA_MONITORING_PASSWORD": SECRETS["env_user"]},
        ):
            result = luna_events("report", "--since", "1000d", env={**base, **env})
            assert result.returncode == 0, result.stderr.decode()
            assert service.encode() in result.stdout
            outputs += [result.stdout, result.stderr]
        host = influx.url.split("://", 1)[1]
        toml = write_toml(
            tmp_path / "ship.toml",
            {
                "sink": {
                    "url": f"http://url_user:{SECRETS['url_user']}@{host}",
                    "database": DATABASE,
                }
            },
        )
        result = luna_events("report", "-c", str(toml), "--since", "1000d", env={})
        assert result.returncode == 0, result.stderr.decode()
        assert service.encode() in result.stdout
        outputs += [result.stdout, result.stderr]
        refused = luna_events("report", "--since", "1000d", env=base)
        assert refused.returncode != 0 and b"401" in refused.stderr, "auth is on"
        wrong = luna_events(
            "report",
            "--url",
            f"http://env_user:{WRONG}@{host}",
            "--since",
            "1000d",
            env={"LUNA_MONITORING_DATABASE": DATABASE},
        )
        assert wrong.returncode != 0 and b"401" in wrong.stderr
        outputs += [refused.stderr, wrong.stdout, wrong.stderr]
    for secret in [*SECRETS.values(), WRONG]:
        assert not [o for o in outputs if secret.encode() in o], secret
