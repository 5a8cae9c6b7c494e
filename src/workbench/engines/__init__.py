"""Execution engines beside pandas: Spark for the steps that grow with the number of events.

Nothing here imports ``pyspark`` at import time of :mod:`workbench`: each module imports it
inside the functions that need it (pyspark is the optional extra ``.[spark]``), so a pandas
run never loads it. ``spark_session`` builds the session from a master URL; ``spark_curate``
curates events (the per-row checks of :mod:`workbench.data` run unchanged inside Spark
partitions, the checks across rows run as Spark joins and aggregations); ``spark_features``
computes RFM, engagement and context on Spark DataFrames; ``spark_als`` fits ``pyspark.ml``
ALS and scores it with the project's own metrics. ``engine`` is what a configuration's
``engine: pandas|spark`` selects (``select``): ingestion, user features and ALS on that engine.
"""

from workbench.engines.spark_session import DEFAULT_MASTER

__all__ = ["DEFAULT_MASTER", "ENGINES", "Engine", "select"]


def __getattr__(name: str):
    """``Engine``, ``ENGINES`` and ``select`` from :mod:`workbench.engines.engine`, imported on
    first use (it imports ingestion and the feature modules)."""
    if name in ("Engine", "ENGINES", "select"):
        from workbench.engines import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'workbench.engines' has no attribute {name!r}")
