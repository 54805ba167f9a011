"""``po("imputemean")``: impute missing numbers by each feature's mean."""

from __future__ import annotations

from typing import Any

import pandas as pd

from torchweave.pipelines.impute import PipeOpImputeStatistic
from torchweave.registry import pipeops

__all__ = ["PipeOpImputeMean"]


class PipeOpImputeMean(PipeOpImputeStatistic):
    """Imputes missing values of numeric and integer features by their mean in training.

    Column dtypes are kept: a float column stays float; for an integer column (such as a
    nullable ``Int64`` one) the mean is rounded (half to even, as R's ``round``), as
    mlr3 does. A feature that is entirely missing in training is imputed with 0 (as in
    mlr3), without a warning.

    Input and output channels
    -------------------------
    input : Task. output : Task.

    State
    -----
    ``values``: dict from column to the value imputed (float, or int for integer columns).

    Parameters
    ----------
    affect_columns : selector
        Which features to impute (default: all numeric and integer ones).

    Examples
    --------
    >>> import torchweave as tw
    >>> op = tw.po("imputemean")
    >>> out = op.train([tw.tsk("penguins")])[0]
    >>> round(op.state["values"]["bill_length_mm"], 3), out.missings()["bill_length_mm"]
    (43.922, 0)
    """

    def __init__(self, id: str = "imputemean", param_vals: dict[str, Any] | None = None) -> None:
        super().__init__(id, param_vals=param_vals)

    def _statistic(self, column: pd.Series) -> Any:
        return column.mean()


pipeops.register("imputemean", PipeOpImputeMean)
