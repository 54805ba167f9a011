"""Featureless baselines: ``classif.featureless`` and ``regr.featureless`` (mlr3's).

Both ignore the features and predict from the target alone, so they accept every
feature type and missing values. They are the yardstick that any real learner
should beat.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from torchweave import registry
from torchweave.data.feature_types import FEATURE_TYPES
from torchweave.data.task import Task, TaskClassif
from torchweave.learners.learner import Learner
from torchweave.params.param import p_fct, p_lgl
from torchweave.params.param_set import ParamSet

__all__ = ["LearnerClassifFeatureless", "LearnerRegrFeatureless"]


def _weights(task: Task) -> np.ndarray | None:
    weights = task.weights
    return None if weights is None else weights.to_numpy(dtype=np.float64)


def _generator() -> np.random.Generator:
    # The seed comes from numpy's global RNG, so np.random.seed(...) makes results repeat.
    return np.random.default_rng(int(np.random.randint(0, 2**31 - 1)))


class LearnerClassifFeatureless(Learner):
    """Featureless classification: predicts from the class frequencies of the training data.

    The model is the (weighted) count of each class in the training data, a
    ``pandas.Series`` indexed by the class names in level order.

    Parameters
    ----------
    method : {"mode", "sample", "weighted.sample"}, default "mode"
        ``"mode"`` predicts the most frequent class (on ties, the first one in level
        order); ``"sample"`` draws classes uniformly at random; ``"weighted.sample"``
        draws classes with their training frequencies. Tagged ``predict``.

    Notes
    -----
    Probabilities are the training class proportions for ``"mode"`` and
    ``"weighted.sample"``, and uniform for ``"sample"``; with ``predict_type = "prob"``
    the response is their argmax. Random draws use a generator seeded from numpy's
    global RNG, so ``np.random.seed`` makes them reproducible. Case weights (a
    ``weight`` column) weight the class counts.

    Examples
    --------
    >>> import torchweave as tw
    >>> learner = tw.lrn("classif.featureless", predict_type="prob").train(tw.tsk("iris"))
    >>> learner.model.tolist()
    [50.0, 50.0, 50.0]
    """

    def __init__(self) -> None:
        param_set = ParamSet(
            method=p_fct(
                ["mode", "sample", "weighted.sample"],
                default="mode",
                init="mode",
                tags="predict",
                description="How to predict: the mode, uniform or frequency-weighted draws.",
            )
        )
        super().__init__(
            id="classif.featureless",
            task_type="classif",
            param_set=param_set,
            predict_types=("response", "prob"),
            feature_types=list(FEATURE_TYPES),
            properties={"missings", "twoclass", "multiclass", "weights"},
            label="Featureless Classification Learner",
        )

    def _check_values(self, task: Task, phase: str) -> None:
        """The features are never read, so any values (missing, infinite) are fine."""

    def _train(self, task: Task) -> pd.Series:
        assert isinstance(task, TaskClassif)  # the base class checked the task type
        truth = task.truth()
        weights = _weights(task)
        counts = (
            pd.Series(np.ones(len(truth)) if weights is None else weights, index=truth.index)
            .groupby(truth.to_numpy(), observed=False)
            .sum()
        )
        counts = counts.reindex(task.class_names, fill_value=0.0).astype(np.float64)
        counts.name = "count"
        return counts

    def _predict(self, task: Task) -> Mapping[str, Any]:
        counts: pd.Series = self.model
        classes = np.asarray(counts.index, dtype=object)
        freq = counts.to_numpy(dtype=np.float64)
        proportions = freq / freq.sum()
        n = task.nrow
        method = self.param_set.values.get("method", "mode")
        if method == "mode":
            response = np.full(n, classes[int(np.argmax(freq))], dtype=object)
            prob = np.tile(proportions, (n, 1))
        elif method == "sample":
            response = _generator().choice(classes, size=n)
            prob = np.full((n, len(classes)), 1.0 / len(classes))
        else:
            response = _generator().choice(classes, size=n, p=proportions)
            prob = np.tile(proportions, (n, 1))
        return {"response": response, "prob": prob}


class LearnerRegrFeatureless(Learner):
    """Featureless regression: predicts the mean (or median) of the training target.

    The model is a dict with the ``location`` predicted for every row and the
    ``dispersion`` (standard deviation, or median absolute deviation when robust)
    of the training target.

    Parameters
    ----------
    robust : bool, default False
        Predict the median instead of the mean (mlr3's ``robust``). Tagged ``train``.

    Notes
    -----
    Case weights (a ``weight`` column) give a weighted mean or a weighted median.
    Without weights the median equals ``numpy.median``.

    Examples
    --------
    >>> import torchweave as tw
    >>> learner = tw.lrn("regr.featureless").train(tw.tsk("mtcars"))
    >>> round(learner.model["location"], 3)
    20.091
    """

    def __init__(self) -> None:
        param_set = ParamSet(
            robust=p_lgl(
                default=False,
                init=False,
                tags="train",
                description="Use the median instead of the mean.",
            )
        )
        super().__init__(
            id="regr.featureless",
            task_type="regr",
            param_set=param_set,
            predict_types=("response",),
            feature_types=list(FEATURE_TYPES),
            properties={"missings", "weights"},
            label="Featureless Regression Learner",
        )

    def _check_values(self, task: Task, phase: str) -> None:
        """The features are never read, so any values (missing, infinite) are fine."""

    def _train(self, task: Task) -> dict[str, float]:
        y = task.truth().to_numpy(dtype=np.float64)
        weights = _weights(task)
        if self.param_set.values.get("robust", False):
            location = _weighted_median(y, weights)
            dispersion = _weighted_median(np.abs(y - location), weights)
        else:
            location = float(np.average(y, weights=weights))
            dispersion = float(np.sqrt(np.average((y - location) ** 2, weights=weights)))
        return {"location": location, "dispersion": dispersion}

    def _predict(self, task: Task) -> Mapping[str, Any]:
        return {"response": np.full(task.nrow, self.model["location"], dtype=np.float64)}


def _weighted_median(y: np.ndarray, weights: np.ndarray | None) -> float:
    """The weighted median; equals ``numpy.median`` for equal weights."""
    if weights is None:
        return float(np.median(y))
    order = np.argsort(y, kind="stable")
    values, w = y[order], weights[order]
    cum = np.cumsum(w)
    half = cum[-1] / 2.0
    i = int(np.searchsorted(cum, half))
    if np.isclose(cum[i], half) and i + 1 < len(values):
        return float((values[i] + values[i + 1]) / 2.0)
    return float(values[i])


registry.learners.register("classif.featureless", LearnerClassifFeatureless)
registry.learners.register("regr.featureless", LearnerRegrFeatureless)
