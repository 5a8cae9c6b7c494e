"""The comparison experiment: every candidate model of a data set on one split, side by side.

Shared by ``notebooks/70_compare_register.ipynb``. Each candidate (collaborative families,
content, hybrid, two-tower) takes the hyperparameters its tuning notebook chose (the latest
finished family run of the pipeline's experiment, else its defaults), is fit on the fit part
and scored on validation (which chooses), then refit on the whole training part and evaluated
once on test, per user, with bootstrap intervals. Each refit model is logged as an MLflow 3
logged model with its test metrics attached, so the UI's model view compares them.
"""

from __future__ import annotations

import ast
import logging
import time

import mlflow
import pandas as pd
from mlflow.tracking import MlflowClient

from workbench import tracking
from workbench.data.splits import SplitMatrices
from workbench.evaluation import evaluate, metrics, recommend_all
from workbench.evaluation.compare import bootstrap_interval
from workbench.models.catalogue import get_family
from workbench.publish import RecommenderService
from workbench.workflows.results import FamilyResult

log = logging.getLogger(__name__)

STAGE = "compare"
#: Item representation each model learns from: TF-IDF ``profiles`` (content models) or the
#: ``dense`` vectors of the two-tower item tower; collaborative models take none.
ITEM_FEATURES = {"content": "profiles", "hybrid": "profiles", "two_tower": "dense"}


def tuned_params(experiment_id: str, names: list[str]) -> dict[str, dict]:
    """Each family's hyperparameters from its latest finished family run in the experiment.

    Families never tuned there are missing from the result (their defaults apply).
    """
    client = MlflowClient()
    found = {}
    for name in names:
        runs = client.search_runs(
            [experiment_id],
            f"tags.`workbench.family` = '{name}' and attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if runs:
            found[name] = {key: _literal(value) for key, value in runs[0].data.params.items()}
    return found


def _literal(text: str):
    """An MLflow parameter (a string) back to the Python value it was logged from."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def evaluate_candidate(
    name: str,
    params: dict,
    matrices: SplitMatrices,
    representations: dict,
    k: int = 10,
    seed: int = 42,
    n_bootstrap: int = 1000,
) -> FamilyResult:
    """Fit on ``fit`` and score validation; refit on ``train`` and evaluate test per user.

    ``representations`` maps ``profiles`` and ``dense`` to the item features of
    :func:`workbench.features.text.item_representations` (see :data:`ITEM_FEATURES`).

    Returns
    -------
    FamilyResult
        ``metrics`` holds every test metric, ``ndcg_at_<k>_lower``/``_upper`` (bootstrap
        interval over users) and ``fit_seconds``.
    """
    family = get_family(name)
    chosen = ITEM_FEATURES.get(name)
    side_data = {"item_features": representations[chosen]} if chosen else {}
    model = family.make(params, seed=seed).fit(matrices.fit, **side_data)
    valid = metrics.ndcg_at_k(recommend_all(model, matrices.fit, k), matrices.valid, k)
    final = family.make(params, seed=seed)
    start = time.perf_counter()
    final.fit(matrices.train, **side_data)
    scores = {**evaluate(final, matrices.train, matrices.test, k=k)}
    scores["fit_seconds"] = time.perf_counter() - start
    per_user = metrics.ndcg_per_user(recommend_all(final, matrices.train, k), matrices.test, k)
    lower, upper = bootstrap_interval(per_user, n_bootstrap, random_state=seed)
    scores.update({f"ndcg_at_{k}_lower": lower, f"ndcg_at_{k}_upper": upper})
    return FamilyResult(name, final, dict(params), valid, scores, 0, k)


def compare_candidates(
    names: list[str],
    matrices: SplitMatrices,
    tuned: dict[str, dict],
    representations: dict,
    k: int = 10,
    seed: int = 42,
    n_bootstrap: int = 1000,
) -> list[FamilyResult]:
    """:func:`evaluate_candidate` for each name, each in a nested run with a logged model.

    The logged model (``<name>``) is the refit model as a recommender pyfunc; its test
    metrics are attached to it (MLflow 3 logged models) as well as to the run.
    """
    results = []
    for name in names:
        tags = {"workbench.family": name, "workbench.stage": STAGE}
        with tracking.nested_run(name, tags) as run:
            result = evaluate_candidate(
                name, tuned.get(name, {}), matrices, representations, k, seed, n_bootstrap
            )
            if run is not None:
                _log_candidate(result, matrices)
        results.append(result)
    return results


def _log_candidate(result: FamilyResult, matrices: SplitMatrices) -> None:
    service = RecommenderService.from_fitted(
        result.model, matrices.train, matrices.users, matrices.items, result.k
    )
    info = service.log(example=pd.DataFrame({"user_id": matrices.users.ids[:2].astype(str)}))
    figures = {**result.metrics, result.valid_metric: result.valid_score}
    mlflow.log_params(result.params)
    mlflow.log_metrics(figures)
    mlflow.log_metrics(figures, model_id=info.model_id)


def comparison_with_intervals(results: list[FamilyResult], k: int = 10) -> pd.DataFrame:
    """One row per candidate: validation nDCG, test nDCG with its interval, other metrics."""
    rows = {
        r.name: {
            f"valid_ndcg_at_{k}": r.valid_score,
            f"ndcg_at_{k}": r.metrics[f"ndcg_at_{k}"],
            "lower": r.metrics[f"ndcg_at_{k}_lower"],
            "upper": r.metrics[f"ndcg_at_{k}_upper"],
            **{key: r.metrics[key] for key in _beyond(k) if key in r.metrics},
        }
        for r in results
    }
    return pd.DataFrame.from_dict(rows, orient="index").sort_values(
        f"valid_ndcg_at_{k}", ascending=False
    )


def _beyond(k: int) -> list[str]:
    return [
        f"precision_at_{k}", f"recall_at_{k}", "map", f"coverage_at_{k}", f"diversity_at_{k}",
        f"novelty_at_{k}", f"serendipity_at_{k}", "fit_seconds",
    ]  # fmt: skip


def registry_table(dataset: str) -> pd.DataFrame:
    """Every registered model of ``dataset``: its champion, challenger and the last decision.

    Returns
    -------
    DataFrame indexed by registered name
        ``champion``, ``challenger`` (versions), ``latest`` version and ``decision`` (why).
    """
    client = MlflowClient()
    rows = {}
    for model in client.search_registered_models(f"name LIKE '{dataset}-%'"):
        versions = client.search_model_versions(f"name = '{model.name}'")
        latest = max(versions, key=lambda version: int(version.version))
        aliases = {
            alias: str(v) for alias, v in client.get_registered_model(model.name).aliases.items()
        }
        rows[model.name] = {
            "champion": aliases.get("champion"),
            "challenger": aliases.get("challenger"),
            "latest": str(latest.version),
            "decision": latest.tags.get("workbench.decision_reason", ""),
        }
    return pd.DataFrame.from_dict(rows, orient="index").sort_index()
