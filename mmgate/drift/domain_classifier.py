"""Domain-classifier drift test: a cross-validated, L2-regularised logistic regression tells
reference rows from new rows; its out-of-fold AUC (0.5 = indistinguishable) is the effect size."""

from __future__ import annotations

import numpy as np

from mmgate.drift.samples import embedding_samples, stream_rng
from mmgate.errors import InputError
from mmgate.panel.validate import (
    config_int,
    positive_real,
)

_FOLD_STREAM = 5103




def _logistic_loss(features: np.ndarray, labels: np.ndarray, w: np.ndarray, l2: float) -> float:
    scores = features @ w
    return float(np.mean(np.logaddexp(0.0, scores) - labels * scores) + 0.5 * l2 * (w[1:] @ w[1:]))


def _line_search(features: np.ndarray, labels: np.ndarray, w: np.ndarray, direction: np.ndarray, l2: float,
                 loss: float) -> tuple[np.ndarray, float] | None:
    """First of the steps 1, 1/2, 1/4, ... (down to 2^-20) along ``-direction`` that does not raise
    the loss, or None when none does (converged to rounding)."""
    for halvings in range(21):
        trial = w - direction / 2.0**halvings
        trial_loss = _logistic_loss(features, labels, trial, l2)
        if trial_loss <= loss:
            return trial, trial_loss
    return None


def _fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float, steps: int) -> np.ndarray:
    """L2-penalised logistic regression (intercept in column 0, not penalised) by damped Newton steps:
    deterministic and converged in a handful of steps."""
    n, p = features.shape
    penalty = np.full(p, l2)
    penalty[0] = 0.0
    w = np.zeros(p)
    loss = _logistic_loss(features, labels, w, l2)
    for _ in range(steps):
        prob = np.exp(-np.logaddexp(0.0, -(features @ w)))
        grad = features.T @ (prob - labels) / n + penalty * w
        root_weighted = features * np.sqrt(prob * (1.0 - prob))[:, None]
        hessian = root_weighted.T @ root_weighted / n + np.diag(penalty + 1e-12)
        found = _line_search(features, labels, w, np.linalg.solve(hessian, grad), l2, loss)
        if found is None:
            break
        decrease = loss - found[1]
        w, loss = found
        if decrease < 1e-12:
            break
    return w


def _standardised(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets scaled by the training columns' mean and std (std 0 -> 1), with a leading 1 column."""
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0

    def design(rows: np.ndarray) -> np.ndarray:
        return np.hstack([np.ones((rows.shape[0], 1)), (rows - mean) / std])

    return design(train), design(test)


def average_ranks(values: object) -> np.ndarray:
    """1-based ranks of ``values`` with ties given the average of the ranks they span."""
    v = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(v, kind="stable")
    sorted_v = v[order]
    starts = np.flatnonzero(np.r_[True, sorted_v[1:] != sorted_v[:-1]])
    ends = np.r_[starts[1:], v.size]
    ranks = np.empty(v.size)
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def rank_auc(scores: object, labels: object) -> float:
    """Area under the ROC curve of ``scores`` for the positive (True) labels, from average ranks
    (Mann-Whitney U / (n_pos n_neg)): 0.5 for uninformative scores, ties counted as half."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    positive = np.asarray(labels, dtype=bool).ravel()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if s.size != positive.size or n_pos == 0 or n_neg == 0:
        raise InputError("rank_auc needs one label per score and at least one positive and one negative")
    ranks = average_ranks(s)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def domain_classifier_auc(ref: object, new: object, *, seed: int = 0, folds: int = 5, l2: float = 1e-2,
                          steps: int = 25) -> dict[str, object]:
    """Out-of-fold ROC AUC of an L2-penalised logistic regression trained to tell ``new`` rows from
    ``ref`` rows (stratified, seeded folds; features standardised on each training fold).

    About 0.5 (slightly below, the usual cross-validation bias) when both come from one distribution,
    1 for separable clouds. ``advantage`` = 2 AUC - 1 is the effect size."""
    x, y = embedding_samples(ref, new)
    k = config_int(folds, "folds", 2)
    if k > min(x.shape[0], y.shape[0]):
        raise InputError(f"folds={k} exceeds the rows of the smaller sample ({min(x.shape[0], y.shape[0])}); "
                         "every fold needs rows of both samples")
    penalty = positive_real(l2, "l2")
    max_steps = config_int(steps, "steps", 1)
    rows = np.concatenate([x, y]).astype(np.float64)
    labels = np.r_[np.zeros(x.shape[0]), np.ones(y.shape[0])]
    rng = stream_rng(seed, _FOLD_STREAM)
    fold_of = np.empty(rows.shape[0], dtype=np.int64)
    for members in (np.arange(x.shape[0]), x.shape[0] + np.arange(y.shape[0])):
        fold_of[rng.permutation(members)] = np.arange(members.size) % k
    scores = np.empty(rows.shape[0])
    fold_aucs = []
    for fold in range(k):
        test = fold_of == fold
        train_x, test_x = _standardised(rows[~test], rows[test])
        w = _fit_logistic(train_x, labels[~test], penalty, max_steps)
        scores[test] = test_x @ w
        fold_aucs.append(rank_auc(scores[test], labels[test] > 0))
    auc = rank_auc(scores, labels > 0)
    return {"auc": auc, "advantage": 2.0 * auc - 1.0, "fold_aucs": fold_aucs, "folds": k, "l2": penalty,
            "n_ref": int(x.shape[0]), "n_new": int(y.shape[0])}
