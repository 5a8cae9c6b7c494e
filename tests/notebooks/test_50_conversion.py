"""Run the real 50_conversion notebook with papermill and read what the run recorded."""

from __future__ import annotations

import mlflow
import pytest

from workbench.data import store
from workbench.data.curated import CuratedDataset
from workbench.data.sources import synthetic
from workbench.evaluation.classification import roc_auc
from workbench.workflows import conversion

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]


def write_curated(home):
    """A small curated synthetic data set under ``home``; two users without consent."""
    tables = synthetic.generate(n_users=400, n_items=60, n_days=20, seed=3)
    users = tables["users"][["user_id", "planted_conversion_rate"]].copy()
    users["personalization_allowed"] = True
    users.loc[users.index[:2], "personalization_allowed"] = False
    folder = home / "data" / "curated" / "synthetic"
    store.write_tables(
        folder, {"events": tables["events"], "users": users, "items": tables["items"]}
    )
    return folder


def test_notebook_compares_calibrates_and_registers_probabilities_that_load_back(
    tmp_path, run_notebook
):
    folder = write_curated(tmp_path)
    metrics = run_notebook("50_conversion", conversion_families=["rfm", "logistic"],
                           horizon_days=4.0, n_train_cutoffs=1, n_bootstrap=20)  # fmt: skip
    assert metrics["served_same_probabilities"] == 1.0
    assert metrics["best.roc_auc_lower"] <= metrics["best.roc_auc"] <= metrics["best.roc_auc_upper"]
    assert 0.5 < metrics["oracle_auc"] <= 1.0  # the planted truth reached the notebook
    assert {"rfm.log_loss", "logistic.ece", "revenue_top_decile.rfm"} <= set(metrics)
    plots = {path.stem for path in (tmp_path / "run" / "plots").glob("*.png")}
    assert {"reliability", "gains", "importance", "partial_dependence"} <= plots

    served = mlflow.pyfunc.load_model("models:/synthetic-conversion@champion")
    assert list(served.metadata.get_output_schema().input_names()) == [
        "p_no_conversion",
        "p_conversion",
    ]
    assert served.metadata.get_input_schema() is not None
    version = mlflow.MlflowClient().get_model_version_by_alias("synthetic-conversion", "champion")
    assert version.tags["metric.log_loss"]

    data = CuratedDataset("synthetic", folder)
    snapshots = conversion.prepare(
        data.training_events(), data.read("items"), data.read("users"), 4.0, 1, 1, 2.0
    )
    features, y = snapshots.xy("test")  # the notebook's test snapshot, rebuilt from the data
    answered = served.predict(features)
    assert answered.shape == (len(features), 2)
    assert (answered.sum(axis=1) - 1).abs().max() < 1e-9  # probabilities, not labels
    assert metrics["best.roc_auc"] == pytest.approx(roc_auc(y, answered["p_conversion"]))
