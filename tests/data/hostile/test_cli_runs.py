"""A handful of hostile cases through the real command line: ``workbench run`` (10_ingest only).

Each case has a project root of its own (two run at a time) holding a good curated version,
written by the library as a previous run would have; then the case's hostile files go through
``workbench run``. The exit code must be the case's;
after a failure the previous version (current folder and kept history) is byte-identical; and
no planted personal value or raw customer id appears in anything the runs wrote: the curated
layer, the run folders (executed notebooks, HTML, metrics), the MLflow artifact store and the
MLflow SQLite store itself, nor in any run's params, tags and metric names.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers.cli import workbench
from helpers.pii_scan import scan_folder, scan_mlflow_run, scan_planted
from mlflow.tracking import MlflowClient

from workbench.data import ingest

from .corpus import CASES, EMAIL, contract_events, real_lines

pytestmark = [pytest.mark.slow, pytest.mark.notebooks, pytest.mark.mirror]

ROOT = Path(__file__).resolve().parents[3]
KEY = "hostile-cli-key"
CHOSEN = (
    "no_header_row",  # fails; its first row holds an e-mail the error must not quote
    "every_row_rejected",  # fails after curation: every row quarantined
    "quarantine_full_name",  # quarantined rows beside a users file with names and e-mails
    "sessions_from_emails",  # e-mail addresses as user and session ids
)
BY_NAME = {case.name: case for case in CASES}


def _snapshot(*folders: Path) -> dict[str, bytes]:
    return {
        str(path): path.read_bytes()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _prepare_case(name: str, events: pd.DataFrame, root: Path) -> Path:
    """A project root holding a good version of data set ``name`` and the case's files.

    Returns
    -------
    Path
        The case's configuration (relative file names resolve against it).
    """
    (root / "experiments").mkdir(parents=True)
    (root / "notebooks").symlink_to(ROOT / "notebooks")
    good, inputs = root / "inputs" / "good", root / "inputs" / "hostile"
    good.mkdir(parents=True)
    inputs.mkdir()
    events.to_csv(good / "events.csv", index=False)
    ingest.ingest(
        "files",
        root / "data" / "curated" / name,
        root / "data" / "raw",
        options={"events": str(good / "events.csv")},
        settings=ingest.default_settings("files", pseudonym_key=KEY.encode()),
    )
    case = BY_NAME[name]
    config = {
        "name": f"hostile-{name}",
        "data": {"source": "files", "name": name, "options": {**case.build(events, inputs)}},
        "notebooks": [{"notebook": "10_ingest.ipynb"}],
    }
    config["data"]["options"].update(case.options)
    path = inputs / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _curated(root: Path, name: str) -> tuple[Path, Path]:
    curated = root / "data" / "curated"
    return curated / name, curated / ".history" / name


@pytest.fixture(scope="module")
def project(mirror, tmp_path_factory) -> tuple[Path, pd.DataFrame, dict]:
    """Every chosen case in a project root of its own (its own MLflow store), two at a time."""
    base = tmp_path_factory.mktemp("hostile-cli")
    events = contract_events(real_lines(mirror))
    configs = {name: _prepare_case(name, events.copy(), base / name) for name in CHOSEN}
    before = {name: _snapshot(*_curated(base / name, name)) for name in CHOSEN}
    with ThreadPoolExecutor(max_workers=2) as pool:  # the runs wait on their processes
        runs = {
            n: pool.submit(workbench, base / n, "run", str(configs[n]), key=KEY, timeout=600)
            for n in CHOSEN
        }
        outcomes = {
            name: {
                "case": BY_NAME[name],
                "done": run.result(),
                "unchanged": _snapshot(*_curated(base / name, name)) == before[name],
            }
            for name, run in runs.items()
        }
    return base, events, outcomes


@pytest.mark.parametrize("name", CHOSEN)
def test_exit_code_and_an_intact_previous_version(project, name):
    _, events, outcomes = project
    outcome = outcomes[name]
    done, case = outcome["done"], outcome["case"]
    assert done.returncode == case.exit_code, done.stdout[-2000:] + done.stderr[-2000:]
    if case.exit_code:
        assert "10_ingest.ipynb failed" in done.stderr
        assert "nothing was written" in done.stderr
        assert outcome["unchanged"], "the previous version changed"
    planted = {*case.planted, EMAIL}
    said = done.stdout + done.stderr
    assert not [value for value in planted if value.lower() in said.lower()]
    assert not [user for user in set(events["user_id"]) if user in said]


def test_no_planted_value_anywhere_the_runs_wrote(project):
    base, events, _ = project
    planted = {EMAIL, *(value for name in CHOSEN for value in BY_NAME[name].planted)}
    raw_users = set(events["user_id"])
    for name in CHOSEN:
        experiments = base / name / "experiments"
        written = [base / name / "data", experiments / "runs", experiments / "mlartifacts"]
        found = scan_planted([*written, experiments / "mlflow.db"], planted)
        assert found.empty, found
        for folder in written:
            found = scan_folder(folder, raw_users, min_length=5)
            assert found.empty, found
        uri = f"sqlite:///{experiments / 'mlflow.db'}"
        client = MlflowClient(tracking_uri=uri)
        runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
        assert len(runs) == 2, name  # the pipeline's parent run and the 10_ingest run
        for run in runs:
            found = scan_mlflow_run(client, run.info.run_id, planted | raw_users)
            assert found.empty, found
