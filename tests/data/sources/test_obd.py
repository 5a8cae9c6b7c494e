"""The Open Bandit Dataset sample loads into the bandit_logs contract table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.data.contract import validate_table
from workbench.data.sources import obd


@pytest.mark.mirror
@pytest.mark.parametrize("campaign, n_items", [("all", 80), ("men", 34), ("women", 46)])
def test_random_logs_are_uniform_and_follow_the_contract(mirror, tmp_path, campaign, n_items):
    tables = obd.load(tmp_path, mirror, "random", campaign)
    logs = tables["bandit_logs"]
    validate_table(logs, "bandit_logs")
    raw = pd.read_csv(mirror / "obd" / "random" / campaign / f"{campaign}.csv", index_col=0)
    assert len(logs) == len(raw) == 10000
    assert logs["reward"].sum() == raw["click"].sum()
    assert set(logs["position"]) == {0, 1, 2}
    np.testing.assert_allclose(logs["propensity"], 1.0 / n_items)
    assert logs["action"].nunique() == n_items
    assert str(logs["timestamp"].dtype) == "datetime64[us, UTC]"
    assert logs.filter(like="user_item_affinity_").shape[1] == n_items
    assert len(tables["item_context"]) == 80


@pytest.mark.mirror
def test_bts_logs_have_varying_propensities_and_shared_encoding(mirror, tmp_path):
    bts = obd.load(tmp_path, mirror, "bts", "men")["bandit_logs"]
    assert bts["propensity"].std() > 0
    matrix, categories = obd.user_feature_matrix(bts)
    assert matrix.shape[0] == len(bts)
    np.testing.assert_allclose(matrix.sum(axis=1), len(obd.USER_FEATURES))
    random = obd.load(tmp_path, mirror, "random", "men")["bandit_logs"]
    again, _ = obd.user_feature_matrix(random, categories)
    assert again.shape[1] == matrix.shape[1]


def test_unknown_log_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown log"):
        obd.load(tmp_path, None, "greedy", "all")
