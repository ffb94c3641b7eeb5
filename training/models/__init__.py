"""The model zoo: PAA variants and the SASRec, NoPE and RoPE baselines in one transformer."""

from training.models.model import SeqRecModel
from training.models.variants import VARIANTS, variant_settings

__all__ = ["VARIANTS", "SeqRecModel", "variant_settings"]
