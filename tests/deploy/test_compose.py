"""The docker compose contract (docker-compose.yml = GPU, + docker-compose.cpu.yml = CPU).

Parsed with PyYAML (plus Compose's ``!reset``/``!override`` tags and merge rules) so it runs
everywhere; the same checks then run on ``docker compose config`` output when a Compose v2
CLI is available (it only parses, no engine needed).
"""

from __future__ import annotations

import json
import os
from pathlib import PurePosixPath
from typing import Any

import pytest

from tests.deploy.compose_files import (
    Reset,
    compose_command,
    compose_config,
    compose_model,
    environment_of,
    gpu_devices,
    healthcheck_text,
    interpolate,
    load_compose,
    mounts_of,
)
from tests.deploy.dockerfile_parser import parse_dockerfile
from tests.deploy.helpers import COMPOSE_CPU, COMPOSE_GPU, settings_env_names

FAKE_ENV = {"REDIS_PASSWORD": "compose-test-password"}
ALL_PROFILES = ["train", "load"]


@pytest.fixture(scope="module")
def gpu() -> dict[str, Any]:
    return compose_model(COMPOSE_GPU)


@pytest.fixture(scope="module")
def cpu() -> dict[str, Any]:
    return compose_model(COMPOSE_GPU, COMPOSE_CPU)


def _bundle_mount_contract(model: dict[str, Any]) -> None:
    """The trainer writes the bundle into the volume the service reads, where it looks."""
    services = model["services"]
    trainer_env = interpolate(environment_of(services["trainer"]), FAKE_ENV)
    service_env = interpolate(environment_of(services["service"]), FAKE_ENV)
    bundle_path = PurePosixPath(service_env["PAAREC_BUNDLE_PATH"])
    assert bundle_path.is_absolute()
    assert PurePosixPath(trainer_env["BUNDLE_DIR"]) == bundle_path

    service_mounts = [
        m for m in mounts_of(services["service"]) if bundle_path.is_relative_to(m.target)
    ]
    assert len(service_mounts) == 1, "PAAREC_BUNDLE_PATH must lie in exactly one service mount"
    read = service_mounts[0]
    assert read.kind == "volume", "the bundles live in a named volume"
    assert read.read_only, "the service mounts the bundles read-only"
    assert read.source in model.get("volumes", {}), f"volume {read.source} is not declared"

    writers = [m for m in mounts_of(services["trainer"]) if m.source == read.source]
    assert len(writers) == 1, "the trainer must mount the service's bundle volume"
    write = writers[0]
    assert not write.read_only
    # Same volume, same place inside it.
    assert bundle_path.relative_to(read.target) == bundle_path.relative_to(write.target)


def _gpu_reservation(service: dict[str, Any]) -> bool:
    return any(
        d.get("driver") == "nvidia" and "gpu" in (d.get("capabilities") or [])
        for d in gpu_devices(service)
    )


# --------------------------------------------------------------------------------------------
# the YAML itself


def test_services_and_profiles(gpu: dict[str, Any]) -> None:
    services = gpu["services"]
    assert set(services) == {"redis", "service", "trainer", "locust"}
    assert services["trainer"]["profiles"] == ["train"]
    assert services["locust"]["profiles"] == ["load"]
    assert "profiles" not in services["redis"]
    assert "profiles" not in services["service"]


def test_build_targets_exist_in_dockerfile(gpu: dict[str, Any], cpu: dict[str, Any]) -> None:
    stages = parse_dockerfile().stages
    expected = {"service": "service", "trainer": "trainer", "locust": "loadtest"}
    for name, target in expected.items():
        assert gpu["services"][name]["build"]["target"] == target
        assert target in stages
    assert cpu["services"]["service"]["build"]["target"] == "service-cpu"
    assert "service-cpu" in stages


def test_redis_contract(gpu: dict[str, Any]) -> None:
    redis = gpu["services"]["redis"]
    assert "ports" not in redis, "redis must not be published to the host"
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync everysec" in command
    assert "--requirepass ${REDIS_PASSWORD:?" in command
    assert environment_of(redis)["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    check = healthcheck_text(redis)
    assert "redis-cli" in check
    assert "-a" in check.split()
    assert "ping" in check
    data = [m for m in mounts_of(redis) if m.target == "/data"]
    assert data
    assert data[0].kind == "volume"
    assert data[0].source in gpu["volumes"]


def test_redis_password_is_required(gpu: dict[str, Any]) -> None:
    with pytest.raises(KeyError, match="REDIS_PASSWORD"):
        interpolate(gpu["services"]["redis"]["command"], {})
    with pytest.raises(KeyError, match="REDIS_PASSWORD"):
        interpolate(environment_of(gpu["services"]["service"]), {})


def test_service_environment_is_known_settings(
    gpu: dict[str, Any], cpu: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.core.config import Settings

    known = settings_env_names()
    for model in (gpu, cpu):
        env = environment_of(model["services"]["service"])
        unknown = sorted(name for name in env if name not in known)
        assert not unknown, f"not PAAREC_* Settings fields: {unknown}"
        # The values (with defaults) must be accepted by the service's own settings.
        for name in list(os.environ):
            if name.startswith("PAAREC_"):
                monkeypatch.delenv(name)
        for name, value in interpolate(env, FAKE_ENV).items():
            if value is not None:  # no value = passed through from the shell, if set
                monkeypatch.setenv(name, str(value))
        settings = Settings()
        assert settings.port == 8000
        assert settings.host == "0.0.0.0"
        assert settings.redis_url.get_secret_value().endswith("@redis:6379/0")


def test_service_contract(gpu: dict[str, Any]) -> None:
    service = gpu["services"]["service"]
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "/readyz" in healthcheck_text(service)
    env = interpolate(environment_of(service), FAKE_ENV)
    port = str(env["PAAREC_PORT"])
    assert f":{port}/readyz" in healthcheck_text(service)
    published = [str(p) for p in service["ports"]]
    assert any(p.endswith(f":{port}") for p in published), published
    assert interpolate(published[0], {}) == f"8000:{port}"
    # Secrets are never written into the file.
    for name in ("PAAREC_API_KEYS", "PAAREC_ADMIN_API_KEY"):
        assert environment_of(service)[name] is None, f"{name} must come from the shell"
    assert "${REDIS_PASSWORD:?" in environment_of(service)["PAAREC_REDIS_URL"]


def test_gpu_reservation_only_in_gpu_file(gpu: dict[str, Any], cpu: dict[str, Any]) -> None:
    devices = gpu_devices(gpu["services"]["service"])
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert not gpu_devices(cpu["services"]["service"])
    assert "deploy" not in cpu["services"]["service"]
    assert environment_of(gpu["services"]["service"])["PAAREC_PROVIDER_PREFERENCE"] == "cuda"
    assert environment_of(cpu["services"]["service"])["PAAREC_PROVIDER_PREFERENCE"] == "cpu"
    assert gpu["services"]["service"]["image"] != cpu["services"]["service"]["image"]
    # No other service needs a GPU.
    for model in (gpu, cpu):
        for name, service in model["services"].items():
            if name != "service":
                assert not _gpu_reservation(service), name


def test_cpu_override_uses_reset_for_deploy() -> None:
    override = load_compose(COMPOSE_CPU)
    assert isinstance(override["services"]["service"]["deploy"], Reset)


def test_bundle_volume_lines_up(gpu: dict[str, Any], cpu: dict[str, Any]) -> None:
    _bundle_mount_contract(gpu)
    _bundle_mount_contract(cpu)


def test_trainer_is_one_shot(gpu: dict[str, Any]) -> None:
    trainer = gpu["services"]["trainer"]
    assert trainer.get("restart", "no") == "no"
    assert "ports" not in trainer
    env = interpolate(environment_of(trainer), {})
    assert env["TRAIN_CONFIG"].startswith("configs/")


def test_locust_contract(gpu: dict[str, Any]) -> None:
    locust = gpu["services"]["locust"]
    from load_tests.settings import LoadSettings

    known = {f"PAAREC_LOAD_{name.upper()}" for name in LoadSettings.model_fields}
    assert set(environment_of(locust)) <= known, "locust reads only PAAREC_LOAD_* settings"
    assert environment_of(locust)["PAAREC_LOAD_API_KEY"] is None, "keys come from the shell"
    command = interpolate(locust["command"], {})
    joined = " ".join(command)
    assert "--headless" in command
    assert "--host http://service:8000" in joined
    assert "--locustfile load_tests/locustfile.py" in joined
    csv = PurePosixPath(command[command.index("--csv") + 1])
    assert any(csv.is_relative_to(m.target) for m in mounts_of(locust) if m.kind == "volume")
    assert locust["depends_on"]["service"]["condition"] == "service_healthy"


def test_named_volumes_are_declared(gpu: dict[str, Any]) -> None:
    declared = set(gpu["volumes"])
    for name, service in gpu["services"].items():
        for mount in mounts_of(service):
            if mount.kind == "volume":
                assert mount.source in declared, f"{name}: undeclared volume {mount.source}"


# --------------------------------------------------------------------------------------------
# `docker compose config` (parses only; no engine needed)


@pytest.fixture(scope="module")
def compose_cli() -> list[str]:
    command = compose_command()
    if command is None:
        pytest.skip("no Compose v2 >= 2.24 CLI (docker compose plugin or docker-compose)")
    return command


@pytest.mark.parametrize("variant", ["gpu", "cpu"])
def test_compose_config_renders(compose_cli: list[str], variant: str) -> None:
    files = [COMPOSE_GPU] + ([COMPOSE_CPU] if variant == "cpu" else [])
    result = compose_config(compose_cli, files, FAKE_ENV, ALL_PROFILES)
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    services = model["services"]
    assert set(services) == {"redis", "service", "trainer", "locust"}
    assert _gpu_reservation(services["service"]) == (variant == "gpu")
    assert services["service"]["build"]["target"] == (
        "service" if variant == "gpu" else "service-cpu"
    )
    assert "ports" not in services["redis"]
    assert [p["target"] for p in services["service"]["ports"]] == [8000]
    env = services["service"]["environment"]
    known = settings_env_names()
    assert all(name in known for name in env), sorted(set(env) - known)
    _bundle_mount_contract(model)


def test_compose_config_requires_redis_password(compose_cli: list[str]) -> None:
    result = compose_config(compose_cli, [COMPOSE_GPU], {}, [])
    assert result.returncode != 0
    assert "set REDIS_PASSWORD" in result.stderr


def test_compose_config_without_profiles(compose_cli: list[str]) -> None:
    result = compose_config(compose_cli, [COMPOSE_GPU, COMPOSE_CPU], FAKE_ENV, [])
    assert result.returncode == 0, result.stderr
    assert set(json.loads(result.stdout)["services"]) == {"redis", "service"}
