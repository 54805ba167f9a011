"""The parameters every torch learner shares (mlr3torch's ``paramset_torchlearner``)."""

from __future__ import annotations

from typing import Any

from torchweave.params.param import p_dbl, p_fct, p_int, p_lgl, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.training.resume import check_resume

#: The values of ``precision`` (see :mod:`torchweave.training.precision`; kept torch-free).
PRECISIONS = ("32", "bf16-mixed", "16-mixed")

__all__ = ["DEVICES", "check_measures", "paramset_torchlearner"]

#: Devices a torch learner accepts; "auto" picks cuda, then mps, then cpu.
DEVICES = ("auto", "cpu", "cuda", "mps", "xla", "meta")


def check_measures(x: Any) -> str | None:
    """Accept a Measure, a measure key, or a list of them with unique ids."""
    from torchweave.measures.measure import Measure

    items = x if isinstance(x, list | tuple) else [x]
    if not all(isinstance(m, Measure | str) for m in items):
        return "a Measure, a measure key or a list of them"
    ids = [m if isinstance(m, str) else m.id for m in items]
    if len(set(ids)) != len(ids):
        return "a list of measures with unique ids"
    if "epoch" in ids:
        return "a list of measures none of which has the id 'epoch'"
    return None


def _check_callable_or_none(x: Any) -> str | None:
    return None if x is None or callable(x) else "a callable or None"


def _check_dict(x: Any) -> str | None:
    return None if x is None or isinstance(x, dict) else "a dict of names to objects, or None"


def _check_modules(x: Any) -> str | None:
    if x is None or (isinstance(x, list | tuple) and all(isinstance(m, str) for m in x)):
        return None
    return "a list of module names, or None"


def paramset_torchlearner(task_type: str) -> ParamSet:
    """The ParamSet of every torch learner, as in mlr3torch (Python names and 0-based).

    Parameters
    ----------
    task_type : str
        ``"classif"`` or ``"regr"`` (measures are checked against it at train time).
    """
    train, both = {"train"}, {"train", "predict"}
    return ParamSet(
        epochs=p_int(0, tags={"train", "required", "internal_tuning"}),
        device=p_fct(DEVICES, init="auto", tags={"train", "predict", "required"}),
        num_threads=p_int(1, init=1, tags={"train", "predict", "required", "threads"}),
        num_interop_threads=p_int(1, tags=both),
        seed=p_int(special_vals=["random", None], init="random", tags={*both, "required"}),
        eval_freq=p_int(1, init=1, tags={"train", "required"}),
        measures_train=p_uty(custom_check=check_measures, init=[], tags={"train", "required"}),
        measures_valid=p_uty(custom_check=check_measures, init=[], tags={"train", "required"}),
        patience=p_int(0, init=0, tags={"train", "required"}),
        min_delta=p_dbl(0, init=0.0, tags={"train", "required"}),
        restore_best_weights=p_lgl(init=False, tags={"train", "required"}),
        batch_size=p_int(1, tags=both),
        batch_size_predict=p_int(1, tags=both),
        shuffle=p_lgl(default=False, init=True, tags=train),
        sampler=p_uty(custom_check=_check_callable_or_none, tags=train),
        batch_sampler=p_uty(custom_check=_check_callable_or_none, tags=train),
        num_workers=p_int(0, default=0, tags=both),
        persistent_workers=p_lgl(default=False, tags=both),
        collate_fn=p_uty(custom_check=_check_callable_or_none, default=None, tags=both),
        pin_memory=p_lgl(default=False, tags=both),
        drop_last=p_lgl(default=False, tags=train),
        timeout=p_dbl(0, default=0.0, tags=both),
        worker_init_fn=p_uty(custom_check=_check_callable_or_none, tags=both),
        worker_globals=p_uty(custom_check=_check_dict, tags=both),
        worker_packages=p_uty(custom_check=_check_modules, tags=both),
        tensor_dataset=p_fct(
            ["device", "auto"], special_vals=[True, False], init="auto", tags=both
        ),
        jit_trace=p_lgl(init=False, tags={"train", "required"}),
        precision=p_fct(PRECISIONS, default="32", tags=both),
        compile=p_lgl(default=False, tags=both),
        resume=p_uty(custom_check=check_resume, default=False, tags=train),
    )
