"""Parameters declared as data: ParamSet and the parameter kinds (paradox in Python)."""

from torchweave.params.param import (
    NO_DEFAULT,
    Condition,
    Param,
    ParamDbl,
    ParamFct,
    ParamInt,
    ParamLgl,
    ParamUty,
    TuneToken,
    p_dbl,
    p_fct,
    p_int,
    p_lgl,
    p_uty,
)
from torchweave.params.param_set import ParamSet, ParamSetCollection

__all__ = [
    "NO_DEFAULT",
    "Condition",
    "Param",
    "ParamDbl",
    "ParamFct",
    "ParamInt",
    "ParamLgl",
    "ParamSet",
    "ParamSetCollection",
    "ParamUty",
    "TuneToken",
    "p_dbl",
    "p_fct",
    "p_int",
    "p_lgl",
    "p_uty",
]
