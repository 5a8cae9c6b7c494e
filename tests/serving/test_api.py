"""The HTTP API in process: the decision path, and every bad request a 4xx with a message."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.serving.decision_log import read_log

pytestmark = pytest.mark.slow  # the session's project trains and registers models (~25 s)


def test_a_decision_is_a_logged_distribution_with_reasons(client, project):
    user = project.consenting[0]
    response = client.post("/rank", json={"user_id": user, "k": 5, "context": {"device": "mobile"}})
    assert response.status_code == 200, response.text
    body = response.json()
    probabilities = [item["probability"] for item in body["ranking"]]
    assert len(probabilities) == 5 and np.isclose(sum(probabilities), 1.0)
    assert min(probabilities) >= 0.01 and body["propensity"] in probabilities
    assert body["variant"] == "champion" and body["personalized"]
    assert body["model_versions"]["recommender@champion"] == "1"
    assert body["model_versions"]["personas@champion"] == "1"
    assert any(s.startswith("persona=") for s in body["segments"])
    [record] = [
        r for r in read_log(client.service.log.path) if r.get("event_id") == body["event_id"]
    ]
    assert record["kind"] == "decision" and record["shown"] == body["shown"]
    assert record["probabilities"] == probabilities and record["context"]["device"] == "mobile"


def test_users_without_consent_get_the_default_and_are_told(client, project):
    body = client.post("/rank", json={"user_id": project.refusing[0], "k": 3}).json()
    assert not body["personalized"] and body["segments"] == []
    assert body["reasons"][0].startswith("consent:")
    popular = client.post("/rank", json={"user_id": "never-seen", "k": 3}).json()
    assert [i["item_id"] for i in body["ranking"]] == [i["item_id"] for i in popular["ranking"]]


def test_candidates_and_exclusions_are_respected(client, project):
    user = project.consenting[1]
    first = client.post("/rank", json={"user_id": user, "k": 4}).json()
    ids = [item["item_id"] for item in first["ranking"]]
    again = client.post("/rank", json={"user_id": user, "k": 4, "exclude": ids[:2]}).json()
    assert not set(ids[:2]) & {item["item_id"] for item in again["ranking"]}
    chosen = client.post(
        "/rank", json={"user_id": user, "k": 2, "candidates": [{"item_id": i} for i in ids[1:3]]}
    ).json()
    assert {item["item_id"] for item in chosen["ranking"]} == set(ids[1:3])
    new = client.post(
        "/rank",
        json={
            "user_id": user,
            "k": 3,
            "candidates": [{"item_id": "brand-new"}, {"item_id": ids[0]}],
        },
    ).json()
    assert [item["item_id"] for item in new["ranking"]] == [ids[0], "brand-new"]
    assert "new candidates ranked last: brand-new" in new["reasons"]
    only_seen = client.post(
        "/rank", json={"user_id": user, "exclude": ids[:1], "candidates": [{"item_id": ids[0]}]}
    )
    assert only_seen.status_code == 422 and "no candidate left" in only_seen.json()["detail"]


def test_a_reward_updates_the_profile_for_the_next_rank(client, project):
    user = project.consenting[2]
    decision = client.post("/rank", json={"user_id": user, "k": 5}).json()
    reward = client.post(f"/events/{decision['event_id']}/reward", json={"reward": 1.0})
    assert reward.status_code == 200 and reward.json()["recorded"]
    later = client.post("/rank", json={"user_id": user, "k": 5}).json()
    assert decision["shown"] not in {item["item_id"] for item in later["ranking"]}
    again = client.post(f"/events/{decision['event_id']}/reward", json={"reward": 1.0})
    assert again.status_code == 200 and not again.json()["recorded"]  # idempotent
    logged = read_log(client.service.log.path)
    assert [r["kind"] for r in logged if r["event_id"] == decision["event_id"]] == [
        "decision",
        "reward",
    ]


BAD_RANKS = [
    (b"{not json", "JSON"),
    (b"[1, 2]", "body"),
    (json.dumps({"k": 3}).encode(), "user_id"),
    (json.dumps({"user_id": None}).encode(), "user_id"),
    (json.dumps({"user_id": ""}).encode(), "user_id"),
    (json.dumps({"user_id": 17}).encode(), "user_id"),
    (json.dumps({"user_id": "u", "k": -3}).encode(), "k"),
    (json.dumps({"user_id": "u", "k": 0}).encode(), "k"),
    (json.dumps({"user_id": "u", "k": 10**9}).encode(), "k"),
    (json.dumps({"user_id": "u", "k": "ten"}).encode(), "k"),
    (json.dumps({"user_id": "u", "k": 2.5}).encode(), "k"),
    (json.dumps({"user_id": "u", "colour": "red"}).encode(), "colour"),
    (json.dumps({"user_id": "u", "candidates": []}).encode(), "candidates"),
    (json.dumps({"user_id": "u", "candidates": [{"item_id": None}]}).encode(), "item_id"),
    (json.dumps({"user_id": "u", "exclude": "abc"}).encode(), "exclude"),
    (json.dumps({"user_id": "u", "context": {"time": "yesterday"}}).encode(), "time"),
]


@pytest.mark.parametrize(("body", "named"), BAD_RANKS, ids=[b[:30].decode() for b, _ in BAD_RANKS])
def test_bad_rank_requests_get_a_4xx_naming_the_field(client, body, named):
    response = client.post("/rank", content=body, headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert named in response.json()["detail"]


def test_bad_rewards_get_a_4xx(client, project):
    event = client.post("/rank", json={"user_id": project.consenting[3]}).json()["event_id"]
    cases = [
        (f"/events/{event}/reward", b"nope", 422, "JSON"),
        (f"/events/{event}/reward", b"{}", 422, "reward"),
        (f"/events/{event}/reward", b'{"reward": "high"}', 422, "reward"),
        (f"/events/{event}/reward", b'{"reward": null}', 422, "reward"),
        (f"/events/{event}/reward", b'{"reward": 1e400}', 422, "reward"),
        ("/events/no-such-event/reward", b'{"reward": 1}', 404, "no-such-event"),
    ]
    for url, body, status, named in cases:
        response = client.post(url, content=body, headers={"Content-Type": "application/json"})
        assert response.status_code == status and named in response.json()["detail"], body
    assert client.post(f"/events/{event}/reward", json={"reward": 0}).status_code == 200
    conflict = client.post(f"/events/{event}/reward", json={"reward": 1})
    assert conflict.status_code == 409 and "already has reward 0.0" in conflict.json()["detail"]


def test_health_and_metrics(client, project):
    def count(name: str) -> float:
        lines = client.get("/metrics").text.splitlines()
        return float(next(line.split()[-1] for line in lines if line.startswith(name + " ")))

    before = count('workbench_decisions_total{variant="champion"}')
    fallbacks = count("workbench_fallbacks_total")
    client.post("/rank", json={"user_id": "never-seen"})
    assert client.get("/health").json()["status"] == "ok"
    assert count('workbench_decisions_total{variant="champion"}') == before + 1
    assert count("workbench_fallbacks_total") == fallbacks + 1
    text = client.get("/metrics").text
    assert 'workbench_request_seconds_bucket{endpoint="/rank"' in text


def test_expected_value_ranking_when_a_conversion_model_is_registered(client, project):
    import mlflow
    from mlflow.tracking import MlflowClient
    from sklearn.linear_model import LogisticRegression

    from workbench.publish import publish
    from workbench.publish.conversion import ConversionModel

    service = client.service
    features = service.audience.features
    columns = ["n_sessions", "days_active"]
    labels = (features["n_sessions"] > features["n_sessions"].median()).astype(int)
    classifier = LogisticRegression().fit(features[columns], labels)
    with mlflow.start_run():
        publish(
            ConversionModel(classifier, columns, 30.0), "synthetic-conversion", features[columns]
        )
    user = next(u for u in project.consenting if service.pseudonymize(u) in features.index)
    try:
        service.refresh()
        body = client.post("/rank", json={"user_id": user, "k": 5}).json()
    finally:
        MlflowClient().delete_registered_model_alias("synthetic-conversion", "champion")
        service.refresh()
    assert body["model_versions"]["conversion@champion"] == "1"
    assert any(r.startswith("expected value: relevance x conversion v1") for r in body["reasons"])
    p = classifier.predict_proba(features.loc[[service.pseudonymize(user)], columns])[0, 1]
    scores = [item["score"] for item in body["ranking"]]
    assert scores == sorted(scores, reverse=True)
    for item in body["ranking"]:  # relevance (a probability) x p x price
        assert 0 < item["score"] <= p * service.prices.get(item["item_id"], 1.0)
    assert (
        "conversion@champion"
        not in client.post("/rank", json={"user_id": user}).json()["model_versions"]
    )
