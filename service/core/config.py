"""Typed service settings, read from ``PAAREC_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ProviderPreference = Literal["auto", "cpu", "cuda"]
GraphOptimization = Literal["disable", "basic", "extended", "all"]


def _split_csv(value: Any) -> Any:
    """Accept ``a,b,c`` as well as a JSON list for list-valued environment variables."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything the service can be told from outside. Unknown ``PAAREC_*`` keys are ignored."""

    model_config = SettingsConfigDict(env_prefix="PAAREC_", extra="ignore", frozen=True)

    environment: Literal["development", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    # HTTP server
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    shutdown_timeout_s: int = Field(default=20, ge=1)

    # Model bundle
    bundle_path: Path = Path("artifacts/bundle")
    # /admin/reload only loads bundles inside this folder, so an admin key cannot make the
    # service open arbitrary files. Unset: the folder that holds bundle_path.
    bundle_root: Path | None = None
    # Every worker and replica polls Redis this often for the bundle the last /admin/reload
    # chose, and loads it too. 0: each worker serves only what it was itself told to load.
    model_sync_interval_s: float = Field(default=2.0, ge=0, le=3_600)

    # Redis
    redis_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    redis_cluster: bool = False
    redis_key_prefix: str = Field(
        default="paarec", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$"
    )
    redis_max_connections: int = Field(default=64, ge=1)
    redis_socket_timeout_s: float = Field(default=0.5, gt=0)
    redis_connect_timeout_s: float = Field(default=0.5, gt=0)
    redis_retries: int = Field(default=2, ge=0, le=10)
    redis_backoff_base_s: float = Field(default=0.01, gt=0)
    redis_backoff_cap_s: float = Field(default=0.1, gt=0)
    redis_op_timeout_s: float = Field(default=2.0, gt=0)
    history_max_len: int = Field(default=200, ge=1, le=100_000)
    history_ttl_s: int = Field(default=0, ge=0)
    event_id_ttl_s: int = Field(default=86_400, ge=1)

    # Security
    api_keys: Annotated[list[SecretStr], NoDecode] = []
    admin_api_key: SecretStr | None = None
    cors_origins: Annotated[list[str], NoDecode] = []

    # ONNX Runtime
    provider_preference: ProviderPreference = "auto"
    # Measured on 2 cores (docs/benchmarks/serving.md): one ORT thread beside the event loop,
    # no spinning (it burns the event loop's core), "basic" 6-8% faster than "all" here.
    ort_intra_op_threads: int = Field(default=1, ge=0)
    ort_inter_op_threads: int = Field(default=0, ge=0)
    ort_allow_spinning: bool = False
    ort_graph_optimization: GraphOptimization = "basic"
    ort_enable_mem_pattern: bool = True
    # CUDA provider only (ignored on CPU): device, one CUDA graph per length bucket. For half
    # precision serve a bundle exported with `paarec export --fp16`.
    ort_cuda_device_id: int = Field(default=0, ge=0)
    ort_cuda_graphs: bool = False

    # Micro-batching
    batch_max_size: int = Field(default=32, ge=1, le=4096)
    # 0: no extra wait; requests queue up while the single ORT thread runs the previous batch,
    # which batches as well under load and saves the wait at low load (serving.md).
    batch_max_wait_us: int = Field(default=0, ge=0, le=1_000_000)
    batch_queue_size: int = Field(default=1_024, ge=1)
    length_buckets: Annotated[list[int], NoDecode] = []
    inference_timeout_s: float = Field(default=5.0, gt=0)

    # Request limits
    max_body_bytes: int = Field(default=1_048_576, ge=1_024)
    max_id_length: int = Field(default=128, ge=1, le=1_024)
    max_items_per_event: int = Field(default=100, ge=1, le=5_000)
    max_inline_history: int = Field(default=1_000, ge=1, le=100_000)
    max_exclude_items: int = Field(default=1_000, ge=0, le=100_000)
    max_batch_requests: int = Field(default=64, ge=1, le=10_000)

    _split = field_validator("api_keys", "cors_origins", "length_buckets", mode="before")(
        _split_csv
    )

    @field_validator("length_buckets")
    @classmethod
    def _buckets_sorted(cls, value: list[int]) -> list[int]:
        if any(b < 1 for b in value):
            raise ValueError("length buckets must be >= 1")
        return sorted(set(value))

    @model_validator(mode="after")
    def _refuse_unsafe(self) -> Settings:
        keys = [k.get_secret_value() for k in self.api_keys]
        if any(len(k) < 16 for k in keys):
            raise ValueError("every PAAREC_API_KEYS entry must be at least 16 characters")
        if self.admin_api_key is not None:
            admin = self.admin_api_key.get_secret_value()
            if len(admin) < 16:
                raise ValueError("PAAREC_ADMIN_API_KEY must be at least 16 characters")
            if admin in keys:
                raise ValueError("PAAREC_ADMIN_API_KEY must differ from the PAAREC_API_KEYS")
        if self.environment == "production":
            if not keys:
                raise ValueError("PAAREC_API_KEYS must be set when PAAREC_ENVIRONMENT=production")
            if "*" in self.cors_origins:
                raise ValueError("wildcard CORS origin is refused in production")
        if self.redis_backoff_cap_s < self.redis_backoff_base_s:
            raise ValueError("PAAREC_REDIS_BACKOFF_CAP_S must be >= PAAREC_REDIS_BACKOFF_BASE_S")
        return self

    def reload_root(self) -> Path:
        """The resolved folder that every reloaded bundle must lie in."""
        return (self.bundle_root or self.bundle_path.resolve().parent).resolve()

    def api_key_values(self) -> list[str]:
        """The configured API keys as plain strings (never log these)."""
        return [k.get_secret_value() for k in self.api_keys]


@lru_cache
def get_settings() -> Settings:
    """Settings from the process environment, built once."""
    return Settings()
