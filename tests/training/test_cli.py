"""The ``paarec`` command line, run as real subprocesses on a tiny dataset.

Every command below is a separate ``paarec`` process. Start-up and imports cost seconds per
process, so the module runs them up front in two concurrent phases (everything that needs no
checkpoint, then everything that reads the one ``train`` produced) and each test checks its
own result. Every expected failure must exit non-zero with a single ``error:`` line naming
the problem and no traceback. One failure runs as a real process; the others run in-process
through typer's runner (the same app and error handling, where an escaping exception shows
as a traceback), which saves the 2-3 s of CPU each new interpreter spends on imports.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from tests.utils.cli import (
    CliResult,
    assert_succeeded,
    assert_user_error,
    invoke_paarec,
    run_paarec_many,
)
from tests.utils.synthetic_data import synthetic_sequences, write_sequences_file
from tests.utils.tiny_models import make_tiny_checkpoint

# Larger than max_len + a few exclusions + max K, so no top-K ever needs a masked item.
pytestmark = pytest.mark.slow  # real processes: ~25 s of CPU, mostly interpreter start-up

N_ITEMS = 24
COMMANDS = ("data", "train", "evaluate", "plot", "export")
CONFIG_YAML = """\
name: tiny
split:
  protocol: loo
model:
  arch: paa
eval:
  ks: [5, 10]
"""


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: Path
    data: Path

    def overrides(self, *extra: str) -> list[str | Path]:
        """``--config`` plus the ``--set`` flags that make a run tiny and local."""
        sets = [
            f"data.source={self.data}",
            "model.max_len=10",
            "model.hidden=16",
            "model.blocks=1",
            "train.epochs=2",
            "train.batch_size=16",
            "train.progress=false",
            "train.device=cpu",
            "train.threads=1",
            f"output_dir={self.root / 'runs'}",
            *extra,
        ]
        return ["--config", self.config, *(f"--set={s}" for s in sets)]

    @property
    def checkpoint(self) -> Path:
        return self.root / "runs" / "tiny" / "checkpoint"


@dataclass(frozen=True)
class Runs:
    workspace: Workspace
    results: dict[str, CliResult]

    def __getitem__(self, name: str) -> CliResult:
        return self.results[name]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    root = tmp_path_factory.mktemp("cli")
    config = root / "tiny.yaml"
    config.write_text(CONFIG_YAML)
    sequences = synthetic_sequences(n_users=40, n_items=N_ITEMS, seed=1)
    data = write_sequences_file(root / "sequences.txt", sequences)
    (root / "bad.txt").write_text("u1 item1 item2\nu2\n")
    (root / "afile").write_text("a file, not a folder")
    return Workspace(root, config, data)


@pytest.fixture(scope="module")
def runs(workspace: Workspace) -> Runs:
    ws, root = workspace, workspace.root
    first: dict[str, tuple[list[str | Path], Path]] = {
        "train": (["train", *ws.overrides()], root),
        "data": (["data", *ws.overrides()], root),
    }
    for command in ("", *COMMANDS):
        first[f"help {command}"] = ([command, "--help"] if command else ["--help"], root)
    results = run_paarec_many(first)
    export: list[str | Path] = ["export", ws.checkpoint, "--no-real-data", "--out"]
    second: dict[str, tuple[list[str | Path], Path]] = {
        "evaluate": (["evaluate", ws.checkpoint], root),
        "plot": (["plot", ws.checkpoint, "--out", root / "plots"], root),
        "export": ([*export, root / "bundle", "--max-k", "5"], root),
        "unwritable output": ([*export, root / "afile" / "bundle", "--max-k", "5"], root),
    }
    if results["train"].returncode == 0:
        results.update(run_paarec_many(second))
    return Runs(workspace, results)


@pytest.fixture
def checkpoint(runs: Runs) -> Path:
    assert_succeeded(runs["train"])
    return runs.workspace.checkpoint


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_works_for_every_command(runs: Runs, command: str) -> None:
    result = runs[f"help {command}"]
    assert_succeeded(result)
    assert "Usage:" in result.stdout
    for name in COMMANDS if not command else ():
        assert name in result.stdout


def test_data_prints_the_split_statistics(runs: Runs) -> None:
    assert_succeeded(runs["data"])
    stats = json.loads(runs["data"].stdout)
    assert stats["items"] == N_ITEMS
    assert stats["protocol"] == "loo"
    assert stats["training_sequences"] == 40
    assert stats["validation_targets"] == stats["test_targets"] == 40  # every user has >= 4
    assert stats["titles"] is False


def test_train_writes_a_checkpoint_history_and_resolved_config(
    runs: Runs, checkpoint: Path
) -> None:
    result = runs["train"]
    assert f"checkpoint: {checkpoint}" in result.stdout
    assert "validation: " in result.stdout and "test: " in result.stdout
    assert "max_len: 10" in result.stderr  # the resolved config is logged
    for name in ("config.yaml", "model.safetensors", "items.npy", "popularity.npy", "metrics.json"):
        assert (checkpoint / name).is_file(), name
    history = (checkpoint.parent / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in history] == [1, 2]
    assert (checkpoint.parent / "resolved_config.yaml").is_file()
    metrics = json.loads((checkpoint / "metrics.json").read_text())
    assert metrics["model"] == "paa" and metrics["epochs_run"] == 2
    assert set(metrics["test"]) == {
        f"{m}@{k}" for m in ("cov", "hr", "mrr", "ndcg") for k in (5, 10)
    }


def test_evaluate_reproduces_the_test_metrics_of_training(runs: Runs, checkpoint: Path) -> None:
    result = runs["evaluate"]
    assert_succeeded(result)
    line = next(line for line in result.stdout.splitlines() if line.startswith("test: "))
    printed = dict(pair.split("=") for pair in line.removeprefix("test: ").split())
    logged = json.loads((checkpoint / "metrics.json").read_text())["test"]
    assert {name: float(value) for name, value in printed.items()} == pytest.approx(
        logged, abs=5e-5
    )


def test_plot_writes_non_empty_pngs(runs: Runs, checkpoint: Path) -> None:
    result, out = runs["plot"], runs.workspace.root / "plots"
    assert_succeeded(result)
    names = {"kernels.png", "toeplitz_profiles.png", "training_curves.png"}
    assert {p.name for p in out.iterdir()} == names
    for name in names:
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000, name
        assert str(out / name) in result.stdout


def test_export_writes_a_bundle_that_follows_the_contract(runs: Runs, checkpoint: Path) -> None:
    assert_succeeded(runs["export"])
    out = runs.workspace.root / "bundle"
    assert {p.name for p in out.iterdir()} == {
        "bundle.json",
        "model.onnx",
        "items.npy",
        "popularity.npy",
    }
    meta = json.loads((out / "bundle.json").read_text())
    assert meta["schema_version"] == 1
    model = meta["model"]
    assert {"name", "version", "arch", "variant", "max_len", "hidden", "blocks", "heads"} <= set(
        model
    )
    assert (model["name"], model["arch"], model["variant"]) == ("tiny", "paa", "paa")
    assert (model["max_len"], model["hidden"], model["blocks"], model["heads"]) == (10, 16, 1, 1)
    onnx_sha = hashlib.sha256((out / "model.onnx").read_bytes()).hexdigest()
    assert meta["onnx"]["file"] == "model.onnx" and meta["onnx"]["sha256"] == onnx_sha
    assert isinstance(meta["onnx"]["opset"], int)
    weights_sha = hashlib.sha256((checkpoint / "model.safetensors").read_bytes())
    assert meta["checkpoint_sha256"] == weights_sha.hexdigest()
    assert (meta["n_items"], meta["max_k"], meta["has_titles"]) == (N_ITEMS, 5, False)
    assert meta["metrics"] == json.loads((checkpoint / "metrics.json").read_text())["test"]
    assert isinstance(meta["created_at"], str) and meta["created_at"][:2] == "20"
    items = np.load(out / "items.npy", allow_pickle=False)
    assert items[0] == "" and len(items) == N_ITEMS + 1
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    scores, top = session.run(
        ["scores", "items"],
        {
            "history": np.array([[0, 0, 1, 2]], dtype=np.int64),
            "k": np.array([5], dtype=np.int64),
            "exclude_seen": np.array([True]),
            "exclude": np.array([[0]], dtype=np.int64),
        },
    )
    assert scores.shape == top.shape == (1, 5)
    assert not {0, 1, 2} & set(top[0].tolist())


# ---- expected failures: an error line, a non-zero exit, never a traceback ----
# One runs as a real process (through ``main()``); the rest in-process, see the module doc.


def test_an_unwritable_output_path_is_reported(runs: Runs, checkpoint: Path) -> None:
    out = runs.workspace.root / "afile" / "bundle"
    assert_user_error(runs["unwritable output"], "cannot write the bundle", str(out))


def test_a_missing_config_file_is_reported(tmp_path: Path) -> None:
    result = invoke_paarec("train", "--config", tmp_path / "absent.yaml")
    assert_user_error(result, "absent.yaml", "does not exist")


def test_an_unknown_config_key_is_reported(workspace: Workspace) -> None:
    result = invoke_paarec("train", *workspace.overrides("model.hiddn=8"))
    assert_user_error(result, "model.hiddn", "extra inputs are not permitted")


def test_a_malformed_data_file_is_reported_with_its_line(workspace: Workspace) -> None:
    bad = workspace.root / "bad.txt"
    result = invoke_paarec("data", *workspace.overrides(f"data.source={bad}"))
    assert_user_error(result, "bad.txt line 2", "no items")


def test_a_temporal_split_on_data_without_timestamps_is_reported(workspace: Workspace) -> None:
    result = invoke_paarec("data", *workspace.overrides("split.protocol=temporal"))
    assert_user_error(result, "sequences.txt", "needs timestamps", "protocol=loo")


def test_a_missing_checkpoint_is_reported(tmp_path: Path) -> None:
    result = invoke_paarec("evaluate", tmp_path / "no-checkpoint")
    assert_user_error(result, "no-checkpoint", "does not exist")


def test_a_max_k_larger_than_the_catalogue_is_reported(checkpoint: Path, tmp_path: Path) -> None:
    out = tmp_path / "too-big"
    result = invoke_paarec("export", checkpoint, "--out", out, "--max-k", "50", "--no-real-data")
    assert_user_error(result, f"catalogue size {N_ITEMS}", "got 50")
    assert not out.exists()


# ---- bugs: failures that escape the command's error handling ----


@pytest.fixture(scope="module")
def sasrec_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_checkpoint(tmp_path_factory.mktemp("sasrec") / "checkpoint", "sasrec")


def test_an_unknown_key_in_evaluate_overrides_is_reported(checkpoint: Path) -> None:
    result = invoke_paarec("evaluate", checkpoint, "--set", "eval.kss=[5]")
    assert_user_error(result, "eval.kss")


def test_plotting_a_model_without_kernels_says_so_and_succeeds(sasrec_checkpoint: Path) -> None:
    result = invoke_paarec("plot", sasrec_checkpoint, "--out", sasrec_checkpoint.parent / "p")
    assert result.returncode == 0, result.describe()
    assert "model 'sasrec' has no positional kernels to plot" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_target_metric_that_is_not_evaluated_is_reported(workspace: Workspace) -> None:
    result = invoke_paarec("train", *workspace.overrides("eval.target_metric=ndcg@20"))
    assert_user_error(result, "eval.target_metric", "ndcg@20")
