"""The delivery service (``workbench serve``): the registered models composed into a decision
path, canary releases, a durable decision log and real-time profiles.

``build_service(settings)`` reads what :class:`ServeSettings` names (curated data set, rule
files, flags, the pseudonymization key) and follows the registry; ``create_app(service)``
wraps it in FastAPI. Modules: ``settings`` (settings and live flags), ``identity`` (the site's
user ids to pseudonyms, at the door), ``service`` (the decision path), ``registry`` (models by
alias), ``audience`` (consent, tags, personas), ``exploration``, ``guard``, ``decision_log``,
``profiles``, ``schemas``, ``app``.
"""

from __future__ import annotations

import logging

from workbench.serving.app import create_app
from workbench.serving.audience import build_audience
from workbench.serving.decision_log import DecisionLog, read_log
from workbench.serving.identity import Pseudonymizer
from workbench.serving.profiles import make_profiles
from workbench.serving.registry import ModelWatcher
from workbench.serving.service import DecisionService, item_prices
from workbench.serving.settings import Flags, ServeSettings, load_flags

log = logging.getLogger(__name__)

__all__ = [
    "DecisionService",
    "Flags",
    "ServeSettings",
    "build_service",
    "create_app",
    "load_flags",
    "read_log",
]


def _curated_tables(settings: ServeSettings) -> dict:
    """Users, items and user features of the curated data set (empty without one)."""
    if settings.curated is None:
        return {}
    from workbench.data.curated import CuratedDataset
    from workbench.features import build_user_features

    data = CuratedDataset(settings.dataset, settings.curated)
    users, items = data.read("users"), data.read("items")
    features = build_user_features(data.read("events"), items, users)
    merges = data.read_optional("user_merges")
    return {"users": users, "items": items, "features": features, "merges": merges}


def build_service(settings: ServeSettings) -> DecisionService:
    """A :class:`DecisionService` for ``settings`` (the registry is MLflow's current one).

    Raises
    ------
    ValueError
        For invalid flags or rule files, naming the file and the field.
    RuntimeError
        When ``<dataset>-recommender@champion`` is not registered.
    """
    from workbench.segments.rules import load_segments

    load_flags(settings.flags)  # invalid flags stop the start, naming the field
    rules = [rule for path in settings.rules for rule in load_segments(path).rules]
    tables = _curated_tables(settings)

    def audience(segmenter):
        return build_audience(tables.get("users"), tables.get("features"), rules, segmenter)

    return DecisionService(
        watcher=ModelWatcher(settings.dataset),
        pseudonymize=Pseudonymizer(settings.pseudonym_key, tables.get("merges")),
        log=DecisionLog(settings.decision_log),
        profiles=make_profiles(settings.profile_url),
        flags_loader=lambda: load_flags(settings.flags),
        audience_builder=audience,
        prices=item_prices(tables.get("items")),
        seed=settings.seed,
    )
