"""Named models of the zoo, as partial ``ModelSettings`` on top of the shared hyper-parameters.

The names are the ones used in benchmark tables; ``paa`` is the paper's best configuration
(Toeplitz keys per block, one Full value kernel shared by all blocks).
"""

from __future__ import annotations

from typing import Any

from training.config import ModelSettings

VARIANTS: dict[str, dict[str, Any]] = {
    "paa": {
        "arch": "paa",
        "key_kernel": "toeplitz",
        "value_kernel": "full",
        "key_sharing": "per_block",
        "value_sharing": "shared",
    },
    "paa-tt": {
        "arch": "paa",
        "key_kernel": "toeplitz",
        "value_kernel": "toeplitz",
        "key_sharing": "per_block",
        "value_sharing": "per_block",
    },
    "paa-ft": {
        "arch": "paa",
        "key_kernel": "full",
        "value_kernel": "toeplitz",
        "key_sharing": "per_block",
        "value_sharing": "per_block",
    },
    "paa-tf-shared": {
        "arch": "paa",
        "key_kernel": "toeplitz",
        "value_kernel": "full",
        "key_sharing": "shared",
        "value_sharing": "shared",
    },
    "sasrec": {"arch": "sasrec"},
    "nope": {"arch": "nope"},
    "rope": {"arch": "rope"},
}


def variant_settings(name: str, base: ModelSettings | None = None) -> ModelSettings:
    """``base`` with the positional scheme of the named variant."""
    if name not in VARIANTS:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(VARIANTS)}")
    base = base or ModelSettings()
    return base.model_copy(update=VARIANTS[name])


def variant_name(settings: ModelSettings) -> str:
    """The zoo name of a settings object, or ``custom`` when it matches none."""
    for name, fields in VARIANTS.items():
        if settings.arch == "paa" and fields.get("arch") == "paa":
            if all(getattr(settings, key) == value for key, value in fields.items()):
                return name
        elif settings.arch == fields["arch"] and settings.arch != "paa":
            return name
    return "custom"
