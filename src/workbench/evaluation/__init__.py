"""Ranking and beyond-accuracy metrics, the evaluation of a recommender, comparison plots."""

from workbench.evaluation.evaluate import evaluate, ranking_metrics, recommend_all

__all__ = ["evaluate", "ranking_metrics", "recommend_all"]
