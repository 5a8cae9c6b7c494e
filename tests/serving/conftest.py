"""What the serving tests share: a small project trained once per session, and servers.

The project holds a curated synthetic data set (300 users, 60 items), an MLflow store with
``synthetic-recommender`` (EASE champion, popularity challenger) and ``synthetic-personas``.
Requests use the site's own (raw) user ids, as a real site would; the service pseudonymizes
them with ``KEY``, the key the data set was ingested with.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers.mlflow_state import forget_active_experiment

DATASET = "synthetic"
KEY = b"serving-tests-key"  # WORKBENCH_PSEUDONYM_KEY of the session (and of served processes)


@dataclass(frozen=True)
class Project:
    root: Path
    tracking_uri: str
    curated: Path
    consenting: list[str]  # raw ids of users who allow personalization, known to the recommender
    refusing: list[str]  # raw ids of users without personalization consent
    n_items: int
    raw_ids: tuple[str, ...]  # every raw user id of the site


@pytest.fixture(scope="session")
def project(tmp_path_factory) -> Project:
    """Train and register what the service needs, once (about 10 s)."""
    import mlflow
    import pandas as pd

    from workbench import tracking
    from workbench.data.curated import CuratedDataset
    from workbench.data.ingest import default_settings, ingest
    from workbench.data.interactions import build_interactions
    from workbench.data.privacy import user_pseudonym
    from workbench.data.sources import synthetic
    from workbench.features import build_user_features
    from workbench.models.ease import EASE
    from workbench.models.popularity import Popularity
    from workbench.publish import RecommenderService, SegmenterModel, publish
    from workbench.segments.personas import make_segmenter

    root = tmp_path_factory.mktemp("serving")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    undo = _environment(root, uri)
    curated = root / "data" / "curated" / DATASET
    settings = default_settings(DATASET, pseudonym_key=KEY)
    options = {"n_users": 300, "n_items": 60, "n_days": 20}
    ingest(DATASET, curated, root / "data" / "raw", options=options, settings=settings, seed=3)
    data = CuratedDataset(DATASET, curated)
    users = data.read("users")
    interactions = build_interactions(data.training_events())
    request = pd.DataFrame({"user_id": [*interactions.users.ids[:3], "unknown-user"]})
    experiment = tracking.ensure_experiment("serving-tests", root / "mlartifacts")
    with mlflow.start_run(experiment_id=experiment):
        for model, value in ((EASE(l2=50.0), 0.5), (Popularity(), 0.3)):
            service = RecommenderService.from_fitted(
                model.fit(interactions.user_items), interactions.user_items,
                interactions.users, interactions.items, 10,
            )  # fmt: skip
            publish(service, f"{DATASET}-recommender", request, "ndcg_at_10", value)
        features = build_user_features(data.read("events"), data.read("items"), users)
        params = {"algorithm": "kmeans", "n_clusters": 3}
        segmenter = make_segmenter(features, ["engagement"], params, 0).fit(features)
        publish(SegmenterModel(segmenter), f"{DATASET}-personas", features)
    allowed = set(users.loc[users["personalization_allowed"].astype(bool), "user_id"])
    raw_ids = tuple(synthetic.generate(**options, seed=3)["users"]["user_id"])
    raw_of = {user_pseudonym(raw, KEY): raw for raw in raw_ids}
    known = [raw_of[user] for user in interactions.users.ids if user in allowed]
    refusing = sorted(raw_of[user] for user in set(users["user_id"]) - allowed)
    n_items = interactions.user_items.shape[1]
    undo()  # other test files share this process: each serving module sets it again
    return Project(root, uri, curated, known[:50], refusing, n_items, raw_ids)


def _environment(root: Path, uri: str):
    """Set the project's environment and MLflow store for this process; returns ``undo()``."""
    import mlflow

    patch = pytest.MonkeyPatch()
    patch.setenv("MLFLOW_TRACKING_URI", uri)
    patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    patch.setenv("WORKBENCH_HOME", str(root))
    patch.setenv("WORKBENCH_PSEUDONYM_KEY", KEY.decode())
    forget_active_experiment(patch)
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)

    def undo() -> None:
        patch.undo()
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])

    return undo


@pytest.fixture(scope="module", autouse=True)
def serving_environment(project):
    """The session project's environment and store for every test of a serving module.

    Module scope and autouse: set before the module's own fixtures build services, undone
    after, so tests of other files sharing the process (pytest-xdist) see their own settings.
    """
    undo = _environment(project.root, project.tracking_uri)
    yield
    undo()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, payload=None, raw: bytes | None = None, timeout: float = 30) -> tuple[int, dict]:
    """POST ``payload`` (or ``raw`` bytes) as JSON, or GET without either; status and body."""
    data = raw if raw is not None else None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class Server:
    """``workbench serve`` in a subprocess of its own (a process group, to kill it whole)."""

    def __init__(self, project: Project, log: Path, flags: Path | None = None, extra_env=None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = log.with_suffix(".out")
        args = [
            str(Path(sys.executable).parent / "workbench"), "serve", "--dataset", DATASET,
            "--port", str(self.port), "--log", str(log), "--refresh", "0.3", "--seed", "0",
        ]  # fmt: skip
        if flags is not None:
            args += ["--flags", str(flags)]
        env = {**os.environ, "WORKBENCH_HOME": str(project.root), **(extra_env or {})}
        env["MLFLOW_TRACKING_URI"] = project.tracking_uri
        self.process = subprocess.Popen(
            args,
            env=env,
            stdout=open(self.output, "w"),
            stderr=subprocess.STDOUT,  # noqa: SIM115
            start_new_session=True,
        )

    def wait(self, seconds: float = 120) -> Server:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"workbench serve exited: {self.output.read_text()}")
            try:
                if call(self.url + "/health", timeout=2)[0] == 200:
                    return self
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"workbench serve not up after {seconds} s: {self.output.read_text()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 9)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture(scope="module")
def service_factory(project, tmp_path_factory):
    """``make(flags=None, **settings) -> DecisionService`` on the session's project, each with
    a decision log of its own."""
    from workbench.serving import ServeSettings, build_service

    made = []
    folder = tmp_path_factory.mktemp("services")

    def make(flags: Path | None = None, **overrides):
        rules = [Path(__file__).parents[2] / "experiments" / "segments" / "default.yaml"]
        log = folder / f"decisions-{len(made)}.jsonl"
        settings = ServeSettings(
            dataset=DATASET, pseudonym_key=KEY, decision_log=log, flags=flags,
            curated=project.curated, rules=rules, seed=0, **overrides,
        )  # fmt: skip
        service = build_service(settings)
        made.append(service)
        return service

    yield make
    for service in made:
        service.log.close()


@pytest.fixture(scope="module")
def client(service_factory):
    """A FastAPI test client on a service of this module (no background reloads)."""
    from fastapi.testclient import TestClient

    from workbench.serving import create_app

    service = service_factory()
    with TestClient(create_app(service, refresh_seconds=None)) as test_client:
        test_client.service = service
        yield test_client
