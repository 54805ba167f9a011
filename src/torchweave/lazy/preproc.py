"""PipeOpTaskPreprocTorch: preprocessing of lazy tensor columns, and a factory for new ones.

Such an operator computes nothing when it trains or predicts: it appends one step (the
function with the parameter values bound to it) to the preprocessing graph of each
lazy column it affects, and records the shape that step will produce (mlr3torch §7.4).
Steps run when a batch is materialized. With ``stages="train"`` (augmentation) the
step is the function during training and the identity at predict time; a learner
checks that both give the same shape.
"""

from __future__ import annotations

import inspect
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import pandas as pd
import torch

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError, InvalidTypeError, NotTrainedError
from torchweave.lazy._nodes import identity
from torchweave.lazy.lazy_tensor import LazyTensorArray, transform_lazy_tensor
from torchweave.network.shapes import Shape, as_shape, infer_shapes
from torchweave.params.param import p_fct, p_uty
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.registry import pipeops

__all__ = ["STAGES", "PipeOpTaskPreprocTorch", "pipeop_preproc_torch"]

#: The values of the ``stages`` parameter.
STAGES = ("train", "predict", "both")

ShapesOut = Callable[..., Any] | str | None


class BatchFn:
    """A preprocessing function with its parameter values bound (picklable).

    Parameters
    ----------
    fn : callable
        ``fn(x, **params)``.
    params : mapping
        The parameter values.
    rowwise : bool
        Apply ``fn`` to each row (without the batch dimension) and stack the results.
    """

    #: The prepared step, where ``fn`` has one (instances pickled before it existed lack it).
    _prepared: Callable[[torch.Tensor], torch.Tensor] | None = None

    def __init__(self, fn: Callable[..., Any], params: Mapping[str, Any], rowwise: bool) -> None:
        self.fn = fn
        self.params = dict(params)
        self.rowwise = rowwise
        # A function may offer ``fn.prepare(**params)``: the per-batch step with its
        # parameters checked once (None where no such shortcut applies).
        prepare = getattr(fn, "prepare", None)
        if not rowwise and prepare is not None:
            try:
                self._prepared = prepare(**self.params)
            except TypeError:  # other arguments: the function checks them per batch
                self._prepared = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self._prepared is not None:
            return self._prepared(x)
        if not self.rowwise:
            return self.fn(x, **self.params)
        if x.shape[0] == 0:
            return x
        return torch.stack([self.fn(row, **self.params) for row in x.unbind(0)])

    def __repr__(self) -> str:
        name = getattr(self.fn, "__name__", type(self.fn).__name__)
        return f"<BatchFn {name}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})>"


def _default_stages(id: str) -> str | None:
    if id.startswith("trafo_"):
        return "both"
    if id.startswith("augment_"):
        return "train"
    return None


def _infer_param_set(fn: Callable[..., Any]) -> ParamSet:
    """Untyped train parameters for the arguments of ``fn`` after the first."""
    ps = ParamSet()
    try:
        params = list(inspect.signature(fn).parameters.values())[1:]
    except (TypeError, ValueError):  # builtins without a signature take no parameters
        return ps
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.default is inspect.Parameter.empty:
            ps.add(param.name, p_uty(tags=("train", "required")))
        else:
            ps.add(param.name, p_uty(default=param.default, tags="train"))
    return ps


def _check_definition(id: str, fn: Any, shapes_out: Any, stages_init: str | None) -> str:
    """Check ``fn``, ``shapes_out`` and ``stages_init`` of operator ``id``; the stages."""
    if not callable(fn):
        raise InvalidTypeError(f"'fn' must be callable. Got {type(fn).__name__} instead.")
    _check_shapes_out(shapes_out)
    stages = stages_init if stages_init is not None else _default_stages(id)
    if stages not in STAGES:
        raise InvalidParameterError(
            f"'stages_init' of PipeOp '{id}' must be 'train', 'predict' or 'both' (it can only "
            f"be left out for ids starting with 'trafo_' or 'augment_'). Got {stages!r} instead."
        )
    return stages


def _check_shapes_out(shapes_out: Any) -> None:
    if shapes_out is None or shapes_out == "infer" or callable(shapes_out):
        return
    raise InvalidParameterError(
        "'shapes_out' must be None (unknown), 'infer' or a function "
        f"shapes_out(shape_in, **params). Got {shapes_out!r} instead."
    )


class PipeOpTaskPreprocTorch(PipeOpTaskPreproc):
    """Applies a tensor function to lazy tensor columns, lazily (``preproc_torch``).

    The operator appends the step ``fn(x, **params)`` to each affected lazy column;
    it runs once per batch when the data are materialized. Subclasses made by
    :func:`pipeop_preproc_torch` fix the function; this class takes it as an argument.

    Input and output channels
    -------------------------
    input : Task. output : Task, its lazy columns with one more preprocessing step.

    State
    -----
    ``affected_cols``, ``param_vals`` (the values bound to ``fn`` during training,
    which predict uses too), ``stages`` and ``shapes`` (per column, the shapes at
    train and at predict time).

    Parameters
    ----------
    fn : callable
        ``fn(x, **params) -> Tensor``; ``x`` is a batch (a row with ``rowwise``). It
        must not modify ``x`` in place.
    id : str, default "preproc_torch"
        Operator id.
    param_vals : mapping, optional
        Initial parameter values.
    param_set : ParamSet, optional
        Parameters passed to ``fn`` (tag ``"train"``). Default: an untyped parameter per
        argument of ``fn`` after the first.
    shapes_out : None, "infer" or callable
        Output shape: unknown, found by tracing ``fn`` on ``meta`` tensors, or
        ``shapes_out(shape_in, **params)``.
    rowwise : bool, default False
        Apply ``fn`` row by row.
    stages_init : {"train", "predict", "both"}, optional
        Initial ``stages`` (default: ``"both"`` for ids starting with ``trafo_``,
        ``"train"`` for ``augment_``).
    tags : sequence of str
        Extra tags.
    packages : sequence of str
        Packages ``fn`` needs.

    Other parameters: ``stages`` (when the step applies; otherwise the identity is
    inserted) and ``affect_columns``.

    Examples
    --------
    >>> import torch
    >>> import torchweave as tw
    >>> from torchweave.lazy import PipeOpTaskPreprocTorch, as_lazy_tensor, materialize
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"x": as_lazy_tensor(torch.ones(4, 2)), "y": [0.0, 1, 2, 3]})
    >>> task = tw.TaskRegr(frame, target="y")
    >>> def shift(x, by=1.0):
    ...     return x + by
    >>> op = PipeOpTaskPreprocTorch(shift, param_vals={"by": 3.0}, stages_init="both")
    >>> out = op.train([task])[0]
    >>> materialize(out.data(cols="x")["x"], rbind=True)[0]
    tensor([4., 4.])
    """

    feature_types = ("lazy_tensor",)
    #: The shape of the lazy column the conformance suite feeds the operator.
    example_shape: ClassVar[Shape] = (None, 3, 8, 8)
    #: Parameter values the conformance suite builds the operator with (required ones).
    example_param_vals: ClassVar[dict[str, Any]] = {}
    #: Whether the step draws random numbers (None: when it runs only at train time).
    random: ClassVar[bool | None] = None

    def __init__(
        self,
        fn: Callable[..., Any],
        id: str = "preproc_torch",
        param_vals: Mapping[str, Any] | None = None,
        param_set: ParamSet | None = None,
        shapes_out: ShapesOut = None,
        rowwise: bool = False,
        stages_init: str | None = None,
        tags: Sequence[str] = (),
        packages: Sequence[str] = (),
    ) -> None:
        stages_init = _check_definition(id, fn, shapes_out, stages_init)
        ps = param_set.clone() if param_set is not None else _infer_param_set(fn)
        for reserved in ("stages", "affect_columns"):
            if reserved in ps:
                raise InvalidParameterError(
                    f"The parameter '{reserved}' of a preprocessing operator is reserved; "
                    f"rename the argument of '{getattr(fn, '__name__', fn)}'."
                )
        ps.add(
            "stages",
            p_fct(
                STAGES,
                init=stages_init,
                tags=("train", "required"),
                description="When the step applies: at train, at predict or both.",
            ),
        )
        self.fn = fn
        self.rowwise = bool(rowwise)
        self.packages = list(packages)
        self._shapes_out_rule = shapes_out
        super().__init__(
            id, param_set=ps, param_vals=param_vals, tags=("data transform", "torch", *tags)
        )

    # --- parameters and shapes ----------------------------------------------------------
    def _fn_params(self, values: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in values.items() if k not in ("stages", "affect_columns")}

    def _stage_values(self, stage: str) -> tuple[str, dict[str, Any]]:
        if stage == "train":
            values = self.param_set.get_values(tags="train")
            return values["stages"], self._fn_params(values)
        if stage == "predict":
            if not self.is_trained or "param_vals" not in self.state:
                raise NotTrainedError(
                    f"PipeOp '{self.id}': predict shapes can only be calculated after training "
                    "the PipeOp."
                )
            return self.state["stages"], dict(self.state["param_vals"])
        raise InvalidParameterError(f"'stage' must be 'train' or 'predict'. Got {stage!r}.")

    def shapes_out(
        self, shapes_in: Sequence[Shape | None], stage: str, task: Task | None = None
    ) -> list[Shape | None]:
        """The shapes after this operator, per input shape.

        Parameters
        ----------
        shapes_in : sequence of Shape or None
            Input shapes (batch dimension ``None``; ``None`` for unknown).
        stage : {"train", "predict"}
            ``"predict"`` uses the parameter values stored during training.
        task : Task, optional
            Unused; for subclasses.

        Returns
        -------
        list of Shape or None
            ``None`` where the output shape is unknown. An input passes unchanged when
            the step does not apply at this stage.
        """
        stages, params = self._stage_values(stage)
        if stages != "both" and stages != stage:
            return list(shapes_in)
        return [self._shapes_out(shape, params) for shape in shapes_in]

    def _shapes_out(self, shape_in: Shape | None, param_vals: dict[str, Any]) -> Shape | None:
        """The output shape for one input shape (override to give a rule)."""
        rule = self._shapes_out_rule
        if rule is None:
            return None
        if isinstance(rule, str):  # "infer"
            if shape_in is None:
                return None
            return infer_shapes(self._module(param_vals), [shape_in], self.id)[0]
        out = rule(shape_in, **param_vals)
        return None if out is None else as_shape(out, f"output shape of PipeOp '{self.id}'")

    def _module(self, param_vals: Mapping[str, Any]) -> BatchFn:
        return BatchFn(self.fn, param_vals, self.rowwise)

    @property
    def is_random(self) -> bool:
        """Whether the step is a random augmentation (warned about with tensor_dataset)."""
        if self.random is not None:
            return bool(self.random)
        return self.param_set.values.get("stages") == "train"

    # --- the template hooks ---------------------------------------------------------------
    def _train_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        values = self.param_set.get_values(tags="train", check_required=True)
        self.state["stages"] = values["stages"]
        self.state["param_vals"] = self._fn_params(values)
        return self._transform(df, "train")

    def _predict_df(self, df: pd.DataFrame, task: Task) -> pd.DataFrame:
        return self._transform(df, "predict")

    def _transform(self, df: pd.DataFrame, stage: str) -> pd.DataFrame:
        stages, params = self._stage_values(stage)
        active = stages == "both" or stages == stage
        fn: Callable[[torch.Tensor], torch.Tensor] = self._module(params) if active else identity
        augment = active and stage == "train" and self.is_random
        columns: dict[str, Any] = {}
        shapes: dict[str, tuple[Shape | None, Shape | None]] = {}
        for col in df.columns:
            arr = df[col].array
            assert isinstance(arr, LazyTensorArray)
            dd = arr.data_descriptor
            before = None if dd is None else dd.pointer_shape
            shape = self.shapes_out([before], stage)[0]
            shape_predict = None
            if stage == "train":
                base = None if dd is None else (dd.pointer_shape_predict or before)
                shape_predict = self.shapes_out([base], "predict")[0]
            columns[col] = transform_lazy_tensor(
                arr, fn, f"{self.id}.{col}", shape, shape_predict, augment=augment
            )
            shapes[col] = (shape, shape_predict)
        if stage == "train":
            self.state["shapes"] = shapes
        return pd.DataFrame(columns, index=df.index)


# --- the factory ---------------------------------------------------------------------------
# Classes made by pipeop_preproc_torch, by token: unpickling finds the very same class.
_CLASSES: dict[str, type[PipeOpTaskPreprocTorch]] = {}


class _ClassSpec:
    """Everything needed to rebuild a factory-made class in another process."""

    def __init__(self, token: str, name: str, module: str, args: dict[str, Any]) -> None:
        self.token, self.name, self.module, self.args = token, name, module, args

    def resolve(self) -> type[PipeOpTaskPreprocTorch]:
        cls = _CLASSES.get(self.token)
        if cls is None:
            cls = _make_class(self)
        return cls


def _restore(ref: type[PipeOpTaskPreprocTorch] | _ClassSpec) -> PipeOpTaskPreprocTorch:
    cls = ref if isinstance(ref, type) else ref.resolve()
    return cls.__new__(cls)


def _reduce_ex(self: PipeOpTaskPreprocTorch, protocol: Any) -> Any:
    cls = type(self)
    module = sys.modules.get(cls.__module__)
    if getattr(module, cls.__qualname__, None) is cls:
        return object.__reduce_ex__(self, protocol)
    spec: _ClassSpec = cls.__dict__["_spec"]
    return (_restore, (spec,), self.__dict__.copy())


def _camel(id: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in id.replace(".", "_").split("_"))


def _make_class(spec: _ClassSpec) -> type[PipeOpTaskPreprocTorch]:
    a = spec.args
    key = a["id"]

    def init(
        self: PipeOpTaskPreprocTorch, id: str = key, param_vals: dict[str, Any] | None = None
    ) -> None:
        PipeOpTaskPreprocTorch.__init__(
            self,
            fn=a["fn"],
            id=id,
            param_vals=param_vals,
            param_set=a["param_set"],
            shapes_out=a["shapes_out"],
            rowwise=a["rowwise"],
            stages_init=a["stages_init"],
            tags=a["tags"],
            packages=a["packages"],
        )

    fn_doc = (inspect.getdoc(a["fn"]) or "").strip()
    label = fn_doc.splitlines()[0] if fn_doc else f"Applies {spec.name} to lazy tensors."
    attrs: dict[str, Any] = {
        "__init__": init,
        "__doc__": (
            f"{label}\n\nA lazy tensor preprocessing operator (``{key}``, stages "
            f"``{a['stages_init']}`` by default); see PipeOpTaskPreprocTorch.\n"
        ),
        "__module__": spec.module,
        "__qualname__": spec.name,
        "__reduce_ex__": _reduce_ex,
        "_spec": spec,
        "predict_like_train": a["stages_init"] == "both",
    }
    if a["random"] is not None:
        attrs["random"] = a["random"]
    cls = type(spec.name, (PipeOpTaskPreprocTorch,), attrs)
    _CLASSES[spec.token] = cls
    return cls


def pipeop_preproc_torch(
    id: str,
    fn: Callable[..., Any],
    shapes_out: ShapesOut = None,
    param_set: ParamSet | None = None,
    rowwise: bool = False,
    stages_init: str | None = None,
    tags: Sequence[str] = (),
    packages: Sequence[str] = (),
    random: bool | None = None,
) -> type[PipeOpTaskPreprocTorch]:
    """Make a preprocessing operator class for lazy tensors from a tensor function.

    Parameters
    ----------
    id : str
        The default id (and usual registry key), e.g. ``"trafo_invert"``.
    fn : callable
        ``fn(x, **params) -> Tensor``; ``x`` is a batch (batch dimension first) unless
        ``rowwise``. It must not modify ``x`` in place. Use a module-level function so
        the operator pickles.
    shapes_out : None, "infer" or callable
        ``None``: the output shape is unknown. ``"infer"``: traced on ``meta`` tensors.
        A callable ``shapes_out(shape_in, **params)`` returns the output shape (or
        ``None``) for an input shape with a ``None`` batch dimension; ``shape_in`` may
        be ``None``.
    param_set : ParamSet, optional
        The parameters of ``fn`` (tag ``"train"``; give ``fn`` the same defaults).
        Default: an untyped parameter per argument of ``fn`` after the first.
    rowwise : bool, default False
        ``fn`` takes one row; results are stacked.
    stages_init : {"train", "predict", "both"}, optional
        Default ``"both"`` for ids starting with ``trafo_``, ``"train"`` for
        ``augment_``; required otherwise.
    tags : sequence of str
        Extra tags.
    packages : sequence of str
        Packages ``fn`` needs.
    random : bool, optional
        Whether ``fn`` draws random numbers (default: when it runs only at train
        time). A learner with ``tensor_dataset=True`` warns about random steps.

    Returns
    -------
    type
        A subclass of :class:`PipeOpTaskPreprocTorch` named ``PipeOpPreprocTorch<Id>``
        whose constructor takes ``id`` and ``param_vals``. Register it with
        ``torchweave.registry.pipeops.register(id, cls)``.

    Examples
    --------
    >>> import torch
    >>> from torchweave.lazy import pipeop_preproc_torch
    >>> def invert(x, top=1.0):
    ...     '''Inverts images: top - x.'''
    ...     return top - x
    >>> PipeOpTrafoInvert = pipeop_preproc_torch("trafo_invert", invert, shapes_out="infer")
    >>> op = PipeOpTrafoInvert()
    >>> op.id, op.param_set.values
    ('trafo_invert', {'stages': 'both'})
    """
    if not isinstance(id, str) or not id:
        raise InvalidParameterError(f"'id' must be a non-empty string. Got {id!r} instead.")
    stages_init = _check_definition(id, fn, shapes_out, stages_init)
    ps = param_set.clone() if param_set is not None else _infer_param_set(fn)
    caller = sys._getframe(1).f_globals.get("__name__", __name__)
    spec = _ClassSpec(
        token=uuid.uuid4().hex,
        name=f"PipeOpPreprocTorch{_camel(id)}",
        module=str(caller),
        args={
            "id": id,
            "fn": fn,
            "shapes_out": shapes_out,
            "param_set": ps,
            "rowwise": bool(rowwise),
            "stages_init": stages_init,
            "tags": tuple(tags),
            "packages": tuple(packages),
            "random": random,
        },
    )
    return _make_class(spec)


pipeops.register("preproc_torch", PipeOpTaskPreprocTorch)
