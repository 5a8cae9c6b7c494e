"""The layering of docs/architecture.md, checked by the real import-linter.

The contracts live in ``pyproject.toml`` (``[tool.importlinter]``). The second test copies the
package, adds one upward import and shows that the same contracts then fail, naming it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter is not installed (pip install -e '.[dev]')"
)


def lint_imports(source_root: Path) -> subprocess.CompletedProcess:
    """Run ``lint-imports`` with the project's contracts on the package under ``source_root``."""
    env = {**os.environ, "PYTHONPATH": str(source_root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=source_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_contracts_hold():
    done = lint_imports(ROOT / "src")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("data/store.py", "from workbench import tuning  # noqa", "Imports flow one way"),
        ("models/ease.py", "import mlflow  # noqa", "neither MLflow nor Optuna"),
    ],
)
def test_an_upward_import_breaks_them(tmp_path, module, line, broken):
    shutil.copytree(ROOT / "src" / "workbench", tmp_path / "workbench")
    target = tmp_path / "workbench" / module
    target.write_text(target.read_text() + f"\n{line}\n")
    done = lint_imports(tmp_path)
    assert done.returncode != 0
    assert f"{broken}" in done.stdout and "BROKEN" in done.stdout
