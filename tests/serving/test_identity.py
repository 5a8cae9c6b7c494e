"""Pseudonyms end to end: the site's own ids come in, only the data set's pseudonyms are kept
(decision log, profiles, metrics), and ingested decisions join with the curated users."""

from __future__ import annotations

import shutil

import pytest
from conftest import KEY
from fastapi.testclient import TestClient
from helpers.pii_scan import TOKEN, scan_text

from workbench.data.curated import CuratedDataset
from workbench.data.privacy import user_pseudonym
from workbench.data.sources import decisions
from workbench.serving import create_app
from workbench.serving.identity import Pseudonymizer
from workbench.workflows.bandits import ingest_decision_log

pytestmark = pytest.mark.slow  # the session's project trains and registers models (~25 s)


def test_the_door_pseudonymizes_as_curation_does():
    door = Pseudonymizer(KEY)
    assert door("u0000007") == door(" u0000007 ") == user_pseudonym("u0000007", KEY)
    merged = Pseudonymizer(KEY, _merges({user_pseudonym("b", KEY): user_pseudonym("a", KEY)}))
    assert merged("b") == merged("a") == user_pseudonym("a", KEY)  # a merged record resolves
    with pytest.raises(ValueError, match="key"):
        Pseudonymizer(b"")


def _merges(pairs: dict[str, str]):
    import pandas as pd

    return pd.DataFrame({"user_id": list(pairs), "merged_into": list(pairs.values())})


def test_raw_ids_rank_personally_and_never_reach_the_log_profiles_or_metrics(
    service_factory, project
):
    service = service_factory()
    users = project.consenting[10:14]
    with TestClient(create_app(service, refresh_seconds=None)) as client:
        for user in users:
            body = client.post("/rank", json={"user_id": user, "k": 5}).json()
            assert body["personalized"] and body["user_id"] == user
            assert not any(r.startswith("fallback") for r in body["reasons"]), body["reasons"]
            client.post(f"/events/{body['event_id']}/reward", json={"reward": 1.0})
        refused = client.post("/rank", json={"user_id": project.refusing[0]}).json()
        metrics = client.get("/metrics").text
    assert not refused["personalized"]  # consent is found through the pseudonym too
    raw = set(project.raw_ids)
    assert scan_text(service.log.path, raw) == []
    assert not set(TOKEN.findall(metrics)) & raw
    assert all(service.profiles.recent(user) == [] for user in users)
    assert all(len(service.profiles.recent(service.pseudonymize(user))) == 1 for user in users)
    # ingested as they are, the logged pseudonyms join with the curated users
    logs = decisions.load(path=service.log.path)["bandit_logs"]
    curated = CuratedDataset("synthetic", project.curated).read("users")
    joined = logs.merge(curated[["user_id", "personalization_allowed"]], on="user_id")
    assert len(joined) == len(logs) == 5
    assert joined["personalization_allowed"].tolist() == [True] * 4 + [False]


def test_the_ingested_log_is_a_table_of_the_data_set_joined_with_its_users(
    service_factory, project, tmp_path
):
    service = service_factory()
    with TestClient(create_app(service, refresh_seconds=None)) as client:
        for user in project.consenting[20:23]:
            client.post("/rank", json={"user_id": user, "k": 3})
    data = CuratedDataset("synthetic", tmp_path / "synthetic")
    shutil.copytree(project.curated, data.folder)  # the session's data set stays as it was
    items = list(service.models.recommenders["champion"][1].items.ids)
    counts = ingest_decision_log(data, service.log.path, items)
    assert counts["bandit_logs_curated"] == counts["bandit_logs_users_joined"] == 3
    table = data.read("bandit_logs")
    assert table["user_id"].isin(data.read("users")["user_id"]).all() and len(table) == 3
    assert not set(table["user_id"]) & set(project.raw_ids)
