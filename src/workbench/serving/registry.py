"""The registered models the service composes, followed as their aliases move.

``<dataset>-recommender`` at ``champion`` and ``challenger`` gives the candidates;
``<dataset>-personas@champion`` the persona of each user; ``<dataset>-conversion@champion``,
where it is registered, the purchase probability that turns scores into expected values. Only
the recommender champion is required. Loaded versions are cached by version, so moving an alias
back and forth costs one load per version, and a snapshot (:class:`Models`) is swapped in whole:
a request sees the old set or the new one, never half of each.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from workbench.publish import gate
from workbench.publish.recommender import RecommenderService
from workbench.publish.segmenter import load_segmenter
from workbench.serving.settings import CHALLENGER, CHAMPION

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Models:
    """One consistent set of loaded models.

    Attributes
    ----------
    recommenders : dict of str to (str, RecommenderService)
        Variant (``champion``, ``challenger``) to version and model.
    personas : (str, Pipeline) or None
    conversion : (str, PyFuncModel) or None
    """

    recommenders: dict = field(default_factory=dict)
    personas: tuple | None = None
    conversion: tuple | None = None

    def versions(self) -> dict[str, str]:
        """``{"recommender@champion": "3", ...}`` for the decision log."""
        found = {f"recommender@{variant}": v for variant, (v, _) in self.recommenders.items()}
        for kind in ("personas", "conversion"):
            held = getattr(self, kind)
            if held is not None:
                found[f"{kind}@champion"] = held[0]
        return found


class ModelWatcher:
    """Loads the models of ``dataset`` by alias and notices when an alias moves.

    Parameters
    ----------
    dataset : str
    client : MlflowClient, optional
    """

    def __init__(self, dataset: str, client: MlflowClient | None = None):
        self.dataset = dataset
        self.client = client or MlflowClient()
        self._cache: dict[tuple[str, str], object] = {}

    def version(self, kind: str, alias: str) -> str | None:
        """The version behind ``<dataset>-<kind>@<alias>``, or None when there is none."""
        try:
            return str(
                self.client.get_model_version_by_alias(f"{self.dataset}-{kind}", alias).version
            )
        except MlflowException:
            return None

    def aliases(self) -> dict[tuple[str, str], str | None]:
        """The version of every alias the service follows."""
        wanted = [("recommender", CHAMPION), ("recommender", CHALLENGER)]
        wanted += [("personas", CHAMPION), ("conversion", CHAMPION)]
        return {key: self.version(*key) for key in wanted}

    def rolled_back(self, version: str) -> bool:
        """Whether recommender ``version`` carries a guard's rollback in the registry."""
        try:
            found = self.client.get_model_version(f"{self.dataset}-recommender", version)
        except MlflowException:
            return False
        return gate.ROLLED_BACK_TAG in found.tags

    def record_rollback(self, version: str, reason: str, figures: dict | None = None) -> bool:
        """Tag recommender ``version`` as rolled back and add it to the alias history (no alias
        moves: the champion stays); False, with the error logged, when the registry fails."""
        try:
            gate.record_rollback(f"{self.dataset}-recommender", version, reason, figures)
        except Exception as error:  # the rollback in this process stands either way
            log.error("rollback of v%s not recorded in the registry: %s", version, error)
            return False
        return True

    def _load(self, kind: str, version: str):
        key = (kind, version)
        if key not in self._cache:
            uri = f"models:/{self.dataset}-{kind}/{version}"
            if kind == "recommender":
                model = mlflow.pyfunc.load_model(uri).unwrap_python_model()
                if not isinstance(model, RecommenderService):
                    raise TypeError(f"{uri} is not a RecommenderService")
            elif kind == "personas":
                model = load_segmenter(uri)
            else:
                model = mlflow.pyfunc.load_model(uri)
            log.info("loaded %s", uri)
            self._cache[key] = model
        return self._cache[key]

    def load(self, aliases: dict[tuple[str, str], str | None]) -> Models:
        """The models behind ``aliases`` (from :meth:`aliases`).

        Raises
        ------
        RuntimeError
            When no recommender champion is registered.
        """
        champion = aliases[("recommender", CHAMPION)]
        if champion is None:
            raise RuntimeError(f"no {self.dataset}-recommender@champion in the registry")
        recommenders = {CHAMPION: (champion, self._load("recommender", champion))}
        challenger = aliases[("recommender", CHALLENGER)]
        if challenger is not None and challenger != champion:
            recommenders[CHALLENGER] = (challenger, self._load("recommender", challenger))
        optional = {}
        for kind in ("personas", "conversion"):
            version = aliases[(kind, CHAMPION)]
            try:
                optional[kind] = None if version is None else (version, self._load(kind, version))
            except Exception as error:  # an optional model that fails to load is left out
                log.warning("%s-%s v%s not loaded: %s", self.dataset, kind, version, error)
                optional[kind] = None
        return Models(recommenders, optional["personas"], optional["conversion"])


def conversion_probability(
    model, features: pd.DataFrame | None, user_id: str, item_ids: list[str], context: dict
) -> np.ndarray:
    """Conversion probability of the user for each item, from a conversion pyfunc.

    The model gets one row per item: the user's feature row (``<data set>-conversion`` reads
    user features and ignores other columns), ``user_id``, ``item_id`` and the context's scalar
    fields. Its answer may hold ``p_conversion`` (a user-level model: the same for every
    item), ``probability``, or a single column or array.

    Returns
    -------
    ndarray of shape (n_items,)

    Raises
    ------
    KeyError
        When the user has no feature row.
    ValueError
        When the answer has another length or values outside [0, 1].
    """
    if features is None or user_id not in features.index:
        raise KeyError(f"no features for user {user_id!r}")
    row = features.loc[[user_id]].reset_index(drop=True)
    frame = row.loc[row.index.repeat(len(item_ids))].reset_index(drop=True)
    scalars = {k: v for k, v in context.items() if isinstance(v, str | int | float | bool)}
    frame = frame.assign(user_id=user_id, item_id=item_ids, **scalars)
    answer = model.predict(frame)
    if isinstance(answer, pd.DataFrame):
        for column in ("p_conversion", "probability"):
            if column in answer:
                answer = answer[column]
                break
        else:
            answer = answer.iloc[:, -1]
    values = np.asarray(answer, dtype=np.float64).ravel()
    if len(values) != len(item_ids) or not np.all((values >= 0) & (values <= 1)):
        raise ValueError(f"conversion model answered {values[:5]}... for {len(item_ids)} items")
    return values
