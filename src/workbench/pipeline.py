"""The pipeline runner: parameterized notebooks executed by papermill, tracked in MLflow.

One MLflow parent run per pipeline execution and one child run per notebook. The child run
is created here and its id injected as the notebook's ``mlflow_run_id`` parameter, so the
notebook logs into it; the runner then attaches the executed notebook and closes the run
FINISHED, or FAILED with the failing cell when the notebook raised.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import papermill
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME
from papermill.exceptions import PapermillExecutionError
from tqdm.auto import tqdm

from workbench import tracking
from workbench.config import ConfigError, NotebookStep, PipelineConfig, ProjectPaths
from workbench.data import store

log = logging.getLogger(__name__)

KERNEL_NAME = "python3"  # the native kernel: the interpreter running the pipeline
_TYPES = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


class NotebookFailed(RuntimeError):
    """A notebook raised; names the notebook, the cell and the exception."""

    def __init__(self, notebook: str, cell: int | None, error: str, output: Path):
        self.notebook, self.cell, self.error, self.output = notebook, cell, error, output
        where = f"cell {cell}" if cell is not None else "an unknown cell"
        super().__init__(f"{notebook} failed in {where}: {error}\n  executed copy: {output}")


@dataclass
class StepResult:
    """One executed notebook."""

    name: str
    run_id: str
    output: Path
    seconds: float
    status: str = "FINISHED"


@dataclass
class PipelineResult:
    """One pipeline execution."""

    pipeline_run_id: str
    parent_run_id: str
    run_dir: Path
    steps: list[StepResult] = field(default_factory=list)


def new_pipeline_run_id() -> str:
    """A sortable, unique id: ``20261128-101500-1a2b3c``."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def common_parameters(config: PipelineConfig, mirror: str | None) -> dict[str, Any]:
    """Parameters every notebook may declare, from the pipeline configuration."""
    return {
        "config": config.name,
        "dataset": config.data.dataset,
        "source": config.data.source,
        "source_options": dict(config.data.options),
        "mirror": mirror or "",
        "seed": config.seed,
        "smoke": config.smoke,
        "run_dir": "",  # filled in per notebook
        "mlflow_run_id": "",  # filled in per notebook
        **config.parameters,
    }


def resolve_parameters(
    step: NotebookStep, declared: dict[str, dict], common: dict[str, Any]
) -> dict[str, Any]:
    """The parameters injected into one notebook, checked against those it declares.

    Parameters
    ----------
    step : NotebookStep
    declared : dict
        The notebook's parameters, as ``papermill.inspect_notebook`` reports them.
    common : dict
        Parameters every notebook may declare (``common_parameters``).

    Raises
    ------
    ConfigError
        Naming the notebook and key of a parameter it does not declare, or of a value whose
        type differs from the declared one.
    """
    if not declared:
        raise ConfigError(f"{step.notebook}: no cell tagged 'parameters'")
    for key, value in step.parameters.items():
        if key not in declared:
            raise ConfigError(
                f"notebooks.{step.name}.parameters.{key}: {step.notebook} declares no parameter "
                f"{key!r} (it has: {', '.join(sorted(declared))})"
            )
        _check_type(step, key, value, declared[key]["inferred_type_name"])
    chosen = {key: value for key, value in common.items() if key in declared}
    chosen.update(step.parameters)
    return chosen


def _check_type(step: NotebookStep, key: str, value: Any, type_name: str) -> None:
    expected = _TYPES.get(type_name.split("[")[0].strip())
    if expected is None:
        return
    is_bool_for_number = isinstance(value, bool) and bool not in expected
    if is_bool_for_number or not isinstance(value, expected):
        raise ConfigError(
            f"notebooks.{step.name}.parameters.{key}: expected {type_name}, "
            f"got {type(value).__name__} {value!r}"
        )


def plan(
    config: PipelineConfig,
    paths: ProjectPaths,
    only: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
    mirror: str | None = None,
) -> list[tuple[NotebookStep, dict[str, Any]]]:
    """Every step to run with its parameters, all validated before any work starts.

    ``overrides`` maps ``param`` (every notebook declaring it) or ``notebook.param`` to a
    value; ``only`` keeps the named notebooks (by stem, e.g. ``40_collaborative``).
    """
    steps = config.notebooks
    if only:
        names = {step.name for step in steps}
        unknown = sorted(set(only) - names)
        if unknown:
            raise ConfigError(f"--only: no notebook named {unknown} (known: {sorted(names)})")
        steps = [step for step in steps if step.name in only]
    common = common_parameters(config, mirror)
    planned = []
    for step in steps:
        declared = papermill.inspect_notebook(str(paths.notebooks / step.notebook))
        step = _with_overrides(step, overrides or {}, declared)
        planned.append((step, resolve_parameters(step, declared, common)))
    return planned


def _with_overrides(
    step: NotebookStep, overrides: dict[str, Any], declared: dict[str, dict]
) -> NotebookStep:
    """``step`` with the command line's overrides for it (``param`` or ``notebook.param``)."""
    extra = {}
    for key, value in overrides.items():
        notebook, _, name = key.rpartition(".")
        if notebook and notebook == step.name:
            extra[name] = value
        elif not notebook and name in declared:
            extra[name] = value
    return step.model_copy(update={"parameters": {**step.parameters, **extra}})


def run_pipeline(
    config: PipelineConfig,
    paths: ProjectPaths,
    only: list[str] | None = None,
    overrides: dict[str, Any] | None = None,
    mirror: str | None = None,
    progress: bool = True,
) -> PipelineResult:
    """Execute the configured notebooks in order; stop at the first that raises.

    Raises
    ------
    ConfigError
        Before any work, when a notebook or parameter is invalid.
    NotebookFailed
        When a notebook raises; its child run and the parent run are then FAILED.
    """
    planned = plan(config, paths, only, overrides, mirror)
    experiment_id = tracking.ensure_experiment(config.experiment_name, paths.artifacts)
    pipeline_run_id = new_pipeline_run_id()
    run_dir = paths.runs / pipeline_run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    tags = {
        "workbench.pipeline_run_id": pipeline_run_id,
        "workbench.config": config.name,
        "workbench.config_hash": config.digest(),
        "mlflow.source.git.commit": tracking.git_commit(paths.root),
        "workbench.dataset": config.data.dataset,
    }
    result = PipelineResult(pipeline_run_id, "", run_dir)
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"{config.name}-{pipeline_run_id}", tags=tags
    ) as parent:
        result.parent_run_id = parent.info.run_id
        mlflow.log_params(
            {
                "source": config.data.source,
                "seed": config.seed,
                "smoke": config.smoke,
                "notebooks": len(planned),
            }
        )
        bar = tqdm(planned, desc=config.name, unit="notebook", disable=not progress)
        for step, parameters in bar:
            bar.set_postfix_str(step.name)
            result.steps.append(
                _run_step(step, parameters, experiment_id, parent.info.run_id, tags, run_dir, paths)
            )
            _record_dataset(config, paths, parent.info.run_id, result.steps[-1].run_id)
    return result


def _run_step(step, parameters, experiment_id, parent_id, tags, run_dir, paths) -> StepResult:
    """Run one notebook inside its own child run."""
    client = MlflowClient()
    child = client.create_run(
        experiment_id,
        tags={
            **tags,
            MLFLOW_PARENT_RUN_ID: parent_id,
            MLFLOW_RUN_NAME: step.name,
            "workbench.notebook": step.name,
        },
    )
    run_id = child.info.run_id
    output = run_dir / step.notebook
    step_dir = run_dir / step.name
    filled = {"mlflow_run_id": run_id, "run_dir": str(step_dir)}
    injected = {**parameters, **{k: v for k, v in filled.items() if k in parameters}}
    start = time.perf_counter()
    log.info("running %s", step.notebook)
    try:
        papermill.execute_notebook(
            str(paths.notebooks / step.notebook),
            str(output),
            parameters=injected,
            kernel_name=KERNEL_NAME,
            cwd=str(paths.notebooks),
            progress_bar=False,
        )
    except PapermillExecutionError as error:
        _close(client, run_id, output, "FAILED")
        mlflow.set_tag("workbench.failed_notebook", step.name)  # the parent ends FAILED
        cell = _source_cell_number(output, error.cell_index)
        first_line = (error.source or "").strip().splitlines()[:1]
        message = f"{error.ename}: {error.evalue}" + (f"  [{first_line[0]}]" if first_line else "")
        raise NotebookFailed(step.notebook, cell, message, output) from None
    except BaseException:
        _close(client, run_id, output, "FAILED")
        raise
    seconds = time.perf_counter() - start
    client.log_metric(run_id, "notebook_seconds", seconds)
    _close(client, run_id, output, "FINISHED")
    log.info("%s finished in %.1f s", step.notebook, seconds)
    return StepResult(step.name, run_id, output, seconds)


def _source_cell_number(executed: Path, cell_index: int | None) -> int | None:
    """1-based position of a failing cell in the committed notebook (without the cell
    papermill injects)."""
    if cell_index is None or not executed.is_file():
        return None
    import nbformat

    cells = nbformat.read(executed, as_version=4).cells[: cell_index + 1]
    injected = sum("injected-parameters" in c.metadata.get("tags", []) for c in cells)
    return cell_index + 1 - injected


def _close(client: MlflowClient, run_id: str, output: Path, status: str) -> None:
    """Attach the executed notebook (when it exists) and set the run's final status."""
    if output.is_file():
        client.log_artifact(run_id, str(output), artifact_path="notebook")
    client.set_terminated(run_id, status)


def _record_dataset(config: PipelineConfig, paths: ProjectPaths, parent_id, child_id) -> None:
    """Tag the runs with the curated data set's digest once it exists."""
    folder = paths.curated / config.data.dataset
    try:
        manifest = store.read_manifest(folder)
    except FileNotFoundError:
        return
    for run_id in (parent_id, child_id):
        run = MlflowClient().get_run(run_id)
        if not run.inputs.dataset_inputs:
            tracking.log_curated_dataset(config.data.dataset, folder, manifest["digest"], run_id)
