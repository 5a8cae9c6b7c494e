"""Conversion models: who buys within the horizon, as calibrated probabilities.

Every model is a scikit-learn classifier on a snapshot's user features
(:mod:`workbench.features.labels`), a DataFrame of shape (n_users, n_features), and answers
``predict_proba`` of shape (n_users, 2):

- ``rfm``: the RFM score rule, each RFM score's conversion rate in training;
- ``bgnbd``: BG/NBD's probability of a purchase in the horizon (:mod:`workbench.models.bgnbd`);
- ``logistic``: imputed, standardized, L2-regularized logistic regression;
- ``hgb``: scikit-learn's histogram gradient boosting.

Search spaces (``suggest(trial) -> dict``) live beside them in :data:`FAMILIES`; the learned
models are calibrated on the validation cut-offs by :func:`calibrate` (isotonic or sigmoid,
whichever has the lower cross-fitted log loss there).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from workbench.models.bgnbd import BetaGeometricNBD

log = logging.getLogger(__name__)

#: BG/NBD's summary columns in a snapshot (:func:`workbench.features.labels.purchase_summary`).
SUMMARY = ("repeat_purchases", "first_to_last_days", "purchase_age_days")


def numeric_features(features: pd.DataFrame) -> pd.DataFrame:
    """The numeric columns of a feature table (categorical columns are left out)."""
    return features.select_dtypes("number")


def _as_frame(features) -> pd.DataFrame:
    if not isinstance(features, pd.DataFrame):
        raise TypeError(f"features must be a DataFrame of user features, got {type(features)}")
    return features


class RFMRule(ClassifierMixin, BaseEstimator):
    """The RFM score rule: the training conversion rate of each ``rfm_score`` (0: no purchase).

    Parameters
    ----------
    smoothing : float
        Pseudo-observations at the overall rate added to each score's rate.
    """

    def __init__(self, smoothing: float = 1.0):
        self.smoothing = smoothing

    def fit(self, features: pd.DataFrame, y) -> RFMRule:
        score, y = self._score(_as_frame(features)), np.asarray(y, float)
        self.classes_ = np.array([0.0, 1.0])
        self.base_rate_ = float(y.mean())
        grouped = pd.Series(y).groupby(score).agg(["sum", "count"])
        rates = (grouped["sum"] + self.smoothing * self.base_rate_) / (
            grouped["count"] + self.smoothing
        )
        self.rates_ = rates.to_dict()
        return self

    @staticmethod
    def _score(features: pd.DataFrame) -> np.ndarray:
        if "rfm_score" not in features:
            raise ValueError("features need an rfm_score column for the RFM rule")
        return features["rfm_score"].fillna(0.0).to_numpy()

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        score = self._score(_as_frame(features))
        p = pd.Series(score).map(self.rates_).fillna(self.base_rate_).to_numpy(float)
        return np.column_stack([1 - p, p])


class BGNBDClassifier(ClassifierMixin, BaseEstimator):
    """BG/NBD's P(purchase in the horizon) for buyers; the training rate for non-buyers.

    Parameters
    ----------
    horizon_days : float
    penalty : float
        L2 penalty on BG/NBD's log-parameters.
    """

    def __init__(self, horizon_days: float = 30.0, penalty: float = 0.001):
        self.horizon_days = horizon_days
        self.penalty = penalty

    def fit(self, features: pd.DataFrame, y) -> BGNBDClassifier:
        features, y = _as_frame(features), np.asarray(y, float)
        buyer = features["purchase_age_days"].notna().to_numpy()
        self.classes_ = np.array([0.0, 1.0])
        self.new_rate_ = float(y[~buyer].mean()) if (~buyer).any() else float(y.mean())
        self.model_ = BetaGeometricNBD(penalty=self.penalty).fit(*self._summary(features[buyer]))
        return self

    @staticmethod
    def _summary(features: pd.DataFrame) -> list[np.ndarray]:
        return [features[column].to_numpy(float) for column in SUMMARY]

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self)
        features = _as_frame(features)
        buyer = features["purchase_age_days"].notna().to_numpy()
        p = np.full(len(features), self.new_rate_)
        p[buyer] = self.model_.probability_purchase(
            self.horizon_days, *self._summary(features[buyer])
        )
        return np.column_stack([1 - p, p])


def make_logistic(C: float = 1.0, class_weight: str | None = None, random_state=None):
    """Numeric features, median-imputed, standardized, into an L2 logistic regression."""
    return make_pipeline(
        FunctionTransformer(numeric_features),
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(C=C, class_weight=class_weight, max_iter=2000),
    )


def make_hgb(random_state=None, **params):
    """Histogram gradient boosting on the numeric features (missing values handled natively)."""
    return make_pipeline(
        FunctionTransformer(numeric_features),
        HistGradientBoostingClassifier(random_state=random_state, **params),
    )


def suggest_logistic(trial) -> dict:
    return {"C": trial.suggest_float("C", 1e-3, 10.0, log=True)}


def suggest_hgb(trial) -> dict:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
        "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 4, 31, log=True),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 10, 200, log=True),
        "l2_regularization": trial.suggest_float("l2_regularization", 1e-4, 10.0, log=True),
        "max_iter": trial.suggest_int("max_iter", 50, 300, log=True),
    }


def _no_space(trial) -> dict:
    return {}


@dataclass(frozen=True)
class ConversionFamily:
    """A conversion model family: ``make(params, horizon_days, random_state)`` and its space."""

    make: Callable[..., BaseEstimator]
    suggest: Callable[[object], dict]
    calibrated: bool  # whether the chosen configuration is calibrated on validation


FAMILIES = {
    "rfm": ConversionFamily(lambda params, horizon_days, random_state: RFMRule(), _no_space, False),
    "bgnbd": ConversionFamily(
        lambda params, horizon_days, random_state: BGNBDClassifier(horizon_days), _no_space, False
    ),
    "logistic": ConversionFamily(
        lambda params, horizon_days, random_state: make_logistic(**params), suggest_logistic, True
    ),
    "hgb": ConversionFamily(
        lambda params, horizon_days, random_state: make_hgb(random_state, **params),
        suggest_hgb,
        True,
    ),
}


def get_family(name: str) -> ConversionFamily:
    if name not in FAMILIES:
        raise ValueError(f"unknown conversion family {name!r}; choose from {sorted(FAMILIES)}")
    return FAMILIES[name]


def calibrate(
    model, features: pd.DataFrame, y, methods=("isotonic", "sigmoid"), random_state: int = 0
) -> tuple[CalibratedClassifierCV, str, dict[str, float]]:
    """Calibrate a fitted ``model`` on validation data, choosing the method by log loss.

    Each method is fitted on one half of the validation rows and scored on the other (2-fold
    cross-fitting, stratified); the better one is then fitted on all of them.

    Parameters
    ----------
    model : fitted classifier
    features : DataFrame of shape (n_valid, n_features)
    y : array-like of shape (n_valid,)
        0/1 labels.

    Returns
    -------
    calibrated : CalibratedClassifierCV
        ``model`` frozen, with the chosen calibrator fitted on all of ``features``.
    method : str
    losses : dict of str to float
        Cross-fitted validation log loss of each method.
    """
    y = np.asarray(y, float)
    folds = StratifiedKFold(2, shuffle=True, random_state=random_state).split(features, y)
    folds = list(folds)
    losses = {}
    for method in methods:
        predicted = np.empty(len(y))
        for fit, held in folds:
            calibrator = CalibratedClassifierCV(FrozenEstimator(model), method=method)
            calibrator.fit(features.iloc[fit], y[fit])
            predicted[held] = calibrator.predict_proba(features.iloc[held])[:, 1]
        losses[method] = float(log_loss(y, np.clip(predicted, 1e-6, 1 - 1e-6)))
    method = min(losses, key=losses.get)
    calibrated = CalibratedClassifierCV(FrozenEstimator(model), method=method)
    log.info("calibration on validation: %s (log loss %s)", method, losses)
    return calibrated.fit(features, y), method, losses


def fit_family(name: str, params: dict, train, valid=None, horizon_days=30.0, random_state=0):
    """Fit family ``name`` on ``train = (features, y)``; calibrate on ``valid`` when it learns.

    Returns
    -------
    model : fitted classifier
    method : str
        The calibration method, or ``"none"``.
    """
    family = get_family(name)
    model = clone(family.make(params, horizon_days, random_state)).fit(*train)
    if not family.calibrated or valid is None:
        return model, "none"
    calibrated, method, _ = calibrate(model, *valid, random_state=random_state)
    return calibrated, method


def base_estimator(model):
    """The learned pipeline inside a calibrated model (or ``model`` itself)."""
    if isinstance(model, CalibratedClassifierCV):
        frozen = model.estimator
        return frozen.estimator if isinstance(frozen, FrozenEstimator) else frozen
    return model


def warm_start_fit(model, train, extra_iter: int = 50):
    """A copy of a fitted model's learner, updated on ``train = (features, y)`` from its state.

    Gradient boosting keeps its trees and adds ``extra_iter`` more fitted to the new data
    (scikit-learn's ``warm_start``); logistic regression starts its solver from the old
    coefficients. Other models (the RFM rule, BG/NBD) are refit, which is cheap. Calibrate the
    result again on new validation data (:func:`calibrate`).

    Returns
    -------
    fitted classifier (uncalibrated)
    """
    learner = copy.deepcopy(base_estimator(model))
    last = learner.steps[-1][1] if hasattr(learner, "steps") else learner
    if isinstance(last, HistGradientBoostingClassifier):
        last.set_params(warm_start=True, max_iter=last.n_iter_ + extra_iter, early_stopping=False)
    elif isinstance(last, LogisticRegression):
        last.set_params(warm_start=True)
    return learner.fit(*train)
