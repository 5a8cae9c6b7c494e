"""Ranking and beyond-accuracy metrics, the evaluation of a recommender, comparison plots."""

from workbench.evaluation.evaluate import (
    evaluate,
    evaluate_cold,
    evaluate_cold_only,
    ranking_metrics,
    recommend_all,
    validation_score,
)

__all__ = [
    "evaluate",
    "evaluate_cold",
    "evaluate_cold_only",
    "ranking_metrics",
    "recommend_all",
    "validation_score",
]
