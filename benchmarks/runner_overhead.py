"""Per-notebook overhead of the pipeline runner, against plain papermill in the same run.

Runs a trivial parameterized notebook N times through ``workbench.pipeline.run_pipeline``
(child MLflow run, parameter validation, artifact logging) and N times through bare
``papermill.execute_notebook``, and prints the mean seconds of each and their ratio.

    .venv/bin/python benchmarks/runner_overhead.py --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat
import papermill


def _trivial_notebook(path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    parameters = nbformat.v4.new_code_cell(
        'config: str = "bench"  # configuration\nseed: int = 0  # seed\n'
        'mlflow_run_id: str = ""  # run\nrun_dir: str = ""  # outputs'
    )
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, nbformat.v4.new_code_cell("total = sum(range(1000))")]
    nbformat.write(notebook, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "notebooks").mkdir()
        _trivial_notebook(root / "notebooks" / "00_trivial.ipynb")
        os.environ["WORKBENCH_HOME"] = str(root)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
        from workbench import tracking
        from workbench.config import NotebookStep, PipelineConfig, ProjectPaths
        from workbench.pipeline import run_pipeline

        tracking.configure(os.environ["MLFLOW_TRACKING_URI"])
        paths = ProjectPaths.discover()
        config = PipelineConfig(
            name="bench",
            data={"source": "synthetic"},
            notebooks=[NotebookStep(notebook="00_trivial.ipynb")] * args.repeats,
        )
        bare = []
        for index in range(args.repeats):
            start = time.perf_counter()
            papermill.execute_notebook(
                str(root / "notebooks" / "00_trivial.ipynb"),
                str(root / f"bare{index}.ipynb"),
                parameters={"seed": index},
                kernel_name="python3",
                progress_bar=False,
            )
            bare.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = run_pipeline(config, paths, progress=False)
        total = time.perf_counter() - start
    runner = [step.seconds for step in result.steps]
    bare_mean, runner_mean = statistics.mean(bare), statistics.mean(runner)
    print(f"plain papermill       : {bare_mean:6.2f} s per notebook (mean of {len(bare)})")
    print(f"workbench runner      : {runner_mean:6.2f} s per notebook (mean of {len(runner)})")
    print(f"runner / papermill    : {runner_mean / bare_mean:6.2f}x")
    print(
        f"pipeline wall         : {total:6.2f} s for {len(runner)} notebooks, creating the "
        f"MLflow store included; "
        f"overhead per notebook {total / len(runner) - bare_mean:+.2f} s"
    )


if __name__ == "__main__":
    main()
