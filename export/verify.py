"""Parity of an exported graph with the PyTorch model: part of every export, and a test."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnxruntime as ort

from export.reference import reference_topk
from training.models import SeqRecModel


@dataclass
class ParityReport:
    tolerance: float
    max_abs_diff: float = 0.0
    topk_agreement: float = 1.0
    cases: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def random_histories(rng: np.random.Generator, batch: int, length: int, n_items: int) -> np.ndarray:
    """Left-padded rows of random true length 1..length (so padding is exercised)."""
    history = rng.integers(1, n_items + 1, size=(batch, length), dtype=np.int64)
    for row in range(batch):
        real = int(rng.integers(1, length + 1)) if row else length  # row 0 is full
        history[row, : length - real] = 0
    return history


def pad_histories(histories: list[np.ndarray], length: int) -> np.ndarray:
    batch = np.zeros((len(histories), length), dtype=np.int64)
    for row, history in enumerate(histories):
        tail = history[-length:]
        batch[row, length - len(tail) :] = tail
    return batch


def same_up_to_ties(
    items: np.ndarray,
    scores: np.ndarray,
    ref_items: np.ndarray,
    ref_scores: np.ndarray,
    tolerance: float,
) -> bool:
    """Equal top-K sets, except for swaps between items tied (within ``tolerance``) at the
    K-th score, where either order is correct."""
    # Entries scored -inf (masked items, when K exceeds the unmasked catalogue) rank in any
    # order; only the real ones must agree.
    items, ref_items = items[np.isfinite(scores)], ref_items[np.isfinite(ref_scores)]
    scores, ref_scores = scores[np.isfinite(scores)], ref_scores[np.isfinite(ref_scores)]
    ours, theirs = set(items.tolist()), set(ref_items.tolist())
    if ours == theirs:
        return True
    if len(ref_scores) == 0:
        return False
    boundary = float(ref_scores[-1])
    our_score = dict(zip(items.tolist(), scores.tolist(), strict=True))
    their_score = dict(zip(ref_items.tolist(), ref_scores.tolist(), strict=True))
    return all(abs(our_score[i] - boundary) <= tolerance for i in ours - theirs) and all(
        abs(their_score[i] - boundary) <= tolerance for i in theirs - ours
    )


def verify_parity(
    session: ort.InferenceSession,
    model: SeqRecModel,
    k: int,
    tolerance: float = 1e-4,
    real_histories: list[np.ndarray] | None = None,
    seed: int = 0,
    min_agreement: float | None = None,
) -> ParityReport:
    """Compare ONNX Runtime with PyTorch at lengths 1, a few middle values and T, batch 1..16.

    By default the top-K sets must be identical up to exact ties. A reduced-precision graph
    cannot promise that, so ``min_agreement`` replaces it with a floor on the mean top-K
    overlap, which is reported either way.
    """
    rng = np.random.default_rng(seed)
    max_len, n_items = model.settings.max_len, model.n_items
    k = min(k, n_items)
    report = ParityReport(tolerance=tolerance)
    lengths = sorted({1, max(1, max_len // 4), max(1, max_len // 2), max_len})
    inputs: list[tuple[str, np.ndarray]] = []
    for length in lengths:
        for batch in (1, 4, 16):
            inputs.append(
                (f"random L={length} B={batch}", random_histories(rng, batch, length, n_items))
            )
    if real_histories:
        chosen = [real_histories[i] for i in rng.choice(len(real_histories), 32)]
        for length in (max(1, max_len // 2), max_len):
            inputs.append((f"real L={length} B=32", pad_histories(chosen, length)))
    overlaps = []
    for name, history in inputs:
        batch = len(history)
        exclude_seen = rng.random(batch) < 0.7
        exclude = np.where(
            rng.random((batch, 3)) < 0.5, rng.integers(1, n_items + 1, (batch, 3)), 0
        )
        feeds = {
            "history": history,
            "k": np.array([k], dtype=np.int64),
            "exclude_seen": exclude_seen,
            "exclude": exclude.astype(np.int64),
        }
        scores, items = session.run(["scores", "items"], feeds)
        ref_scores, ref_items = reference_topk(model, history, k, exclude_seen, exclude)
        finite = np.isfinite(ref_scores)
        diff = float(np.abs(scores[finite] - ref_scores[finite]).max()) if finite.any() else 0.0
        report.max_abs_diff = max(report.max_abs_diff, diff)
        agree = [
            len(set(a.tolist()) & set(b.tolist())) / k
            for a, b in zip(items, ref_items, strict=True)
        ]
        overlaps.extend(agree)
        report.cases.append(
            {"case": name, "max_abs_diff": diff, "topk_agreement": float(np.mean(agree))}
        )
        if diff > tolerance or not np.array_equal(np.isfinite(scores), finite):
            report.failures.append(f"{name}: max |score diff| {diff:.2e} > {tolerance:.0e}")
        for row in range(batch if min_agreement is None else 0):
            if not same_up_to_ties(
                items[row], scores[row], ref_items[row], ref_scores[row], tolerance
            ):
                report.failures.append(f"{name}: row {row} top-{k} items differ beyond ties")
                break
    report.topk_agreement = float(np.mean(overlaps))
    if min_agreement is not None and report.topk_agreement < min_agreement:
        report.failures.append(
            f"top-{k} agreement {report.topk_agreement:.3f} is below {min_agreement}"
        )
    return report
