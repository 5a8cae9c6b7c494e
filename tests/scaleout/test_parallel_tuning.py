"""Optuna trials in several processes: every trial recorded once, nested under the right run."""

from __future__ import annotations

import mlflow
import optuna
import pytest

from workbench.tuning import Budget, run_study, shares


def quadratic(trial) -> float:
    """Maximum 0 at x = 0.3, y = -1."""
    x = trial.suggest_float("x", -2, 2)
    y = trial.suggest_float("y", -2, 2)
    return -((x - 0.3) ** 2) - (y + 1) ** 2


def test_shares_split_the_trials_exactly():
    assert shares(7, 2) == [4, 3] and shares(2, 3) == [1, 1, 0] and shares(9, 3) == [3, 3, 3]


def test_parallel_workers_need_a_shared_storage():
    with pytest.raises(ValueError, match="n_workers"):
        Budget(4, n_workers=0)
    with pytest.raises(ValueError, match="RDB storage"):
        Budget(4, storage=None, n_workers=2)


def check_every_trial_once(study: optuna.Study, n_trials: int, parent_id: str) -> None:
    """Trials numbered 0..n-1, all complete, each with one nested MLflow run under parent."""
    trials = study.get_trials(deepcopy=False)
    assert sorted(t.number for t in trials) == list(range(n_trials))
    assert {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}
    runs = mlflow.search_runs(
        search_all_experiments=True, filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )
    assert sorted(runs["tags.optuna.trial"].astype(int)) == list(range(n_trials))
    assert set(runs["status"]) == {"FINISHED"}
    assert set(runs["tags.optuna.study"]) == {study.study_name}


@pytest.mark.slow
def test_two_workers_on_sqlite_record_every_trial_once(tmp_path, tracking_uri):
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    with mlflow.start_run() as parent:
        study = run_study("toy", quadratic, Budget(12, storage, seed=3, n_workers=2), "value")
    check_every_trial_once(study, 12, parent.info.run_id)
    again = run_study("toy", quadratic, Budget(12, storage, seed=3, n_workers=2), "value")
    assert len(again.trials) == 12  # resumed at its budget: nothing more to run


@pytest.mark.slow
def test_parallel_search_is_as_good_as_the_serial_one_under_the_same_seed(tmp_path):
    serial = run_study("toy", quadratic, Budget(30, f"sqlite:///{tmp_path / 's.db'}", 7), "v")
    parallel = run_study(
        "toy", quadratic, Budget(30, f"sqlite:///{tmp_path / 'p.db'}", 7, n_workers=2), "v"
    )
    assert len(parallel.trials) == len(serial.trials) == 30
    # TPE's best after 30 trials on this bowl lands within 0.1 of the optimum (0) either way.
    assert serial.best_value > -0.1 and parallel.best_value > -0.1


def test_workers_below_one_are_refused_naming_the_option(capsys):
    from workbench.cli import main

    with pytest.raises(SystemExit) as exit_code:
        main(["run", "default", "--workers", "0"])
    assert exit_code.value.code == 2
    assert "--workers: expected an integer >= 1, got '0'" in capsys.readouterr().err


def test_server_status_without_a_server_says_where_runs_go(tmp_path, monkeypatch, capsys):
    from workbench.cli import main

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    assert main(["server", "status"]) == 3
    assert "embedded SQLite store" in capsys.readouterr().out
