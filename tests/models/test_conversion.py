"""Conversion models: the estimator contract, calibration, and the expected-value ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from workbench.models import conversion
from workbench.models.offers import rank_offers


@pytest.fixture(scope="module")
def snapshot():
    """Users whose conversion odds grow with sessions; a few are buyers with a history."""
    rng = np.random.default_rng(0)
    n = 1500
    sessions = rng.poisson(4, n).astype(float)
    buyer = rng.random(n) < 0.5
    features = pd.DataFrame(
        {
            "n_sessions": sessions,
            "rfm_score": np.where(buyer, rng.integers(3, 16, n), np.nan),
            "repeat_purchases": np.where(buyer, rng.poisson(1, n), 0).astype(float),
            "first_to_last_days": np.where(buyer, 5.0, np.nan),
            "purchase_age_days": np.where(buyer, 20.0, np.nan),
        }
    )
    features["first_to_last_days"] = np.where(
        features["repeat_purchases"] > 0, features["first_to_last_days"], 0.0
    )
    features.loc[~buyer, "first_to_last_days"] = np.nan
    p = 1 / (1 + np.exp(-(sessions - 5) * 0.8))
    return features, (rng.random(n) < p).astype(float), p


@pytest.mark.parametrize("name", sorted(conversion.FAMILIES))
def test_every_family_keeps_the_estimator_contract(name, snapshot):
    features, y, _ = snapshot
    params = {"max_iter": 20} if name == "hgb" else {}
    model = conversion.get_family(name).make(params, 30.0, 0)
    assert repr(clone(model)) == repr(model)
    assert model.fit(features, y) is model
    p = model.predict_proba(features)
    assert p.shape == (len(features), 2) and np.allclose(p.sum(axis=1), 1)
    assert ((p >= 0) & (p <= 1)).all()


def test_learned_models_find_the_planted_signal_and_calibration_fixes_scale(snapshot):
    features, y, truth = snapshot
    fit, valid = slice(0, 1000), slice(1000, None)
    model = conversion.make_logistic(C=1.0).fit(features.iloc[fit], y[fit])
    p = model.predict_proba(features.iloc[valid])[:, 1]
    assert np.corrcoef(p, truth[valid])[0, 1] > 0.95
    calibrated, method, losses = conversion.calibrate(model, features.iloc[valid], y[valid])
    assert method == min(losses, key=losses.get) and set(losses) == {"isotonic", "sigmoid"}
    assert calibrated.predict_proba(features.iloc[:5]).shape == (5, 2)


def test_the_rfm_rule_gives_each_score_its_training_rate():
    features = pd.DataFrame({"rfm_score": [3.0, 3.0, 15.0, 15.0, np.nan, np.nan]})
    y = np.array([0, 0, 1, 1, 0, 1], dtype=float)
    model = conversion.RFMRule(smoothing=0.0).fit(features, y)
    assert model.predict_proba(features)[:, 1].tolist() == [0, 0, 1, 1, 0.5, 0.5]
    with pytest.raises(ValueError, match="rfm_score"):
        model.predict_proba(features.rename(columns={"rfm_score": "x"}))


def test_unknown_family_names_the_choices():
    with pytest.raises(ValueError, match="unknown conversion family 'svm'"):
        conversion.get_family("svm")


def test_offers_rank_by_expected_value_and_respect_consent():
    probabilities = pd.DataFrame(
        {"cheap": [0.9, 0.1, 0.5], "dear": [0.1, 0.5, 0.9]}, index=["a", "b", "c"]
    )
    values = pd.Series({"cheap": 10.0, "dear": 50.0})
    consent = pd.Series({"a": True, "b": True, "c": False})
    ranked = rank_offers(probabilities, values, consent)
    first = ranked[ranked["rank"] == 1].set_index("user_id")
    assert first["offer_id"].to_dict() == {"a": "cheap", "b": "dear", "c": "dear"}
    assert first.loc["a", "expected_value"] == pytest.approx(9.0)
    # c withdrew consent: the consenting users' mean probabilities, not c's own
    assert first.loc["c", "expected_value"] == pytest.approx(0.3 * 50)
    assert not first.loc["c", "personalized"]
    assert len(rank_offers(probabilities, values, consent, k=1)) == 3


def test_offers_refuse_bad_input_naming_it():
    probabilities = pd.DataFrame({"x": [0.5]}, index=["a"])
    with pytest.raises(ValueError, match=r"values: no value for offers \['x'\]"):
        rank_offers(probabilities, pd.Series({"y": 1.0}), pd.Series({"a": True}))
    with pytest.raises(ValueError, match="probabilities must lie"):
        rank_offers(probabilities * 3, pd.Series({"x": 1.0}), pd.Series({"a": True}))
