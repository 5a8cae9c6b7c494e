"""``workbench models list | rollback`` against a real MLflow store."""

from __future__ import annotations

import re

import mlflow
import pandas as pd
import pytest
from helpers.cli import workbench
from test_recommender import make_service

from workbench import tracking
from workbench.publish import publish
from workbench.publish.gate import alias_history

pytestmark = pytest.mark.slow


def test_list_shows_the_gate_and_rollback_restores_the_previous_champion(tracking_uri, tmp_path):
    service = make_service()
    request = pd.DataFrame({"user_id": ["user-0", "nobody"]})
    experiment = tracking.ensure_experiment("models-cli", tmp_path / "artifacts")
    with mlflow.start_run(experiment_id=experiment):
        publish(service, "shop-recommender", request, "ndcg_at_10", 0.30)
        publish(service, "shop-recommender", request, "ndcg_at_10", 0.35)
    listing = workbench(tmp_path, "models", "list", own_store=False, timeout=300)
    assert listing.returncode == 0, listing.stderr
    assert "shop-recommender" in listing.stdout
    assert re.search(r"v2\s+champion\s", listing.stdout) and re.search(r"v1\s+-\s", listing.stdout)
    assert "ndcg_at_10=0.3500" in listing.stdout and "beats v1" in listing.stdout

    rolled = workbench(
        tmp_path,
        "models",
        "rollback",
        "shop-recommender",
        "--reason",
        "bad canary",
        own_store=False,
        timeout=300,
    )
    assert rolled.returncode == 0, rolled.stderr
    assert "champion v2 -> v1" in rolled.stdout
    client = mlflow.MlflowClient()
    assert str(client.get_model_version_by_alias("shop-recommender", "champion").version) == "1"
    last = alias_history("shop-recommender")[-1]
    assert last["version"] == "1" and "bad canary" in last["reason"]

    missing = workbench(
        tmp_path, "models", "rollback", "shop-recommender", "9", own_store=False, timeout=300
    )
    assert missing.returncode == 1 and "no version 9" in missing.stderr
