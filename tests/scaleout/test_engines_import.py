"""pyspark stays optional: the engine modules import without it and say how to install it."""

from __future__ import annotations

import subprocess
import sys

import pytest

BLOCKED = "import sys; sys.modules['pyspark'] = None  # as if the extra were not installed\n"


@pytest.mark.slow  # a fresh interpreter importing the CLI and scikit-learn: a few seconds
def test_engine_modules_import_without_pyspark_and_name_the_extra():
    code = BLOCKED + (
        "import workbench.cli, workbench.engines.spark_curate, workbench.engines.spark_features\n"
        "import workbench.engines.spark_als\n"
        "from workbench.engines import spark_session\n"
        "try:\n"
        "    spark_session.session()\n"
        "except spark_session.SparkUnavailable as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pyspark is not installed" in done.stdout and ".[spark]" in done.stdout
