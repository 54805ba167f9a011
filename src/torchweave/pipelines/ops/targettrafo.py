"""``po("targettrafo")``: scale or log-transform a regression target; predictions come back."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from torchweave.data.prediction import Prediction, PredictionRegr
from torchweave.data.task import Task, TaskRegr
from torchweave.errors import TaskError
from torchweave.params.param import p_fct
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.pipeop import Channel, PipeOp
from torchweave.registry import pipeops

__all__ = ["PipeOpTargetTrafo"]

#: The methods and the smallest target value each accepts (exclusive).
_LOWER = {"scale": -np.inf, "log": 0.0, "log1p": -1.0}


class PipeOpTargetTrafo(PipeOp):
    """Transforms a regression target for training; predictions are mapped back.

    Put it first in a graph learner: ``po("targettrafo") >> ... >> po("learner", ...)``.
    At train time the operator learns the transformation from the training target,
    transforms the target of the task (and of its internal validation task) and
    passes it on, so the learner fits the transformed target. At predict time the
    task passes through unchanged. The :class:`~torchweave.GraphLearner` then maps
    the learner's predicted responses back through :meth:`invert_prediction`, so
    ``learner.predict(task)`` is on the original scale, with the original truth.

    This follows mlr3pipelines' ``targettrafo`` / ``targetinvert`` pair, but keeps the
    graph a linear ``>>`` chain: the inverse lives in this operator's state instead
    of travelling along a separate channel to an inverting operator.

    Internal validation scores of a learner inside the graph are computed on the
    transformed scale (they are the learner's own view of its validation data).

    Input and output channels
    -------------------------
    input : TaskRegr at train and predict. output : TaskRegr (transformed target at
    train, unchanged at predict).

    State
    -----
    ``target``: the target column; ``method``; ``center`` and ``scale`` (for
    ``"scale"``: the training mean and standard deviation, ddof=1; a target with no
    spread is only centred).

    Parameters
    ----------
    method : {"scale", "log", "log1p"}, init "scale"
        ``"scale"``: ``(y - mean) / sd``, inverted by ``y * sd + mean``.
        ``"log"``: ``log(y)`` (needs ``y > 0``), inverted by ``exp``.
        ``"log1p"``: ``log(1 + y)`` (needs ``y > -1``, so targets with zeros work),
        inverted by ``expm1``.

    Raises
    ------
    TaskError
        For a classification task, and for target values outside the method's
        domain (the message names the column and its minimum).

    Examples
    --------
    >>> import torchweave as tw
    >>> learner = tw.as_learner(
    ...     tw.po("targettrafo", method="log") >> tw.po("learner", tw.lrn("regr.featureless"))
    ... )
    >>> task = tw.tsk("mtcars")
    >>> mean_log = float(np.log(task.truth()).mean())
    >>> pred = learner.train(task).predict(task)
    >>> bool(np.allclose(pred.response, np.exp(mean_log)))
    True
    """

    predict_like_train: ClassVar[bool] = False  # the target is transformed only at train

    def __init__(self, id: str = "targettrafo", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            method=p_fct(
                ["scale", "log", "log1p"],
                init="scale",
                tags="train",
                description="How to transform the target (inverted on the predictions).",
            )
        )
        super().__init__(
            id,
            param_set=param_set,
            param_vals=param_vals,
            input=[Channel("input", TaskRegr, TaskRegr)],
            output=[Channel("output", TaskRegr, TaskRegr)],
            tags=("target transform",),
        )

    # --- train and predict ------------------------------------------------------------
    def train(self, inputs: list[Any]) -> list[Any]:
        """Train on a regression task (see :meth:`PipeOp.train`).

        Raises
        ------
        TaskError
            For a classification task (named, with its target), before the channel
            check, which would only name the expected type.
        """
        for value in inputs:
            if isinstance(value, Task) and not isinstance(value, TaskRegr):
                raise TaskError(
                    f"PipeOp '{self.id}' transforms a regression target, but task "
                    f"'{value.id}' is a {type(value).__name__} (target "
                    f"'{value.target_names[0]}'). Use it with regression tasks only."
                )
        return super().train(inputs)

    def _train(self, inputs: list[Any]) -> list[Any]:
        task: TaskRegr = inputs[0]
        method = self.param_set.values["method"]
        target = task.target_names[0]
        y = task.truth().to_numpy(dtype=np.float64)
        self._check_domain(y, method, target, task.id)
        center, scale = 0.0, 1.0
        if method == "scale" and len(y) > 0:
            center = float(y.mean())
            sd = float(y.std(ddof=1)) if len(y) > 1 else 0.0
            scale = sd if np.isfinite(sd) and sd > 0 else 1.0
        self.state = {"target": target, "method": method, "center": center, "scale": scale}
        out = self._transform_task(task)
        valid = task.internal_valid_task
        if valid is not None:
            self._check_domain(valid.truth().to_numpy(dtype=np.float64), method, target, valid.id)
            out.internal_valid_task = self._transform_task(valid)
        return [out]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return [inputs[0]]

    # --- the transformation -------------------------------------------------------------
    def _check_domain(self, y: np.ndarray, method: str, target: str, task_id: str) -> None:
        lower = _LOWER[method]
        if len(y) and float(y.min()) <= lower:
            need = "positive" if method == "log" else "greater than -1"
            raise TaskError(
                f"PipeOp '{self.id}' with method '{method}' needs {need} values of the "
                f"target column '{target}' (task '{task_id}'). Got a minimum of "
                f"{float(y.min()):g}."
                + (" Use method 'log1p' for targets with zeros." if method == "log" else "")
            )

    def transform(self, y: np.ndarray) -> np.ndarray:
        """Transform target values with the trained state."""
        s = self.state
        y = np.asarray(y, dtype=np.float64)
        if s["method"] == "log":
            return np.log(y)
        if s["method"] == "log1p":
            return np.log1p(y)
        return (y - s["center"]) / s["scale"]

    def inverse(self, y: np.ndarray) -> np.ndarray:
        """Map transformed values (e.g. predicted responses) back to the original scale."""
        s = self.state
        y = np.asarray(y, dtype=np.float64)
        if s["method"] == "log":
            return np.exp(y)
        if s["method"] == "log1p":
            return np.expm1(y)
        return y * s["scale"] + s["center"]

    def _transform_task(self, task: Task) -> Task:
        out = task.clone()
        out.internal_valid_task = None
        target = self.state["target"]
        frame = out._data.copy()
        rows = frame.index.get_indexer(pd.Index(out.row_ids))
        values = frame[target].to_numpy(dtype=np.float64, copy=True)
        values[rows] = self.transform(values[rows])
        frame[target] = values
        out._data = frame
        return out

    def invert_prediction(self, prediction: Prediction) -> Prediction:
        """The prediction with its response mapped back to the original scale.

        Called by :class:`~torchweave.GraphLearner` on the prediction of the learner
        behind this operator; the truth is kept as it is (it was never transformed).
        """
        if not isinstance(prediction, PredictionRegr):
            raise TaskError(
                f"PipeOp '{self.id}' can only invert regression predictions. "
                f"Got a {type(prediction).__name__} instead."
            )
        return PredictionRegr(
            prediction.row_ids, prediction.truth, self.inverse(prediction.response)
        )


pipeops.register("targettrafo", PipeOpTargetTrafo)
