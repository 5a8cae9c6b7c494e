"""BG/NBD: the maximum-likelihood fit recovers known parameters from simulated customers."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.models.bgnbd import BetaGeometricNBD, simulate

TRUE = {"r": 0.8, "alpha": 6.0, "a": 0.7, "b": 2.5}  # rates per week, as in CDNOW's fit


@pytest.fixture(scope="module")
def customers():
    return simulate(6000, TRUE, big_t=39.0, random_state=1)


def test_the_fit_recovers_the_simulated_parameters(customers):
    model = BetaGeometricNBD().fit(*customers)
    for name, value in TRUE.items():
        assert model.params_[name] == pytest.approx(value, rel=0.25), name
    assert model.fit(*customers).params_ == model.params_  # deterministic


def test_predictions_match_the_simulated_future(customers):
    """Expected purchases and P(any purchase) in the next 13 weeks, against a simulation."""
    x, t_x, big_t = customers
    model = BetaGeometricNBD().fit(x, t_x, big_t)
    future = simulate(6000, TRUE, big_t=52.0, random_state=1)  # same customers, longer
    later = future[0] - x
    expected = model.expected_purchases(13.0, x, t_x, big_t)
    p_any = model.probability_purchase(13.0, x, t_x, big_t)
    assert expected.mean() == pytest.approx(later.mean(), rel=0.1)
    assert p_any.mean() == pytest.approx((later > 0).mean(), abs=0.03)
    alive = model.probability_alive(x, t_x, big_t)
    assert np.all((alive > 0) & (alive <= 1)) and np.all(alive[x == 0] == 1.0)


def test_bad_summaries_are_refused_naming_the_rule():
    with pytest.raises(ValueError, match="t_x <= big_t"):
        BetaGeometricNBD().fit([1.0], [5.0], [3.0])
