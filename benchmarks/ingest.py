"""Ingestion throughput and peak memory on synthetic data at about 1M and 10M events.

Each size runs in two fresh processes: one generates the raw tables
(``workbench.data.sources.synthetic``) and writes them as parquet; the other reads them,
curates them (validation, standardization, deduplication, consent, pseudonymization) and
writes the curated layer, and reports its wall time and peak resident memory
(``resource.getrusage``). The cost growth ratio compares time per event across sizes: 1.0 is
linear. Curation's CPU time is printed too: on a shared machine it moves less than wall time.
Targets: 10M events in under 60 s and under 4 GB.

    .venv/bin/python benchmarks/ingest.py            # 1M and 10M
    .venv/bin/python benchmarks/ingest.py --sizes 1  # 1M only
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

USERS_PER_MILLION = 10_000  # about 95 events per user over 50 days
N_DAYS = 50
N_ITEMS = 5_000


def generate(folder: Path, millions: int) -> dict:
    """Write the synthetic raw tables of a ``millions``-of-events site as parquet."""
    from workbench.data.sources import synthetic

    started = time.perf_counter()
    raw = synthetic.generate(
        n_users=USERS_PER_MILLION * millions, n_items=N_ITEMS, n_days=N_DAYS, seed=7
    )
    for name, frame in raw.items():
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return {"generated_s": time.perf_counter() - started, "events": len(raw["events"])}


def ingest(folder: Path) -> dict:
    """Read the raw parquet tables, curate them and write the curated layer; time it."""
    import pandas as pd

    from workbench.data import store
    from workbench.data.curate import CurationSettings, curate

    started = time.perf_counter()
    raw = {p.stem: pd.read_parquet(p) for p in folder.glob("*.parquet")}
    read, read_mb = time.perf_counter(), peak_mb()
    cpu = time.process_time()
    curation = curate(raw, CurationSettings(pseudonym_key=b"benchmark-key"))
    curate_cpu = time.process_time() - cpu
    del raw  # what curation did not transform is shared with the curated tables
    curated, curate_mb = time.perf_counter(), peak_mb()
    tables = {**curation.tables, "quarantine": curation.quarantine}
    store.write_tables(folder / "curated", tables, extra={"counts": curation.counts})
    done = time.perf_counter()
    return {
        "events_in": curation.counts["events_in"],
        "read_s": read - started,
        "curate_s": curated - read,
        "curate_cpu_s": curate_cpu,
        "write_s": done - curated,
        "total_s": done - started,
        "peak_read_mb": read_mb,
        "peak_curate_mb": curate_mb,
        "peak_rss_mb": peak_mb(),
    }


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(step: str, folder: Path, millions: int) -> dict:
    """Run one step in a fresh interpreter and return the figures it printed."""
    command = [sys.executable, __file__, "--child", step, str(folder), str(millions)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def measure(millions: int) -> dict:
    """Generate and ingest one size, each in its own process."""
    with tempfile.TemporaryDirectory(prefix=f"bench-ingest-{millions}m-") as name:
        folder = Path(name)
        generated = run_child("generate", folder, millions)
        figures = run_child("ingest", folder, millions)
    figures["events_per_s"] = figures["events_in"] / figures["total_s"]
    return {"millions": millions, **generated, **figures}


def report(results: list[dict]) -> None:
    """Print one line per size and the cost growth ratio against the smallest."""
    print(
        f"{'events':>11} {'read s':>7} {'curate s':>9} {'cpu s':>6} {'write s':>8} {'total s':>8} "
        f"{'events/s':>10} {'peak MB: read':>14} {'curate':>7} {'write':>7}"
    )
    for r in results:
        print(
            f"{r['events_in']:>11,} {r['read_s']:>7.1f} {r['curate_s']:>9.1f} "
            f"{r['curate_cpu_s']:>6.1f} "
            f"{r['write_s']:>8.1f} {r['total_s']:>8.1f} {r['events_per_s']:>10,.0f} "
            f"{r['peak_read_mb']:>14,.0f} {r['peak_curate_mb']:>7,.0f} {r['peak_rss_mb']:>7,.0f}"
        )
    base = results[0]
    for r in results[1:]:
        size_ratio = r["events_in"] / base["events_in"]
        time_ratio = r["total_s"] / base["total_s"]
        cpu_ratio = r["curate_cpu_s"] / base["curate_cpu_s"]
        print(
            f"{r['millions']}M vs {base['millions']}M: {size_ratio:.1f}x events, "
            f"{time_ratio:.1f}x time, cost growth ratio {time_ratio / size_ratio:.2f} "
            f"(1.0 = linear); curation CPU {cpu_ratio:.1f}x (growth {cpu_ratio / size_ratio:.2f}); "
            f"memory {r['peak_rss_mb'] / base['peak_rss_mb']:.1f}x"
        )
    largest = results[-1]
    print(
        f"target at {largest['millions']}M: < 60 s and < 4096 MB -> "
        f"{largest['total_s']:.1f} s, {largest['peak_rss_mb']:,.0f} MB"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10], help="millions")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        step, folder, millions = args.child
        action = generate if step == "generate" else ingest
        figures = (
            action(Path(folder), int(millions)) if step == "generate" else action(Path(folder))
        )
        print(json.dumps(figures))
        return
    report([measure(millions) for millions in args.sizes])


if __name__ == "__main__":
    main()
