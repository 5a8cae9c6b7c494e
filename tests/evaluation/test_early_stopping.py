"""Early stopping as a fit callback: scores per epoch, stops on a plateau, chains callbacks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from workbench.evaluation.early_stopping import EarlyStopping
from workbench.models.base import StopTraining
from workbench.models.factorization import BPR

N_USERS, N_ITEMS = 4, 6
# user u fitted on item u, validated on item u + 1 (user 3 has no validation item)
FIT = sp.csr_matrix((np.ones(4, np.float32), (np.arange(4), np.arange(4))), (N_USERS, N_ITEMS))
VALID = sp.csr_matrix((np.ones(3, np.float32), ([0, 1, 2], [1, 2, 3])), (N_USERS, N_ITEMS))


class Scripted:
    """A stand-in model whose epoch ``e`` ranks the validation item first when ``plan[e]``."""

    def __init__(self, plan):
        self.plan, self.epoch, self.requests = plan, 0, []

    def recommend(self, user_idx, user_items, k):
        self.requests.append((tuple(user_idx), user_items is FIT, k))
        hit = self.plan[self.epoch]
        first = user_idx + 1 if hit else np.full(len(user_idx), 5)
        others = np.full((len(user_idx), k - 1), -1)  # empty slots
        return np.column_stack([first, others]), np.zeros((len(user_idx), k))


def run(stopping: EarlyStopping, plan) -> int:
    """Call ``stopping`` for each epoch of ``plan``; the number of epochs before it stopped."""
    model = Scripted(plan)
    for epoch in range(len(plan)):
        model.epoch = epoch
        try:
            stopping(epoch, model)
        except StopTraining:
            return epoch + 1
    return len(plan)


def test_scores_validation_users_with_ndcg_known_limits():
    stopping = EarlyStopping(FIT, VALID, k=2, patience=5)
    model = Scripted([True, False])
    stopping(0, model)
    model.epoch = 1
    stopping(1, model)
    assert stopping.history == [1.0, 0.0]  # a perfect ranking scores 1, a disjoint one 0
    assert model.requests[0] == ((0, 1, 2), True, 2)  # users with validation items only
    assert (stopping.best_epoch, stopping.best_score) == (1, 1.0)


def test_stops_after_patience_epochs_without_improvement():
    stopping = EarlyStopping(FIT, VALID, patience=2)
    assert run(stopping, [False, True, True, False, True, True]) == 4
    assert stopping.history == [0.0, 1.0, 1.0, 0.0]
    assert stopping.best_epoch == 2  # 1-based: the second epoch reached the best score


def test_gains_within_min_delta_do_not_reset_patience_but_count_as_best():
    stopping = EarlyStopping(FIT, VALID, patience=2, min_delta=2.0)
    assert run(stopping, [False, True, True, True]) == 3
    assert stopping.best_epoch == 2 and stopping.best_score == 1.0


def test_empty_history_and_a_full_run_without_plateau():
    stopping = EarlyStopping(FIT, VALID, patience=1)
    assert (stopping.best_epoch, stopping.best_score) == (0, -np.inf)
    assert run(stopping, [True]) == 1 and stopping.history == [1.0]


def test_chains_an_inner_callback_each_epoch_even_the_last():
    calls = []
    stopping = EarlyStopping(
        FIT, VALID, patience=1, callback=lambda epoch, model: calls.append(len(stopping.history))
    )
    assert run(stopping, [True, True, True]) == 2
    assert calls == [1, 2]  # the inner callback sees the epoch's score already recorded


def test_refuses_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        EarlyStopping(FIT, VALID[:, :5])
    with pytest.raises(TypeError, match="CSR"):
        EarlyStopping(FIT.toarray(), VALID)
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(FIT, VALID, patience=0)
    with pytest.raises(ValueError, match="no interactions"):
        EarlyStopping(FIT, sp.csr_matrix((N_USERS, N_ITEMS), dtype=np.float32))


def test_stops_a_real_iterative_model_which_stays_fitted():
    blocks = np.kron(np.eye(2), np.ones((5, 4))).astype(np.float32)  # 2 blocks of 5 x 4
    fit = blocks.copy()
    fit[np.arange(10), np.arange(10) % 4 + 4 * (np.arange(10) // 5)] = 0.0
    fit, valid = sp.csr_matrix(fit), sp.csr_matrix(blocks - fit)
    stopping = EarlyStopping(fit, valid, k=1, patience=2, min_delta=1.0)  # no later gain counts
    model = BPR(factors=4, iterations=50, num_threads=1, random_state=0)
    assert model.fit(fit, callback=stopping) is model
    assert len(stopping.history) == 3 and stopping.best_epoch in (1, 2, 3)
    assert model.recommend(np.arange(10), fit, k=1)[0].shape == (10, 1)
