"""The real 20_personas notebook, run by papermill on planted synthetic data.

The test curates a small synthetic site into a temporary project root (``WORKBENCH_HOME``),
runs the notebook in smoke mode against a fresh SQLite MLflow store, and reads back what it
recorded: the run's metrics and artifacts, the nested trial runs, the tables written beside
the curated data, and the registered champion.
"""

from __future__ import annotations

from pathlib import Path

import mlflow
import papermill
import pytest
from mlflow.tracking import MlflowClient
from papermill.exceptions import PapermillExecutionError

from workbench import tracking
from workbench.data import store
from workbench.data.ingest import ingest

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]

NOTEBOOK = ROOT / "notebooks" / "20_personas.ipynb"


@pytest.fixture
def project(tmp_path, tracking_uri, monkeypatch):
    """A project root with a curated synthetic data set and an MLflow run for the notebook."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    options = {"n_users": 600, "n_items": 150, "n_days": 45, "seed": 5}
    ingest("synthetic", tmp_path / "data/curated/synthetic", tmp_path / "data/raw", options=options)
    (tmp_path / "experiments").mkdir()
    experiment_id = tracking.ensure_experiment(
        "test-personas", tmp_path / "experiments/mlartifacts"
    )
    run_id = MlflowClient().create_run(experiment_id).info.run_id
    return tmp_path, run_id


def _execute(project, run_id: str, **parameters):
    root = project
    defaults = {
        "dataset": "synthetic",
        "run_dir": str(root / "run"),
        "mlflow_run_id": run_id,
        "smoke": True,
        "segments_file": str(ROOT / "experiments/segments/default.yaml"),
        "optuna_storage": f"sqlite:///{root / 'optuna.db'}",
        "register": True,
    }
    return papermill.execute_notebook(
        str(NOTEBOOK),
        str(root / "20_personas.out.ipynb"),
        parameters={**defaults, **parameters},
        kernel_name="python3",
        cwd=str(root),
        progress_bar=False,
    )


def test_notebook_recovers_planted_personas_and_registers_them(project):
    root, run_id = project
    _execute(root, run_id)
    client = MlflowClient()
    run = client.get_run(run_id)
    metrics = run.data.metrics
    assert metrics["planted_ari"] >= 0.9
    assert metrics["reproduced"] == 1.0 and metrics["n_personas"] >= 3
    assert 0.0 < metrics["stability"] <= 1.0 and metrics["n_segments"] >= 10
    artifacts = {
        a.path for folder in ("plots", "tables") for a in client.list_artifacts(run_id, folder)
    }
    for name in ("persona_profiles.png", "persona_projection.png", "persona_stability.png"):
        assert f"plots/{name}" in artifacts
    assert {"tables/persona_cards.csv", "tables/segment_counts.csv"} <= artifacts
    trials = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run_id}'")
    assert len(trials) == 3 and all("stability" in t.data.metrics for t in trials)

    folder = root / "data/curated/synthetic"
    assignments = store.read_table(folder, "personas")
    membership = store.read_table(folder, "segment_membership")
    features = store.read_table(folder, "user_features").set_index("user_id")
    assert list(assignments.columns) == ["user_id", "persona", "persona_name"]
    assert list(membership.columns) == ["user_id", "tag"]
    assert membership["user_id"].isin(features.index).all()
    assert store.has_table(folder, "events")  # the curated tables are still there
    assert store.read_table(folder, "item_features")["trend"].notna().all()

    loaded = mlflow.sklearn.load_model("models:/synthetic-personas@champion")
    predicted = loaded.predict(features.loc[assignments["user_id"]])
    assert (predicted == assignments["persona"].to_numpy()).all()
    assert (root / "run" / "metrics.json").is_file()


def test_broken_rule_file_stops_the_notebook_naming_the_rule(project, tmp_path):
    root, run_id = project
    rules = tmp_path / "broken.yaml"
    rules.write_text("segments:\n  fine: rfm_score > 3\n  broken_rule: rfm_score >= >= 13\n")
    with pytest.raises(PapermillExecutionError, match=r"rule 'broken_rule': syntax error"):
        _execute(root, run_id, segments_file=str(rules))
    assert not store.has_table(root / "data/curated/synthetic", "personas")
    assert "planted_ari" not in MlflowClient().get_run(run_id).data.metrics


REAL_DATA = {
    "movielens-100k": ["rfm", "engagement", "affinity", "demographics"],
    "online-retail": ["rfm", "engagement", "country"],
}


@pytest.mark.mirror
@pytest.mark.parametrize("source", sorted(REAL_DATA))
def test_notebook_on_real_data_produces_cards_plots_and_stability(
    source, mirror, tmp_path, tracking_uri, monkeypatch
):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    ingest(source, tmp_path / "data/curated" / source, tmp_path / "data/raw", mirror=mirror)
    experiment_id = tracking.ensure_experiment("test-personas", tmp_path / "mlartifacts")
    run_id = MlflowClient().create_run(experiment_id).info.run_id
    _execute(tmp_path, run_id, dataset=source, feature_groups=REAL_DATA[source])
    client = MlflowClient()
    metrics = client.get_run(run_id).data.metrics
    assert metrics["n_personas"] >= 2 and 0 < metrics["stability"] <= 1
    assert metrics["reproduced"] == 1.0 and "planted_ari" not in metrics
    plots = {a.path for a in client.list_artifacts(run_id, "plots")}
    assert {"plots/persona_profiles.png", "plots/persona_stability.png"} <= plots
    cards = store.read_table(tmp_path / "data/curated" / source, "personas")
    assert cards["persona_name"].nunique() == metrics["n_personas"]
