"""The quality suite: PAA vs SASRec, NoPE and RoPE (plus the PAA ablation) with equal tuning.

Every finished (dataset, model, configuration, seed) run is appended to a JSON-lines store,
so the suite is resumable: rerunning skips finished runs and it can be spread over several
background jobs. ``report`` turns the store into docs/benchmarks/quality.{md,json}.

    python -m benchmarks.quality run --suite core --max-hours 2.5
    python -m benchmarks.quality report
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from training.config import RunConfig, apply_overrides
from training.models.variants import VARIANTS
from training.pipeline import PreparedData, prepare_data, run_training

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "benchmarks" / "quality.yaml"
STORE = ROOT / "docs" / "benchmarks" / "quality_runs.jsonl"


@dataclass(frozen=True)
class Dataset:
    key: str
    source: str
    protocol: str
    max_len: int
    batch_size: int | None = None
    points: tuple[tuple[tuple[str, Any], ...], ...] = ()

    @property
    def grid(self) -> list[dict[str, Any]]:
        return [dict(point) for point in self.points]


def load_suite(path: Path = CONFIG) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = sorted(grid)
    return [
        dict(zip(keys, values, strict=True))
        for values in itertools.product(*(grid[k] for k in keys))
    ]


def dataset_grid(suite: dict[str, Any], spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The grid for one dataset: the suite's, unless the dataset narrows it (budget)."""
    return grid_points(spec.get("grid", suite["grid"]))


def config_id(point: dict[str, Any]) -> str:
    """A short stable name for a grid point, e.g. ``model.dropout=0.1``."""
    return ",".join(f"{key}={point[key]}" for key in sorted(point)) or "default"


def run_key(dataset: str, model: str, point: dict[str, Any], seed: int) -> str:
    return f"{dataset}|{model}|{config_id(point)}|{seed}"


class RunStore:
    """Append-only JSON lines; a line is written only after its run finished."""

    def __init__(self, path: Path = STORE) -> None:
        self.path = path
        self.records: dict[str, dict[str, Any]] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                if line.strip():
                    record = json.loads(line)
                    self.records[record["key"]] = record

    def add(self, record: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as store:
            store.write(json.dumps(record, sort_keys=True) + "\n")
        self.records[record["key"]] = record

    def best_point(
        self, dataset: str, model: str, points: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The grid point with the best validation NDCG@10 at seed 0, once all are finished.

        A one-point grid needs no selection, so its seeds need not wait for seed 0."""
        if len(points) == 1:
            return points[0]
        scored = []
        for point in points:
            record = self.records.get(run_key(dataset, model, point, 0))
            if record is None:
                return None
            scored.append((record["validation"]["ndcg@10"], config_id(point), point))
        return max(scored, key=lambda item: (item[0], item[1]))[2]


def build_config(
    suite: dict[str, Any],
    dataset: Dataset,
    model: str,
    point: dict[str, Any],
    seed: int,
    output_dir: Path,
) -> RunConfig:
    tree: dict[str, Any] = json.loads(json.dumps(suite["base"]))
    tree["name"] = (
        f"{dataset.key}-{model}-{hashlib.sha1(config_id(point).encode()).hexdigest()[:6]}-s{seed}"
    )
    tree["output_dir"] = str(output_dir)
    tree["data"] = {"source": dataset.source}
    tree["split"] = {"protocol": dataset.protocol}
    tree.setdefault("model", {}).update(VARIANTS[model])
    tree["model"]["max_len"] = dataset.max_len
    tree.setdefault("train", {})["seed"] = seed
    if dataset.batch_size is not None:
        tree["train"]["batch_size"] = dataset.batch_size
    overrides = [f"{key}={value}" for key, value in point.items()]
    return RunConfig.model_validate(apply_overrides(tree, overrides))


def planned_runs(
    suite: dict[str, Any], store: RunStore, dataset: Dataset, phase: str
) -> Iterator[tuple[str, dict[str, Any], int]]:
    """``main``: tuning runs (seed 0, every grid point), then the other seeds of the selected
    point; ``ablation``: the PAA variants at the point selected for ``paa``, seed by seed, so
    an interrupted suite has every variant at some seeds rather than some variants at all.

    Evaluated lazily, so the selection sees the tuning runs finished just before."""
    points = dataset.grid
    if phase == "main":
        for model in suite["models"]:
            for point in points:
                yield model, point, 0
            best = store.best_point(dataset.key, model, points)
            if best is not None:
                for seed in suite["seeds"][1:]:
                    yield model, best, seed
        return
    paa_best = store.best_point(dataset.key, "paa", points)
    if paa_best is not None:
        for seed in suite["seeds"]:
            for model in suite["ablations"]:
                yield model, paa_best, seed


def suite_datasets(
    suite: dict[str, Any], suite_name: str, datasets: list[str] | None = None
) -> dict[str, Dataset]:
    """The suite's datasets (optionally a subset), each with its own grid."""
    specs = suite["suites"][suite_name]
    return {
        key: Dataset(
            key,
            spec["source"],
            spec["protocol"],
            spec["max_len"],
            spec.get("batch_size"),
            tuple(tuple(sorted(p.items())) for p in dataset_grid(suite, spec)),
        )
        for key, spec in specs.items()
        if not datasets or key in datasets
    }


def run_suite(
    suite: dict[str, Any],
    store: RunStore,
    selected: dict[str, Dataset],
    max_hours: float,
    output_dir: Path,
    threads: int | None = None,
    models: list[str] | None = None,
    seeds: list[int] | None = None,
) -> None:
    """The headline comparison on every dataset first, then the ablation on every dataset.

    ``threads``, ``models`` and ``seeds`` change speed, not what is measured: they let several
    workers, each given disjoint datasets, models or seeds, share the cores."""
    if threads is not None:
        suite["base"]["train"]["threads"] = threads
    deadline = time.monotonic() + max_hours * 3600
    prepared: dict[str, PreparedData] = {}
    for phase in ("main", "ablation"):
        for dataset in selected.values():
            for model, point, seed in planned_runs(suite, store, dataset, phase):
                key = run_key(dataset.key, model, point, seed)
                if (
                    key in store.records
                    or (models and model not in models)
                    or (seeds and seed not in seeds)
                ):
                    continue
                if time.monotonic() > deadline:
                    print(f"time budget reached; stopping before {key}", flush=True)
                    return
                config = build_config(suite, dataset, model, point, seed, output_dir)
                if dataset.key not in prepared:
                    prepared[dataset.key] = prepare_data(config)
                store.add(execute(config, prepared[dataset.key], dataset, model, point, key))


def execute(
    config: RunConfig,
    prepared: PreparedData,
    dataset: Dataset,
    model: str,
    point: dict[str, Any],
    key: str,
) -> dict[str, Any]:
    """One training run; PAA keeps its checkpoint (seed 0) for the kernel figures."""
    seed = config.train.seed
    started = time.perf_counter()
    result = run_training(config, prepared, save=model == "paa" and seed == 0)
    record = {
        "key": key,
        "dataset": dataset.key,
        "protocol": dataset.protocol,
        "model": model,
        "config": config_id(point),
        "seed": seed,
        "max_len": dataset.max_len,
        "validation": result.metrics["validation"],
        "test": result.metrics["test"],
        "epochs": result.metrics["best_epoch"],
        "epochs_run": result.metrics["epochs_run"],
        "stopped_by": result.metrics["stopped_by"],
        "seconds": round(time.perf_counter() - started, 1),
        "checkpoint": str(result.checkpoint_dir) if result.checkpoint_dir else None,
    }
    print(
        f"{key}: val ndcg@10={record['validation']['ndcg@10']:.4f} "
        f"test ndcg@10={record['test']['ndcg@10']:.4f} "
        f"({record['epochs']}/{record['epochs_run']} ep, {record['seconds']}s)",
        flush=True,
    )
    return record


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--config", type=Path, default=CONFIG, help="suite YAML")
    parser.add_argument(
        "--store", type=Path, default=None, help="JSON-lines run store (default: the config's)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train and evaluate the runs that are not finished yet")
    run.add_argument("--suite", default="core", help="a suite named in the config")
    run.add_argument("--datasets", default="", help="comma-separated dataset keys (default: all)")
    run.add_argument("--max-hours", type=float, default=3.0, help="stop starting runs after this")
    run.add_argument("--output-dir", type=Path, default=ROOT / "runs" / "quality")
    run.add_argument("--threads", type=int, default=None, help="torch threads per run")
    run.add_argument("--models", default="", help="comma-separated models (default: all)")
    run.add_argument("--seeds", default="", help="comma-separated seeds (default: all)")
    commands.add_parser("report", help="write docs/benchmarks/quality.md and quality.json")
    args = parser.parse_args()
    suite = load_suite(args.config)
    store = RunStore(args.store or ROOT / suite.get("store", STORE))
    if args.command == "run":
        if args.suite not in suite["suites"]:
            parser.error(f"--suite: {args.suite!r} is not one of {', '.join(suite['suites'])}")
        datasets = [d for d in args.datasets.split(",") if d] or None
        unknown = sorted(set(datasets or []) - set(suite["suites"][args.suite]))
        if unknown:
            parser.error(f"--datasets: {', '.join(unknown)} not in suite {args.suite!r}")
        models = [m for m in args.models.split(",") if m] or None
        unknown = sorted(set(models or []) - {*suite["models"], *suite["ablations"]})
        if unknown:
            parser.error(f"--models: {', '.join(unknown)} not in the suite's models or ablations")
        try:
            seeds = [int(seed) for seed in args.seeds.split(",") if seed] or None
        except ValueError:
            parser.error(f"--seeds: {args.seeds!r} is not a comma-separated list of integers")
        selected = suite_datasets(suite, args.suite, datasets)
        run_suite(
            suite, store, selected, args.max_hours, args.output_dir, args.threads, models, seeds
        )
    else:
        from benchmarks.quality_report import write_report

        write_report(suite, store)


if __name__ == "__main__":
    main()
