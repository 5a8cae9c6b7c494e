"""A simulated audience for the closed loop: the synthetic bandit environment drives the service.

Each round draws a cell of a :class:`~workbench.bandits.environments.BanditSimulator`, asks
``/rank`` to choose among the simulator's arms (item ids) for a fresh visitor of that cell,
draws the reward of the shown arm from the cell's true rate and posts it to ``/events/.../
reward``. The decision log then holds the service's own propensities, which off-policy
evaluation reads after ingestion (:mod:`workbench.data.sources.decisions`, then
:func:`workbench.workflows.bandits.value_on_decision_log`). ``workbench simulate`` drives a
running service over HTTP (:func:`http_post`) and writes the simulation record beside its log.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable

import pandas as pd
from sklearn.utils import check_random_state

from workbench.bandits.environments import BanditSimulator
from workbench.bandits.offline import cell_contexts

__all__ = ["cell_contexts", "drive", "http_post"]  # cell_contexts: the ingested rounds' contexts

log = logging.getLogger(__name__)

#: ``post(path, payload) -> (status, body)``: an HTTP client of the service.
Post = Callable[[str, dict], tuple[int, dict]]


def http_post(base_url: str, timeout: float = 30.0) -> Post:
    """A :data:`Post` client of the service at ``base_url`` (``http://127.0.0.1:8000``)."""
    base = base_url.rstrip("/")

    def post(path: str, payload: dict) -> tuple[int, dict]:
        data = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(base + path, data=data, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    return post


def drive(simulator: BanditSimulator, post: Post, n_rounds: int, random_state=None) -> pd.DataFrame:
    """Play ``n_rounds`` rounds against the service.

    Parameters
    ----------
    simulator : BanditSimulator
        Its ``action_names`` must be item ids the service's recommender knows; its
        ``feature_names`` are ``cell=<name>``.
    post : callable
    n_rounds : int
    random_state : int, RandomState or None
        Seeds the cells and the reward draws.

    Returns
    -------
    DataFrame of shape (n_rounds, 5)
        ``event_id, cell, action, propensity, reward`` as the service answered.

    Raises
    ------
    RuntimeError
        When the service refuses a request (its status and message).
    """
    rng = check_random_state(random_state)
    cells = simulator.sample_cells(n_rounds, rng)
    coins = rng.random_sample(n_rounds)
    names = [name.removeprefix("cell=") for name in simulator.feature_names]
    arms = {item: index for index, item in enumerate(simulator.action_names)}
    candidates = [{"item_id": item} for item in simulator.action_names]
    rows = []
    for t in range(n_rounds):
        request = {
            "user_id": f"simulated-{t}",
            "context": {"cell": names[cells[t]], "page": "simulation"},
            "candidates": candidates,
            "k": len(candidates),
        }
        status, body = post("/rank", request)
        if status != 200:
            raise RuntimeError(f"/rank answered {status}: {body}")
        action = arms[body["shown"]]
        reward = float(coins[t] < simulator.true_means[cells[t], action])
        status, answer = post(f"/events/{body['event_id']}/reward", {"reward": reward})
        if status != 200:
            raise RuntimeError(f"/reward answered {status}: {answer}")
        rows.append((body["event_id"], cells[t], action, body["propensity"], reward))
    log.info("simulated %d rounds against the service", n_rounds)
    return pd.DataFrame(rows, columns=["event_id", "cell", "action", "propensity", "reward"])
