"""Paths and names shared by the deployment-contract tests.

The parsers sit beside this file: ``compose_files`` (compose YAML with its tags, merge rules
and ``${VAR}`` interpolation), ``dockerfile_parser`` and ``kustomize`` (a small renderer).
Nothing needs a Docker engine or a cluster; external tools (docker compose, kubectl, hadolint)
are located when present and the tests that need them skip otherwise.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_GPU = ROOT / "docker-compose.yml"
COMPOSE_CPU = ROOT / "docker-compose.cpu.yml"
K8S = ROOT / "deploy" / "k8s"
SCRIPTS = ROOT / "scripts"

SERVICE_STAGES = ("service", "service-cpu")
APP_UID = 10001


def settings_env_names() -> set[str]:
    """Every environment variable the service understands: PAAREC_ + field name, upper case."""
    from service.core.config import Settings

    return {"PAAREC_" + name.upper() for name in Settings.model_fields}
