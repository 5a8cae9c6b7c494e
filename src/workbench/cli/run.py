"""``workbench run``, ``ui`` and ``lab``: run pipelines, open the MLflow UI and JupyterLab."""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

import yaml

from workbench.config import ConfigError, ProjectPaths, load_pipeline_config


def tracking_uri(paths: ProjectPaths) -> str:
    """``MLFLOW_TRACKING_URI`` or the embedded SQLite store; exported for the kernels."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or paths.tracking_uri
    os.environ["MLFLOW_TRACKING_URI"] = uri
    paths.experiments.mkdir(parents=True, exist_ok=True)
    return uri


def tuning_environment(paths: ProjectPaths, uri: str, workers: int) -> None:
    """Export the Optuna workers and, when ``uri`` is the project's tracking server, its
    PostgreSQL as the Optuna storage (the kernels inherit both; see ``notebook.budget``)."""
    from workbench.cli.server import running_for
    from workbench.notebook import STORAGE_VARIABLE, WORKERS_VARIABLE

    os.environ[WORKERS_VARIABLE] = str(workers)
    state = running_for(uri, paths)
    if state is not None:
        os.environ.setdefault(STORAGE_VARIABLE, state.optuna_storage)
    if workers > 1:
        storage = os.environ.get(STORAGE_VARIABLE) or paths.optuna_storage
        print(f"workbench: {workers} Optuna workers per study on {storage.split('@')[-1]}")


def workers_count(text: str) -> int:
    """``--workers``: an integer >= 1 (argparse reports anything else, naming the option)."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return int(text)


def _parse_override(text: str) -> tuple[str, object]:
    """``key=value`` with the value read as YAML (``n_trials=3``, ``smoke=true``)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE or NOTEBOOK.KEY=VALUE")
    return key.strip(), yaml.safe_load(value)


def resolve_config_path(name: str, paths: ProjectPaths) -> Path:
    """A configuration file: a path, or a name under ``experiments/`` (``.yaml`` optional)."""
    for candidate in (Path(name), paths.experiments / name, paths.experiments / f"{name}.yaml"):
        if candidate.is_file():
            return candidate
    return Path(name)  # load_pipeline_config reports it as missing


def cmd_run(args: argparse.Namespace) -> int:
    """Run a pipeline configuration, then print what it found."""
    from workbench import tracking
    from workbench.pipeline import NotebookFailed, run_pipeline

    paths = ProjectPaths.discover()
    config_path = resolve_config_path(args.config, paths)
    config = load_pipeline_config(config_path, paths.notebooks)
    overrides = dict(_parse_override(item) for item in args.set or [])
    if "smoke" in overrides:
        config = config.model_copy(update={"smoke": bool(overrides.pop("smoke"))})
    mirror = args.mirror or config.data.mirror or os.environ.get("WORKBENCH_DATA_MIRROR")
    mirror = str(Path(mirror).resolve()) if mirror else None
    uri = tracking.configure(tracking_uri(paths))
    print(f"workbench: pipeline {config.name!r} on {config.data.dataset!r}, tracking to {uri}")
    tuning_environment(paths, uri, args.workers)
    try:
        result = run_pipeline(
            config,
            paths,
            only=args.only,
            overrides=overrides,
            mirror=mirror,
            fresh=args.fresh,
            incremental=args.incremental,
        )
    except NotebookFailed as failure:
        print(f"workbench: FAILED: {failure}", file=sys.stderr)
        return 1
    print(summary(result, uri, args.ui_port))
    return 0


def summary(result, uri: str, ui_port: int = 5000) -> str:
    """What a finished pipeline found: each notebook's headline metrics, each registered
    name's champion decision, and where to look."""
    total = sum(step.seconds for step in result.steps)
    lines = [f"workbench: {len(result.steps)} notebooks finished in {total:.0f} s"]
    for step in result.steps:
        figures = ", ".join(f"{key} {value:.4g}" for key, value in step.headline.items())
        lines.append(f"  {step.name:<20} {step.seconds:6.1f} s  {figures}")
    decisions = [(name, text) for step in result.steps for name, text in step.decisions.items()]
    if decisions:
        lines.append("workbench: registered models")
        lines += [f"  {name:<28} {text}" for name, text in decisions]
    lines.append(f"workbench: executed notebooks in {result.run_dir}")
    where = f"http://127.0.0.1:{ui_port}" if uri.startswith("sqlite") else uri
    how = " after `make ui`" if uri.startswith("sqlite") else ""
    lines.append(f"workbench: compare the runs in the MLflow UI at {where}{how}")
    lines.append(f"           (experiment {result.experiment_name}, run {result.parent_run_id})")
    return "\n".join(lines)


def cmd_ui(args: argparse.Namespace) -> int:
    """The MLflow UI on 127.0.0.1 against the configured store."""
    paths = ProjectPaths.discover()
    uri = tracking_uri(paths)
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
    ]
    if uri.startswith("sqlite"):
        command += ["--default-artifact-root", paths.artifacts.as_uri()]
    print(f"workbench: MLflow UI at http://127.0.0.1:{args.port} ({uri})")
    return subprocess.call(command)


def cmd_lab(args: argparse.Namespace) -> int:
    """JupyterLab in the project folder, on this environment's kernel; prints its URL."""
    paths = ProjectPaths.discover()
    tracking_uri(paths)
    token = secrets.token_hex(16)
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ip", "127.0.0.1", "--port", str(args.port), "--notebook-dir", str(paths.root),
        f"--IdentityProvider.token={token}",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # containers and CI machines often run as root
    print(f"workbench: JupyterLab at http://127.0.0.1:{args.port}/lab?token={token}")
    print("workbench: notebooks/ holds the pipeline's notebooks; Ctrl-C stops the server")
    server = subprocess.Popen(command)
    while True:
        try:
            return server.wait()
        except KeyboardInterrupt:  # Jupyter gets the Ctrl-C too and shuts its kernels down
            continue


def add_commands(commands) -> None:
    """Register ``run``, ``ui`` and ``lab`` on the CLI's sub-parser set."""
    run = commands.add_parser("run", help="run a pipeline configuration (experiments/*.yaml)")
    run.add_argument("config", help="a YAML file, or its name under experiments/")
    run.add_argument(
        "--only",
        nargs="+",
        metavar="NOTEBOOK",
        help="run only these notebooks, e.g. 40_collaborative",
    )
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a parameter: n_trials=3 or 40_collaborative.n_trials=3",
    )
    run.add_argument("--mirror", help="folder holding the public data sets (as shared/data)")
    run.add_argument(
        "--fresh", action="store_true", help="start the Optuna studies over instead of resuming"
    )
    run.add_argument("--ui-port", type=int, default=5000, help="port named in the summary")
    run.add_argument(
        "--incremental",
        action="store_true",
        help="ingest only events newer than the watermark and warm-start the models",
    )
    run.add_argument("--workers", type=workers_count, default=1, help="processes per Optuna study")
    run.set_defaults(handler=cmd_run)

    ui = commands.add_parser("ui", help="open the MLflow UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    ui.set_defaults(handler=cmd_ui)

    lab = commands.add_parser("lab", help="open JupyterLab on the workbench kernel")
    lab.add_argument("--port", type=int, default=8888)
    lab.set_defaults(handler=cmd_lab)
