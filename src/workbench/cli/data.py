"""``workbench data ...``: inspect, roll back and erase from the curated layer.

- ``list``: every curated data set with its kept versions, their digests and row counts;
- ``rollback NAME [VERSION]``: make a kept version current again (the previous one by default);
- ``forget USER``: erase a user (by the id the source knows) from the data sets that hold them,
  record the erasure, and tag the registered model versions trained on data holding the user
  (``workbench.trained_on_erased_user``). Served recommenders read the erasure ledger and
  answer an erased user with the non-personalized ranking.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from workbench.config import ProjectPaths, pseudonym_key

log = logging.getLogger(__name__)
ERASED_TAG = "workbench.trained_on_erased_user"


def _datasets(paths: ProjectPaths) -> list:
    return sorted(
        p
        for p in paths.curated.glob("*")
        if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").is_file()
    )


def cmd_list(args: argparse.Namespace) -> int:
    """List curated data sets, their kept versions, digests and row counts."""
    from workbench.data import store

    paths = ProjectPaths.discover()
    folders = _datasets(paths)
    if not folders:
        print(f"no curated data sets under {paths.curated}: run `make run` first")
    for folder in folders:
        print(folder.name)
        for version in reversed(store.versions(folder)):
            marker = "*" if version["current"] else " "
            print(
                f"  {marker} v{version['version']:<4} {version['digest'][:12]}  "
                f"{version['written_at']:<25} {json.dumps(version['rows'])}"
            )
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    """Restore a kept version of a data set (``*`` in ``data list`` marks the current one)."""
    from workbench.data import store

    paths = ProjectPaths.discover()
    folder = paths.curated / args.name
    if not (folder / store.MANIFEST).is_file():
        print(
            f"workbench: no curated data set {args.name!r} under {paths.curated}", file=sys.stderr
        )
        return 1
    try:
        manifest = store.rollback(folder, args.version)
    except LookupError as error:
        print(f"workbench: {error}", file=sys.stderr)
        return 1
    print(
        f"{args.name}: version {manifest.get('restored_from', manifest['version'])} "
        f"(digest {manifest['digest'][:12]}) is current again as v{manifest['version']}"
    )
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    """Erase a user from the curated data sets holding them; tag models trained on them."""
    from workbench.data import privacy
    from workbench.data.errors import UnknownUserError

    paths = ProjectPaths.discover()
    try:
        summary = privacy.forget_command(
            args.user, paths.curated, pseudonym_key(paths), args.dataset or None
        )
    except UnknownUserError as error:
        print(f"workbench: {error}", file=sys.stderr)
        return 1
    for dataset, outcome in summary.items():
        removed = {table: rows for table, rows in outcome["rows_removed"].items() if rows}
        dropped = outcome["dropped_tables"]
        print(
            f"{dataset}: erased pseudonym {outcome['pseudonym'][:12]}…, rows removed {removed}"
            + (f", derived tables dropped until the next run {dropped}" if dropped else "")
        )
    tagged = tag_models(paths, summary)
    print(f"registered model versions tagged {ERASED_TAG}: {len(tagged)}")
    return 0


def tag_models(paths: ProjectPaths, summary: dict) -> list[tuple[str, str]]:
    """Tag registered model versions whose training data held an erased user.

    A version's run (or the run it is nested in) records the curated data set's digest
    (``workbench.dataset_digest``); versions trained on a digest that held the user are tagged.

    Returns
    -------
    list of (str, str)
        ``(model name, version)`` of each tagged version.
    """
    import mlflow
    from mlflow import MlflowClient

    digests = {d for outcome in summary.values() for d in outcome["digests"]}
    erased_at = max(outcome["erased_at"] for outcome in summary.values())
    if not (paths.experiments / "mlflow.db").is_file() and "MLFLOW_TRACKING_URI" not in _env():
        return []
    mlflow.set_tracking_uri(_env().get("MLFLOW_TRACKING_URI", paths.tracking_uri))
    client = MlflowClient()
    tagged = []
    for version in client.search_model_versions():
        if _run_digest(client, version.run_id) in digests:
            client.set_model_version_tag(version.name, version.version, ERASED_TAG, "true")
            client.set_model_version_tag(
                version.name, version.version, "workbench.erased_at", erased_at
            )
            tagged.append((version.name, version.version))
    return tagged


def _env() -> dict:
    import os

    return dict(os.environ)


def _run_digest(client, run_id: str | None) -> str | None:
    """The curated digest recorded on a run or the nearest run it is nested in."""
    seen = 0
    while run_id and seen < 10:
        run = client.get_run(run_id)
        digest = run.data.tags.get("workbench.dataset_digest")
        if digest:
            return digest
        run_id = run.data.tags.get("mlflow.parentRunId")
        seen += 1
    return None


def add_commands(commands) -> None:
    """Register the ``data`` sub-commands on the CLI's sub-parser set."""
    data = commands.add_parser("data", help="inspect and manage curated data")
    actions = data.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="curated data sets, versions, rows and digests")
    listing.set_defaults(handler=cmd_list)
    rollback = actions.add_parser("rollback", help="make a kept version of a data set current")
    rollback.add_argument("name", help="the data set (a folder under data/curated)")
    rollback.add_argument(
        "version", nargs="?", help="version number or digest prefix; the previous one if omitted"
    )
    rollback.set_defaults(handler=cmd_rollback)
    forget = actions.add_parser(
        "forget", help="erase a user from the curated layer and record the erasure"
    )
    forget.add_argument("user", help="the user's id as the source knows it (not the pseudonym)")
    forget.add_argument("--dataset", action="append", help="only this data set (repeatable)")
    forget.set_defaults(handler=cmd_forget)
