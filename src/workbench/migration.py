"""Copy an MLflow store (the embedded SQLite one) into another (the tracking server).

MLflow has no command that moves runs between stores (``mlflow db upgrade`` only migrates a
schema in place; the separate ``mlflow-export-import`` project is not a dependency here), so
:func:`migrate` does it through the public client: experiments by name, every run with its
parameters, full metric histories, tags, status, times and artifacts, nested runs re-parented,
then every registered model with its versions (their files copied into the migrated run, or a
``migrated-models`` run when the version has no run), version tags and aliases. Each copied run
carries the tag ``workbench.migrated_from``; a second migration skips what the first copied.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field

import mlflow
from mlflow.entities import Metric, Param, ViewType
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

log = logging.getLogger(__name__)

MIGRATED_FROM = "workbench.migrated_from"
BATCH = 500


@dataclass
class MigrationReport:
    """What :func:`migrate` copied (and skipped, having copied it before)."""

    experiments: int = 0
    runs: int = 0
    skipped_runs: int = 0
    model_versions: int = 0
    run_ids: dict[str, str] = field(default_factory=dict)


def migrate(source_uri: str, target_uri: str) -> MigrationReport:
    """Copy every experiment, run and registered model of ``source_uri`` to ``target_uri``.

    Parameters
    ----------
    source_uri, target_uri : str
        MLflow tracking URIs (``sqlite:///experiments/mlflow.db``, ``http://127.0.0.1:5001``);
        each also serves as its registry URI.

    Returns
    -------
    MigrationReport
    """
    source = MlflowClient(source_uri, source_uri)
    target = MlflowClient(target_uri, target_uri)
    report = MigrationReport()
    for experiment in source.search_experiments(view_type=ViewType.ALL):
        runs = _all_runs(source, experiment.experiment_id)
        if not runs and experiment.name == "Default":
            continue
        existing = target.get_experiment_by_name(experiment.name)
        target_id = (
            existing.experiment_id
            if existing is not None
            else target.create_experiment(experiment.name, tags=experiment.tags)
        )
        report.experiments += 1
        done = {
            run.data.tags[MIGRATED_FROM]: run.info.run_id
            for run in _all_runs(target, target_id)
            if MIGRATED_FROM in run.data.tags
        }
        report.skipped_runs += sum(run.info.run_id in done for run in runs)
        report.run_ids.update(done)
        for run in sorted(runs, key=lambda run: run.info.start_time or 0):
            if run.info.run_id not in done:
                report.run_ids[run.info.run_id] = _copy_run(source, target, run, target_id, report)
                report.runs += 1
    for model in source.search_registered_models():
        report.model_versions += _copy_model(source_uri, target, model, report.run_ids)
    log.info("migrated %s", report)
    return report


def _all_runs(client: MlflowClient, experiment_id: str) -> list:
    runs, token = [], None
    while True:
        page = client.search_runs(
            [experiment_id], run_view_type=ViewType.ALL, max_results=1000, page_token=token
        )
        runs += list(page)
        token = page.token
        if not token:
            return runs


def _copy_run(source, target, run, experiment_id: str, report: MigrationReport) -> str:
    """One run into ``experiment_id`` (parent re-mapped); the new run's id."""
    tags = {key: value for key, value in run.data.tags.items() if key != MLFLOW_PARENT_RUN_ID}
    parent = run.data.tags.get(MLFLOW_PARENT_RUN_ID)
    if parent in report.run_ids:
        tags[MLFLOW_PARENT_RUN_ID] = report.run_ids[parent]
    tags[MIGRATED_FROM] = run.info.run_id
    new = target.create_run(experiment_id, start_time=run.info.start_time, tags=tags)
    new_id = new.info.run_id
    params = [Param(key, value) for key, value in run.data.params.items()]
    metrics = [
        Metric(key, point.value, point.timestamp, point.step)
        for key in run.data.metrics
        for point in source.get_metric_history(run.info.run_id, key)
    ]
    for start in range(0, max(len(params), len(metrics), 1), BATCH):
        target.log_batch(new_id, metrics[start : start + BATCH], params[start : start + BATCH])
    with tempfile.TemporaryDirectory() as folder:
        if source.list_artifacts(run.info.run_id):
            local = source.download_artifacts(run.info.run_id, "", folder)
            target.log_artifacts(new_id, local)
    target.set_terminated(new_id, run.info.status, run.info.end_time)
    return new_id


def _copy_model(source_uri: str, target, model, run_ids: dict[str, str]) -> int:
    """Registered model ``model`` with its versions and aliases; versions copied."""
    name = model.name
    if not target.search_registered_models(filter_string=f"name = '{name}'"):
        target.create_registered_model(name, tags=model.tags, description=model.description)
    copied = {
        version.tags.get(MIGRATED_FROM)
        for version in target.search_model_versions(f"name = '{name}'")
    }
    source = MlflowClient(source_uri, source_uri)
    versions = sorted(
        source.search_model_versions(f"name = '{name}'"), key=lambda version: int(version.version)
    )
    numbers, count = {}, 0
    for version in versions:
        key = f"{name}/{version.version}"
        if key in copied:
            continue
        run_id = run_ids.get(version.run_id) or _holder_run(target)
        with tempfile.TemporaryDirectory() as folder:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=version.source, dst_path=folder, tracking_uri=source_uri
            )
            path = f"registered/{name}/v{version.version}"
            target.log_artifacts(run_id, local, artifact_path=path)
        uri = f"{target.get_run(run_id).info.artifact_uri}/{path}"
        new = target.create_model_version(
            name, uri, run_id=run_id, tags={**version.tags, MIGRATED_FROM: key},
            description=version.description,
        )  # fmt: skip
        numbers[str(version.version)] = new.version
        count += 1
    for alias, version in (source.get_registered_model(name).aliases or {}).items():
        if str(version) in numbers:
            target.set_registered_model_alias(name, alias, numbers[str(version)])
    return count


def _holder_run(target) -> str:
    """A run that holds the files of versions registered without a run."""
    experiment = target.get_experiment_by_name("migrated-models")
    experiment_id = (
        experiment.experiment_id if experiment else target.create_experiment("migrated-models")
    )
    return target.create_run(experiment_id).info.run_id
