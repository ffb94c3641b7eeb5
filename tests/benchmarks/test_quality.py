"""The quality suite: fair selection, resumability and the report, on real tiny training runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks.quality import (
    ROOT,
    RunStore,
    build_config,
    config_id,
    load_suite,
    planned_runs,
    run_key,
    run_suite,
    suite_datasets,
)
from benchmarks.quality_report import write_report
from tests.utils.synthetic_data import synthetic_sequences, write_sequences_file
from tests.utils.torch_threads import single_threaded_torch

MODELS = ["paa", "sasrec"]
ABLATIONS = ["paa-tt"]
SEEDS = [0, 1]


def tiny_suite(source: Path) -> dict[str, Any]:
    return {
        "base": {
            "model": {"hidden": 8, "blocks": 1, "heads": 1},
            "train": {"batch_size": 16, "lr": 0.01, "epochs": 2, "patience": 1, "progress": False},
            "eval": {"ks": [10], "target_metric": "ndcg@10"},
        },
        "grid": {"model.dropout": [0.1, 0.3]},
        "seeds": SEEDS,
        "models": MODELS,
        "ablations": ABLATIONS,
        "suites": {"core": {"tiny-loo": {"source": str(source), "protocol": "loo", "max_len": 8}}},
        "references": [
            {
                "dataset": "tiny-loo",
                "model": "SASRec (paper)",
                "hr@10": 0.5,
                "ndcg@10": 0.25,
                "source": "a paper",
            },
            {
                "dataset": "elsewhere-loo",
                "model": "SASRec",
                "hr@10": 0.1,
                "ndcg@10": 0.05,
                "source": "b",
            },
        ],
    }


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], RunStore, Path]:
    root = tmp_path_factory.mktemp("quality")
    source = write_sequences_file(root / "sequences.txt", synthetic_sequences(n_users=30))
    suite = tiny_suite(source)
    store = RunStore(root / "runs.jsonl")
    with single_threaded_torch():
        run_suite(suite, store, suite_datasets(suite, "core"), 1.0, root / "runs")
    return suite, store, root


def test_every_model_is_tuned_then_seeded_and_the_ablation_reuses_paas_choice(
    finished: tuple[dict[str, Any], RunStore, Path],
) -> None:
    _, store, _ = finished
    by_model: dict[str, list[tuple[str, int]]] = {}
    for record in store.records.values():
        by_model.setdefault(record["model"], []).append((record["config"], record["seed"]))
    for model in MODELS:
        configs = sorted(c for c, seed in by_model[model] if seed == 0)
        assert configs == ["model.dropout=0.1", "model.dropout=0.3"]
        assert len(by_model[model]) == 2 + len(SEEDS) - 1
    paa_choice = store.best_point(
        "tiny-loo", "paa", [{"model.dropout": 0.1}, {"model.dropout": 0.3}]
    )
    assert paa_choice is not None
    assert sorted(by_model["paa-tt"]) == [(config_id(paa_choice), seed) for seed in SEEDS]


def test_selection_uses_validation_not_test(
    finished: tuple[dict[str, Any], RunStore, Path],
) -> None:
    _, store, _ = finished
    points = [{"model.dropout": 0.1}, {"model.dropout": 0.3}]
    for model in MODELS:
        tuning = [store.records[run_key("tiny-loo", model, p, 0)] for p in points]
        chosen = store.best_point("tiny-loo", model, points)
        best_validation = max(r["validation"]["ndcg@10"] for r in tuning)
        assert chosen is not None
        assert store.records[run_key("tiny-loo", model, chosen, 0)]["validation"]["ndcg@10"] == (
            best_validation
        )


def test_a_rerun_skips_every_finished_run(
    finished: tuple[dict[str, Any], RunStore, Path],
) -> None:
    suite, store, root = finished
    lines_before = store.path.read_text().count("\n")
    reloaded = RunStore(store.path)
    dataset = suite_datasets(suite, "core")["tiny-loo"]
    for phase in ("main", "ablation"):
        for model, point, seed in planned_runs(suite, reloaded, dataset, phase):
            assert run_key("tiny-loo", model, point, seed) in reloaded.records
    run_suite(suite, reloaded, suite_datasets(suite, "core"), 1.0, root / "runs")
    assert store.path.read_text().count("\n") == lines_before


def _store_subset(store: RunStore, path: Path, keep: Callable[[dict[str, Any]], bool]) -> RunStore:
    """A store holding only some of the finished runs, as if the suite had been interrupted."""
    subset = RunStore(path)
    for record in store.records.values():
        if keep(record):
            subset.add(record)
    return subset


def test_an_unfinished_suite_lists_what_is_missing(
    finished: tuple[dict[str, Any], RunStore, Path],
) -> None:
    suite, store, root = finished
    partial = _store_subset(
        store, root / "partial.jsonl", lambda r: r["model"] != "paa-tt" or r["seed"] == 0
    )
    write_report(suite, partial, root / "partial-report")
    markdown = (root / "partial-report" / "quality.md").read_text()
    assert "- tiny-loo (core suite): paa-tt (1/2 seeds)" in markdown
    assert "paa-tt | 0." in markdown and "(partial)" in markdown


def test_a_worker_given_some_models_runs_only_those(
    finished: tuple[dict[str, Any], RunStore, Path],
) -> None:
    suite, _, root = finished
    store = RunStore(root / "sasrec-only.jsonl")
    with single_threaded_torch():
        run_suite(
            suite, store, suite_datasets(suite, "core"), 1.0, root / "runs", models=["sasrec"]
        )
    assert {r["model"] for r in store.records.values()} == {"sasrec"}
    assert len(store.records) == 2 + len(SEEDS) - 1


def test_a_one_point_grid_plans_every_seed_at_once(
    finished: tuple[dict[str, Any], RunStore, Path], tmp_path: Path
) -> None:
    suite, _, _ = finished
    one_point = {**suite, "grid": {"model.dropout": [0.3]}}
    dataset = suite_datasets(one_point, "core")["tiny-loo"]
    planned = list(planned_runs(one_point, RunStore(tmp_path / "empty.jsonl"), dataset, "main"))
    assert [(model, seed) for model, _, seed in planned] == [
        (model, seed) for model in MODELS for seed in SEEDS
    ]


@pytest.fixture(scope="module")
def full_report(
    finished: tuple[dict[str, Any], RunStore, Path],
) -> tuple[list[dict[str, Any]], str, Path]:
    """The report of the finished tiny suite: its JSON records, its markdown and its folder."""
    suite, store, root = finished
    results = root / "report"
    write_report(suite, store, results)
    records = json.loads((results / "quality.json").read_text())
    return records, (results / "quality.md").read_text(), results


def test_the_report_has_one_record_per_run_and_a_table_per_dataset(
    finished: tuple[dict[str, Any], RunStore, Path],
    full_report: tuple[list[dict[str, Any]], str, Path],
) -> None:
    store = finished[1]
    records, markdown, results = full_report
    assert len(records) == len(store.records)
    required = {"dataset", "protocol", "model", "seed", "ndcg@10", "hr@10", "mrr@10", "cov@10"}
    assert all(
        required <= set(record) and {"epochs", "seconds"} <= set(record) for record in records
    )
    assert "### tiny-loo (loo, T = 8)" in markdown
    assert "PAA vs SASRec NDCG@10" in markdown
    assert "## Ablation" in markdown
    assert "| tiny-loo | paa | " in markdown and "| tiny-loo | sasrec | " in markdown
    goal_rows = [line for line in markdown.splitlines() if line.startswith("| core | tiny-loo | ")]
    assert len(goal_rows) == 1 and goal_rows[0].endswith(("| yes |", "| no |"))
    tally = "- core suite, 1 planned pairs: PAA best or within 1 std on [01] of 1 judged; above"
    assert re.search(tally, markdown)
    assert "## Not finished" not in markdown
    sasrec_hr = [r["hr@10"] for r in records if r["model"] == "sasrec" and r["selected"]]
    ours = f"{sum(sasrec_hr) / len(sasrec_hr):.4f}"
    assert f"| tiny-loo | SASRec (paper) | 0.5000 | 0.2500 | {ours} |" in markdown
    assert "| elsewhere-loo | SASRec | 0.1000 | 0.0500 | not in this suite |" in markdown
    assert (results / "kernels" / "tiny-loo" / "kernels.png").is_file()


def test_the_goal_check_judges_paa_vs_sasrec_before_every_model_has_run(
    finished: tuple[dict[str, Any], RunStore, Path],
) -> None:
    suite, store, root = finished
    results = root / "partial-report"
    write_report({**suite, "models": [*MODELS, "nope"]}, store, results)
    markdown = (results / "quality.md").read_text()
    goal_rows = [line for line in markdown.splitlines() if line.startswith("| core | tiny-loo | ")]
    assert len(goal_rows) == 1
    assert "| – | – | – | open: 2/3 models |" in goal_rows[0]
    assert re.search(
        "PAA best or within 1 std on 0 of 0 judged; above SASRec on [01] of 1", markdown
    )


def test_the_kernel_layout_is_picked_on_validation(
    full_report: tuple[list[dict[str, Any]], str, Path],
) -> None:
    records, markdown, _ = full_report
    validation = {
        model: sum(r["validation_ndcg@10"] for r in picked) / len(picked)
        for model in ["paa", *ABLATIONS]
        if (picked := [r for r in records if r["model"] == model and r["selected"]])
    }
    best = max(validation, key=validation.__getitem__)
    assert "## Kernel layout selected on validation" in markdown
    assert f"| tiny-loo | {best} | {validation[best]:.4f} | " in markdown


def test_a_single_seed_is_reported_without_a_made_up_spread(
    finished: tuple[dict[str, Any], RunStore, Path],
) -> None:
    suite, store, root = finished
    seed_zero = _store_subset(store, root / "seed-zero.jsonl", lambda r: r["seed"] == 0)
    results = root / "seed-zero-report"
    write_report(suite, seed_zero, results)
    markdown = (results / "quality.md").read_text()
    summary_section = markdown.split("## Summary", 1)[1].splitlines()
    summary = next(line for line in summary_section if line.startswith("| tiny-loo | "))
    assert "(1 seed)" in summary and "±" not in summary
    assert "## Kernel layout selected on validation" not in markdown, "picked among partial seeds"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--datasets", "--datasets: no-such-set not in suite 'core'"),
        ("--models", "--models: no-such-set not in the suite's models or ablations"),
        ("--seeds", "--seeds: 'no-such-set' is not a comma-separated list of integers"),
    ],
)
def test_the_cli_rejects_an_unknown_name_without_a_traceback(option: str, message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.quality", "run", option, "no-such-set"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "config", sorted((ROOT / "configs" / "benchmarks").glob("quality*.yaml")), ids=lambda p: p.stem
)
def test_every_shipped_suite_builds_a_valid_run_config_for_every_planned_run(
    config: Path, tmp_path: Path
) -> None:
    suite = load_suite(config)
    for suite_name in suite["suites"]:
        for dataset in suite_datasets(suite, suite_name).values():
            for model in [*suite["models"], *suite["ablations"]]:
                for point in dataset.grid:
                    run = build_config(suite, dataset, model, point, 0, tmp_path)
                    assert run.model.max_len == dataset.max_len
                    for key, value in point.items():
                        section, field = key.split(".")
                        assert getattr(getattr(run, section), field) == value
