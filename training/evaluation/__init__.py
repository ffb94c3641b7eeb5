"""Full-catalogue ranking evaluation: NDCG, HR, MRR and COV at K, seen items masked."""

from training.evaluation.evaluator import evaluate
from training.evaluation.metrics import RankingAccumulator

__all__ = ["RankingAccumulator", "evaluate"]
