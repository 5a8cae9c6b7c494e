"""Each family's declared cost grows as its arrays do: EASE with items squared."""

from __future__ import annotations

import pytest

from workbench.models import cost
from workbench.models.catalogue import FAMILIES


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_declares_a_cost_that_grows_with_the_data(name):
    small = cost.estimate(name, 1_000, 1_000, 50_000)
    large = cost.estimate(name, 10_000, 10_000, 500_000)
    assert 0 < small.memory_bytes < large.memory_bytes
    assert 0 < small.operations < large.operations
    assert small.formula


def test_ease_memory_is_quadratic_in_items_and_blind_to_users():
    one = cost.estimate("ease", 1_000, 10_000, 10**5)
    ten = cost.estimate("ease", 1_000, 100_000, 10**5)
    # 20 bytes per cell of items x items (Gram, inverse, weights) besides one scoring block
    assert ten.memory_bytes - cost._scores(1_000, 100_000) == pytest.approx(20 * 100_000**2)
    assert ten.memory_bytes / one.memory_bytes == pytest.approx(100, rel=0.02)
    assert cost.estimate("ease", 100_000, 10_000, 10**5).memory_bytes == pytest.approx(
        one.memory_bytes, rel=0.1
    )


def test_factorization_memory_is_linear_in_users_and_items():
    one = cost.estimate("als", 10_000, 10_000, 0, {"factors": 64})
    two = cost.estimate("als", 20_000, 20_000, 0, {"factors": 64})
    extra = two.memory_bytes - cost._scores(20_000, 20_000)
    assert extra / (one.memory_bytes - cost._scores(10_000, 10_000)) == pytest.approx(2.0)


def test_fits_says_why_not():
    ease = cost.estimate("ease", 1_000, 200_000, 10**6)
    ok, why = cost.fits(ease, 24 * 2**30)
    assert not ok
    assert "items^2" in why and "> budget 24.00 GiB" in why
    assert cost.fits(cost.estimate("popularity", 1_000, 200_000, 10**6), 24 * 2**30)[0]
