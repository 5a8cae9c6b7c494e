"""A Spark session from a master URL (``local[*]`` by default), quiet and Arrow-enabled."""

from __future__ import annotations

import logging
import os
import shutil
import sys

log = logging.getLogger(__name__)

DEFAULT_MASTER = "local[*]"


class SparkUnavailable(RuntimeError):
    """pyspark or Java is missing; the message says which and how to install it."""


def check_available() -> None:
    """Raise :class:`SparkUnavailable` unless pyspark imports and ``java`` is on PATH."""
    try:
        import pyspark  # noqa: F401
    except ImportError as error:
        raise SparkUnavailable(
            "pyspark is not installed: install the extra with `uv pip install -e '.[spark]'`"
        ) from error
    if shutil.which("java") is None:
        raise SparkUnavailable("java not found: install the Debian package openjdk-17-jre-headless")


def session(
    master: str = DEFAULT_MASTER,
    app_name: str = "workbench",
    driver_memory: str = "2g",
    shuffle_partitions: int | None = None,
    config: dict[str, str] | None = None,
):
    """The (possibly existing) SparkSession on ``master``.

    Parameters
    ----------
    master : str
        ``local[*]``, ``local[2]``, ``spark://host:7077``, ``yarn``, ``k8s://...``.
    driver_memory : str
        JVM heap of the driver (in local mode, of everything).
    shuffle_partitions : int, optional
        ``spark.sql.shuffle.partitions``; twice the local cores when None and master is local.
    config : dict, optional
        More Spark settings (object storage credentials, executor sizes).
    """
    check_available()
    # Python workers run this interpreter (which has workbench), not the first python3 on PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    if shuffle_partitions is None and master.startswith("local"):
        cores = master[6:-1] if master.startswith("local[") else "1"
        shuffle_partitions = 8 if cores == "*" else 2 * int(cores)
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions or 200))
    )
    for key, value in (config or {}).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    log.info("Spark %s on %s", spark.version, master)
    return spark
