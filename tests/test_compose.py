"""compose.yaml: valid, self-contained, and wired to the configs the other tests check."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from .conftest import ROOT, shared_file

COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
SERVICES: dict[str, Any] = COMPOSE["services"]
VARIABLE = re.compile(r"\$\{([A-Z0-9_]+)(:?[-?][^}]*)?\}")


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def test_compose_matches_the_compose_specification():
    schema_path = shared_file("schemas/compose-spec.json")
    from jsonschema import Draft7Validator

    validator = Draft7Validator(json.loads(schema_path.read_text(encoding="utf-8")))
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(COMPOSE)]
    assert not errors, errors
    broken = dict(
        COMPOSE, services={**SERVICES, "grafana": {**SERVICES["grafana"], "port": ["3000"]}}
    )
    assert list(validator.iter_errors(broken)), "the schema check catches a misspelt key"


def test_every_mounted_path_and_build_context_exists():
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts {source}, which is missing"
            else:
                assert source in COMPOSE["volumes"], f"{name} uses undeclared volume {source}"
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").exists()


def test_every_variable_is_set_or_defaulted():
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    example = env_example()
    for name, default in VARIABLE.findall(text):
        assert default.startswith(":-") or name in example, f"${{{name}}} has no default"
    assert example["COMPOSE_PROFILES"] == "vector"


def _service_env(name: str) -> dict[str, str]:
    return {k: str(v) for k, v in SERVICES[name].get("environment", {}).items()}


def test_grafana_gets_every_variable_its_provisioning_reads():
    provisioning = (ROOT / "grafana/provisioning/datasources/influxdb.yaml").read_text(
        encoding="utf-8"
    )
    needed = {name for name, _ in VARIABLE.findall(provisioning)}
    assert needed
    assert needed <= set(_service_env("grafana")), needed - set(_service_env("grafana"))


def test_the_tested_vector_and_grafana_configs_are_the_ones_mounted():
    vector = SERVICES["vector"]
    assert "./vector:/etc/vector/luna:ro" in vector["volumes"]
    assert vector["command"] == ["--config", "/etc/vector/luna/agent.yaml"]
    assert _service_env("vector")["LUNA_VECTOR_DIR"] == "/etc/vector/luna"
    grafana_volumes = SERVICES["grafana"]["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana_volumes
    provider = yaml.safe_load((ROOT / "grafana/provisioning/dashboards/luna.yaml").read_text())
    dashboards_path = provider["providers"][0]["options"]["path"]
    assert f"./grafana/dashboards:{dashboards_path}:ro" in grafana_volumes
    home = _service_env("grafana")["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "grafana/dashboards" / Path(home).name).exists()


def test_vector_and_the_shipper_are_alternative_profiles_over_the_same_logs():
    assert SERVICES["vector"]["profiles"] == ["vector"]
    assert SERVICES["shipper"]["profiles"] == ["shipper"]
    logs = {
        v
        for s in ("demo", "vector", "shipper")
        for v in SERVICES[s]["volumes"]
        if "/var/log/luna" in v
    }
    assert {v.split(":")[0] for v in logs} == {"luna-logs"}
    shipper_env = _service_env("shipper")
    assert shipper_env["LUNA_MONITORING_VERSION"] == "2"
    assert SERVICES["shipper"]["command"][0] == "ship"
    assert SERVICES["demo"]["command"][0] == "simulate"
