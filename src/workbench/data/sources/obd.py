"""The Open Bandit Dataset sample (Saito et al. 2021) as ``bandit_logs`` contract tables.

ZOZOTOWN fashion recommendations logged by a uniform-random (``random``) or a Bernoulli
Thompson sampling (``bts``) policy, for the ``all``, ``men`` and ``women`` campaigns. Each CSV
row is one impression: ``item_id`` (the action), ``position`` (1-3, stored 0-based), ``click``
(the reward), ``propensity_score`` (the logging policy's probability of the item at that
position), hashed ``user_feature_0..3`` and ``user-item_affinity_<item>`` (renamed
``user_item_affinity_<item>``). ``item_context.csv`` describes the items.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.data.catalog import dataset_file
from workbench.data.contract import validate_table

log = logging.getLogger(__name__)

BEHAVIOR_POLICIES = ("random", "bts")
CAMPAIGNS = ("all", "men", "women")
USER_FEATURES = tuple(f"user_feature_{index}" for index in range(4))


def load(
    raw_dir: Path,
    mirror: Path | None = None,
    behavior_policy: str = "random",
    campaign: str = "all",
) -> dict[str, pd.DataFrame]:
    """Load one log of the sample.

    Parameters
    ----------
    raw_dir : Path
        The raw layer (downloads land there when no mirror is given).
    mirror : Path, optional
        A folder laid out like ``../shared/data``.
    behavior_policy : {"random", "bts"}
    campaign : {"all", "men", "women"}

    Returns
    -------
    dict of str to DataFrame
        ``bandit_logs`` (contract columns, ``timestamp``, user features and affinities) and
        ``item_context`` (``item_id`` and the item features).
    """
    if behavior_policy not in BEHAVIOR_POLICIES or campaign not in CAMPAIGNS:
        raise ValueError(
            f"unknown log {behavior_policy}/{campaign}: "
            f"policies {BEHAVIOR_POLICIES}, campaigns {CAMPAIGNS}"
        )
    logs_path = dataset_file("obd", f"{behavior_policy}/{campaign}/{campaign}.csv", raw_dir, mirror)
    items_path = dataset_file("obd", f"{behavior_policy}/all/item_context.csv", raw_dir, mirror)
    logs = _bandit_logs(pd.read_csv(logs_path, index_col=0))
    items = pd.read_csv(items_path, index_col=0)
    log.info(
        "obd %s/%s: %d impressions, %d items, click rate %.4f",
        behavior_policy,
        campaign,
        len(logs),
        logs["action"].nunique(),
        logs["reward"].mean(),
    )
    return {"bandit_logs": validate_table(logs, "bandit_logs"), "item_context": items}


def _bandit_logs(raw: pd.DataFrame) -> pd.DataFrame:
    """Rename and type the CSV columns into the contract's."""
    frame = pd.DataFrame(
        {
            "round": np.arange(len(raw), dtype=np.int64),
            "action": raw["item_id"].astype(np.int64).to_numpy(),
            "position": (raw["position"].astype(np.int64) - 1).to_numpy(),
            "reward": raw["click"].astype(float).to_numpy(),
            "propensity": raw["propensity_score"].astype(float).to_numpy(),
            "timestamp": pd.to_datetime(raw["timestamp"], utc=True)
            .astype("datetime64[us, UTC]")
            .to_numpy(),
        }
    )
    users = raw[list(USER_FEATURES)].astype(str).reset_index(drop=True)
    affinity = raw.filter(like="user-item_affinity_").reset_index(drop=True)
    affinity.columns = [name.replace("-", "_") for name in affinity.columns]
    return pd.concat([frame, users, affinity], axis=1)


def user_feature_matrix(logs: pd.DataFrame, categories: dict | None = None) -> tuple:
    """One-hot encoding of the hashed user features.

    Parameters
    ----------
    logs : DataFrame
        ``bandit_logs`` from :func:`load`.
    categories : dict, optional
        Column -> known values (from another log), so two logs share one encoding.

    Returns
    -------
    matrix : ndarray of shape (n_rounds, n_features)
    categories : dict
        Column -> the values encoded, in order.
    """
    categories = categories or {
        column: sorted(logs[column].astype(str).unique()) for column in USER_FEATURES
    }
    blocks = [
        (logs[column].astype(str).to_numpy()[:, None] == np.asarray(values)[None, :])
        for column, values in categories.items()
    ]
    return np.hstack(blocks).astype(float), categories
