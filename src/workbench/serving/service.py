"""The decision path behind ``POST /rank``, the rewards behind ``POST /events/.../reward``.

0. identity: the site's user id becomes the data set's pseudonym (nothing after sees the raw id);
1. variant: the challenger for the users the flags' share assigns to it (stable hash);
2. consent: a user without personalization consent gets the non-personalized default;
3. rules and tags: segments from the rule files and the personas model (and a banner);
4. candidates: from the variant's recommender (seen, excluded and recent items left out);
5. expected value: conversion probability x price, where a conversion model is registered;
6. exploration: a softmax with a propensity floor; the shown item is drawn from it.

Every decision and reward is in the decision log before it is answered. A background thread
reloads the flags when their file changes and the models when an alias moves; each request
reads one snapshot of both.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.models.base import top_k
from workbench.serving import exploration
from workbench.serving.audience import Audience
from workbench.serving.decision_log import DecisionLog, now
from workbench.serving.guard import CanaryGuard
from workbench.serving.registry import Models, ModelWatcher, conversion_probability
from workbench.serving.schemas import RankedItem, RankRequest, RankResponse
from workbench.serving.settings import CHALLENGER, CHAMPION, Flags, assign_variant

log = logging.getLogger(__name__)


class BadRequest(ValueError):
    """A request the service cannot answer as asked (the API answers 422 with the message)."""


@dataclass
class Candidates:
    """Scored candidates of one request (best first)."""

    item_ids: list[str]
    scores: np.ndarray
    fallback: bool
    new: list[str] = field(default_factory=list)  # candidates the recommender does not know


def score_candidates(
    service, user_id: str, personalized: bool, exclude: list[str], n: int, wanted: list[str] | None
) -> Candidates:
    """The recommender's top ``n`` unseen, non-excluded items for the user (or its scores of
    the ``wanted`` items, in its order, leaving out the seen and excluded ones; wanted items
    the recommender does not know, new ones, rank below the others with equal scores).

    Users without consent get the popularity ranking, whatever their history.
    """
    n_items = service.n_items
    k = n_items if wanted is not None else min(n, n_items)
    if personalized:
        answer = service.recommend([user_id], k=k, exclude=[exclude]).iloc[0]
        ids, scores, fallback = (
            list(answer["item_ids"]),
            np.asarray(answer["scores"]),
            bool(answer["fallback"]),
        )
    else:
        share = service.popularity_share()
        masked = share.copy()
        excluded = service.items.to_index(exclude, missing=-1)
        masked[excluded[excluded >= 0]] = -np.inf
        idx, top = top_k(masked[None, :], k)
        keep = np.isfinite(top[0])
        ids, scores, fallback = list(service.items.to_ids(idx[0][keep])), top[0][keep], True
    new = []
    if wanted is not None:
        position = {item: i for i, item in enumerate(ids)}
        wanted = [item for item in dict.fromkeys(wanted) if item not in exclude]
        known = service.items.to_index(wanted, missing=-1) >= 0
        chosen = [item for item, ok in zip(wanted, known, strict=True) if ok and item in position]
        new = [item for item, ok in zip(wanted, known, strict=True) if not ok]
        chosen_scores = [scores[position[item]] for item in chosen]
        floor = min(chosen_scores, default=0.0) - 1.0  # new items: below every known one
        ids, scores = chosen + new, np.array(chosen_scores + [floor] * len(new))
    return Candidates(ids, np.asarray(scores, dtype=np.float64), fallback, new)


class DecisionService:
    """The state of a running service: models, flags, audience, log, profiles, guard.

    Parameters
    ----------
    watcher : ModelWatcher
    pseudonymize : callable
        ``pseudonymize(raw_user_id) -> pseudonym`` (a :class:`~workbench.serving.identity.
        Pseudonymizer`): the only place the site's own ids are read.
    log : DecisionLog
    profiles : MemoryProfiles or RedisProfiles
    flags_loader : callable
        ``flags_loader() -> Flags`` (reads the flags file; raises ``ValueError`` when invalid).
    audience_builder : callable
        ``audience_builder(personas_model_or_None) -> Audience``.
    prices : dict of str to float, optional
        Item prices for expected values (1 when unknown).
    seed : int, optional
    """

    def __init__(
        self,
        watcher: ModelWatcher,
        pseudonymize,
        log: DecisionLog,
        profiles,
        flags_loader,
        audience_builder,
        prices=None,
        seed=None,
    ):
        self.watcher, self.log, self.profiles = watcher, log, profiles
        self.pseudonymize = pseudonymize
        self.flags_loader, self.audience_builder = flags_loader, audience_builder
        self.prices = prices or {}
        self.rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()
        self.guard = CanaryGuard()
        self.flags: Flags = flags_loader()
        self._aliases = watcher.aliases()
        self.models: Models = watcher.load(self._aliases)
        self._honour_recorded_rollback(self.models)
        self.audience: Audience = audience_builder(self._personas(self.models))
        self.listeners: list = []  # callables(event, **fields): metrics hooks

    @staticmethod
    def _personas(models: Models):
        return None if models.personas is None else models.personas[1]

    def refresh(self) -> None:
        """Reload the flags (keeping the old ones when the file is invalid) and, when an alias
        moved, the models; then let the guard judge the challenger."""
        try:
            flags = self.flags_loader()
            if flags != self.flags:
                log.info("flags changed: %s", flags.model_dump())
                self.flags = flags
        except ValueError as error:
            log.error("flags not reloaded, the previous ones stay in force: %s", error)
        aliases = self.watcher.aliases()
        if aliases != self._aliases:
            models = self.watcher.load(aliases)
            if models.personas != self.models.personas:
                self.audience = self.audience_builder(self._personas(models))
            self._honour_recorded_rollback(models)
            self.models, self._aliases = models, aliases
            log.info("models now %s", models.versions())
        self.check_guard()

    def _honour_recorded_rollback(self, models: Models) -> None:
        """A challenger version rolled back earlier (by this or another process, as the
        registry records) gets no traffic."""
        held = models.recommenders.get(CHALLENGER)
        if held is not None and held[0] not in self.guard.rolled_back:
            if self.watcher.rolled_back(held[0]):
                log.warning("challenger v%s was rolled back before: no traffic", held[0])
                self.guard.rolled_back.add(held[0])

    def check_guard(self) -> str | None:
        """Roll the challenger back when the guard says so: no more traffic in this process,
        a ``rollback`` record in the decision log, the version tagged and the rollback in the
        alias history of the registry (no alias moves). The reason, or None."""
        models = self.models
        if CHALLENGER not in models.recommenders:
            return None
        champion, challenger = models.recommenders[CHAMPION][0], models.recommenders[CHALLENGER][0]
        reason = self.guard.verdict(self.flags.guard, champion, challenger)
        if reason is not None:
            self.guard.rolled_back.add(challenger)
            figures = self.guard.figures(champion, challenger)
            log.warning("challenger v%s rolled back: %s", challenger, reason)
            recorded = self.watcher.record_rollback(challenger, reason, figures)
            self.log.append_event(
                "rollback", variant=CHALLENGER, version=challenger, champion=champion,
                reason=reason, figures=figures, registry_recorded=recorded,
            )  # fmt: skip
            self._notify("rollback")
        return reason

    def _notify(self, event: str, **fields) -> None:
        for listener in self.listeners:
            listener(event, **fields)

    def variant_of(self, user_id: str, models: Models, flags: Flags) -> str:
        held = models.recommenders.get(CHALLENGER)
        if held is None or held[0] in self.guard.rolled_back or flags.challenger_share <= 0:
            return CHAMPION
        return assign_variant(user_id, flags.challenger_share, flags.salt)

    def _who(self, user: str, flags: Flags, audience: Audience, reasons: list[str]):
        """Consent, segments (tags and persona) and banner of ``user``."""
        on = flags.components
        personalized = not on.consent or audience.consents(user)
        if not personalized:
            reasons.append("consent: no personalization consent, non-personalized default")
        segments = list(audience.tags.get(user, [])) if on.rules and personalized else []
        if on.personas and personalized and user in audience.personas:
            segments.append(f"persona={audience.personas[user]}")
        if segments:
            reasons.append(f"segments: {', '.join(segments)}")
        banner = next((flags.banners[s] for s in segments if s in flags.banners), None)
        return personalized, segments, banner

    def _find(self, models: Models, variant: str, reasons: list[str], *args):
        """Candidates from the variant's recommender, the champion's when the challenger fails.

        Returns
        -------
        variant, version, found, error
        """
        version, recommender = models.recommenders[variant]
        try:
            return variant, version, score_candidates(recommender, *args), False
        except Exception as failure:  # the variant failed: the champion answers
            if variant == CHAMPION:
                raise
            log.warning("challenger v%s failed, champion answers: %s", version, failure)
            reasons.append(f"challenger failed ({type(failure).__name__}), champion answered")
            self.guard.record_decision(variant, version, error=True)
            version, recommender = models.recommenders[CHAMPION]
            return CHAMPION, version, score_candidates(recommender, *args), True

    def _distribution(self, scores: np.ndarray, flags: Flags) -> tuple[np.ndarray, int]:
        """The probabilities of the ranking and the drawn position."""
        if flags.components.exploration:
            probabilities = exploration.explore(
                scores, flags.exploration.temperature, flags.exploration.min_propensity
            )
        else:
            probabilities = exploration.greedy(scores)
        with self._rng_lock:
            return probabilities, exploration.draw(probabilities, self.rng)

    def rank(self, request: RankRequest) -> RankResponse:
        """Decide, log durably, answer (the answer names the user by the id of the request)."""
        flags, models, audience = self.flags, self.models, self.audience
        user, context, reasons = self.pseudonymize(request.user_id), request.context.scalars(), []
        personalized, segments, banner = self._who(user, flags, audience, reasons)
        exclude = list(request.exclude)
        if flags.components.profile and personalized:
            exclude += self.profiles.recent(user)
        wanted = None if request.candidates is None else [c.item_id for c in request.candidates]
        n = max(request.k, flags.exploration.candidates)
        variant, version, found, error = self._find(
            models, self.variant_of(user, models, flags), reasons,
            user, personalized, exclude, n, wanted,
        )  # fmt: skip
        if not found.item_ids:
            raise BadRequest("no candidate left after leaving out seen, excluded and recent items")
        if found.new:
            reasons.append(f"new candidates ranked last: {', '.join(found.new[:5])}")
        if found.fallback:
            who = "unknown user, " if personalized else ""
            reasons.append(f"fallback: {who}ranked by popularity (share of users)")
        scores = found.scores
        if flags.components.conversion and models.conversion is not None and personalized:
            try:
                scores = self._expected_values(models, audience, user, found, context)
                reasons.append(
                    f"expected value: relevance x conversion v{models.conversion[0]} x price"
                )
            except Exception as failure:  # no features for the user, a model that fails
                reasons.append(f"expected value skipped: {type(failure).__name__}")
        order = np.argsort(-scores, kind="stable")[: request.k]
        item_ids, scores = [found.item_ids[i] for i in order], scores[order]
        probabilities, position = self._distribution(scores, flags)
        record = {
            "event_id": uuid.uuid4().hex, "timestamp": now(), "user_id": user,
            "context": context, "variant": variant,
            "model_versions": {**models.versions(), "served": version},
            "ranking": item_ids, "probabilities": probabilities.tolist(),
            "scores": scores.tolist(), "shown": item_ids[position], "position": position,
            "propensity": float(probabilities[position]), "personalized": personalized,
            "candidate_features": {
                c.item_id: c.features for c in request.candidates or () if c.features
            },
            "segments": segments, "reasons": reasons,
        }  # fmt: skip
        self.log.append_decision(record)
        if not error:
            self.guard.record_decision(variant, version)
        self._notify("decision", variant=variant, fallback=found.fallback)
        ranking = [
            RankedItem(item_id=i, probability=p, score=s)
            for i, p, s in zip(item_ids, probabilities, scores, strict=True)
        ]
        fields = ("event_id", "shown", "propensity", "variant", "model_versions", "reasons")
        return RankResponse(
            user_id=request.user_id, ranking=ranking, personalized=personalized,
            segments=segments, banner=banner, **{key: record[key] for key in fields},
        )  # fmt: skip

    def _expected_values(self, models, audience, user, found: Candidates, context) -> np.ndarray:
        """``P(engage) x P(convert) x price`` per candidate: the recommender's softmax over
        the candidates as the engagement probability, the conversion model's probability."""
        p_convert = conversion_probability(
            models.conversion[1], audience.features, user, found.item_ids, context
        )
        engage = exploration.explore(found.scores, temperature=1.0, min_propensity=0.0)
        price = np.array([self.prices.get(item, 1.0) for item in found.item_ids])
        return engage * p_convert * price

    def reward(self, event_id: str, reward: float) -> bool:
        """Log the reward of a decision (idempotent); update the profile and the guard.

        Returns
        -------
        bool
            False when the same reward was already logged.

        Raises
        ------
        KeyError
            Unknown ``event_id``.
        RewardConflict
            Another reward for a decision already rewarded.
        """
        decision, created = self.log.append_reward(event_id, reward)
        if created:
            variant, version = decision["variant"], decision["model_versions"]["served"]
            self.guard.record_reward(variant, version, reward)
            if reward > 0 and decision.get("user_id"):
                self.profiles.add(decision["user_id"], decision["shown"])
            self._notify("reward", variant=variant)
        return created


def item_prices(items: pd.DataFrame | None) -> dict[str, float]:
    """Item id to price, for the items with a known positive price."""
    if items is None or "price" not in items:
        return {}
    priced = items[pd.to_numeric(items["price"], errors="coerce") > 0]
    return dict(zip(priced["item_id"].astype(str), priced["price"].astype(float), strict=True))
