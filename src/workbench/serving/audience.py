"""What the service knows of each user before ranking: consent, tags and persona.

Built once from the curated data set (users with ``personalization_allowed``, user features
from :func:`workbench.features.build_user_features`), the segment rule files and the personas
model, and built again when the personas champion changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import pandas as pd

from workbench.features import is_known_feature
from workbench.segments.rules import Rule, applicable_rules, membership

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Audience:
    """Per-user facts, by user id (the data set's pseudonyms).

    Attributes
    ----------
    allowed : dict of str to bool, or None
        Personalization consent; None when the service has no consent data (everyone allowed).
    tags : dict of str to list of str
        Segment rules each user matches.
    personas : dict of str to str
    features : DataFrame of shape (n_users, n_features), optional
        User features, indexed by ``user_id`` (what a conversion model reads).
    """

    allowed: dict[str, bool] | None = None
    tags: dict[str, list[str]] = field(default_factory=dict)
    personas: dict[str, str] = field(default_factory=dict)
    features: pd.DataFrame | None = None

    def consents(self, user_id: str) -> bool:
        """Whether ``user_id`` may get personalized results (unknown users may not, when
        consent is known for anyone)."""
        return True if self.allowed is None else self.allowed.get(user_id, False)


def build_audience(
    users: pd.DataFrame | None,
    features: pd.DataFrame | None,
    rules: list[Rule],
    segmenter=None,
) -> Audience:
    """The audience of a data set.

    Parameters
    ----------
    users : DataFrame, optional
        Curated users with ``user_id`` and ``personalization_allowed``.
    features : DataFrame of shape (n_users, n_features), optional
        Indexed by ``user_id``.
    rules : list of Rule
        Rules over features columns; those this data set cannot evaluate are skipped.
    segmenter : fitted Pipeline, optional
        Predicts a persona from ``features``.
    """
    allowed = None
    if users is not None and "personalization_allowed" in users:
        allowed = dict(
            zip(
                users["user_id"].astype(str),
                users["personalization_allowed"].astype(bool),
                strict=True,
            )
        )
    tags: dict[str, list[str]] = {}
    personas: dict[str, str] = {}
    if features is not None and len(features):
        kept = applicable_rules(rules, features.columns, is_known_feature)
        for user, tag in membership(features, kept).itertuples(index=False):
            tags.setdefault(str(user), []).append(str(tag))
        if segmenter is not None:
            try:
                labels = segmenter.predict(features)
                personas = {str(u): str(p) for u, p in zip(features.index, labels, strict=True)}
            except Exception as error:  # a personas model of other features is left out
                log.warning("personas model not applied: %s", error)
    return Audience(allowed, tags, personas, features)
