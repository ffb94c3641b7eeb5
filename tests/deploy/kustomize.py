"""A small kustomize subset (resources, strategic-merge patches, images), enough to render
deploy/k8s overlays without kubectl, and the real tool when it is installed."""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


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
