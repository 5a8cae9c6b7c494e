"""``workbench serve [CONFIG]``: the personalizer over HTTP (FastAPI under uvicorn).

CONFIG is a pipeline configuration (``default`` by default; ``--dataset`` names a data set
directly); its data set names the registered models (``<data set>-recommender@champion`` ...)
and the curated data the service reads for consent, rules and personas. Requests carry the
site's own user ids: the service pseudonymizes them with the project's key (the ingestion's:
``WORKBENCH_PSEUDONYM_KEY`` or the key file, :func:`workbench.config.pseudonym_key`). Profiles
live in Redis when ``WORKBENCH_PROFILE_URL`` names one.

``workbench simulate [CONFIG] --rounds N`` closes the loop against a running service: a
simulator fitted on the data set's curated events (arms: its most clicked items; cells: the
users' personas or demographic cells) plays N rounds through ``/rank`` and ``/reward``, then
writes what it knows beside the decision log (``<log>.simulation.json``): itself, the
challenger to value offline and its true value. ``60_bandits`` with ``decision_log`` reads both.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from workbench.config import ProjectPaths, load_pipeline_config, pseudonym_key

PROFILE_URL_VARIABLE = "WORKBENCH_PROFILE_URL"


def served_dataset(args: argparse.Namespace, paths: ProjectPaths) -> str:
    """``--dataset``, else the data set of the configuration ``args.config``."""
    from workbench.cli.run import resolve_config_path

    if args.dataset is not None:
        return args.dataset
    config = load_pipeline_config(resolve_config_path(args.config, paths), paths.notebooks)
    return config.data.dataset


def serve_settings(args: argparse.Namespace, paths: ProjectPaths):
    """The :class:`ServeSettings` of the command line, the configuration and the environment."""
    from workbench.serving import ServeSettings

    dataset = served_dataset(args, paths)
    curated = paths.curated / dataset
    rules = args.rules or [paths.experiments / "segments" / "default.yaml"]
    flags = args.flags or paths.experiments / "serving" / "flags.yaml"
    return ServeSettings(
        dataset=dataset,
        pseudonym_key=pseudonym_key(paths),
        decision_log=args.log or paths.root / "data" / "decisions" / f"{dataset}.jsonl",
        flags=flags,
        curated=curated if (curated / "manifest.json").is_file() else None,
        rules=[path for path in rules if Path(path).is_file()],
        profile_url=os.environ.get(PROFILE_URL_VARIABLE) or None,
        refresh_seconds=args.refresh,
        seed=args.seed,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    """Build the service and run it until interrupted."""
    import uvicorn

    from workbench import tracking
    from workbench.cli.run import tracking_uri
    from workbench.serving import build_service, create_app

    paths = ProjectPaths.discover()
    tracking.configure(tracking_uri(paths))
    settings = serve_settings(args, paths)
    try:
        service = build_service(settings)
    except (RuntimeError, ValueError) as error:
        print(f"workbench: cannot serve: {error}", file=sys.stderr)
        return 1
    print(
        f"workbench: serving {settings.dataset} on http://{args.host}:{args.port} "
        f"(demo page: /demo?user_id=...; decision log {settings.decision_log})"
    )
    app = create_app(service, refresh_seconds=settings.refresh_seconds)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    """Drive the running service for ``--rounds`` rounds and write the simulation record."""
    from workbench.bandits import offline, simulation
    from workbench.data.curated import CuratedDataset
    from workbench.data.sources.decisions import read_records
    from workbench.serving.simulate import drive, http_post

    bad = [f"--{name} {getattr(args, name)} must be at least {low}"
           for name, low in (("rounds", 1), ("arms", 2), ("cells", 1))
           if getattr(args, name) < low] + ([] if 0 <= args.epsilon <= 1 else
           [f"--epsilon {args.epsilon} must be in [0, 1]"])  # fmt: skip
    if bad:
        print(f"workbench: {'; '.join(bad)}", file=sys.stderr)
        return 2
    paths = ProjectPaths.discover()
    dataset = served_dataset(args, paths)
    log_path = args.log or paths.root / "data" / "decisions" / f"{dataset}.jsonl"
    data = CuratedDataset(dataset, paths.curated / dataset)
    simulator = simulation.fit_simulator(
        data.training_events(), None, data.read("users"), data.read_optional("personas"),
        n_arms=args.arms, max_cells=args.cells,
    )  # fmt: skip
    challenger = offline.epsilon_greedy_on_truth(simulator, args.epsilon)
    try:
        played = drive(simulator, http_post(args.url), args.rounds, random_state=args.seed)
    except (OSError, RuntimeError) as error:
        print(f"workbench: cannot simulate against {args.url}: {error}", file=sys.stderr)
        return 1
    logged = {str(r.get("event_id")) for r in read_records(log_path) if r.get("kind") == "decision"}
    if not set(played["event_id"]) & logged:
        print(f"workbench: {log_path} holds none of the {args.rounds} decisions: pass the "
              "service's --log", file=sys.stderr)  # fmt: skip
        return 1
    record = offline.write_simulation_record(
        log_path, simulator, challenger, list(played["event_id"]), url=args.url,
        rounds=args.rounds, seed=args.seed, dataset=dataset,
        challenger_policy=f"epsilon-greedy on the true rates, epsilon={args.epsilon}",
    )  # fmt: skip
    truth = simulator.policy_value(challenger)
    print(
        f"workbench: {args.rounds} rounds against {args.url}, mean reward "
        f"{played['reward'].mean():.4f}; challenger's true value {truth:.4f} "
        f"(optimal {simulator.optimal_value:.4f}) in {record}"
    )
    return 0


def add_simulate(commands) -> None:
    """Register ``simulate``."""
    parser = commands.add_parser("simulate", help="drive a running service with the simulator")
    parser.add_argument("config", nargs="?", default="default", help="pipeline configuration")
    parser.add_argument("--dataset", help="data set name, instead of a configuration's")
    parser.add_argument("--rounds", type=int, default=1000, help="rounds to play")
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running service")
    parser.add_argument("--log", type=Path, help="the service's decision log (as serve --log)")
    parser.add_argument("--arms", type=int, default=4, help="arms: the most clicked items")
    parser.add_argument("--cells", type=int, default=4, help="most populated context cells")
    parser.add_argument("--epsilon", type=float, default=0.2, help="the challenger's epsilon")
    parser.add_argument("--seed", type=int, default=0, help="seed of cells and rewards")
    parser.set_defaults(handler=cmd_simulate)


def add_commands(commands) -> None:
    """Register ``serve`` and ``simulate``."""
    parser = commands.add_parser("serve", help="serve the registered models over HTTP")
    parser.add_argument("config", nargs="?", default="default", help="pipeline configuration")
    parser.add_argument("--dataset", help="data set name, instead of a configuration's")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--flags", type=Path, help="flags YAML (experiments/serving/flags.yaml)")
    parser.add_argument("--log", type=Path, help="decision log (data/decisions/<data set>.jsonl)")
    parser.add_argument("--rules", type=Path, action="append", help="segment rule file")
    parser.add_argument("--refresh", type=float, default=2.0, help="seconds between reloads")
    parser.add_argument("--seed", type=int, help="seed of the exploration draws")
    parser.set_defaults(handler=cmd_serve)
    add_simulate(commands)
