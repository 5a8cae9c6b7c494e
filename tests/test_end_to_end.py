"""The default pipeline end to end, as `make run` runs it, with smoke-sized budgets, twice.

Real notebooks through papermill, a real MLflow SQLite store and a real Optuna storage: every
notebook's run must finish, models must be registered with the champion alias, nothing the
pipeline wrote (curated layer, run folders, MLflow params, tags and artifacts) may hold a raw
user identifier or an e-mail address, and the same command run again gives the same numbers
and keeps the champions (a tie never promotes).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers.cli import succeeded, workbench
from helpers.pii_scan import scan_folder, scan_mlflow_run
from mlflow.tracking import MlflowClient

from workbench.data.sources.synthetic import generate

pytestmark = [pytest.mark.notebooks, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[1]


def _project(tmp_path_factory, name: str) -> Path:
    root = tmp_path_factory.mktemp(name)
    (root / "notebooks").symlink_to(ROOT / "notebooks")
    (root / "experiments").mkdir()
    (root / "experiments" / "segments").symlink_to(ROOT / "experiments" / "segments")
    return root


def _run_default(root: Path, key: str) -> subprocess.CompletedProcess:
    """``workbench run default --set smoke=true`` in project ``root`` with pseudonym ``key``."""
    default = str(ROOT / "experiments/default.yaml")
    return succeeded(workbench(root, "run", default, "--set", "smoke=true", key=key, timeout=1500))


def _client(root: Path) -> MlflowClient:
    uri = f"sqlite:///{root / 'experiments' / 'mlflow.db'}"
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@pytest.fixture(scope="module")
def finished_pipeline(tmp_path_factory):
    """The default pipeline (smoke) twice in one fresh project root, with one pseudonym key."""
    root = _project(tmp_path_factory, "project")
    outputs = [_run_default(root, "first key") for _ in range(2)]
    return root, _client(root), outputs


@pytest.fixture(scope="module")
def other_key_pipeline(tmp_path_factory):
    """The same pipeline once more in another project root under another pseudonym key."""
    root = _project(tmp_path_factory, "other-key")
    _run_default(root, "another key entirely")
    return root, _client(root)


def _runs(client: MlflowClient):
    experiment = client.get_experiment_by_name("workbench-default")
    return client.search_runs([experiment.experiment_id], max_results=5000)


NOTEBOOKS = (
    "10_ingest",
    "20_personas",
    "30_content_based",
    "40_collaborative",
    "50_conversion",
    "60_bandits",
    "70_compare_register",
)


def _parents(runs):
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    return sorted(parents, key=lambda run: run.info.start_time)


def _children(runs, parent) -> dict:
    return {
        r.data.tags["mlflow.runName"]: r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id
    }


def test_every_notebook_run_finished(finished_pipeline):
    root, client, _ = finished_pipeline
    runs = _runs(client)
    parents = _parents(runs)
    assert [p.info.status for p in parents] == ["FINISHED", "FINISHED"]
    children = {name: run.info.status for name, run in _children(runs, parents[0]).items()}
    assert children == {name: "FINISHED" for name in NOTEBOOKS}
    nested = [
        r
        for r in runs
        if r.data.tags.get("mlflow.parentRunId") not in (None, parents[0].info.run_id)
    ]
    assert nested, "Optuna trials are nested runs under the notebooks' runs"
    assert (root / "experiments" / "optuna.db").is_file()


def test_the_same_command_twice_gives_the_same_numbers_and_keeps_the_champions(finished_pipeline):
    _, client, _ = finished_pipeline
    runs = _runs(client)
    first, second = (_children(runs, parent) for parent in _parents(runs))
    for name in NOTEBOOKS:
        numbers = [_comparable(run[name]) for run in (first, second)]
        assert numbers[0] and numbers[0] == numbers[1], name
    for model in client.search_registered_models():
        versions = client.search_model_versions(f"name = '{model.name}'")
        champion = client.get_model_version_by_alias(model.name, "champion")
        if model.name.endswith("-personas"):  # the latest segmenter is always the one in use
            continue
        latest = max(versions, key=lambda version: int(version.version))
        assert latest.tags["workbench.decision"] == "challenger", model.name  # the rerun tied
        assert champion.version != latest.version, model.name  # ... so nothing moved


#: Metrics that record what the registry gate did: they depend on what the registry held
#: before (the first run promotes, its rerun ties and keeps), not only on data and seed.
GATE_OUTCOMES = {"promoted"}


def _comparable(run) -> dict:
    """A run's metrics, leaving out timings (never identical between two runs) and gate outcomes."""
    return {
        key: value
        for key, value in run.data.metrics.items()
        if "seconds" not in key and key not in GATE_OUTCOMES
    }


def test_results_do_not_depend_on_the_pseudonym_key(finished_pipeline, other_key_pipeline):
    """Another key changes every pseudonym and the data set's digest, and nothing else."""
    _, client, _ = finished_pipeline
    _, other = other_key_pipeline
    first = _children(_runs(client), _parents(_runs(client))[0])
    again = _children(_runs(other), _parents(_runs(other))[0])
    for name in NOTEBOOKS:
        assert _comparable(first[name]) == _comparable(again[name]), name
    digests = {
        c.get_run(r[n].info.run_id).data.tags.get("workbench.dataset_digest")
        for c, r in ((client, first), (other, again))
        for n in ["40_collaborative"]
    }
    assert len(digests) == 2, "the keys really differed"


def test_runs_are_named_and_measured_for_the_mlflow_ui(finished_pipeline):
    _, client, outputs = finished_pipeline
    experiments = {e.name for e in client.search_experiments()}
    assert "workbench-default" in experiments
    everything = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert {r.info.experiment_id for r in everything} == {
        client.get_experiment_by_name("workbench-default").experiment_id
    }, "every run in the pipeline's experiment"
    runs = _runs(client)
    parent = _parents(runs)[0]
    notebooks = _children(runs, parent)
    collaborative = notebooks["40_collaborative"]
    assert {"ndcg_at_10", "precision_at_10"} <= set(collaborative.data.metrics)
    assert "40_collaborative.ndcg_at_10" in parent.data.metrics
    families = _children(runs, collaborative)
    assert set(families) == {"popularity", "item_knn", "user_knn", "ease", "als", "bpr", "svd"}
    assert (
        "l2" in families["ease"].data.params and "valid_ndcg_at_10" in families["ease"].data.metrics
    )
    trials = _children(runs, families["ease"])
    assert trials and all(name.startswith("trial ") for name in trials)
    assert {
        run.data.tags["workbench.stage"]
        for run in _children(runs, notebooks["30_content_based"]).values()
    } == {"content_based"}
    artifacts = {a.path for a in client.list_artifacts(collaborative.info.run_id, "notebook")}
    assert {"notebook/40_collaborative.ipynb", "notebook/40_collaborative.html"} <= artifacts
    summary = outputs[-1].stdout
    assert "synthetic-recommender" in summary and "kept" in summary
    assert "http://127.0.0.1:5000" in summary
    noise = ("without encryption", "oneDNN", "absl", "TqdmWarning", "CloudPickle")
    assert not [word for word in noise if word in outputs[-1].stdout + outputs[-1].stderr]


def test_every_plot_appears_inline_exactly_once(finished_pipeline):
    root, _, _ = finished_pipeline
    run_dir = sorted((root / "experiments" / "runs").iterdir())[0]
    for name in NOTEBOOKS:
        executed = (run_dir / f"{name}.ipynb").read_text()
        plots = list((run_dir / name / "plots").glob("*.png"))
        assert executed.count('"image/png"') == len(plots), name


def test_models_are_registered_as_champions(finished_pipeline):
    _, client, _ = finished_pipeline
    names = {model.name for model in client.search_registered_models()}
    for kind in ("personas", "recommender", "conversion", "policy"):
        assert f"synthetic-{kind}" in names
        assert client.get_model_version_by_alias(f"synthetic-{kind}", "champion")


def test_no_raw_identifier_or_email_reaches_curated_data_or_mlflow(finished_pipeline):
    root, client, _ = finished_pipeline
    raw_ids = set(generate(n_users=300, n_days=14, seed=42)["users"]["user_id"])
    for folder in (root / "data" / "curated", root / "experiments"):
        findings = scan_folder(folder, raw_ids, min_length=8)
        assert findings.empty, findings.head(10).to_string()
    for run in _runs(client):
        findings = scan_mlflow_run(client, run.info.run_id, raw_ids)
        assert findings.empty, findings.head(10).to_string()
