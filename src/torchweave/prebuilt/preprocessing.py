"""``ppl_prebuilt``: the usual preprocessing graph in front of a prebuilt learner."""

from __future__ import annotations

from typing import Any

from torchweave.errors import InvalidParameterError
from torchweave.learners.learner import Learner
from torchweave.pipelines.graph import Graph, as_graph
from torchweave.pipelines.selectors import selector_type
from torchweave.pipelines.sugar import po

__all__ = ["ppl_prebuilt"]


def ppl_prebuilt(
    learner: Learner | str,
    impute: bool = True,
    scale: bool = True,
    scale_target: bool | None = None,
    **params: Any,
) -> Graph:
    """The usual preprocessing for a (prebuilt) learner, ending in the learner.

    In order: median imputation of numeric features and mode imputation of the
    others (``impute``), removal of constant features, one-hot encoding of factors
    for learners without factor support (mlp, tab_resnet), and standardisation of
    numeric features (``scale``). The featureless and image learners get no
    feature preprocessing. Regression targets are standardised (``scale_target``).

    Parameters
    ----------
    learner : Learner or str
        The learner, or its key (then ``params`` are set on it).
    impute : bool, default True
        Impute missing values.
    scale : bool, default True
        Standardise numeric and integer features.
    scale_target : bool, optional
        Standardise a regression target (``po("targettrafo")``; predictions are mapped
        back). Default: True for regression learners.
    **params
        Parameter values for a learner given by key.

    Returns
    -------
    Graph
        ``preprocessing >> po("learner", learner)``; wrap it with ``tw.as_learner``.

    Examples
    --------
    >>> import torchweave as tw
    >>> graph = tw.ppl_prebuilt("classif.mlp", neurons=[8], epochs=1, batch_size=16)
    >>> graph.ids()
    ['imputemedian', 'imputemode', 'removeconstants', 'encode', 'scale', 'classif.mlp']
    """
    from torchweave.sugar import lrn

    if isinstance(learner, str):
        learner = lrn(learner, **params)
    elif params:
        raise InvalidParameterError(
            "ppl_prebuilt takes parameter values only with a learner key; set them on the "
            "learner instead."
        )
    if not isinstance(learner, Learner):
        raise InvalidParameterError(
            f"ppl_prebuilt needs a Learner or a learner key. Got {type(learner).__name__}."
        )
    steps: list[Any] = []
    tabular = "lazy_tensor" not in learner.feature_types or len(learner.feature_types) > 1
    if tabular and "featureless" not in learner.properties:
        if impute:
            steps += [
                po("imputemedian"),
                po(
                    "imputemode",
                    affect_columns=selector_type(["factor", "ordered", "logical", "character"]),
                ),
            ]
        steps.append(po("removeconstants"))
        if "factor" not in learner.feature_types:
            steps.append(po("encode"))
        if scale:
            steps.append(po("scale"))
    if scale_target is None:
        scale_target = learner.task_type == "regr"
    if scale_target:
        steps.append(po("targettrafo", method="scale"))
    graph: Any = po("learner", learner)
    for step in reversed(steps):
        graph = step >> graph
    return as_graph(graph, clone=False)
