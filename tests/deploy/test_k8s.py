"""Kubernetes manifests (deploy/k8s): schema validation against a pinned Kubernetes version
(kubernetes-validate bundles the OpenAPI schemas, so this runs offline), plus the probe, port,
security, secret and bundle-volume contracts of the rendered overlays.

Overlays are rendered by a small Python kustomize subset (tests/deploy/kustomize.py); when
``kustomize`` or ``kubectl`` is installed the real renderer must agree with it.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from tests.deploy.helpers import APP_UID, K8S, settings_env_names
from tests.deploy.kustomize import (
    by_kind,
    kustomize_command,
    one,
    render_kustomization,
    render_with_tool,
)

KUBERNETES_VERSION = "1.32.0"
OVERLAYS = {"cpu": K8S / "overlays" / "cpu", "gpu": K8S / "overlays" / "gpu"}
TRAIN = K8S / "train"
SECRET_SETTINGS = {"PAAREC_REDIS_URL", "PAAREC_API_KEYS", "PAAREC_ADMIN_API_KEY"}
GPU_RESOURCE = "nvidia.com/gpu"


def _render(folder: Path) -> list[dict[str, Any]]:
    return render_kustomization(folder)


@pytest.fixture(scope="module", params=sorted(OVERLAYS))
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, _render(OVERLAYS[request.param])


@pytest.fixture(scope="module")
def train() -> list[dict[str, Any]]:
    return _render(TRAIN)


def _container(resources: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    spec = one(resources, kind)["spec"]["template"]["spec"]
    return next(c for c in spec["containers"] if c["name"] == name)


def _pod_spec(resources: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return one(resources, kind)["spec"]["template"]["spec"]


def _port_number(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container["ports"] if p.get("name") == port)


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for e in container.get("env", [])}


def _all_manifest_files() -> list[Path]:
    files = sorted(K8S.rglob("*.yaml"))
    return [f for f in files if f.name != "kustomization.yaml"]


# --------------------------------------------------------------------------------------------
# schemas


@pytest.fixture(scope="module")
def kubernetes_validate() -> Any:
    return pytest.importorskip(
        "kubernetes_validate", reason="pip install kubernetes-validate (bundles the schemas)"
    )


@pytest.mark.parametrize("name", [*sorted(OVERLAYS), "train"])
def test_rendered_manifests_match_schema(kubernetes_validate: Any, name: str) -> None:
    folder = OVERLAYS.get(name, TRAIN)
    resources = _render(folder)
    assert resources
    for resource in resources:
        try:
            kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            kind, meta = resource["kind"], resource["metadata"]["name"]
            pytest.fail(f"{name}: {kind}/{meta}: {exc.message}")


def test_complete_source_manifests_match_schema(kubernetes_validate: Any) -> None:
    """Every complete manifest file (overlay patches are partial and are checked rendered)."""
    import yaml

    patches = {
        (folder / entry["path"]).resolve()
        for folder in [*OVERLAYS.values(), TRAIN]
        for entry in yaml.safe_load((folder / "kustomization.yaml").read_text()).get("patches", [])
    }
    for path in _all_manifest_files():
        if path.resolve() in patches:
            continue
        for resource in yaml.safe_load_all(path.read_text()):
            if resource:
                kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name", [*sorted(OVERLAYS), "train"])
def test_python_renderer_agrees_with_kustomize(name: str) -> None:
    command = kustomize_command()
    if command is None:
        pytest.skip("neither kustomize nor kubectl is installed")
    folder = OVERLAYS.get(name, TRAIN)

    def keyed(items: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
        return {(r["kind"], r["metadata"]["name"]): r for r in items}

    assert keyed(_render(folder)) == keyed(render_with_tool(command, folder))


# --------------------------------------------------------------------------------------------
# the service


def test_probes(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, resources = overlay
    container = _container(resources, "Deployment", "service")
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    startup = container["startupProbe"]
    assert startup["httpGet"]["path"] in ("/healthz", "/readyz")
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert _port_number(container, container[probe]["httpGet"]["port"]) == 8000


def test_ports_line_up(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, resources = overlay
    container = _container(resources, "Deployment", "service")
    service = one(resources, "Service")
    config = one(resources, "ConfigMap")["data"]
    container_ports = {p["containerPort"] for p in container["ports"]}
    assert container_ports == {int(config["PAAREC_PORT"])}
    for port in service["spec"]["ports"]:
        assert _port_number(container, port["targetPort"]) in container_ports
    pod_labels = one(resources, "Deployment")["spec"]["template"]["metadata"]["labels"]
    for selector in (
        service["spec"]["selector"],
        one(resources, "PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        one(resources, "Deployment")["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= pod_labels.items()


def test_security_context(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, resources = overlay
    pod = _pod_spec(resources, "Deployment")
    container = _container(resources, "Deployment", "service")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == APP_UID  # the Dockerfile's USER
    assert pod.get("automountServiceAccountToken") is False
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    tmp = next(m for m in container["volumeMounts"] if m["mountPath"] == "/tmp")
    volume = next(v for v in pod["volumes"] if v["name"] == tmp["name"])
    assert "emptyDir" in volume


def test_resources_set(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, resources = overlay
    container = _container(resources, "Deployment", "service")
    for section in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][section])


def test_environment_from_configmap_and_secret_refs(
    overlay: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.core.config import Settings

    _, resources = overlay
    container = _container(resources, "Deployment", "service")
    config = one(resources, "ConfigMap")
    assert container["envFrom"] == [{"configMapRef": {"name": config["metadata"]["name"]}}]
    known = settings_env_names()
    data = config["data"]
    assert set(data) <= known, sorted(set(data) - known)
    assert not set(data) & SECRET_SETTINGS, "secrets do not belong in the ConfigMap"
    env = _env(container)
    assert set(env) <= known
    for name in SECRET_SETTINGS:
        assert "value" not in env[name], f"{name} must not be a literal"
        assert "secretKeyRef" in env[name]["valueFrom"]
    assert not by_kind(resources, "Secret"), "no Secret objects (and values) in the repository"
    # The ConfigMap plus plausible secret values is a valid production configuration.
    for name in list(os.environ):
        if name.startswith("PAAREC_"):
            monkeypatch.delenv(name)
    for name, value in data.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PAAREC_REDIS_URL", "redis://:pw@redis-cluster:6379/0")
    monkeypatch.setenv("PAAREC_API_KEYS", "k" * 32)
    settings = Settings()
    assert settings.environment == "production"
    assert settings.redis_cluster is True


def test_gpu_only_in_gpu_overlay(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    name, resources = overlay
    pod = _pod_spec(resources, "Deployment")
    container = _container(resources, "Deployment", "service")
    limits = container["resources"]["limits"]
    config = one(resources, "ConfigMap")["data"]
    if name == "gpu":
        assert limits[GPU_RESOURCE] == 1
        assert pod["nodeSelector"]
        assert any(t["key"] == GPU_RESOURCE for t in pod["tolerations"])
        assert container["image"].endswith(":gpu")
        assert config["PAAREC_PROVIDER_PREFERENCE"] == "cuda"
    else:
        assert GPU_RESOURCE not in limits
        assert GPU_RESOURCE not in container["resources"]["requests"]
        assert "nodeSelector" not in pod
        assert "tolerations" not in pod
        assert container["image"].endswith(":cpu")
        assert config["PAAREC_PROVIDER_PREFERENCE"] == "cpu"


def test_hpa_and_pdb(overlay: tuple[str, list[dict[str, Any]]]) -> None:
    _, resources = overlay
    hpa = one(resources, "HorizontalPodAutoscaler")
    deployment = one(resources, "Deployment")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    metric = hpa["spec"]["metrics"][0]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"]["type"] == "Utilization"
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    pdb = one(resources, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["minAvailable"] < max(hpa["spec"]["minReplicas"], 2)


# --------------------------------------------------------------------------------------------
# training Job and the bundle volume


def test_job_writes_what_the_service_reads(
    overlay: tuple[str, list[dict[str, Any]]], train: list[dict[str, Any]]
) -> None:
    _, resources = overlay
    pvc = one(resources, "PersistentVolumeClaim")
    assert "ReadWriteMany" in pvc["spec"]["accessModes"]
    claim = pvc["metadata"]["name"]

    pod = _pod_spec(resources, "Deployment")
    container = _container(resources, "Deployment", "service")
    bundle_path = PurePosixPath(one(resources, "ConfigMap")["data"]["PAAREC_BUNDLE_PATH"])
    volume = next(v for v in pod["volumes"] if v.get("persistentVolumeClaim"))
    assert volume["persistentVolumeClaim"] == {"claimName": claim, "readOnly": True}
    read = next(m for m in container["volumeMounts"] if m["name"] == volume["name"])
    assert read["readOnly"] is True
    assert bundle_path.is_relative_to(read["mountPath"])

    job = one(train, "Job")
    assert job["metadata"]["namespace"] == one(resources, "Deployment")["metadata"]["namespace"]
    job_pod = job["spec"]["template"]["spec"]
    trainer = job_pod["containers"][0]
    job_volume = next(v for v in job_pod["volumes"] if v.get("persistentVolumeClaim"))
    assert job_volume["persistentVolumeClaim"]["claimName"] == claim
    assert not job_volume["persistentVolumeClaim"].get("readOnly", False)
    write = next(m for m in trainer["volumeMounts"] if m["name"] == job_volume["name"])
    assert not write.get("readOnly", False)
    bundle_dir = PurePosixPath(_env(trainer)["BUNDLE_DIR"]["value"])
    assert bundle_dir.relative_to(write["mountPath"]) == bundle_path.relative_to(read["mountPath"])


def test_job_security(train: list[dict[str, Any]]) -> None:
    job = one(train, "Job")
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    assert pod["securityContext"]["runAsNonRoot"] is True
    trainer = pod["containers"][0]
    assert trainer["securityContext"]["readOnlyRootFilesystem"] is True
    assert any(m["mountPath"] == "/tmp" for m in trainer["volumeMounts"])
    assert {"cpu", "memory"} <= set(trainer["resources"]["limits"])
