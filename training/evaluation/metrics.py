"""Ranking metrics at K, accumulated over batches so results do not depend on the batch size."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RankingAccumulator:
    """Sums per-target NDCG/HR/MRR and collects the distinct recommended items for COV.

    ``rank`` is the 0-based position of the target in the full ranking (the number of items
    scored strictly higher); a target outside the top K contributes 0.
    """

    ks: list[int]
    n_items: int
    count: int = 0
    sums: dict[str, float] = field(default_factory=dict)
    covered: dict[int, set[int]] = field(default_factory=dict)

    def add(self, ranks: np.ndarray, top_items: np.ndarray) -> None:
        """``ranks``: (B,) int; ``top_items``: (B, max K) item indices, best first."""
        ranks = np.asarray(ranks, dtype=np.int64)
        self.count += len(ranks)
        for k in self.ks:
            hit = ranks < k
            self._add(f"hr@{k}", float(hit.sum()))
            self._add(f"ndcg@{k}", float((hit / np.log2(ranks + 2.0)).sum()))
            self._add(f"mrr@{k}", float((hit / (ranks + 1.0)).sum()))
            self.covered.setdefault(k, set()).update(np.unique(top_items[:, :k]).tolist())

    def _add(self, name: str, value: float) -> None:
        self.sums[name] = self.sums.get(name, 0.0) + value

    def result(self) -> dict[str, float]:
        if self.count == 0:
            raise ValueError("no evaluation targets: the split produced an empty evaluation set")
        metrics = {name: total / self.count for name, total in self.sums.items()}
        for k, items in self.covered.items():
            metrics[f"cov@{k}"] = len(items - {0}) / self.n_items
        return dict(sorted(metrics.items()))
