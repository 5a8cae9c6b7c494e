"""The pipeline runner: parameterized notebooks executed by papermill, tracked in MLflow.

One MLflow parent run per pipeline execution and one child run per notebook. The child run
is created here and its id injected as the notebook's ``mlflow_run_id`` parameter, so the
notebook logs into it; the runner then attaches the executed notebook and closes the run
FINISHED, or FAILED with the failing cell when the notebook raised.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import mlflow
import papermill
from jupyter_client.manager import AsyncKernelManager
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME
from papermill.exceptions import PapermillExecutionError
from tqdm import tqdm

from workbench import parameters as parameter_rules
from workbench import tracking
from workbench.config import ConfigError, NotebookStep, PipelineConfig, ProjectPaths
from workbench.data import store

log = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")

KERNEL_NAME = "python3"  # the native kernel: the interpreter running the pipeline
_TYPES = {
    "int": (int,),
    "float": (int, float),
    "str": (str,),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
}


class IpcKernelManager(AsyncKernelManager):
    """Kernels reached over local IPC sockets in a private temporary folder.

    The default TCP transport sends code and outputs unencrypted over loopback (and the kernel
    warns about it); local sockets need no port and are readable by their owner only. The
    kernel process's own log lines (start-up, shutdown, native libraries) go to
    ``kernel_log`` when it is set, not to the pipeline's console; what cells print stays in
    the executed notebook.
    """

    kernel_log: Path | None = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self.ip = str(Path(tempfile.mkdtemp(prefix="workbench-kernel-")) / "kernel")

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw) -> None:
        if self.kernel_log is not None:
            self.kernel_log.parent.mkdir(parents=True, exist_ok=True)
            with open(self.kernel_log, "ab") as log_file:  # the child keeps its own copy
                await super()._async_launch_kernel(
                    kernel_cmd, **{**kw, "stdout": log_file, "stderr": log_file}
                )
            return
        await super()._async_launch_kernel(kernel_cmd, **kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(Path(self.ip).parent, ignore_errors=True)


class NotebookFailed(RuntimeError):
    """A notebook raised; names the notebook, the cell and the exception."""

    def __init__(self, notebook: str, cell: int | None, error: str, output: Path):
        self.notebook, self.cell, self.error, self.output = notebook, cell, error, output
        where = f"cell {cell}" if cell is not None else "an unknown cell"
        super().__init__(f"{notebook} failed in {where}: {error}\n  executed copy: {output}")


@dataclass
class StepResult:
    """One executed notebook, its headline metrics and what happened to its models.

    ``decisions`` maps each registered name the notebook published to one sentence: whether
    the champion moved or was kept, and why.
    """

    name: str
    run_id: str
    output: Path
    seconds: float
    status: str = "FINISHED"
    headline: dict[str, float] = field(default_factory=dict)
    decisions: dict[str, str] = field(default_factory=dict)


@dataclass
class PipelineResult:
    """One pipeline execution."""

    pipeline_run_id: str
    parent_run_id: str
    run_dir: Path
    steps: list[StepResult] = field(default_factory=list)
    experiment_name: str = ""


def new_pipeline_run_id() -> str:
    """A sortable, unique id: ``20261128-101500-1a2b3c``."""
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


def common_parameters(
    config: PipelineConfig, mirror: str | None, fresh: bool = False, incremental: bool = False
) -> dict[str, Any]:
    """Parameters every notebook may declare, from the pipeline configuration.

    A pipeline run registers models (``register``: interactive runs do not, by default) and
    resumes its Optuna studies unless ``fresh``; an ``incremental`` run tells the model
    notebooks to update their champions (``warm_start``) instead of retraining.
    """
    return {
        "config": config.name,
        "dataset": config.data.dataset,
        "source": config.data.source,
        "source_options": dict(config.data.options),
        "mirror": mirror or "",
        "seed": config.seed,
        "smoke": config.smoke,
        "engine": config.engine,
        "spark_master": config.spark_master,
        "register": True,
        "fresh": fresh,
        "warm_start": incremental,
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
    found = parameter_rules.problems(chosen)
    if found:
        raise ConfigError(f"notebooks.{step.name}.parameters: " + "; ".join(found))
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
    fresh: bool = False,
    incremental: bool = False,
) -> list[tuple[NotebookStep, dict[str, Any]]]:
    """Every step to run with its parameters, all validated before any work starts.

    ``overrides`` maps ``param`` (every notebook declaring it) or ``notebook.param`` to a
    value; ``only`` keeps the named notebooks (by stem, e.g. ``40_collaborative``). An
    override that no planned notebook declares, or that names no planned notebook, is an error.
    ``incremental`` sets ``incremental_run`` (ingestion appends by watermark) and
    ``warm_start`` (model notebooks update their champions) where notebooks declare them.
    """
    steps = config.notebooks
    if only:
        names = {step.name for step in steps}
        unknown = sorted(set(only) - names)
        if unknown:
            raise ConfigError(f"--only: no notebook named {unknown} (known: {sorted(names)})")
        steps = [step for step in steps if step.name in only]
    common = common_parameters(config, mirror, fresh, incremental)
    declared = {step.name: papermill.inspect_notebook(str(paths.notebooks / step.notebook))
                for step in steps}  # fmt: skip
    if incremental and any("incremental_run" in params for params in declared.values()):
        overrides = {"incremental_run": True, **(overrides or {})}
    _check_overrides(overrides or {}, declared)
    planned = []
    for step in steps:
        step = _with_overrides(step, overrides or {}, declared[step.name])
        planned.append((step, resolve_parameters(step, declared[step.name], common)))
    return planned


def _check_overrides(overrides: dict[str, Any], declared: dict[str, dict]) -> None:
    """A typo in ``--set`` is an error, never silently ignored."""
    for key in overrides:
        notebook, _, name = key.rpartition(".")
        if notebook and notebook not in declared:
            raise ConfigError(
                f"--set {key}: no notebook {notebook!r} in this run ({sorted(declared)})"
            )
        if not notebook and not any(name in params for params in declared.values()):
            known = sorted(set().union(*declared.values()))
            raise ConfigError(
                f"--set {key}: no notebook in this run declares {name!r} (known: {known})"
            )


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
    fresh: bool = False,
    incremental: bool = False,
) -> PipelineResult:
    """Execute the configured notebooks in order; stop at the first that raises.

    Raises
    ------
    ConfigError
        Before any work, when a notebook or parameter is invalid.
    NotebookFailed
        When a notebook raises; its child run and the parent run are then FAILED.
    """
    planned = plan(config, paths, only, overrides, mirror, fresh, incremental)
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
    result = PipelineResult(pipeline_run_id, "", run_dir, experiment_name=config.experiment_name)
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
            done = _run_step(
                step, parameters, experiment_id, parent.info.run_id, tags, run_dir, paths
            )
            result.steps.append(done)
            mlflow.log_metrics(
                {f"{step.name}.{key}": value for key, value in done.headline.items()}
            )
            _record_dataset(config, paths, parent.info.run_id, done.run_id)
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
            kernel_manager_class=type(
                "StepKernelManager", (IpcKernelManager,), {"kernel_log": step_dir / "kernel.log"}
            ),
        )
    except PapermillExecutionError as error:
        _close(client, run_id, output, "FAILED")
        mlflow.set_tag("workbench.failed_notebook", step.name)  # the parent ends FAILED
        cell = _source_cell_number(output, error.cell_index)
        line = raising_line(error.traceback) or (error.source or "").strip().splitlines()[:1]
        message = f"{error.ename}: {error.evalue}" + (f"  [{line[0]}]" if line else "")
        raise NotebookFailed(step.notebook, cell, message, output) from None
    except BaseException:
        _close(client, run_id, output, "FAILED")
        raise
    seconds = time.perf_counter() - start
    client.log_metric(run_id, "notebook_seconds", seconds)
    _close(client, run_id, output, "FINISHED")
    log.info("%s finished in %.1f s", step.notebook, seconds)
    headline_file = step_dir / "headline.json"
    headline = json.loads(headline_file.read_text()) if headline_file.is_file() else {}
    published = client.get_run(run_id).data.tags
    decisions = {
        key.removeprefix("workbench.decision."): value
        for key, value in published.items()
        if key.startswith("workbench.decision.")
    }
    return StepResult(step.name, run_id, output, seconds, "FINISHED", headline, decisions)


def raising_line(traceback: list[str] | None) -> list[str]:
    """The notebook line that raised (``[line]``), read off IPython's formatted traceback.

    IPython marks the executing line of each frame with an arrow (``----> 3 foo()``); the
    cell's own frame (``Cell In[...]``) comes first, so its arrow is the cell line at fault.
    """
    for entry in traceback or []:
        text = _ANSI.sub("", entry)
        if "Cell In[" not in text and "<cell line" not in text:
            continue
        for line in text.splitlines():
            match = re.match(r"^-+>\s*\d+\s(.*)$", line)
            if match:
                return [match.group(1).strip()]
    return []


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
    """Attach the executed notebook and its HTML rendering; set the run's final status."""
    if output.is_file():
        client.log_artifact(run_id, str(output), artifact_path="notebook")
        client.log_artifact(run_id, str(render_html(output)), artifact_path="notebook")
    client.set_terminated(run_id, status)


def render_html(executed: Path) -> Path:
    """An HTML page of an executed notebook beside it (``<name>.html``), to read in the UI."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_filename(str(executed))
    page = executed.with_suffix(".html")
    page.write_text(body, encoding="utf-8")
    return page


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
