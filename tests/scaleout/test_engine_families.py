"""The engine picks the implementation of a model family: the catalogue's on pandas, Spark's
ALS on spark (looked up without starting Spark)."""

from __future__ import annotations

import pytest

from workbench.engines import select
from workbench.engines.spark_als import SparkALS
from workbench.models import factorization
from workbench.models.catalogue import FAMILIES


def test_pandas_engine_families_are_the_catalogues():
    engine = select("pandas")
    assert all(engine.family(name) is family for name, family in FAMILIES.items())
    assert engine.family("als").estimator is factorization.ALS


def test_spark_engine_fits_als_on_spark_with_implicits_search_space():
    engine = select("spark", "spark://head:7077")
    family = engine.family("als")
    assert family.estimator is SparkALS and not family.iterative
    assert family.suggest is FAMILIES["als"].suggest and family.seeded
    model = family.make({"factors": 8}, seed=3)
    assert (model.master, model.factors, model.random_state) == ("spark://head:7077", 8, 3)
    assert engine.family("ease") is FAMILIES["ease"]
    with pytest.raises(KeyError, match="unknown model family 'nope'"):
        engine.family("nope")
