"""The engine a pipeline runs its heavy steps on: ``pandas`` (the default) or ``spark``.

Notebooks call :func:`select` with the configuration's ``engine`` and ``spark_master`` and then
``engine.ingest(...)`` and ``engine.user_features(...)``, and hand the engine to workflows that
look model families up with ``engine.family(name)``: the same calls whatever the engine, so no
notebook branches on it. The Spark session starts only when a Spark step first runs.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import pandas as pd

from workbench.data.ingest import IngestResult, ingest
from workbench.engines.spark_als import SparkALS
from workbench.engines.spark_session import DEFAULT_MASTER
from workbench.features.build import PANDAS_KERNELS, build_user_features
from workbench.models import factorization
from workbench.models.catalogue import Family, get_family

ENGINES = ("pandas", "spark")

#: Families the spark engine fits with Spark, in place of the catalogue's (same search space).
SPARK_FAMILIES: dict[str, Family] = {
    "als": Family(SparkALS, factorization.suggest_als, seeded=True),
}


@dataclass(frozen=True)
class Engine:
    """Where ingestion, user features and the Spark-capable model families run.

    Attributes
    ----------
    name : str
        ``pandas`` or ``spark``.
    master : str
        Spark master URL (``local[*]``, ``spark://host:7077``); unused by pandas.
    """

    name: str = "pandas"
    master: str = DEFAULT_MASTER

    def session(self):
        """The SparkSession on ``master``."""
        from workbench.engines.spark_session import session

        return session(self.master)

    def ingest(self, *args, **kwargs) -> IngestResult:
        """``workbench.data.ingest.ingest`` with events curated on this engine."""
        if self.name == "spark":
            from workbench.engines import spark_curate

            kwargs["curator"] = functools.partial(spark_curate.curate, spark=self.session())
        return ingest(*args, **kwargs)

    def user_features(
        self, events: pd.DataFrame, items: pd.DataFrame, users: pd.DataFrame, **parameters
    ) -> pd.DataFrame:
        """``build_user_features`` with RFM, engagement and context computed on this engine."""
        kernels = PANDAS_KERNELS
        if self.name == "spark":
            from workbench.engines.spark_features import SparkFeatures

            kernels = SparkFeatures(self.session())
        return build_user_features(events, items, users, **parameters, kernels=kernels)

    def family(self, name: str) -> Family:
        """The model family ``name`` on this engine: the catalogue's (``get_family``), except
        on spark for ``SPARK_FAMILIES`` (``als``: :class:`SparkALS` on ``master``).

        Raises
        ------
        KeyError
            Listing the known families when ``name`` is not one.
        """
        if self.name == "spark" and name in SPARK_FAMILIES:
            family = SPARK_FAMILIES[name]
            return replace(family, fixed={**family.fixed, "master": self.master})
        return get_family(name)


def select(name: str = "pandas", master: str = DEFAULT_MASTER) -> Engine:
    """The engine called ``name``.

    Raises
    ------
    ValueError
        Naming the engine when it is not one of ``ENGINES``.
    """
    if name not in ENGINES:
        raise ValueError(f"engine: {name!r} is not one of {', '.join(ENGINES)}")
    return Engine(name, master)
