"""``workbench data ...``: inspect and manage the curated layer."""

from __future__ import annotations

import argparse
import json

from workbench.config import ProjectPaths, pseudonym_key


def cmd_list(args: argparse.Namespace) -> int:
    """List curated data sets with their row counts and digests."""
    from workbench.data import store

    paths = ProjectPaths.discover()
    folders = sorted(
        p for p in paths.curated.glob("*") if p.is_dir() and not p.name.startswith(".")
    )
    if not folders:
        print(f"no curated data sets under {paths.curated}: run `make run` first")
    for folder in folders:
        manifest = store.read_manifest(folder)
        rows = {name: entry["rows"] for name, entry in manifest["tables"].items()}
        print(f"{folder.name:<24} {manifest['digest'][:12]}  {json.dumps(rows)}")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    """Erase a user (by the raw id the source knows) from curated data sets; record it."""
    from workbench.data import privacy

    paths = ProjectPaths.discover()
    summary = privacy.forget_command(
        args.user, paths.curated, pseudonym_key(paths), args.dataset or None
    )
    if not summary:
        print(f"no curated data sets under {paths.curated}")
        return 1
    for dataset, outcome in summary.items():
        removed = {table: rows for table, rows in outcome["rows_removed"].items() if rows}
        print(f"{dataset}: erased pseudonym {outcome['pseudonym'][:12]}…, rows removed {removed}")
    return 0


def add_commands(commands) -> None:
    """Register the ``data`` sub-commands on the CLI's sub-parser set."""
    data = commands.add_parser("data", help="inspect and manage curated data")
    actions = data.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="curated data sets, rows and digests")
    listing.set_defaults(handler=cmd_list)
    forget = actions.add_parser(
        "forget", help="erase a user from the curated layer and record the erasure"
    )
    forget.add_argument("user", help="the user's id as the source knows it (not the pseudonym)")
    forget.add_argument("--dataset", action="append", help="only this data set (repeatable)")
    forget.set_defaults(handler=cmd_forget)
