"""The registered recommender answers over HTTP from MLflow's own scoring server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from test_recommender import make_service

from workbench import tracking
from workbench.publish import publish

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _post(url: str, payload: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _refusal(url: str, columns: list[str], row: list) -> tuple[int, str]:
    """Status and message of a request the server must refuse."""
    try:
        _post(url, {"dataframe_split": {"columns": columns, "data": [row]}})
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["message"]
    return 200, ""


def _wait_until_up(url: str, server: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"scoring server exited: {server.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(1)
    raise TimeoutError(f"scoring server not up after {seconds} s")


def test_champion_is_served_by_mlflow_models_serve(tracking_uri, tmp_path):
    service = make_service()
    experiment = tracking.ensure_experiment("serving-test", tmp_path / "artifacts")
    with mlflow.start_run(experiment_id=experiment):
        publish(service, "served-recommender", pd.DataFrame({"user_id": ["user-0"]}), "ndcg", 0.3)
    port = _free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "models",
            "serve",
            "-m",
            "models:/served-recommender@champion",
            "--env-manager",
            "local",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/ping", server)
        request = pd.DataFrame({"user_id": ["user-0", "nobody"], "k": [3, 2]})
        answer = _post(
            f"http://127.0.0.1:{port}/invocations",
            {"dataframe_split": request.to_dict(orient="split", index=False)},
        )
        refused = [
            _refusal(f"http://127.0.0.1:{port}/invocations", columns, row)
            for columns, row in (
                (["user_id", "k"], ["user-0", -3]),
                (["user_id", "k"], ["user-0", 400]),
                (["user_id"], [None]),
            )
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert [status for status, _ in refused] == [400, 400, 400]
    assert "got -3" in refused[0][1] and "got 400" in refused[1][1] and "user_id" in refused[2][1]
    served = pd.DataFrame(answer["predictions"])
    expected = service.predict(None, request)
    assert served["item_ids"].tolist() == expected["item_ids"].tolist()
    assert served["fallback"].tolist() == [False, True]
