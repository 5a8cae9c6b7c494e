"""The pandas and Spark engines side by side: ingestion plus features at 1M and 10M events,
and ALS on MovieLens 100K with ``implicit`` and with ``pyspark.ml``, in one run.

Each measurement runs in a fresh process (its peak memory is its own): ALS first, then the
synthetic raw tables (``benchmarks/ingest.py``'s
generator, written as parquet once per size), then per engine: curation of the events (the
Spark engine curates users and items with pandas on the driver, as it does in production),
the curated events written as parquet, and RFM features on them. Reported: wall time per
step, peak memory of the Python driver (``ru_maxrss``), and for Spark the JVM's peak (its
``VmHWM``) and the Python workers' (the sum of their ``VmHWM``); growth ratios compare time
per event between sizes (1.0 = linear). Spark on two cores is expected to be slower than
pandas: the figures show what the engine costs and how that cost grows.

    .venv/bin/python benchmarks/engines.py                    # 1M and 10M, then ALS
    .venv/bin/python benchmarks/engines.py --sizes 1 --no-als # one size only
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import add_data_arguments
from ingest import generate, peak_mb

KEY = b"benchmark-key"
AS_OF = "2026-12-31T00:00:00Z"
MASTER = "local[2]"
ALS_PARAMS = {"factors": 32, "regularization": 0.05, "alpha": 10.0, "iterations": 10}


def pandas_engine(folder: Path) -> dict:
    """Curate with pandas, write the curated layer, compute RFM; time each step."""
    import pandas as pd

    from workbench.data import store
    from workbench.data.curate import CurationSettings, curate
    from workbench.features.rfm import rfm

    started = time.perf_counter()
    raw = {p.stem: pd.read_parquet(p) for p in folder.glob("raw-*.parquet")}
    raw = {name.removeprefix("raw-"): frame for name, frame in raw.items()}
    curation = curate(raw, CurationSettings(pseudonym_key=KEY, as_of=AS_OF))
    store.write_tables(folder / "curated-pandas", curation.tables)
    ingested = time.perf_counter()
    features = rfm(curation.tables["events"], pd.Timestamp(AS_OF), ("purchase",))
    done = time.perf_counter()
    return {"events_in": curation.counts["events_in"], "customers": len(features),
            "ingest_s": ingested - started, "features_s": done - ingested,
            "total_s": done - started, "driver_mb": peak_mb(), "jvm_mb": 0.0,
            "workers_mb": 0.0}  # fmt: skip


def spark_engine(folder: Path) -> dict:
    """Curate events on Spark, write them as parquet, compute RFM on Spark; time each step."""
    import pandas as pd

    from workbench.data.curate import CurationSettings
    from workbench.engines import spark_curate, spark_features
    from workbench.engines.spark_session import session

    spark = session(MASTER, app_name="benchmark", driver_memory="3g")
    started = time.perf_counter()
    settings = CurationSettings(pseudonym_key=KEY, as_of=AS_OF)
    small = {name: pd.read_parquet(folder / f"raw-{name}.parquet") for name in ("users", "items")}
    known_users, known_items, merges = spark_curate.dimension_ids(small, settings)
    events = spark_curate.with_row_numbers(spark.read.parquet(str(folder / "raw-events.parquet")))
    result = spark_curate.curate_events(events, settings, known_users, known_items, merges)
    result.events.write.mode("overwrite").parquet(str(folder / "curated-spark" / "events"))
    result.quarantine.write.mode("overwrite").parquet(str(folder / "curated-spark" / "quarantine"))
    ingested = time.perf_counter()
    curated = spark.read.parquet(str(folder / "curated-spark" / "events"))
    customers = spark_features.rfm(curated, pd.Timestamp(AS_OF), ("purchase",)).count()
    done = time.perf_counter()
    jvm, workers = jvm_memory(spark)
    spark.stop()
    return {"events_in": result.counts["events_in"], "customers": customers,
            "ingest_s": ingested - started, "features_s": done - ingested,
            "total_s": done - started, "driver_mb": peak_mb(), "jvm_mb": jvm,
            "workers_mb": workers}  # fmt: skip


def als(mirror: str, raw_dir: str) -> dict:
    """``implicit`` and Spark ALS on ML-100K (the stratified 75/25 split), same settings."""
    import pandas as pd

    from workbench.data.catalog import dataset_file
    from workbench.data.splits import prepare_splits
    from workbench.engines.spark_als import compare_with_implicit
    from workbench.engines.spark_session import session

    path = dataset_file("ml-100k", "u.data", Path(raw_dir), Path(mirror) if mirror else None)
    ratings = pd.read_csv(path, sep="\t", names=["user_id", "item_id", "rating", "timestamp"])
    data = prepare_splits(ratings, "stratified", 0.75, 0.75, 42, 1, filter_by="item")
    spark = session(MASTER, app_name="benchmark-als", driver_memory="2g")
    found = compare_with_implicit(data.train, data.test, 10, 42, MASTER, **ALS_PARAMS)
    jvm, workers = jvm_memory(spark)
    spark.stop()
    return {**found, "driver_mb": peak_mb(), "jvm_mb": jvm, "workers_mb": workers}


def jvm_memory(spark) -> tuple[float, float]:
    """Peak resident MB of the JVM and the sum over its Python worker processes."""
    pid = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    descendants, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        descendants.append(child)
        todo += children.get(child, [])
    return peak_of(pid), sum(peak_of(child) for child in descendants)


def peak_of(pid: int) -> float:
    """``VmHWM`` (peak resident set) of process ``pid`` in MB; 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def child(step: str, *args: str) -> dict:
    """Run one step in a fresh interpreter; the figures it printed as JSON."""
    command = [sys.executable, __file__, "--child", step, *args]
    environment = {**os.environ, "PYTHONWARNINGS": "ignore::FutureWarning"}
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    if done.returncode:
        raise SystemExit(f"{step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def prepare(folder: Path, millions: int) -> dict:
    """Synthetic raw tables of ``millions`` of events as ``raw-<table>.parquet``."""
    raw = folder / "generated"
    raw.mkdir()
    figures = generate(raw, millions)
    for path in raw.glob("*.parquet"):
        path.rename(folder / f"raw-{path.name}")
    return figures


def report(rows: list[dict], found_als: dict | None) -> None:
    """Print one line per engine and size, the growth ratios, the engines' cost ratio, ALS."""
    print(f"{'engine':<7} {'events':>11} {'ingest s':>9} {'features s':>11} {'total s':>8} "
          f"{'driver MB':>10} {'JVM MB':>8} {'workers MB':>11}")  # fmt: skip
    for r in rows:
        print(f"{r['engine']:<7} {r['events_in']:>11,} {r['ingest_s']:>9.1f} "
              f"{r['features_s']:>11.1f} {r['total_s']:>8.1f} {r['driver_mb']:>10,.0f} "
              f"{r['jvm_mb']:>8,.0f} {r['workers_mb']:>11,.0f}")  # fmt: skip
    for engine in ("pandas", "spark"):
        sized = [r for r in rows if r["engine"] == engine]
        for r in sized[1:]:
            events = r["events_in"] / sized[0]["events_in"]
            seconds = r["total_s"] / sized[0]["total_s"]
            memory = (r["driver_mb"] + r["jvm_mb"] + r["workers_mb"]) / (
                sized[0]["driver_mb"] + sized[0]["jvm_mb"] + sized[0]["workers_mb"]
            )
            print(f"{engine}: {events:.1f}x events -> {seconds:.2f}x time (growth ratio "
                  f"{seconds / events:.2f}, 1.0 = linear), {memory:.2f}x peak memory")  # fmt: skip
    for size in sorted({r["events_in"] for r in rows}):
        pair = {r["engine"]: r for r in rows if r["events_in"] == size}
        if len(pair) == 2:
            ratio = pair["spark"]["total_s"] / pair["pandas"]["total_s"]
            print(f"{size:,} events: spark local[2] takes {ratio:.2f}x pandas' time")
    if found_als:
        print(f"ALS on ML-100K ({ALS_PARAMS}):")
        for name in ("implicit", "spark"):
            print(f"  {name:<9} nDCG@10 {found_als[name]['ndcg_at_10']:.4f}  "
                  f"fit {found_als[name]['fit_seconds']:.1f} s")  # fmt: skip
        difference = found_als["spark"]["ndcg_at_10"] - found_als["implicit"]["ndcg_at_10"]
        print(f"  difference (spark - implicit) {difference:+.4f}; driver "
              f"{found_als['driver_mb']:,.0f} MB, JVM {found_als['jvm_mb']:,.0f} MB, "
              f"workers {found_als['workers_mb']:,.0f} MB")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_arguments(parser)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10], help="millions")
    parser.add_argument("--no-als", action="store_true", help="skip the ALS comparison")
    parser.add_argument("--output", default="benchmarks/results/engines.json")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        step, *rest = args.child
        if step == "als":
            figures = als(*rest)
        elif step == "generate":
            figures = prepare(Path(rest[0]), int(rest[1]))
        else:
            figures = {"pandas": pandas_engine, "spark": spark_engine}[step](Path(rest[0]))
        print(json.dumps(figures))
        return
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    found_als = None if args.no_als else child("als", args.mirror, args.raw_dir)
    print(json.dumps({"als": found_als}), flush=True)
    rows = []
    for millions in args.sizes:  # every step in a fresh process: peak memory is its own
        with tempfile.TemporaryDirectory(prefix=f"bench-engines-{millions}m-") as name:
            child("generate", name, str(millions))
            for engine in ("pandas", "spark"):
                rows.append({"engine": engine, "millions": millions, **child(engine, name)})
                print(json.dumps(rows[-1]), flush=True)
                output.write_text(json.dumps({"engines": rows, "als": found_als}, indent=2))
    report(rows, found_als)


if __name__ == "__main__":
    main()
