"""The compose files: valid by the Compose specification, every command and variable real, health
that means something, and — where a container engine can be had — the whole stack run for real
by scripts/compose-check.sh.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from quantumflux.bus.config import BusSettings, known_setting_names
from quantumflux.bus.health import Heartbeat

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
LOCAL = yaml.safe_load((ROOT / "docker-compose.local.yml").read_text())
SERVICES = COMPOSE["services"]
# The services that run the QuantumFlux image (the others are Redis and the demo's Chromium).
QF = {name: svc for name, svc in SERVICES.items() if svc.get("image") == "quantumflux:latest"}
HEARTBEAT_NAMES = {"ingest", "candles", "persistence", "signals", "backtest", "gateway"}


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[0] != "#")
    return {k.strip(): v.strip() for k, v in pairs}


def test_compose_files_follow_the_compose_specification() -> None:
    schema = json.loads((ROOT / "tests" / "fixtures" / "compose-spec.json").read_text())
    # The specification's schema is written for draft 2019-09.
    jsonschema.Draft201909Validator(schema).validate(COMPOSE)
    jsonschema.Draft201909Validator(schema).validate(LOCAL)


def test_every_service_command_is_a_real_qf_subcommand() -> None:
    assert set(QF) == HEARTBEAT_NAMES | {"sim"}
    for name, svc in QF.items():
        cmd = svc["command"]
        out = subprocess.run(
            [sys.executable, "-m", "quantumflux.qf", *cmd, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, (
            f"service {name}: `qf {' '.join(cmd)}` is not a valid command:\n{out.stderr}"
        )


def test_every_environment_variable_is_a_real_setting() -> None:
    known = known_setting_names()
    for name, svc in QF.items():
        for var in svc.get("environment", {}):
            assert var in known, f"service {name}: {var} is not a setting of any service"
    demo = _env_file(ROOT / "demo.env")
    assert demo.pop("COMPOSE_PROFILES") == "demo"
    assert demo and all(var in known for var in demo), demo


def test_only_the_gateway_is_published_and_only_on_loopback() -> None:
    for name, svc in SERVICES.items():
        ports = svc.get("ports", [])
        if name == "gateway":
            assert ports and all(str(p).startswith("127.0.0.1:") for p in ports)
        else:
            assert not ports, f"{name} must not publish a port"


def test_every_service_is_healthchecked_by_what_it_does() -> None:
    for name, svc in SERVICES.items():
        assert "healthcheck" in svc, f"{name} has no healthcheck"
    for name in HEARTBEAT_NAMES:
        # Its own heartbeat in Redis, not merely a running process.
        assert SERVICES[name]["healthcheck"]["test"] == ["CMD", "qf", "health", name]


def test_services_wait_for_health_and_restart_a_bounded_number_of_times() -> None:
    for name, svc in SERVICES.items():
        policy, _, most = svc["restart"].partition(":")
        assert policy == "on-failure" and int(most) > 0, f"{name}: restart {svc['restart']!r}"
        if name not in ("redis", "chrome"):
            assert svc["depends_on"]["redis"]["condition"] == "service_healthy"
    assert SERVICES["gateway"]["depends_on"]["backtest"]["condition"] == "service_healthy"
    assert SERVICES["chrome"]["depends_on"]["sim"]["condition"] == "service_healthy"


def test_root_filesystems_are_read_only_and_the_image_runs_as_a_user() -> None:
    for name, svc in SERVICES.items():
        assert svc.get("read_only") is True, f"{name} can write to its root filesystem"
    users = [ln.split()[1] for ln in (ROOT / "Dockerfile").read_text().splitlines() if ln.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")


def test_the_demo_runs_only_in_its_profile() -> None:
    assert {n for n, s in SERVICES.items() if "demo" in s.get("profiles", [])} == {"sim", "chrome"}
    assert all("profiles" not in s for n, s in SERVICES.items() if n not in ("sim", "chrome"))


def test_the_local_override_only_swaps_image_names() -> None:
    for name, over in LOCAL["services"].items():
        base = SERVICES[name]
        assert set(over) <= {"image", "build"}, f"{name}: the override changes {set(over)}"
        if "build" in over:
            assert over["build"]["context"] == base["build"]["context"]
            assert over["build"].get("dockerfile") == base["build"].get("dockerfile")
            assert all(k.endswith("_IMAGE") or k == "WEB_PREBUILT" for k in over["build"]["args"])


def test_stateless_workers_can_be_scaled() -> None:
    # --scale needs no fixed container name and no host port on the scaled service.
    for name in ("candles",):
        svc = SERVICES[name]
        assert "container_name" not in svc and "ports" not in svc


def test_qf_health_answers_for_this_hosts_heartbeat_only(
    bus_settings: BusSettings, test_env: dict[str, str]
) -> None:
    def health(service: str) -> int:
        cmd = [sys.executable, "-m", "quantumflux.qf", "health", service]
        return subprocess.run(cmd, env=test_env, capture_output=True, timeout=60).returncode

    assert health("candles") == 1
    beat = Heartbeat(bus_settings, "candles").start()
    try:
        assert health("candles") == 0
        assert health("persistence") == 1
    finally:
        beat.stop()  # removes the key
    assert health("candles") == 1
    # In a container the process may carry the host name alone.
    beat = Heartbeat(bus_settings.model_copy(update={"instance": socket.gethostname()}), "signals").start()
    try:
        assert health("signals") == 0
    finally:
        beat.stop()
    assert health("signals") == 1


def _engine_reason() -> str | None:
    """Why the stack cannot be run here, or None when a container engine can be had."""
    if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
        return None
    if os.geteuid() != 0:
        return "no container engine answers, and installing one needs root"
    if shutil.which("apt-get") is None and shutil.which("dockerd") is None:
        return "no container engine answers, and there is no apt-get to install Debian's docker.io"
    return None


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_stack_runs_for_real() -> None:
    reason = _engine_reason()
    if reason:
        pytest.skip(reason)
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "compose-check.sh")],
        capture_output=True,
        text=True,
        timeout=1700,
        env={k: v for k, v in os.environ.items() if not k.startswith("QF_")},
    )
    sys.stdout.write(out.stdout[-6000:])
    assert out.returncode == 0, f"{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    assert "compose-check: PASSED" in out.stdout
