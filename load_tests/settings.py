"""Typed settings of the locust scenario, read from ``PAAREC_LOAD_*`` environment variables.

locust imports the locustfile itself, so the environment is the way to parametrise it; the
same variables work for `make loadtest`, the compose `locust` service and a manual run.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LoadSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAAREC_LOAD_", extra="ignore", frozen=True)

    users: int = Field(10_000, ge=1, description="Synthetic user ids u1..uN when no file is given.")
    users_file: Path | None = Field(None, description="User ids, one per line, most active first.")
    zipf_s: float = Field(1.1, gt=0.0, description="Skew of P(user n) ~ 1 / n^s.")
    bundle: Path | None = Field(None, description="Bundle whose items.npy supplies event items.")
    api_key: SecretStr | None = Field(None, description="Sent as X-API-Key when set.")
    k: int = Field(10, ge=1, description="k of every /recommend call.")
