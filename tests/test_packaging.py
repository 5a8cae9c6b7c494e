"""The set-up files agree with each other: pins, conda environment, Makefile and CI."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for line in requirements:
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^;\s]+)", line.strip('"'))
        if match:
            pins[match.group(1).lower()] = match.group(2)
    return pins


def _project_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return _pins(project["dependencies"] + sum(project["optional-dependencies"].values(), []))


def test_every_direct_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        assert "==" in requirement, f"{requirement} is not pinned"


def test_environment_yml_names_the_same_pins_as_pyproject():
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in environment["dependencies"]
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert _pins(pip_section) == _project_pins()


def test_lock_file_agrees_with_the_direct_pins():
    locked = _pins((ROOT / "requirements.lock").read_text().splitlines())
    for name, version in _project_pins().items():
        if name == "tensorflow":  # the lock is for Linux x86_64, which takes tensorflow-cpu
            continue
        assert locked.get(name) == version, f"{name}: pyproject {version}, lock {locked.get(name)}"


def test_make_targets_and_ci_exist():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("run", "test", "lab", "ui", "clean"):
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} is missing"
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_opens_with_the_two_commands():
    head = (ROOT / "README.md").read_text()[:1500]
    assert "make run" in head and "make test" in head
