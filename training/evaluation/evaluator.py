"""Batched full-catalogue evaluation.

Every row is padded to the same length (the longest history in the set, capped at T), so a
row's scores never depend on which other rows share its batch: the metrics are identical for
any evaluation batch size.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from training.data.splits import EvalSet
from training.evaluation.metrics import RankingAccumulator
from training.models import SeqRecModel


def left_pad(histories: Sequence[np.ndarray], length: int) -> np.ndarray:
    """(B, length) int64: the newest ``length`` items of each history, left-padded with 0."""
    batch = np.zeros((len(histories), length), dtype=np.int64)
    for row, history in enumerate(histories):
        tail = history[-length:]
        if len(tail):
            batch[row, length - len(tail) :] = tail
    return batch


def mask_seen(scores: torch.Tensor, histories: Sequence[np.ndarray]) -> None:
    """Set the score of padding and of every item in each row's full history to -inf."""
    rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
    items = np.concatenate(histories) if len(rows) else np.zeros(0, dtype=np.int64)
    scores[:, 0] = -torch.inf
    scores[
        torch.from_numpy(rows).to(scores.device), torch.from_numpy(items).to(scores.device)
    ] = -torch.inf


@torch.no_grad()
def evaluate(
    model: SeqRecModel,
    cases: EvalSet,
    ks: Sequence[int] = (10,),
    batch_size: int = 256,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """NDCG/HR/MRR/COV at each K over the full catalogue, with seen items masked."""
    was_training = model.training
    model.eval()
    accumulator = RankingAccumulator(ks=list(ks), n_items=model.n_items)
    longest = max((len(h) for h in cases.histories), default=1)
    length = max(1, min(model.settings.max_len, longest))
    top = min(max(ks), model.n_items)
    for start in range(0, len(cases.targets), batch_size):
        histories = cases.histories[start : start + batch_size]
        targets = torch.as_tensor(cases.targets[start : start + batch_size], device=device)
        seq = torch.from_numpy(left_pad(histories, length)).to(device)
        scores = model.score_newest(seq).float()  # (B, N + 1)
        mask_seen(scores, histories)
        target_scores = scores.gather(1, targets[:, None])
        ranks = (scores > target_scores).sum(dim=1)
        # A target that was masked (already seen) is never a hit, even when K exceeds the
        # number of unseen items; masked items in a top-K list do not count for coverage.
        ranks = torch.where(target_scores[:, 0].isfinite(), ranks, torch.iinfo(ranks.dtype).max)
        values, top_items = scores.topk(top, dim=1)
        top_items = top_items.masked_fill(values.isinf(), 0)
        accumulator.add(ranks.cpu().numpy(), top_items.cpu().numpy())
    model.train(was_training)
    return accumulator.result()
