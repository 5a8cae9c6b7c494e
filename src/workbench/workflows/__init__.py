"""One module per experiment (collaborative, content, personas, bandits): each splits, tunes,
refits, evaluates and logs. The only layer below the notebooks that talks to MLflow and Optuna
besides the plumbing (``tracking``, ``tuning``, ``publish``); the domain packages below hold
estimators and pure functions."""
