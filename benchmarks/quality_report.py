"""Turn the quality run store into docs/benchmarks/quality.{md,json} and figures.

Only the selected configuration of each (dataset, model) is reported on test; selection used
validation NDCG@10 at seed 0, never test metrics.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from benchmarks.common import RESULTS, write_results
from benchmarks.quality import RunStore, config_id, dataset_grid
from benchmarks.quality_plots import plot_kernel_figures, plot_ndcg

METRICS = ("ndcg@10", "hr@10", "mrr@10", "cov@10")


def _mean_std(values: list[float]) -> tuple[float, float]:
    """The std of a single seed is NaN: its spread is unknown, not zero."""
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else math.nan


def _plus_minus(mean: str, std: float, spec: str) -> str:
    return f"{mean} (1 seed)" if math.isnan(std) else f"{mean} ± {std:{spec}}"


def _mean_cell(mean: float, std: float, best: float) -> str:
    cell = _plus_minus(f"{mean:.4f}", std, ".4f")
    return f"**{cell}**" if mean == best else cell


def _change_cell(change: tuple[float, float] | None, missing: str = "–") -> str:
    return _plus_minus(f"{change[0]:+.1%}", change[1], ".1%") if change else missing


def selected_runs(
    suite: dict[str, Any], store: RunStore
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """dataset -> model -> the finished seed runs of its selected configuration."""
    table: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for suite_datasets in suite["suites"].values():
        for dataset, spec in suite_datasets.items():
            points = dataset_grid(suite, spec)
            paa_best = store.best_point(dataset, "paa", points)
            for model in [*suite["models"], *suite["ablations"]]:
                best = (
                    store.best_point(dataset, model, points)
                    if model in suite["models"]
                    else paa_best
                )
                if best is None:
                    continue
                runs = [
                    r
                    for r in store.records.values()
                    if r["dataset"] == dataset
                    and r["model"] == model
                    and r["config"] == config_id(best)
                ]
                if runs:
                    table.setdefault(dataset, {})[model] = sorted(runs, key=lambda r: r["seed"])
    return table


def relative_difference(
    runs: list[dict[str, Any]], baseline: list[dict[str, Any]]
) -> tuple[float, float] | None:
    """Test NDCG@10 against a baseline, paired by seed: mean and spread of the relative change."""
    by_seed = {r["seed"]: r["test"]["ndcg@10"] for r in baseline}
    changes = [r["test"]["ndcg@10"] / by_seed[r["seed"]] - 1 for r in runs if r["seed"] in by_seed]
    return _mean_std(changes) if changes else None


def ablation_table(
    table: dict[str, dict[str, list[dict[str, Any]]]], variants: list[str]
) -> list[str]:
    """Each PAA variant against the default PAA, at PAA's selected configuration."""
    lines = ["| dataset | " + " | ".join(variants) + " |", "|---|" + "---|" * len(variants)]
    for dataset, runs_by_model in table.items():
        if not any(variant in runs_by_model for variant in variants):
            continue
        cells = []
        for variant in variants:
            change = relative_difference(
                runs_by_model.get(variant, []), runs_by_model.get("paa", [])
            )
            cells.append(_change_cell(change))
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return lines


def layout_selection_table(
    table: dict[str, dict[str, list[dict[str, Any]]]], variants: list[str], seeds: int
) -> list[str]:
    """PAA's kernel layout picked per dataset on validation NDCG@10, as a user tuning it would.

    That search is wider than any baseline's, so it stays out of the headline comparison. A
    dataset is listed only once every layout and SASRec have all their seeds: picking among
    partial layouts would favour whichever happened to finish. No such dataset, no table.
    """
    family = ["paa", *variants]
    rows = []
    for dataset, runs_by_model in table.items():
        if any(len(runs_by_model.get(model, [])) < seeds for model in [*family, "sasrec"]):
            continue
        validation = {
            model: statistics.fmean(r["validation"]["ndcg@10"] for r in runs_by_model[model])
            for model in family
        }
        picked = max(family, key=validation.__getitem__)
        runs = runs_by_model[picked]
        mean, std = _mean_std([r["test"]["ndcg@10"] for r in runs])
        test = _plus_minus(f"{mean:.4f}", std, ".4f")
        change = _change_cell(relative_difference(runs, runs_by_model["sasrec"]))
        rows.append(f"| {dataset} | {picked} | {validation[picked]:.4f} | {test} | {change} |")
    if not rows:
        return []
    return [
        "| dataset | layout picked | validation NDCG@10 | test NDCG@10 | vs SASRec |",
        "|---|---|---|---|---|",
        *rows,
    ]


def dataset_table(dataset: str, models: dict[str, list[dict[str, Any]]], seeds: int) -> list[str]:
    stats = {
        model: {m: _mean_std([r["test"][m] for r in runs]) for m in METRICS}
        for model, runs in models.items()
    }
    best = {m: max(stats[model][m][0] for model in stats) for m in METRICS}
    first = next(iter(models.values()))[0]
    lines = [
        f"### {dataset} ({first['protocol']}, T = {first['max_len']})\n",
        "| model | "
        + " | ".join(m.upper() for m in METRICS)
        + " | seeds | config | epochs to best | seconds |",
        "|---|" + "---|" * (len(METRICS) + 4),
    ]
    for model, runs in models.items():
        cells = []
        for metric in METRICS:
            mean, std = stats[model][metric]
            cells.append(_mean_cell(mean, std, best[metric]))
        epochs = statistics.fmean(r["epochs"] for r in runs)
        seconds = statistics.fmean(r["seconds"] for r in runs)
        partial = "" if len(runs) >= seeds else " (partial)"
        lines.append(
            f"| {model} | "
            + " | ".join(cells)
            + f" | {len(runs)}{partial} | {runs[0]['config']} | {epochs:.1f} | {seconds:.0f} |"
        )
    change = relative_difference(models.get("paa", []), models.get("sasrec", []))
    if change is not None:
        lines.append(
            f"\nPAA vs SASRec NDCG@10: {_change_cell(change)} (per-seed relative "
            "difference, mean ± std)."
        )
    return [*lines, ""]


def summary_table(
    table: dict[str, dict[str, list[dict[str, Any]]]], models: list[str]
) -> list[str]:
    """Test NDCG@10 of every model on every dataset, best in bold, and PAA vs SASRec."""
    lines = [
        "| dataset | " + " | ".join(models) + " | PAA vs SASRec |",
        "|---|" + "---|" * (len(models) + 1),
    ]
    for dataset, runs_by_model in table.items():
        means = {
            m: _mean_std([r["test"]["ndcg@10"] for r in runs]) for m, runs in runs_by_model.items()
        }
        best = max(mean for mean, _ in means.values())
        cells = []
        for model in models:
            if model not in means:
                cells.append("–")
                continue
            mean, std = means[model]
            cells.append(_mean_cell(mean, std, best))
        change = relative_difference(runs_by_model.get("paa", []), runs_by_model.get("sasrec", []))
        delta = _change_cell(change)
        lines.append(f"| {dataset} | " + " | ".join(cells) + f" | {delta} |")
    return lines


def metrics_table(
    table: dict[str, dict[str, list[dict[str, Any]]]], models: list[str]
) -> list[str]:
    """Every metric of every headline model on every dataset, best per dataset in bold."""
    lines = [
        "| dataset | model | " + " | ".join(m.upper() for m in METRICS) + " | vs SASRec |",
        "|---|---|" + "---|" * (len(METRICS) + 1),
    ]
    for dataset, runs_by_model in table.items():
        present = [m for m in models if m in runs_by_model]
        stats = {
            m: {k: _mean_std([r["test"][k] for r in runs_by_model[m]]) for k in METRICS}
            for m in present
        }
        best = {k: max(stats[m][k][0] for m in present) for k in METRICS}
        for model in present:
            cells = []
            for metric in METRICS:
                mean, std = stats[model][metric]
                cells.append(_mean_cell(mean, std, best[metric]))
            change = (
                relative_difference(runs_by_model[model], runs_by_model.get("sasrec", []))
                if model != "sasrec"
                else None
            )
            delta = _change_cell(change, missing="")
            lines.append(f"| {dataset} | {model} | " + " | ".join(cells) + f" | {delta} |")
    return lines


def goal_check(
    suite: dict[str, Any], table: dict[str, dict[str, list[dict[str, Any]]]]
) -> list[str]:
    """The issue's goal, judged per suite from the table: PAA best or within one std of the
    best (the best model's std), and PAA above SASRec. A pair counts once PAA and SASRec
    have every seed; "best" needs every headline model, so it stays open until then."""
    models, seeds = suite["models"], len(suite["seeds"])
    lines = [
        "| suite | dataset | best model | PAA − best NDCG@10 | std of best | "
        "PAA best or within 1 std | PAA above SASRec |",
        "|---|---|---|---|---|---|---|",
    ]
    tallies = []
    for suite_name, suite_datasets in suite["suites"].items():
        within_count = above_count = judged_best = judged_above = 0
        for dataset in suite_datasets:
            runs_by_model = table.get(dataset, {})
            complete = [m for m in models if len(runs_by_model.get(m, [])) >= seeds]
            if not {"paa", "sasrec"} <= set(complete):
                continue
            means = {
                m: _mean_std([r["test"]["ndcg@10"] for r in runs_by_model[m]]) for m in complete
            }
            above = means["paa"][0] > means["sasrec"][0]
            judged_above += 1
            above_count += above
            best_cells = ["–", "–", "–", f"open: {len(complete)}/{len(models)} models"]
            if len(complete) == len(models):
                best = max(models, key=lambda m: means[m][0])
                gap = means["paa"][0] - means[best][0]
                within = -gap <= means[best][1]
                judged_best += 1
                within_count += within
                best_cells = [best, f"{gap:+.4f}", f"{means[best][1]:.4f}", _yes_no(within)]
            lines.append(
                f"| {suite_name} | {dataset} | " + " | ".join(best_cells) + f" | {_yes_no(above)} |"
            )
        tallies.append(
            f"- {suite_name} suite, {len(suite_datasets)} planned pairs: PAA best or within 1 std "
            f"on {within_count} of {judged_best} judged; above SASRec on {above_count} of "
            f"{judged_above} judged."
        )
    return [*lines, "", *tallies]


def _yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def references_table(
    suite: dict[str, Any], table: dict[str, dict[str, list[dict[str, Any]]]]
) -> list[str]:
    """Published SASRec figures beside ours, so a reader can check the baseline is not weak."""
    datasets = {key for suite_datasets in suite["suites"].values() for key in suite_datasets}
    lines = [
        "| dataset | published model | HR@10 | NDCG@10 | our SASRec HR@10 | NDCG@10 | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for ref in suite.get("references", []):
        dataset = ref["dataset"]
        runs = table.get(dataset, {}).get("sasrec", [])
        if runs:
            ours = [
                f"{_mean_std([r['test'][m] for r in runs])[0]:.4f}" for m in ("hr@10", "ndcg@10")
            ]
        else:
            ours = ["not in this suite" if dataset not in datasets else "not run yet", "–"]
        lines.append(
            f"| {dataset} | {ref['model']} | {ref['hr@10']:.4f} | {ref['ndcg@10']:.4f} | "
            f"{ours[0]} | {ours[1]} | {ref['source']} |"
        )
    return lines


def unfinished(
    suite: dict[str, Any], table: dict[str, dict[str, list[dict[str, Any]]]]
) -> list[str]:
    """Every planned (dataset, model) without all its seeds, so gaps are stated, not hidden."""
    seeds = len(suite["seeds"])
    lines = []
    for suite_name, suite_datasets in suite["suites"].items():
        for dataset in suite_datasets:
            missing = [
                f"{model} ({len(table.get(dataset, {}).get(model, []))}/{seeds} seeds)"
                for model in [*suite["models"], *suite["ablations"]]
                if len(table.get(dataset, {}).get(model, [])) < seeds
            ]
            if missing:
                lines.append(f"- {dataset} ({suite_name} suite): {', '.join(missing)}")
    return lines


def write_report(suite: dict[str, Any], store: RunStore, results: Path = RESULTS) -> None:
    results.mkdir(parents=True, exist_ok=True)
    table = selected_runs(suite, store)
    seeds = len(suite["seeds"])
    records = [
        {
            "dataset": r["dataset"],
            "protocol": r["protocol"],
            "model": r["model"],
            "seed": r["seed"],
            "config": r["config"],
            "max_len": r["max_len"],
            **{metric: r["test"][metric] for metric in METRICS},
            "validation_ndcg@10": r["validation"]["ndcg@10"],
            "epochs": r["epochs"],
            "seconds": r["seconds"],
            "selected": any(r in runs for runs in table.get(r["dataset"], {}).values()),
        }
        for r in sorted(store.records.values(), key=lambda r: r["key"])
    ]
    lines = [
        "# Quality: PAA vs SASRec, NoPE and RoPE\n",
        "Test metrics at K = 10 (full-catalogue ranking, seen items masked), mean ± std over "
        "seeds of the configuration selected on validation NDCG@10. Best mean in bold. "
        "Budget and grid: `configs/benchmarks/quality.yaml`. Produced by "
        "`python -m benchmarks.quality run` (resumable) and `python -m benchmarks.quality report`.\n",
        f"Finished runs: {len(store.records)}. A model marked *(partial)* has fewer seeds than "
        "planned; the list at the end names every run still missing.\n",
        "SASRec here is the strong SASRec+ setup: full-softmax cross-entropy at every position, "
        "trained by the same trainer as PAA. Published SASRec figures, with ours beside them "
        "where this suite has the same dataset and protocol:\n",
        *references_table(suite, table),
        "",
    ]
    if table:
        lines += [
            "## Summary: test NDCG@10\n",
            *summary_table(table, [*suite["models"], *suite["ablations"]]),
            "",
        ]
    if table:
        lines += [
            "## Every metric of the headline models\n",
            "`vs SASRec`: relative test NDCG@10 difference, paired by seed (mean ± std).\n",
            *metrics_table(table, suite["models"]),
            "",
            "## Goal check\n",
            "A pair is judged once PAA and SASRec have every seed; whether PAA is best needs "
            "every headline model.\n",
            *goal_check(suite, table),
            "",
        ]
    if any(variant in models for models in table.values() for variant in suite["ablations"]):
        lines += [
            "## Ablation: test NDCG@10 of each variant relative to PAA (paired by seed)\n",
            "PAA has Toeplitz keys per block and Full values shared across blocks. `paa-tt` has "
            "Toeplitz keys and values, `paa-ft` Full keys and Toeplitz values (both per block), "
            "and `paa-tf-shared` PAA's kernels with the keys shared across blocks too.\n",
            *ablation_table(table, suite["ablations"]),
            "",
        ]
        selection = layout_selection_table(table, suite["ablations"], seeds)
        if selection:
            lines += [
                "## Kernel layout selected on validation\n",
                "The PAA layout (default or ablation variant) with the best mean validation "
                "NDCG@10, as a user who tunes the layout would pick it. This search is wider "
                "than the baselines', so it is not part of the headline comparison.\n",
                *selection,
                "",
            ]
    for dataset, models in table.items():
        lines += dataset_table(dataset, models, seeds)
    if table:
        figure = f"{suite.get('report', 'quality')}_ndcg.png"
        ndcg = {
            dataset: {
                model: _mean_std([r["test"]["ndcg@10"] for r in runs])
                for model, runs in models.items()
                if runs
            }
            for dataset, models in table.items()
        }
        plot_ndcg(ndcg, results / figure)
        lines.append(f"![test NDCG@10 per dataset and model]({figure})\n")
        for path in plot_kernel_figures(table, results / suite.get("kernels", "kernels")):
            lines.append(
                f"![{path.parent.name}: {path.stem}]({path.relative_to(results).as_posix()})\n"
            )
    missing = unfinished(suite, table)
    if missing:
        lines += ["## Not finished\n", *missing, ""]
    write_results(suite.get("report", "quality"), records, "\n".join(lines), results)
    print(json.dumps({"runs": len(records), "datasets": list(table)}, indent=2))
