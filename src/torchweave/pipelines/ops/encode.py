"""``po("encode")``: one-hot or treatment encoding of factor and character features."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.task import Task
from torchweave.errors import TaskError
from torchweave.params.param import p_fct, p_int
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.registry import pipeops
from torchweave.utils.text import quote_list

__all__ = ["MANY_LEVELS", "PipeOpEncode"]

#: The default of ``warn_levels``: a feature with more levels than this warns in training.
MANY_LEVELS = 100


class PipeOpEncode(PipeOpTaskPreproc):
    """Encodes factor, ordered and character features as 0/1 float columns.

    Each level gets a column ``<col>.<level>`` (mlr3's naming). ``"treatment"`` drops the
    first level's column (the reference level). Of mlr3's methods, only ``"one-hot"``
    and ``"treatment"`` exist here (no ``"helmert"``, ``"poly"`` or ``"sum"``). A missing
    value gives NaN in all of its columns (as in mlr3). A level that was not seen in
    training gives an all-zero row and a ``UserWarning``. Character features are
    encoded too, so that strings can be one-hot encoded directly.

    A feature with more than ``warn_levels`` levels (free text, identifiers) gives a
    ``UserWarning`` in training naming the columns and their level counts: each level
    becomes a feature, so 200 distinct sentences become 200 columns. Embeddings
    (``po("torch_ingress_categ") >> nn("tokenizer_categ")`` on factor features) learn a
    small vector per level instead.

    Input and output channels
    -------------------------
    input : Task. output : Task.

    State
    -----
    ``levels``: dict from column to its levels learned in training (a factor's categories,
    unused ones included, or a character column's sorted distinct values).
    ``method``: the method used in training (prediction uses it too).

    Parameters
    ----------
    method : {"one-hot", "treatment"}, init "one-hot"
        The encoding.
    warn_levels : int >= 2 or None, default 100 (:data:`MANY_LEVELS`)
        Warn in training about features with more levels than this; None never warns.
    affect_columns : selector
        Which features to encode (default: all factor, ordered and character ones).

    Examples
    --------
    >>> import pandas as pd
    >>> import torchweave as tw
    >>> df = pd.DataFrame({"x": pd.Categorical(["a", "b", "a"]), "y": [1.0, 2.0, 3.0]})
    >>> out = tw.po("encode").train([tw.TaskRegr(df, "y")])[0]
    >>> out.data(cols=["x.a", "x.b"]).to_numpy().tolist()
    [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]]
    """

    feature_types = ("factor", "ordered", "character")

    def __init__(self, id: str = "encode", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            method=p_fct(["one-hot", "treatment"], init="one-hot", tags="train"),
            warn_levels=p_int(2, special_vals=[None], default=MANY_LEVELS, tags="train"),
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _names(self, col: str, levels: list[Any]) -> list[str]:
        names = [f"{col}.{level}" for level in levels]
        return names[1:] if self.state["method"] == "treatment" else names

    def _train_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        self.state["levels"] = {
            col: s.cat.categories.tolist()
            if isinstance(s.dtype, pd.CategoricalDtype)
            else sorted(s.dropna().unique().tolist(), key=str)
            for col, s in df.items()
        }
        self._check_names(task, list(df.columns))
        return self._predict_df(df, task)

    def _train_stats(self, task: Task, cols: list[str]) -> bool:
        levels = task.levels(cols)
        others = [c for c in cols if c not in levels]
        distinct = task.distinct_values(others) if others else {}
        self.state["levels"] = {
            col: list(levels[col]) if col in levels else sorted(distinct[col], key=str)
            for col in cols
        }
        self._check_names(task, cols)
        return True

    def _check_names(self, task: Task, cols: list[str]) -> None:
        self.state["method"] = self.param_set.values["method"]
        others = set(task.feature_names) - set(cols)
        names = [n for c, lv in self.state["levels"].items() for n in self._names(c, lv)]
        counts = Counter(names)
        clash = [n for n in counts if n in others or counts[n] > 1]
        if clash:
            raise TaskError(
                f"PipeOp '{self.id}' would create the column(s) {quote_list(clash)} twice or "
                f"over other features of task '{task.id}'. Rename the features first."
            )
        self._warn_many_levels(task)

    def _warn_many_levels(self, task: Task) -> None:
        limit = self.param_set.values.get("warn_levels", MANY_LEVELS)
        if limit is None:
            return
        many = {c: len(lv) for c, lv in self.state["levels"].items() if len(lv) > limit}
        if not many:
            return
        counts = ", ".join(f"'{col}' ({n} levels)" for col, n in many.items())
        warnings.warn(
            f"PipeOp '{self.id}' encodes feature(s) of task '{task.id}' with more than "
            f"{limit} levels (warn_levels), each level becoming a feature: {counts}. For "
            "free text or many categories, consider embeddings instead: factor features "
            'through po("torch_ingress_categ") >> nn("tokenizer_categ"). Set '
            "warn_levels=None to silence this.",
            UserWarning,
            stacklevel=2,
        )

    def _predict_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        blocks = [pd.DataFrame(index=df.index)]
        for col, levels in self.state["levels"].items():
            values = df[col].to_numpy(dtype=object)
            codes = pd.Index(levels, dtype=object).get_indexer(values)
            missing = df[col].isna().to_numpy()
            unseen = (codes < 0) & ~missing
            if unseen.any():
                warnings.warn(
                    f"PipeOp '{self.id}': column '{col}' has level(s) "
                    f"{quote_list(pd.unique(values[unseen]).tolist())} not seen in training; "
                    "they are encoded as all zeros.",
                    UserWarning,
                    stacklevel=2,
                )
            matrix = np.zeros((len(df), len(levels)))
            hit = np.flatnonzero(codes >= 0)
            matrix[hit, codes[hit]] = 1.0
            matrix[missing] = np.nan
            if self.state["method"] == "treatment":
                matrix = matrix[:, 1:]
            blocks.append(pd.DataFrame(matrix, index=df.index, columns=self._names(col, levels)))
        return pd.concat(blocks, axis=1)


pipeops.register("encode", PipeOpEncode)
