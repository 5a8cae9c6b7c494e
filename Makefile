# One-command set-up: `make run` and `make test` create .venv, install the pinned
# dependencies (requirements.lock) and the workbench (editable), then do their job.
# A second call reinstalls only when pyproject.toml or requirements.lock changed.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9
CONFIG ?= experiments/default.yaml
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: help install run test test-fast lab ui lint format strip clean

help:
	@echo "make run        set up, then run the default pipeline ($(CONFIG))"
	@echo "make test       set up, then run the whole test suite"
	@echo "make test-fast  the fast tests only (no slow, no notebooks)"
	@echo "make lab        JupyterLab on the workbench kernel"
	@echo "make ui         the MLflow UI on http://127.0.0.1:5000"
	@echo "make strip      strip outputs from the committed notebooks"
	@echo "make clean      remove .venv, curated data, runs and the MLflow store"

$(STAMP): pyproject.toml requirements.lock
	@echo "workbench: installing the pinned environment into $(VENV) (once; again only when the pins change)"
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), \
		f"Python 3.11 is required, found {sys.version.split()[0]} at {sys.executable}"'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --constraint requirements.lock --editable '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name workbench \
		--display-name "Python (workbench)" > /dev/null
	@touch $(STAMP)

# The Spark engine's extra (pyspark, a large download): the tests need it, `make run` does not.
SPARK_STAMP := $(VENV)/.installed-spark
$(SPARK_STAMP): $(STAMP)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --constraint requirements.lock --editable '.[dev,spark]'
	@touch $(SPARK_STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/workbench run $(CONFIG)

# Two workers, one test file each at a time (module fixtures run once): most slow tests wait
# on kernels, servers and browsers, so the two cores stay busy.
test: $(SPARK_STAMP)
	$(BIN)/pytest -n 2 --dist loadfile

test-fast: $(STAMP)
	$(BIN)/pytest -m "not slow and not notebooks"

lab: $(STAMP)
	$(BIN)/workbench lab

ui: $(STAMP)
	$(BIN)/workbench ui

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

strip: $(STAMP)
	$(BIN)/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb

clean:
	rm -rf $(VENV) data/curated data/raw experiments/runs experiments/mlartifacts \
		experiments/mlflow.db experiments/optuna.db .pytest_cache

# The shared tracking server (PostgreSQL in data/pg, MLflow on it); prints the URI to export.
.PHONY: server
server: $(STAMP)
	$(BIN)/workbench server start
