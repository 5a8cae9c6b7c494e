"""MLflow state a test process keeps between tests, and how to clear it."""

from __future__ import annotations


def forget_active_experiment(monkeypatch) -> None:
    """Forget the experiment an earlier test made active in this process.

    ``mlflow.set_experiment`` keeps its id in a module global and in ``MLFLOW_EXPERIMENT_ID``;
    in another store that id names nothing ("No Experiment with id=1 exists"). MLflow has no
    public way to unset it, hence the private name.
    """
    import mlflow.tracking.fluent

    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
