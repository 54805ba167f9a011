"""``po("sklearn", transformer=...)``: any scikit-learn transformer as a preprocessing operator."""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.task import Task
from torchweave.errors import InvalidTypeError, TaskError
from torchweave.params.param import p_uty
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.registry import pipeops
from torchweave.utils.text import quote_list

__all__ = ["PipeOpSklearn"]


def _clone(estimator: Any) -> Any:
    """sklearn.base.clone, imported on first use."""
    import sklearn.base

    return sklearn.base.clone(estimator)


class PipeOpSklearn(PipeOpTaskPreproc):
    """Fits a scikit-learn transformer on the affected features and replaces them by its output.

    The transformer is cloned, given the operator's parameter values and asked for
    pandas output (``set_output(transform="pandas")``); numpy or sparse output is
    made a dense DataFrame named by ``get_feature_names_out()`` or ``<id>.<i>`` (i from 0).
    ``fit_transform`` gets the target as ``y`` when ``fit`` takes one (TargetEncoder).
    The default id is the transformer's class name in lower case (``"pca"``).

    Input and output channels
    -------------------------
    input : Task. output : Task.

    State
    -----
    ``transformer``: the fitted transformer; ``feature_names_out``: the output columns;
    ``prototype``: a zero-row frame of the output (returned for a task without rows).

    Parameters
    ----------
    The transformer's ``get_params(deep=False)``, initialised to its current values.
    affect_columns : selector
        Which features the transformer gets (default: all; the transformer decides
        which types it accepts, e.g. ``affect_columns=tw.selector_type("numeric")``).

    Examples
    --------
    >>> import torchweave as tw
    >>> from sklearn.decomposition import PCA
    >>> op = tw.po("sklearn", transformer=PCA(n_components=2))
    >>> op.id, op.train([tw.tsk("iris")])[0].feature_names
    ('pca', ['pca0', 'pca1'])
    """

    def __init__(
        self, transformer: Any, id: str | None = None, param_vals: dict[str, Any] | None = None
    ) -> None:
        if not all(hasattr(transformer, m) for m in ("fit", "transform", "get_params")):
            raise InvalidTypeError(
                "PipeOp 'sklearn' needs a scikit-learn transformer (with fit, transform and "
                f"get_params). Got {type(transformer).__name__} instead."
            )
        self.transformer = _clone(transformer)
        params = {
            k: p_uty(init=v, tags="train") for k, v in transformer.get_params(deep=False).items()
        }
        super().__init__(
            id or type(transformer).__name__.lower(),
            param_set=ParamSet(params),
            param_vals=param_vals,
        )

    def _train_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        if len(df) == 0:
            raise TaskError(f"PipeOp '{self.id}' cannot fit on task '{task.id}': it has no rows.")
        values = self.param_set.get_values(tags="train")
        values.pop("affect_columns", None)
        est = _clone(self.transformer).set_params(**values)
        if hasattr(est, "set_output"):
            est.set_output(transform="pandas")
        takes_y = "y" in inspect.signature(est.fit).parameters
        fit_kw = {"y": task.truth().to_numpy()} if takes_y else {}
        out = self._as_frame(self._call(lambda: self._fit(est, df, fit_kw), df), est)
        self.state["transformer"] = est
        clash = [c for c in out.columns if c in task.feature_names and c not in df.columns]
        if clash:
            raise TaskError(
                f"PipeOp '{self.id}' outputs column(s) {quote_list(clash)}, which are features "
                f"of task '{task.id}' it was not given; give the operator another id."
            )
        self.state["feature_names_out"] = list(out.columns)
        self.state["prototype"] = out.iloc[:0]
        return out

    def _predict_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        if len(df) == 0:  # scikit-learn refuses zero rows; the output types are known
            return self.state["prototype"]
        est = self.state["transformer"]
        out = self._as_frame(self._call(lambda: est.transform(df), df), est)
        return out.set_axis(self.state["feature_names_out"], axis=1)

    @staticmethod
    def _fit(est: Any, df: pd.DataFrame, fit_kw: dict[str, Any]) -> Any:
        try:
            return est.fit_transform(df, **fit_kw)
        except ValueError as exc:
            if "does not support sparse" not in str(exc):
                raise
        # Sparse output (OneHotEncoder's default) cannot be pandas: densified by _as_frame.
        return est.set_output(transform="default").fit_transform(df, **fit_kw)

    def _call(self, fn: Any, df: pd.DataFrame) -> Any:
        try:
            return fn()
        except Exception as exc:
            exc.add_note(
                f"(PipeOp '{self.id}' passed the feature(s) {quote_list(df.columns, limit=8)} to "
                f"{type(self.transformer).__name__}; choose the ones it accepts with "
                "affect_columns=tw.selector_type(...), e.g. tw.selector_type('numeric'))"
            )
            raise

    def _as_frame(self, out: Any, est: Any) -> pd.DataFrame:
        if isinstance(out, pd.DataFrame):
            return out.set_axis([str(c) for c in out.columns], axis=1)
        if hasattr(out, "toarray"):
            out = out.toarray()
        arr = np.asarray(out).reshape(len(out), -1)
        try:
            names = [str(n) for n in est.get_feature_names_out()]
        except Exception:  # transformers without (working) feature names get numbered ones
            names = []
        if len(names) != arr.shape[1]:
            names = [f"{self.id}.{i}" for i in range(arr.shape[1])]
        return pd.DataFrame(arr, columns=names)


pipeops.register("sklearn", PipeOpSklearn)
