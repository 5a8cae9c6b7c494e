"""Pipeline configurations are validated before any work, with errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.config import ConfigError, ProjectPaths, load_pipeline_config, pseudonym_key

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOKS = ROOT / "notebooks"


def _write(tmp_path, text: str):
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


VALID = """
name: t
data: {source: synthetic, options: {n_users: 10}}
notebooks:
  - notebook: 10_ingest.ipynb
"""


def test_shipped_configurations_are_valid():
    for path in sorted((ROOT / "experiments").glob("*.yaml")):
        config = load_pipeline_config(path, NOTEBOOKS)
        assert config.notebooks, path


def test_valid_configuration_loads(tmp_path):
    config = load_pipeline_config(_write(tmp_path, VALID), NOTEBOOKS)
    assert config.data.dataset == "synthetic"
    assert config.experiment_name == "workbench-t"
    assert len(config.digest()) == 12


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (VALID + "colour: blue\n", "colour"),
        (VALID.replace("source: synthetic", "source: myspace"), "data.source"),
        (VALID + "seed: many\n", "seed"),
        (VALID.replace("10_ingest", "99_missing"), "notebooks.0.notebook"),
        (VALID.replace("notebook: 10_ingest.ipynb", "notebok: 10_ingest.ipynb"), "notebok"),
        ("name: [unclosed", "not valid YAML"),
    ],
)
def test_invalid_configuration_names_the_key(tmp_path, text, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_pipeline_config(_write(tmp_path, text), NOTEBOOKS)


def test_project_paths_derive_from_the_root(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    paths = ProjectPaths.discover()
    assert paths.root == tmp_path.resolve()
    assert paths.curated == tmp_path.resolve() / "data" / "curated"
    assert paths.tracking_uri == f"sqlite:///{tmp_path.resolve()}/experiments/mlflow.db"


def test_configuration_names_resolve_under_experiments(monkeypatch):
    from workbench.cli import resolve_config_path

    monkeypatch.delenv("WORKBENCH_HOME", raising=False)
    paths = ProjectPaths.discover()
    expected = paths.experiments / "default.yaml"
    assert resolve_config_path("default", paths) == expected
    assert resolve_config_path("default.yaml", paths) == expected
    assert resolve_config_path(str(expected), paths) == expected


def test_pseudonym_key_from_the_environment_else_the_project_key_file(tmp_path, monkeypatch):
    paths = ProjectPaths(tmp_path)
    monkeypatch.setenv("WORKBENCH_PSEUDONYM_KEY", "from-env")
    assert pseudonym_key(paths) == b"from-env"
    assert not paths.pseudonym_key_file.exists()
    monkeypatch.delenv("WORKBENCH_PSEUDONYM_KEY")
    created = pseudonym_key(paths)
    assert paths.pseudonym_key_file.is_file() and pseudonym_key(paths) == created


def test_engine_is_chosen_in_the_configuration_and_a_typo_is_named(tmp_path):
    config = load_pipeline_config(_write(tmp_path, VALID), NOTEBOOKS)
    assert (config.engine, config.spark_master) == ("pandas", "local[*]")
    text = VALID + "engine: spark\nspark_master: spark://head:7077\n"
    config = load_pipeline_config(_write(tmp_path, text), NOTEBOOKS)
    assert (config.engine, config.spark_master) == ("spark", "spark://head:7077")
    with pytest.raises(ConfigError, match=r"engine: .*\(got 'sprak'\)"):
        load_pipeline_config(_write(tmp_path, VALID + "engine: sprak\n"), NOTEBOOKS)
