"""Typed, layered run configuration: defaults, then a YAML file, then ``--set key=value`` overrides.

Every section refuses unknown keys so that a typo in a config file fails loudly instead of
silently training the wrong model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from training.errors import UserError

KernelKind = Literal["toeplitz", "full"]
KernelSharing = Literal["per_block", "shared"]
Architecture = Literal["paa", "sasrec", "nope", "rope"]


class ConfigError(UserError):
    """A configuration file or override that cannot be turned into a valid run config."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ColumnMapping(StrictModel):
    """Names of the source columns that hold the canonical fields (CSV / Parquet input)."""

    user: str = "user_id"
    item: str = "item_id"
    timestamp: str | None = "timestamp"


class TitlesConfig(StrictModel):
    """Optional item titles, carried into the bundle so the service can show them."""

    path: str
    item: str = "item_id"
    title: str = "title"


class DataConfig(StrictModel):
    source: str = Field("ml-100k", description="Built-in dataset name or a path to a file.")
    format: Literal["auto", "csv", "parquet", "sequences", "pairs"] = "auto"
    columns: ColumnMapping = ColumnMapping()
    separator: str | None = Field(None, description="CSV delimiter; sniffed when omitted.")
    titles: TitlesConfig | None = None
    drop_duplicates: bool = True
    min_user_interactions: int = Field(0, ge=0, description="k-core threshold for users.")
    min_item_interactions: int = Field(0, ge=0, description="k-core threshold for items.")
    min_sequence_length: int = Field(0, ge=0)
    cache_dir: str | None = Field(None, description="Where built-in datasets are cached.")


class SplitConfig(StrictModel):
    protocol: Literal["temporal", "loo"] = "temporal"
    holdout_fraction: float = Field(0.08, gt=0.0, lt=1.0)
    holdout_cap: int = Field(80_000, gt=0)
    validation_share: float = Field(0.625, gt=0.0, lt=1.0)


class ModelSettings(StrictModel):
    """Architecture hyper-parameters; ``n_items`` is filled in from the data."""

    arch: Architecture = "paa"
    key_kernel: KernelKind = "toeplitz"
    value_kernel: KernelKind = "full"
    key_sharing: KernelSharing = "per_block"
    value_sharing: KernelSharing = "shared"
    max_len: int = Field(200, ge=1)
    hidden: int = Field(64, ge=1)
    blocks: int = Field(2, ge=1)
    heads: int = Field(1, ge=1)
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    rope_base: float = Field(10_000.0, gt=0.0)

    @field_validator("heads")
    @classmethod
    def _heads_fit(cls, heads: int, info: ValidationInfo) -> int:
        hidden = info.data.get("hidden")
        if hidden is None:
            return heads
        if hidden % heads:
            raise ValueError(f"hidden ({hidden}) must be divisible by heads ({heads})")
        if info.data.get("arch") == "rope" and (hidden // heads) % 2:
            raise ValueError(f"rope needs an even head size, got hidden/heads = {hidden // heads}")
        return heads


class TrainSettings(StrictModel):
    epochs: int = Field(200, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    betas: tuple[float, float] = (0.9, 0.98)
    patience: int = Field(10, ge=1)
    loss: Literal["full", "sampled"] = "full"
    n_negatives: int = Field(1024, ge=1, description="Shared negatives for the sampled softmax.")
    seed: int = 42
    device: Literal["auto", "cpu", "cuda"] = "auto"
    bf16: bool = Field(True, description="bf16 autocast, used on CUDA only.")
    threads: int | None = Field(None, ge=1, description="torch intra-op threads on CPU.")
    max_minutes: float | None = Field(None, gt=0.0, description="Wall-clock budget for training.")
    progress: bool = True


class EvalSettings(StrictModel):
    ks: list[int] = Field(default_factory=lambda: [10])
    batch_size: int = Field(256, ge=1)
    target_metric: str = "ndcg@10"

    @field_validator("ks")
    @classmethod
    def _ks_positive(cls, value: list[int]) -> list[int]:
        if not value or any(k < 1 for k in value):
            raise ValueError("ks must be a non-empty list of positive integers")
        return sorted(set(value))

    @field_validator("target_metric")
    @classmethod
    def _target_is_evaluated(cls, metric: str, info: ValidationInfo) -> str:
        ks = info.data.get("ks", [])
        name, _, k = metric.partition("@")
        if name not in ("ndcg", "hr", "mrr", "cov") or not k.isdigit() or int(k) not in ks:
            raise ValueError(f"{metric!r} must be ndcg, hr, mrr or cov @K with K in eval.ks {ks}")
        return metric


class RunConfig(StrictModel):
    name: str = "paa"
    output_dir: str = "runs"
    data: DataConfig = DataConfig()
    split: SplitConfig = SplitConfig()
    model: ModelSettings = ModelSettings()
    train: TrainSettings = TrainSettings()
    eval: EvalSettings = EvalSettings()

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into a key path and a YAML-typed value (``3`` is an int)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} is not of the form key.path=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"override {text!r}: value is not valid YAML: {exc}") from exc
    return key.strip().split("."), value


def apply_overrides(tree: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    for text in overrides:
        path, value = parse_override(text)
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {part!r} is not a section")
            node = child
        node[path[-1]] = value
    return tree


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> RunConfig:
    """Build the run config; errors name the file and the offending key."""
    tree: dict[str, Any] = {}
    if path is not None:
        file = Path(path)
        if not file.is_file():
            raise ConfigError(f"config file {file} does not exist")
        try:
            loaded = yaml.safe_load(file.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: the top level must be a mapping")
        tree = loaded
    apply_overrides(tree, overrides or [])
    return validate_config(tree, f" in {path}" if path else "")


def validate_config(tree: dict[str, Any], where: str = "") -> RunConfig:
    """A RunConfig from a plain tree; errors list every offending key path."""
    try:
        return RunConfig.model_validate(tree)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration{where}: {problems}") from exc


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
