"""Planted-group data for the persona tests: the synthetic site's users and their features."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.data.sources import synthetic
from workbench.features import build_user_features

TRUTH = "planted_segment"


@pytest.fixture(scope="session")
def planted() -> dict:
    """Tables of a small synthetic site with four planted segments, and its user features."""
    tables = synthetic.generate(n_users=400, n_items=120, n_days=30, seed=7)
    features = build_user_features(tables["events"], tables["items"], tables["users"])
    truth = tables["users"].set_index("user_id")[TRUTH].reindex(features.index)
    return {"tables": tables, "features": features, "truth": truth}


@pytest.fixture(scope="session")
def planted_features(planted) -> pd.DataFrame:
    return planted["features"]
