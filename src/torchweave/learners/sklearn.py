"""scikit-learn estimators as learners: ``tw.as_learner(LogisticRegression())``.

A :class:`LearnerSklearn` keeps an unfitted copy of the estimator and exposes its
``get_params(deep=False)`` as an untyped ParamSet, so ``learner.param_set`` mirrors
the estimator's parameters (scikit-learn validates them in ``fit``). Importing this
module registers the converter used by :func:`~torchweave.learners.convert.as_learner`
and the learners ``classif.log_reg``, ``regr.lm``, ``classif.rpart`` and ``regr.rpart``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from torchweave import registry
from torchweave.data.task import Task, TaskClassif
from torchweave.errors import InvalidTypeError
from torchweave.learners.convert import register_learner_converter
from torchweave.learners.learner import Learner
from torchweave.params.param import p_uty
from torchweave.params.param_set import ParamSet

__all__ = ["LearnerSklearn"]

#: Feature types a scikit-learn estimator takes unless told otherwise.
SKLEARN_FEATURE_TYPES = ("numeric", "integer", "logical")


def _skbase() -> Any:
    """sklearn.base, imported on first use (keeps ``import torchweave`` light)."""
    import sklearn.base

    return sklearn.base


def _allows_nan(estimator: Any) -> bool:
    try:
        from sklearn.utils import get_tags  # scikit-learn >= 1.6
    except ImportError:
        return bool(estimator._get_tags().get("allow_nan", False))
    return bool(get_tags(estimator).input_tags.allow_nan)


def _task_type(estimator: Any) -> str:
    if not isinstance(estimator, _skbase().BaseEstimator):
        raise InvalidTypeError(
            "LearnerSklearn needs a scikit-learn estimator (a _skbase().BaseEstimator). "
            f"Got {type(estimator).__name__} instead."
        )
    if _skbase().is_classifier(estimator):
        return "classif"
    if _skbase().is_regressor(estimator):
        return "regr"
    raise InvalidTypeError(
        f"LearnerSklearn needs a scikit-learn classifier or regressor. Got "
        f"{type(estimator).__name__}, which is neither (a transformer or clusterer belongs "
        "into a pipeline, not a learner)."
    )


class LearnerSklearn(Learner):
    """A scikit-learn classifier or regressor as a learner.

    Parameters
    ----------
    estimator : _skbase().BaseEstimator
        A classifier or regressor, fitted or not. It is never modified: the learner
        keeps an unfitted clone and fits fresh clones of that.
    id : str, optional
        The learner id (default: ``"classif.<class name in lower case>"`` or
        ``"regr.<...>"``).
    feature_types : iterable of str, optional
        The feature types to accept (default: numeric, integer and logical; widen it
        for estimators that take categorical or string columns).
    properties : iterable of str, optional
        Replaces the detected properties. Detected are ``twoclass`` and ``multiclass``
        for classifiers, ``weights`` when ``fit`` takes ``sample_weight`` and
        ``missings`` when the estimator's tags allow NaN.

    Attributes
    ----------
    estimator : _skbase().BaseEstimator
        The unfitted prototype; each training fits a clone with the current
        parameter values.

    Notes
    -----
    The ParamSet has one untyped parameter per ``estimator.get_params(deep=False)``
    entry, initialised to the estimator's value. The features are passed to ``fit``
    as a DataFrame, the classes as a numpy array. Probabilities are reordered
    from ``estimator.classes_`` to the task's class order; classes missing from the
    training data get probability 0.

    Examples
    --------
    >>> import torchweave as tw
    >>> from sklearn.linear_model import LogisticRegression
    >>> learner = tw.as_learner(LogisticRegression(max_iter=1000))
    >>> learner.id, learner.predict_types
    ('classif.logisticregression', ['response', 'prob'])
    >>> learner.param_set.set_values(C=0.5).values["C"]
    0.5
    """

    def __init__(
        self,
        estimator: Any,
        id: str | None = None,
        feature_types: Iterable[str] | None = None,
        properties: Iterable[str] | None = None,
    ) -> None:
        task_type = _task_type(estimator)
        self.estimator = _skbase().clone(estimator)
        name = type(estimator).__name__
        params = self.estimator.get_params(deep=False)
        param_set = ParamSet(
            {
                key: p_uty(
                    default=value,
                    init=value,
                    tags="train",
                    description=f"Parameter '{key}' of {name}.",
                )
                for key, value in params.items()
            }
        )
        if properties is None:
            detected = {"twoclass", "multiclass"} if task_type == "classif" else set()
            from sklearn.utils.validation import has_fit_parameter

            if has_fit_parameter(self.estimator, "sample_weight"):
                detected.add("weights")
            if _allows_nan(self.estimator):
                detected.add("missings")
            properties = detected
        predict_types = ["response"]
        if task_type == "classif" and hasattr(self.estimator, "predict_proba"):
            predict_types.append("prob")
        super().__init__(
            id=id if id is not None else f"{task_type}.{name.lower()}",
            task_type=task_type,
            param_set=param_set,
            predict_types=predict_types,
            feature_types=SKLEARN_FEATURE_TYPES if feature_types is None else feature_types,
            properties=properties,
            label=f"scikit-learn {name}",
        )

    def _train(self, task: Task) -> Any:
        # The second clone copies parameter values that are themselves estimators (such as
        # pipeline steps), so fitting never changes the objects held by the ParamSet.
        configured = _skbase().clone(self.estimator).set_params(**self.param_set.values)
        model = _skbase().clone(configured)
        X = task.data(cols=task.feature_names)
        y = task.truth()
        # The classes as a plain array in the categories' dtype (object for strings, int64
        # for integer classes): scikit-learn cannot tell the type of an object array of ints.
        target = np.asarray(y.array) if isinstance(task, TaskClassif) else y.to_numpy()
        fit_params = {}
        if task.weights is not None and "weights" in self.properties:
            fit_params["sample_weight"] = task.weights.to_numpy(dtype=np.float64)
        model.fit(X, target, **fit_params)
        return model

    def _predict(self, task: Task) -> Mapping[str, Any]:
        X = task.data(cols=task.feature_names)
        model = self.model
        if self.task_type == "regr":
            return {"response": np.asarray(model.predict(X), dtype=np.float64)}
        if self.predict_type != "prob":
            return {"response": np.asarray(model.predict(X), dtype=object)}
        raw = np.asarray(model.predict_proba(X), dtype=np.float64)
        class_names = self.state.class_names if self.state is not None else None
        position = {cls: j for j, cls in enumerate(class_names or [])}
        prob = np.zeros((raw.shape[0], len(position)), dtype=np.float64)
        for j, cls in enumerate(model.classes_):
            prob[:, position[cls]] = raw[:, j]
        return {"prob": prob}


def _accepts(x: Any) -> bool:
    # Only objects from scikit-learn's world import it (their class exposes get_params).
    if not (hasattr(x, "get_params") and hasattr(x, "fit")):
        return False
    return isinstance(x, _skbase().BaseEstimator) and (
        _skbase().is_classifier(x) or _skbase().is_regressor(x)
    )


register_learner_converter(accepts=_accepts, convert=LearnerSklearn)


def classif_log_reg() -> LearnerSklearn:
    """Logistic regression (scikit-learn's LogisticRegression, Newton solver like R's glm)."""
    from sklearn.linear_model import LogisticRegression

    # Newton steps (as glm's IRLS) converge on unscaled features, where lbfgs warns.

    return LearnerSklearn(LogisticRegression(solver="newton-cholesky"), id="classif.log_reg")


def regr_lm() -> LearnerSklearn:
    """Linear regression by least squares (scikit-learn's LinearRegression)."""
    from sklearn.linear_model import LinearRegression

    return LearnerSklearn(LinearRegression(), id="regr.lm")


def classif_rpart() -> LearnerSklearn:
    """Classification tree (scikit-learn's DecisionTreeClassifier)."""
    from sklearn.tree import DecisionTreeClassifier

    return LearnerSklearn(DecisionTreeClassifier(), id="classif.rpart")


def regr_rpart() -> LearnerSklearn:
    """Regression tree (scikit-learn's DecisionTreeRegressor)."""
    from sklearn.tree import DecisionTreeRegressor

    return LearnerSklearn(DecisionTreeRegressor(), id="regr.rpart")


registry.learners.register("classif.log_reg", classif_log_reg)
registry.learners.register("regr.lm", regr_lm)
registry.learners.register("classif.rpart", classif_rpart)
registry.learners.register("regr.rpart", regr_rpart)
