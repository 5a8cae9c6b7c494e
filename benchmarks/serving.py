"""Loopback load test: ``workbench serve`` (the whole decision path) against ``mlflow models
serve`` of the same registered recommender, in the same run.

A temporary project gets a curated synthetic site and an EASE recommender registered as
``synthetic-recommender@champion`` (plus a personas model); both servers start on free
127.0.0.1 ports, one uvicorn worker each. Each is then loaded in turn by ``--concurrency``
client threads with keep-alive connections for ``--seconds`` (after ``--warmup`` seconds not
counted): ``POST /rank`` (consent, rules, personas, candidates, exploration, a durable log
line per decision) and ``POST /invocations`` (the recommender's pyfunc alone), a random known
user and ``k = 10`` per request: ``/rank`` gets the site's own id (the service pseudonymizes it
with ``WORKBENCH_PSEUDONYM_KEY``), ``/invocations`` the same user's pseudonym. It prints
throughput, p50/p95/p99 latency and errors, then stops both servers and removes the project.

    .venv/bin/python benchmarks/serving.py --seconds 20 --concurrency 8
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare(root: Path, n_users: int, n_items: int) -> list[tuple[str, str]]:
    """Curate a synthetic site under ``root`` and register its models; known users (raw id
    and pseudonym)."""
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
    from workbench.publish import RecommenderService, SegmenterModel, publish
    from workbench.segments.personas import make_segmenter

    tracking.configure(os.environ["MLFLOW_TRACKING_URI"])
    curated = root / "data" / "curated" / "synthetic"
    options = {"n_users": n_users, "n_items": n_items, "n_days": 30}
    key = os.environ["WORKBENCH_PSEUDONYM_KEY"].encode()
    settings = default_settings("synthetic", pseudonym_key=key)
    ingest("synthetic", curated, root / "data" / "raw", options=options, settings=settings, seed=1)
    data = CuratedDataset("synthetic", curated)
    interactions = build_interactions(data.training_events())
    service = RecommenderService.from_fitted(
        EASE(l2=100.0).fit(interactions.user_items),
        interactions.user_items,
        interactions.users,
        interactions.items,
        10,
    )
    users = data.read("users")
    features = build_user_features(data.read("events"), data.read("items"), users)
    segmenter = make_segmenter(features, ["engagement"], {"n_clusters": 4}, 0).fit(features)
    experiment = tracking.ensure_experiment("serving-benchmark", root / "mlartifacts")
    with mlflow.start_run(experiment_id=experiment):
        request = pd.DataFrame({"user_id": interactions.users.ids[:3]})
        publish(service, "synthetic-recommender", request, "ndcg_at_10", 0.5)
        publish(SegmenterModel(segmenter), "synthetic-personas", features)
    allowed = set(users.loc[users["personalization_allowed"].astype(bool), "user_id"])
    raw_ids = synthetic.generate(**options, seed=1)["users"]["user_id"]
    raw_of = {user_pseudonym(raw, key): raw for raw in raw_ids}
    return [(raw_of[user], user) for user in interactions.users.ids if user in allowed]


def start(args: list[str], root: Path, name: str) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    output = open(root / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        args, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"{url} not up after {seconds} s")


def load(port: int, path: str, body, users: list, seconds: float, warmup: float, threads):
    """Latencies (s) of requests completed in the measured window, errors, window length."""
    start_at = time.monotonic() + warmup
    stop_at = start_at + seconds
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine, failed = [], 0
        while (now := time.monotonic()) < stop_at:
            payload = json.dumps(body(rng.choice(users))).encode()
            began = time.perf_counter()
            try:
                connection.request("POST", path, payload, {"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                ok = response.status == 200
            except OSError:
                ok = False
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            elapsed = time.perf_counter() - began
            if now >= start_at and ok:
                mine.append(elapsed)
            elif now >= start_at:
                failed += 1
        connection.close()
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    pool = [threading.Thread(target=worker, args=(seed,)) for seed in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return np.array(latencies), errors[0], seconds


def summary(name: str, latencies: np.ndarray, errors: int, seconds: float) -> dict:
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) * 1000 if len(latencies) else [0] * 3
    return {
        "server": name,
        "requests": len(latencies),
        "errors": errors,
        "throughput_rps": len(latencies) / seconds,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured time per server")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds not measured")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--users", type=int, default=1000, help="users of the synthetic site")
    parser.add_argument("--items", type=int, default=300, help="items of the synthetic site")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ.update(
            WORKBENCH_HOME=str(root),
            MLFLOW_TRACKING_URI=f"sqlite:///{root / 'mlflow.db'}",
            MLFLOW_DISABLE_TELEMETRY="true",
            WORKBENCH_PSEUDONYM_KEY="benchmark-key",
        )
        users = prepare(root, args.users, args.items)
        ours, theirs = _free_port(), _free_port()
        servers = [
            start(
                [str(BIN / "workbench"), "serve", "--dataset", "synthetic", "--port", str(ours),
                 "--log", str(root / "decisions.jsonl"), "--seed", "0"],
                root, "workbench",
            ),
            start(
                [str(BIN / "mlflow"), "models", "serve", "-m",
                 "models:/synthetic-recommender@champion", "--env-manager", "local",
                 "--host", "127.0.0.1", "--port", str(theirs)],
                root, "mlflow",
            ),
        ]  # fmt: skip
        try:
            wait_until_up(f"http://127.0.0.1:{ours}/health", servers[0])
            wait_until_up(f"http://127.0.0.1:{theirs}/ping", servers[1])
            results = [
                summary(
                    "workbench serve (POST /rank, full decision path)",
                    *load(ours, "/rank", lambda u: {"user_id": u[0], "k": 10}, users,
                          args.seconds, args.warmup, args.concurrency),
                ),
                summary(
                    "mlflow models serve (POST /invocations, recommender alone)",
                    *load(theirs, "/invocations",
                          lambda u: {"dataframe_split": {"columns": ["user_id", "k"],
                                                         "data": [[u[1], 10]]}},
                          users, args.seconds, args.warmup, args.concurrency),
                ),
            ]  # fmt: skip
        finally:
            for server in servers:
                os.killpg(server.pid, 15)
                server.wait(timeout=60)
    print(
        f"loopback, {args.concurrency} client threads, {args.seconds:.0f} s each after "
        f"{args.warmup:.0f} s warm-up; {args.users} users x {args.items} items (EASE)"
    )
    print(f"{'server':<62} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for row in results:
        print(
            f"{row['server']:<62} {row['throughput_rps']:>8.1f} {row['p50_ms']:>8.2f} "
            f"{row['p95_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['errors']:>7d}"
        )
    ratio_rps = results[0]["throughput_rps"] / max(results[1]["throughput_rps"], 1e-9)
    ratio_p99 = results[0]["p99_ms"] / max(results[1]["p99_ms"], 1e-9)
    print(f"workbench / mlflow: throughput x{ratio_rps:.2f}, p99 x{ratio_p99:.2f}")


if __name__ == "__main__":
    main()
