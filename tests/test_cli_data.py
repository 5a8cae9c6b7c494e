"""``workbench data``: listing curated data sets and erasing a user from them; erase, serve
and retrain through the real command line."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
from helpers.cli import succeeded, workbench
from helpers.pii_scan import scan_folder, scan_mlflow_run, scan_planted
from mlflow.tracking import MlflowClient

from workbench import cli
from workbench.cli.data import ERASED_TAG
from workbench.data import ingest, privacy, store

KEY = "a-test-key"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project root holding one small curated synthetic data set."""
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY)
    settings = ingest.default_settings("synthetic", pseudonym_key=KEY.encode())
    ingest.ingest(
        "synthetic",
        tmp_path / "data/curated/site",
        tmp_path / "data/raw",
        options={"n_users": 40, "n_items": 30, "n_days": 5},
        settings=settings,
    )
    return tmp_path


def test_list_shows_the_data_set(project, capsys):
    assert cli.main(["data", "list"]) == 0
    assert "site" in capsys.readouterr().out


def test_forget_erases_the_user_and_records_it(project, capsys):
    folder = project / "data/curated/site"
    target = privacy.pseudonym("u0000003", KEY.encode())
    assert target in set(store.read_table(folder, "events")["user_id"])
    assert cli.main(["data", "forget", "u0000003"]) == 0
    assert f"erased pseudonym {target[:12]}" in capsys.readouterr().out
    for table in ("events", "users", "consent"):
        assert target not in set(store.read_table(folder, table)["user_id"]), table
    assert target in privacy.erased_pseudonyms(folder)
    assert "u0000003" not in (folder / "erasures.parquet").read_bytes().decode("latin-1")


def test_forget_an_unknown_id_exits_nonzero_naming_it_and_changes_nothing(project, capsys):
    folder = project / "data/curated/site"
    before = (folder / "manifest.json").read_bytes()
    assert cli.main(["data", "forget", "nobody-here"]) == 1
    assert "nobody-here" in capsys.readouterr().err
    assert (folder / "manifest.json").read_bytes() == before


def test_rollback_restores_the_previous_version_byte_for_byte(project, capsys):
    folder = project / "data/curated/site"
    first = {p.name: p.read_bytes() for p in folder.glob("*.parquet")}
    assert cli.main(["data", "forget", "u0000003"]) == 0
    assert cli.main(["data", "list"]) == 0
    assert "v2" in capsys.readouterr().out
    assert cli.main(["data", "rollback", "site", "1"]) == 0
    restored = {p.name: p.read_bytes() for p in folder.glob("*.parquet")}
    assert restored.keys() == first.keys() | {"erasures.parquet"}  # v1 rewritten without the user
    target = privacy.pseudonym("u0000003", KEY.encode())
    assert target not in set(store.read_table(folder, "events")["user_id"])  # erased in v1 too


def test_a_served_recommender_never_personalizes_for_an_erased_user(project):
    import numpy as np
    import scipy.sparse as sp

    from workbench.data.interactions import IdMap
    from workbench.models.popularity import Popularity
    from workbench.publish.recommender import RecommenderService

    events = store.read_table(project / "data/curated/site", "events")
    users = IdMap.from_values(events["user_id"])
    items = IdMap.from_values(events["item_id"])
    rows = users.to_index(events["user_id"].to_numpy())
    cols = items.to_index(events["item_id"].to_numpy())
    matrix = sp.csr_matrix(
        (np.ones(len(rows)), (rows, cols)), shape=(len(users.ids), len(items.ids))
    )
    service = RecommenderService.from_fitted(Popularity().fit(matrix), matrix, users, items)
    target = privacy.pseudonym("u0000003", KEY.encode())
    assert not service.recommend([target])["fallback"].iloc[0]
    assert cli.main(["data", "forget", "u0000003"]) == 0
    assert service.recommend([target])["fallback"].iloc[0]  # the same loaded model


# --- erase, serve, retrain: the real command line end to end ---------------------------------

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = """name: erase
data: {source: synthetic, name: site}
smoke: true
notebooks:
  - notebook: 10_ingest.ipynb
  - notebook: 40_collaborative.ipynb
    parameters: {families: [popularity, item_knn], n_trials: 1}
"""


@pytest.fixture(scope="module")
def erased(tmp_path_factory):
    """Run, serve, erase, run again: what each step left behind.

    ``workbench run`` ingests a small synthetic site and registers a recommender; the test
    loads it, finds a user it answers personally, erases that user with ``workbench data
    forget`` and runs the pipeline again.
    """
    root = tmp_path_factory.mktemp("erase") / "project"
    (root / "experiments").mkdir(parents=True)
    (root / "notebooks").symlink_to(ROOT / "notebooks")
    (root / "erase.yaml").write_text(PIPELINE)
    succeeded(workbench(root, "run", str(root / "erase.yaml"), key=KEY))
    uri = f"sqlite:///{root / 'experiments' / 'mlflow.db'}"
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    served = mlflow.pyfunc.load_model(f"models:/{MODEL}/1")
    raw_id, pseudonym = _personalized_user(served, [f"u{i:07d}" for i in range(300)])
    forget = succeeded(workbench(root, "data", "forget", raw_id, key=KEY))
    after = {
        "served": served.predict(pd.DataFrame({"user_id": [pseudonym]})),
        "reloaded": mlflow.pyfunc.load_model(f"models:/{MODEL}/1").predict(
            pd.DataFrame({"user_id": [pseudonym, "never-seen"]})
        ),
        "tags": MlflowClient(uri, uri).get_model_version(MODEL, "1").tags,
    }
    succeeded(workbench(root, "run", str(root / "erase.yaml"), key=KEY))
    yield {
        "root": root,
        "client": MlflowClient(tracking_uri=uri, registry_uri=uri),
        "raw_id": raw_id,
        "pseudonym": pseudonym,
        "forget": forget,
        "after": after,
    }
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])


MODEL = "site-recommender"


def _personalized_user(model, candidates) -> tuple[str, str]:
    """A raw id, and its pseudonym, that the served model answers personally."""
    for raw_id in candidates:
        pseudonym = privacy.pseudonym(raw_id, KEY.encode())
        if not model.predict(pd.DataFrame({"user_id": [pseudonym]}))["fallback"].iloc[0]:
            return raw_id, pseudonym
    raise AssertionError("no user of the site is served personally")


def _latest(client: MlflowClient):
    versions = client.search_model_versions(f"name = '{MODEL}'")
    return max(versions, key=lambda version: int(version.version))


@pytest.mark.slow
@pytest.mark.notebooks
def test_forget_tags_the_model_and_serving_falls_back_to_the_popular_ranking(erased):
    assert f"erased pseudonym {erased['pseudonym'][:12]}" in erased["forget"].stdout
    assert "registered model versions tagged workbench.trained_on_erased_user: 1" in (
        erased["forget"].stdout
    )
    assert erased["after"]["tags"][ERASED_TAG] == "true"
    assert erased["after"]["served"]["fallback"].iloc[0]  # the model loaded before forget
    reloaded = erased["after"]["reloaded"]
    assert reloaded["fallback"].tolist() == [True, True]
    assert reloaded["item_ids"].iloc[0] == reloaded["item_ids"].iloc[1]  # as if never seen


@pytest.mark.slow
@pytest.mark.notebooks
def test_the_next_run_curates_and_trains_without_the_user(erased):
    root, client = erased["root"], erased["client"]
    user = {erased["raw_id"], erased["pseudonym"]}
    traces = scan_folder(root / "data" / "curated", user, exclude=(privacy.ERASURE_LEDGER,))
    assert traces.empty, traces  # only the erasure ledgers name the pseudonym
    latest = _latest(client)
    assert int(latest.version) == 2 and ERASED_TAG not in latest.tags
    model = mlflow.pyfunc.load_model(f"models:/{MODEL}/{latest.version}").unwrap_python_model()
    assert erased["pseudonym"] not in set(model.users.ids)
    assert model.user_items.shape[0] == len(model.users.ids)
    assert scan_mlflow_run(client, latest.run_id, user).empty


@pytest.mark.slow
@pytest.mark.notebooks
def test_the_retrained_model_artifacts_hold_no_trace_of_the_user(erased):
    latest = _latest(erased["client"])
    artifacts = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}/{latest.version}"))
    found = scan_planted([artifacts], [erased["raw_id"], erased["pseudonym"]])
    assert found.empty, found


@pytest.mark.slow
@pytest.mark.notebooks
def test_forget_an_unknown_id_through_the_command_line_exits_nonzero_naming_it(erased):
    unknown = workbench(erased["root"], "data", "forget", "u9999999", key=KEY)
    assert unknown.returncode == 1 and "u9999999" in unknown.stderr
