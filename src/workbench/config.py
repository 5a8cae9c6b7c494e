"""Typed configuration: project paths and pipeline YAML files validated before any work runs.

Like the CLI and the pipeline, this module may read the environment: ``WORKBENCH_HOME`` (the
project root) and ``WORKBENCH_PSEUDONYM_KEY`` (``pseudonym_key``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from workbench.data.sources import source_names
from workbench.engines import DEFAULT_MASTER

#: Names a configuration's ``data.source`` may take: the source catalogue's.
SOURCES = source_names()
PSEUDONYM_KEY_VARIABLE = "WORKBENCH_PSEUDONYM_KEY"


@dataclass(frozen=True)
class ProjectPaths:
    """The project's folders, all derived from its root.

    ``WORKBENCH_HOME`` overrides the root (the checkout the package is installed from).
    """

    root: Path

    @classmethod
    def discover(cls) -> ProjectPaths:
        """The root named by ``WORKBENCH_HOME``, else the checkout this package lives in."""
        home = os.environ.get("WORKBENCH_HOME")
        return cls(Path(home).resolve() if home else Path(__file__).resolve().parents[2])

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    @property
    def experiments(self) -> Path:
        return self.root / "experiments"

    @property
    def runs(self) -> Path:
        return self.experiments / "runs"

    @property
    def artifacts(self) -> Path:
        return self.experiments / "mlartifacts"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.experiments / 'mlflow.db'}"

    @property
    def optuna_storage(self) -> str:
        return f"sqlite:///{self.experiments / 'optuna.db'}"

    @property
    def raw(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def curated(self) -> Path:
        return self.root / "data" / "curated"

    @property
    def pseudonym_key_file(self) -> Path:
        return self.root / "data" / "secrets" / "pseudonym.key"


def pseudonym_key(paths: ProjectPaths) -> bytes:
    """The pseudonymization key of the project: the same for the notebooks and the CLI.

    Parameters
    ----------
    paths : ProjectPaths

    Returns
    -------
    bytes
        ``WORKBENCH_PSEUDONYM_KEY`` when set, else the git-ignored key file
        (``paths.pseudonym_key_file``), created on first use so pseudonyms stay stable.
    """
    from workbench.data import privacy

    return privacy.resolve_key(os.environ.get(PSEUDONYM_KEY_VARIABLE), paths.pseudonym_key_file)


class ConfigError(ValueError):
    """A pipeline configuration is invalid; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """Which data set the pipeline runs on."""

    source: Literal[SOURCES]  # type: ignore[valid-type]
    name: str | None = Field(default=None, description="curated data set name; the source's")
    options: dict[str, Any] = Field(default_factory=dict)
    mirror: str | None = Field(default=None, description="folder laid out like shared/data")

    @field_validator("options")
    @classmethod
    def _curation_options(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Curation options (timezone, timestamp_format, dedup...) checked before any work."""
        from workbench.data.ingest import split_options

        split_options(value)
        return value

    @property
    def dataset(self) -> str:
        return self.name or self.source


class NotebookStep(_Strict):
    """One notebook of the pipeline and the parameters it receives."""

    notebook: str
    parameters: dict[str, Any] = Field(default_factory=dict)

    @field_validator("notebook")
    @classmethod
    def _ipynb(cls, value: str) -> str:
        if not value.endswith(".ipynb"):
            raise ValueError(f"{value!r} is not a .ipynb file")
        return value

    @property
    def name(self) -> str:
        return Path(self.notebook).stem


class PipelineConfig(_Strict):
    """A pipeline: a data set, notebooks in order, and parameters they share."""

    name: str
    description: str = ""
    data: DataConfig
    seed: int = 42
    smoke: bool = False
    engine: Literal["pandas", "spark"] = Field(
        default="pandas", description="where ingestion and user features run"
    )
    spark_master: str = Field(
        default=DEFAULT_MASTER, description="Spark master URL (engine: spark)"
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="passed to every notebook that declares them"
    )
    notebooks: list[NotebookStep] = Field(min_length=1)

    @property
    def experiment_name(self) -> str:
        return f"workbench-{self.name}"

    def digest(self) -> str:
        """A short hash of the configuration's content, tagged on every run."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(payload).hexdigest()[:12]


def load_pipeline_config(path: Path, notebooks_root: Path) -> PipelineConfig:
    """Read and validate a pipeline YAML file.

    Raises
    ------
    ConfigError
        Naming the file and the offending key for unknown keys, wrong types, bad YAML and
        notebooks that do not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        config = PipelineConfig.model_validate(raw)
    except ValidationError as error:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or '<top>'}: {e['msg']}"
            + (f" (got {e['input']!r})" if e["type"] != "missing" else "")
            for e in error.errors()
        ]
        raise ConfigError(f"{path}: invalid configuration\n  " + "\n  ".join(problems)) from None
    _resolve_paths(config, path.parent)
    for position, step in enumerate(config.notebooks):
        if not (notebooks_root / step.notebook).is_file():
            raise ConfigError(
                f"{path}: notebooks.{position}.notebook: {step.notebook!r} does not exist "
                f"under {notebooks_root}"
            )
    return config


PATH_OPTIONS = ("events", "users", "items", "consent", "base_dir")
"""``data.options`` holding file paths: relative ones resolve against the configuration file."""


def _resolve_paths(config: PipelineConfig, folder: Path) -> None:
    """Make relative paths of ``data.options`` and ``data.mirror`` absolute, from ``folder``."""
    for name in PATH_OPTIONS:
        value = config.data.options.get(name)
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            config.data.options[name] = str((folder / value).resolve())
    if config.data.mirror and not Path(config.data.mirror).expanduser().is_absolute():
        config.data.mirror = str((folder / config.data.mirror).resolve())
