"""The compose file: valid by the Compose specification, and every command and variable is real.

These machines run no Docker engine, so the file is checked, not run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import yaml

from services.bus.config import known_setting_names

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_follows_the_compose_specification():
    schema = json.loads((ROOT / "tests" / "fixtures" / "compose-spec.json").read_text())
    # The specification's schema is written for draft 2019-09.
    jsonschema.Draft201909Validator(schema).validate(COMPOSE)


def test_every_service_command_is_a_real_qf_subcommand():
    for name, svc in COMPOSE["services"].items():
        if name == "redis":
            continue
        cmd = svc["command"]
        out = subprocess.run(
            [sys.executable, "-m", "services.qf", *cmd, "--help"], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, (
            f"service {name}: `qf {' '.join(cmd)}` is not a valid command:\n{out.stderr}"
        )


def test_every_environment_variable_is_a_real_setting():
    known = known_setting_names()
    for name, svc in COMPOSE["services"].items():
        if name == "redis":
            continue
        for var in svc.get("environment", {}):
            assert var in known, f"service {name}: {var} is not a setting of any service"


def test_only_the_gateway_is_published_and_only_on_loopback():
    for name, svc in COMPOSE["services"].items():
        ports = svc.get("ports", [])
        if name == "gateway":
            assert ports and all(str(p).startswith("127.0.0.1:") for p in ports)
        else:
            assert not ports, f"{name} must not publish a port"


def test_redis_is_healthchecked_and_services_wait_for_it():
    assert "healthcheck" in COMPOSE["services"]["redis"]
    for name, svc in COMPOSE["services"].items():
        if name != "redis":
            assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
            assert svc.get("restart") == "unless-stopped"


def test_stateless_workers_can_be_scaled():
    # --scale needs no fixed container name and no host port on the scaled service.
    for name in ("candles",):
        svc = COMPOSE["services"][name]
        assert "container_name" not in svc and "ports" not in svc
