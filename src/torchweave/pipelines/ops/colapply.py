"""``po("colapply", applicator=fn)``: applies a function to each affected column."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from torchweave.data.task import Task
from torchweave.errors import TaskError
from torchweave.params.param import p_uty
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.registry import pipeops

__all__ = ["PipeOpColApply"]


def _is_callable(x: Any) -> str | None:
    return None if callable(x) else "a callable (a function of one pandas Series)"


class PipeOpColApply(PipeOpTaskPreproc):
    """Replaces each affected feature by ``applicator(column)``, at train and predict.

    ``applicator`` gets the column as a pandas Series and returns a Series or array
    of the same length, whose values are taken in row order (a returned Series' index
    is ignored). The new column's type is whatever the applicator returns (it must
    be a supported feature dtype).

    Input and output channels
    -------------------------
    input : Task. output : Task.

    State
    -----
    Only ``affected_cols``: the applicator is applied afresh at predict time.

    Parameters
    ----------
    applicator : callable, required
        Function of one column (pandas Series) returning the new column.
    affect_columns : selector
        Which features to transform (default: all).

    Examples
    --------
    >>> import numpy as np
    >>> import torchweave as tw
    >>> op = tw.po("colapply", applicator=np.log, affect_columns=tw.selector_name("sepal_length"))
    >>> out = op.train([tw.tsk("iris")])[0]
    >>> round(float(out.data(cols="sepal_length").iloc[0, 0]), 4)
    1.6292
    """

    def __init__(self, id: str = "colapply", param_vals: dict[str, Any] | None = None) -> None:
        param_set = ParamSet(
            applicator=p_uty(
                custom_check=_is_callable,
                tags={"train", "predict", "required"},
                description="Function applied to each affected column (a pandas Series).",
            )
        )
        super().__init__(id, param_set=param_set, param_vals=param_vals)

    def _predict_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        applicator = self.param_set.get_values(check_required=True)["applicator"]
        return pd.DataFrame({col: self._apply(applicator, df[col]) for col in df.columns})

    def _apply(self, applicator: Any, column: pd.Series) -> pd.Series:
        try:
            result = applicator(column)
        except Exception as exc:
            exc.add_note(
                f"(raised by the applicator of PipeOp '{self.id}' on column '{column.name}')"
            )
            raise
        if np.ndim(result) != 1 or len(result) != len(column):
            shape = np.shape(result)
            raise TaskError(
                f"The applicator of PipeOp '{self.id}' must return one value per row for column "
                f"'{column.name}' ({len(column)} values). Got a result of shape {shape} instead."
            )
        # Positional, as in mlr3: a row index that differs (pd.Series(array)) must not realign.
        if isinstance(result, pd.Series):
            return result.set_axis(range(len(result)))
        return pd.Series(result)


pipeops.register("colapply", PipeOpColApply)
