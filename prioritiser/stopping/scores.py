"""How many relevant records the unscreened ones hold, as the model's scores see it, scaled to
what screening actually found.

Each record the ranking chose carries the score ``x_j`` the model in force gave it when it was
chosen, and its label ``y_j``. A logistic curve ``p(x) = 1 / (1 + exp(-(a + b x)))`` fitted
to these pairs (a ridge on the slope keeps it finite while the classes are separable) gives
the *shape* of relevance against score. Its *level* is not trusted: the scores of records
lower than any screened are an extrapolation, and the model's scale drifts between refits.
So the level is read off the latest ``window_share`` of the ranked records instead: the
window held ``k`` relevant records where the curve expected ``E_w = sum_window p(x_j)``, and
the unscreened records, where it expects ``E_u = sum_unscreened p(s_i)`` under the latest
scores ``s_i``, are taken to hold a count with mean ``c E_u`` for the same scale ``c``. With
``c`` bounded above at quantile ``q`` of a Poisson mean given ``k`` events in exposure
``E_w`` (``chi2.ppf(q, 2k + 2) / 2 / E_w``), the bound on the relevant records left is

    remaining <= (E_u / E_w) * chi2.ppf(q, 2k + 2) / 2.

Assumption: the model ranks the unscreened records relative to the recently screened ones
as the curve says, i.e. the ratio E_u / E_w is right even where the probabilities themselves
are not. It is empirical, not a guarantee: a relevant record the model scores like the
clearest excludes (a late straggler) is invisible to it, which is why the default rule
(:class:`~prioritiser.stopping.rules.UrnAndScoresRule`) asks a biased-urn window bound to agree.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import expit
from scipy.stats import chi2

from prioritiser.stopping.history import ScreeningHistory

SLOPE_RIDGE = 1.0  # ridge on the slope b (score units are the ranker's decision values)


def fit_logistic(x: np.ndarray, y: np.ndarray, slope_ridge: float = SLOPE_RIDGE, iterations: int = 60) -> np.ndarray:
    """Intercept and slope ``(a, b)`` of a logistic regression of 0/1 ``y`` on ``x`` by Newton's
    method, penalised by ``slope_ridge * b**2 / 2`` (the intercept is free)."""
    design = np.column_stack([np.ones_like(x), x])
    penalty = np.diag([1e-9, slope_ridge])
    coef = np.array([math.log((y.sum() + 0.5) / (len(y) - y.sum() + 0.5)), 0.0])
    for _ in range(iterations):
        p = expit(design @ coef)
        info = design.T @ (design * (p * (1.0 - p))[:, None]) + penalty
        step = np.linalg.solve(info, design.T @ (y - p) - penalty @ coef)
        coef = coef + step
        if np.abs(step).max() < 1e-9:
            break
    return coef


def calibrated(history: ScreeningHistory) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The fitted curve's probabilities of the ranked screened records (in screening order),
    their 0/1 labels, and the sum of its probabilities over the unscreened records; None when
    the scores cannot say: no scores of the unscreened records or of the ranked screened ones,
    or no relevant or no irrelevant record among the latter."""
    if history.scores is None or history.screened_scores is None or history.n_unscreened == 0:
        return None
    ranked = ~history.sampled_randomly
    ranked[:history.n_prior] = False
    ranked &= ~np.isnan(history.screened_scores)
    x, y = history.screened_scores[ranked], history.labels[ranked].astype(np.float64)
    if len(history.scores) != history.n_unscreened or not 0 < y.sum() < len(y):
        return None
    a, b = fit_logistic(x, y)
    return expit(a + b * x), y, float(expit(a + b * history.scores).sum())


def scaled_bound(p_ranked: np.ndarray, y_ranked: np.ndarray, unscreened_expected: float, window_share: float,
                 quantile: float) -> tuple[float, dict]:
    """The bound of the module docstring from :func:`calibrated`'s output, with its numbers."""
    window = max(1, int(round(window_share * len(p_ranked))))
    expected = float(p_ranked[-window:].sum())
    k = int(y_ranked[-window:].sum())
    upper = unscreened_expected / expected * float(chi2.ppf(quantile, 2 * k + 2) / 2.0) if expected > 0 else math.inf
    return upper, {"scaled_window": window, "scaled_window_k": k, "window_expected": expected,
                   "unscreened_expected": unscreened_expected, "scaled_remaining": upper}


def scaled_remaining(history: ScreeningHistory, window_share: float = 0.5, quantile: float = 0.5) -> tuple[float, dict] | None:
    """The bound of the module docstring on the relevant records still unscreened, with its
    numbers (JSON-ready); None when the scores cannot say (see :func:`calibrated`)."""
    fit = calibrated(history)
    return None if fit is None else scaled_bound(*fit, window_share, quantile)
