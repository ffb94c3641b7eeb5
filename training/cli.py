"""The ``paarec`` command line: data, train, evaluate, plot and export.

Heavy imports (torch, pandas, onnx) happen inside the commands so ``--help`` stays instant.
Every expected failure (bad config, malformed data, broken checkpoint) is reported as one
``error:`` line with a non-zero exit code instead of a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Position-aware attention (PAA) recommenders: data, train, evaluate, plot, export.",
)

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML run config (see configs/).")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", help="Override a config key, e.g. --set model.hidden=128 (repeatable)."
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(command: F) -> F:
    """Turn the project's expected errors into a one-line message and exit code 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from training.errors import USER_ERRORS

        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


def _print_metrics(title: str, metrics: dict[str, float]) -> None:
    typer.echo(f"{title}: " + "  ".join(f"{name}={value:.4f}" for name, value in metrics.items()))


@app.command()
@reports_errors
def data(config: ConfigOption = None, overrides: SetOption = None) -> None:
    """Load (downloading built-in datasets once), filter and split; print the statistics."""
    from training.config import load_config
    from training.pipeline import prepare_data

    run = load_config(config, overrides)
    prepared = prepare_data(run)
    split = prepared.split
    stats = {
        "source": run.data.source,
        "protocol": run.split.protocol,
        "interactions": prepared.n_interactions,
        "items": len(split.vocab),
        "training_sequences": len(split.train_sequences),
        "validation_targets": len(split.validation),
        "test_targets": len(split.test),
        "titles": prepared.titles is not None,
    }
    typer.echo(json.dumps(stats, indent=2))


@app.command()
@reports_errors
def train(config: ConfigOption = None, overrides: SetOption = None) -> None:
    """Train a model with early stopping; writes a checkpoint folder under the run directory."""
    from training.config import dump_config, load_config
    from training.pipeline import run_training

    run = load_config(config, overrides)
    typer.echo(dump_config(run), err=True)
    result = run_training(run)
    if result.checkpoint_dir is None:
        return  # a non-zero rank of a distributed run
    metrics = result.metrics
    typer.echo(
        f"best epoch {metrics['best_epoch']} of {metrics['epochs_run']} "
        f"({metrics['stopped_by']}), {metrics['train_seconds']:.0f}s"
    )
    _print_metrics("validation", metrics["validation"])
    _print_metrics("test", metrics["test"])
    typer.echo(f"checkpoint: {result.checkpoint_dir}")


@app.command()
@reports_errors
def evaluate(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint folder written by `train`.")],
    overrides: SetOption = None,
    split: Annotated[str, typer.Option(help="Which evaluation set: test or validation.")] = "test",
) -> None:
    """Re-evaluate a checkpoint on the data and split recorded in its config."""
    from training.checkpoint import load_checkpoint
    from training.config import apply_overrides, validate_config
    from training.evaluation import evaluate as run_evaluation
    from training.pipeline import prepare_data

    if split not in ("test", "validation"):
        raise typer.BadParameter("must be 'test' or 'validation'", param_hint="--split")
    loaded = load_checkpoint(checkpoint)
    tree = apply_overrides(loaded.config.model_dump(mode="json"), overrides or [])
    run = validate_config(tree, " after --set overrides")
    prepared = prepare_data(run)
    if list(prepared.split.vocab.items) != list(loaded.vocab.items):
        typer.secho("warning: the data's vocabulary differs from the checkpoint's", err=True)
    cases = prepared.split.test if split == "test" else prepared.split.validation
    metrics = run_evaluation(loaded.model, cases, run.eval.ks, run.eval.batch_size)
    _print_metrics(split, metrics)


@app.command()
@reports_errors
def plot(
    checkpoint: Annotated[Path, typer.Argument(help="Checkpoint folder written by `train`.")],
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default: the run folder).")
    ] = None,
) -> None:
    """Write PNGs of the learned kernels (A_key, A_val, C = A_keyᵀ·A_val, g) and training curves."""
    from training.checkpoint import load_checkpoint
    from training.plots import plot_kernels, plot_training_curves

    loaded = load_checkpoint(checkpoint)
    target = out or checkpoint.parent
    written: list[Path] = []
    if loaded.model.settings.arch == "paa":
        written = plot_kernels(loaded.model, target)
    else:
        typer.echo(f"model '{loaded.model.settings.arch}' has no positional kernels to plot")
    history = checkpoint.parent / "history.jsonl"
    if history.is_file():
        written.append(plot_training_curves(history, target))
    for path in written:
        typer.echo(str(path))


def main() -> None:
    try:
        from export.cli import register_export
    except ImportError:  # the `export` extra (onnx, onnxruntime) is not installed
        pass
    else:
        register_export(app)
    app(prog_name="paarec")


if __name__ == "__main__":
    main()
