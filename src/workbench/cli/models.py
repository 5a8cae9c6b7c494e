"""``workbench models list | rollback``: the registered models and their champion alias."""

from __future__ import annotations

import argparse
import getpass
import sys

from workbench.config import ProjectPaths


def _client():
    from mlflow.tracking import MlflowClient

    from workbench import tracking
    from workbench.cli.run import tracking_uri

    tracking.configure(tracking_uri(ProjectPaths.discover()))
    return MlflowClient()


def cmd_list(args: argparse.Namespace) -> int:
    """Every registered model: its versions, aliases, recorded metrics and the gate's verdict."""
    client = _client()
    models = sorted(client.search_registered_models(), key=lambda model: model.name)
    if args.name:
        models = [model for model in models if model.name == args.name]
    if not models:
        print("workbench: no registered models" + (f" named {args.name!r}" if args.name else ""))
        return 1 if args.name else 0
    for model in models:
        print(model.name)
        holders = client.get_registered_model(model.name).aliases  # alias -> version
        versions = client.search_model_versions(f"name = '{model.name}'")
        for version in sorted(versions, key=lambda v: int(v.version), reverse=True):
            held = [
                alias for alias, number in holders.items() if str(number) == str(version.version)
            ]
            aliases = ",".join(sorted(held)) or "-"
            figures = " ".join(
                f"{key.removeprefix('metric.')}={float(value):.4f}"
                for key, value in sorted(version.tags.items())
                if key.startswith("metric.")
            )
            reason = version.tags.get("workbench.decision_reason", "")
            print(f"  v{version.version:<4} {aliases:<20} {figures}  {reason}".rstrip())
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    """Give the champion alias back to an earlier version (the previous champion by default)."""
    from workbench.publish import gate

    client = _client()
    current = gate.alias_holder(args.name)
    target = args.version or _previous_champion(args.name, current)
    if target is None:
        print(f"workbench: {args.name}: no earlier champion to roll back to", file=sys.stderr)
        return 1
    versions = {str(v.version) for v in client.search_model_versions(f"name = '{args.name}'")}
    if str(target) not in versions:
        print(
            f"workbench: {args.name} has no version {target} ({sorted(versions)})", file=sys.stderr
        )
        return 1
    reason = f"rollback by {getpass.getuser()}" + (f": {args.reason}" if args.reason else "")
    gate.move_alias(args.name, gate.CHAMPION, str(target), reason)
    was = f"v{current.version}" if current is not None else "none"
    print(f"workbench: {args.name}: champion {was} -> v{target} ({reason})")
    return 0


def _previous_champion(name: str, current) -> str | None:
    """The version that held the champion alias before the current holder."""
    from workbench.publish import gate

    holder = None if current is None else str(current.version)
    moves = [m for m in gate.alias_history(name) if m["alias"] == gate.CHAMPION]
    earlier = [m["version"] for m in moves if m["version"] != holder]
    return earlier[-1] if earlier else None


def add_commands(commands) -> None:
    """Register ``models list`` and ``models rollback`` on the CLI's sub-parser set."""
    models = commands.add_parser("models", help="registered models and their champion")
    sub = models.add_subparsers(dest="models_command", required=True)
    listing = sub.add_parser("list", help="versions, aliases, metrics and gate decisions")
    listing.add_argument("name", nargs="?", help="one registered model (all when omitted)")
    listing.set_defaults(handler=cmd_list)
    rollback = sub.add_parser("rollback", help="give the champion alias to an earlier version")
    rollback.add_argument("name", help="registered model, e.g. synthetic-recommender")
    rollback.add_argument("version", nargs="?", help="version; the previous champion by default")
    rollback.add_argument("--reason", default="", help="recorded in the alias history")
    rollback.set_defaults(handler=cmd_rollback)
