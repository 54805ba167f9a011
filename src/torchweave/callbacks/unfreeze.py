"""``t_clbk("unfreeze")``: train some weights first and unfreeze others later."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from torchweave.callbacks.callback_set import CallbackSet
from torchweave.callbacks.descriptor import TorchCallback
from torchweave.callbacks.select import _SELECT_EXPECTED, Select, is_select
from torchweave.errors import InvalidParameterError, InvalidTypeError
from torchweave.params.param import p_uty
from torchweave.params.param_set import ParamSet
from torchweave.registry import callbacks
from torchweave.utils.text import format_value

__all__ = ["CallbackSetUnfreeze"]

_UNFREEZE_EXPECTED = (
    "a DataFrame (or a list of dicts) with a column 'weights' of Select objects and exactly "
    "one of the columns 'epoch' or 'batch' of unique integers >= 0"
)


def _table_problem(x: Any) -> str | None:
    """What is wrong with an ``unfreeze`` table, or None."""
    try:
        _as_table(x)
    except (InvalidParameterError, InvalidTypeError) as exc:
        return f"{_UNFREEZE_EXPECTED} ({exc})"
    return None


def _as_table(x: Any) -> tuple[str | None, pd.DataFrame]:
    """The unit (``"epoch"``, ``"batch"`` or None when empty) and the rules as a DataFrame."""
    if isinstance(x, list | tuple):
        if not all(isinstance(row, Mapping) for row in x):
            raise InvalidTypeError("every row of the list must be a dict")
        frame = pd.DataFrame([dict(row) for row in x])
    elif isinstance(x, pd.DataFrame):
        frame = x
    else:
        raise InvalidTypeError(f"got {type(x).__name__}")
    if len(frame.columns) == 0 and len(frame) == 0:
        return None, pd.DataFrame({"weights": pd.Series([], dtype=object)})
    units = [c for c in ("epoch", "batch") if c in frame.columns]
    other = [str(c) for c in frame.columns if c not in ("weights", "epoch", "batch")]
    if "weights" not in frame.columns or len(units) != 1 or other:
        raise InvalidParameterError(f"got the columns {[str(c) for c in frame.columns]}")
    unit = units[0]
    values = list(frame[unit])
    if not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) >= 0 for v in values
    ):
        raise InvalidParameterError(f"got the {unit} values {format_value(values)}")
    if len(set(values)) != len(values):
        raise InvalidParameterError(f"the {unit} values {format_value(values)} are not unique")
    bad = [w for w in frame["weights"] if not isinstance(w, Select)]
    if bad:
        raise InvalidTypeError(f"a weights cell holds {format_value(bad[0])}")
    rules = pd.DataFrame({"weights": list(frame["weights"]), unit: [int(v) for v in values]})
    return unit, rules


class CallbackSetUnfreeze(CallbackSet):
    """Freezes all weights but a selection, and unfreezes more at given epochs or batches.

    ``on_begin`` makes the parameters that ``starting_weights`` selects (among the
    network's ``named_parameters()`` names) trainable and freezes all others
    (``requires_grad``). Each rule of ``unfreeze`` then makes the parameters its
    ``weights`` selector picks trainable: in epoch mode at the start of that epoch
    (``on_epoch_begin``; epochs count from 1), in batch mode before that batch
    (``on_batch_begin``; batches count from 1 across epochs, like ``ctx.global_step``).
    Rules at 0, or at epochs / batches a resumed run has already done, apply in
    ``on_begin``. Frozen parameters get no gradient, so the optimizer leaves them as
    they are (also with weight decay). A selector that selects nothing warns.

    Parameters
    ----------
    starting_weights : Select
        The parameters to train from the start, e.g. ``select_grep("^2[.]")``.
    unfreeze : DataFrame or list of dict
        Column ``weights`` (a :class:`~torchweave.callbacks.select.Select` per row) and
        exactly one of ``epoch`` or ``batch`` (unique integers >= 0). May be empty.

    State
    -----
    ``{"trainable": [names]}``: the parameters trainable at the end. A loaded state
    (resuming) makes them trainable again in ``on_begin``.

    Examples
    --------
    >>> from torch import nn
    >>> from types import SimpleNamespace
    >>> from torchweave.callbacks.select import select_grep, select_all
    >>> from torchweave.callbacks.unfreeze import CallbackSetUnfreeze
    >>> cb = CallbackSetUnfreeze(select_grep("^1[.]"), [{"weights": select_all(), "epoch": 2}])
    >>> cb.ctx = SimpleNamespace(network=nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1)), epoch=0)
    >>> cb.on_begin()
    >>> cb.state_dict()
    {'trainable': ['1.weight', '1.bias']}
    >>> cb.ctx.epoch = 2
    >>> cb.on_epoch_begin()
    >>> cb.state_dict()["trainable"]
    ['0.weight', '0.bias', '1.weight', '1.bias']
    """

    def __init__(self, starting_weights: Select, unfreeze: Any) -> None:
        super().__init__()
        if not isinstance(starting_weights, Select):
            raise InvalidTypeError(
                f"The 'starting_weights' parameter of callback 'unfreeze' must be "
                f"{_SELECT_EXPECTED}. Got {format_value(starting_weights)} instead."
            )
        problem = _table_problem(unfreeze)
        if problem is not None:
            raise InvalidParameterError(
                f"The 'unfreeze' parameter of callback 'unfreeze' must be {problem}."
            )
        self.starting_weights = starting_weights
        self.unit, self.rules = _as_table(unfreeze)
        self._by_step: dict[int, list[Select]] = {}
        if self.unit is not None:
            for select, step in zip(self.rules["weights"], self.rules[self.unit], strict=True):
                self._by_step.setdefault(int(step), []).append(select)
        self._trainable: list[str] | None = None
        self._loaded: list[str] | None = None
        # The loop calls only callable stages: keep just the one the rules need.
        if self.unit != "epoch":
            setattr(self, "on_epoch_begin", None)  # noqa: B010
        if self.unit != "batch":
            setattr(self, "on_batch_begin", None)  # noqa: B010

    def _select(self, select: Select, names: list[str], what: str) -> list[str]:
        chosen = select(names)
        if not chosen:
            warnings.warn(
                f"The {what} selector {select!r} of callback 'unfreeze' selects none of the "
                f"network's parameters ({format_value(names, 60)}).",
                UserWarning,
                stacklevel=3,
            )
        return chosen

    def _set_trainable(self, names: Sequence[str]) -> None:
        assert self.ctx is not None
        wanted = set(names)
        for name, param in self.ctx.network.named_parameters():
            if name in wanted:
                param.requires_grad_(True)
        self._record()

    def _record(self) -> None:
        assert self.ctx is not None
        self._trainable = [n for n, p in self.ctx.network.named_parameters() if p.requires_grad]

    def _apply_rules(self, step: int) -> None:
        assert self.ctx is not None
        names = [n for n, _ in self.ctx.network.named_parameters()]
        for select in self._by_step.get(step, []):
            self._set_trainable(self._select(select, names, f"'{self.unit}' {step}"))

    def on_begin(self) -> None:
        """Freeze all but the starting weights; re-apply rules already due and a loaded state."""
        assert self.ctx is not None
        names = [n for n, _ in self.ctx.network.named_parameters()]
        start = set(self._select(self.starting_weights, names, "starting_weights"))
        for name, param in self.ctx.network.named_parameters():
            param.requires_grad_(name in start)
        done = self.ctx.epoch if self.unit == "epoch" else getattr(self.ctx, "global_step", 0)
        for step in sorted(s for s in self._by_step if s <= done):
            self._apply_rules(step)
        if self._loaded is not None:
            self._set_trainable(self._loaded)
        self._record()

    def on_epoch_begin(self) -> None:
        """Unfreeze what the rules of this epoch select (epoch mode)."""
        assert self.ctx is not None
        if self.ctx.epoch in self._by_step:
            self._apply_rules(self.ctx.epoch)

    def on_batch_begin(self) -> None:
        """Unfreeze what the rules of this global step select (batch mode)."""
        assert self.ctx is not None
        if self.ctx.global_step in self._by_step:
            self._apply_rules(self.ctx.global_step)

    def state_dict(self) -> dict[str, list[str]] | None:
        """``{"trainable": [names]}`` (None before training, unless a state was loaded)."""
        trainable = self._trainable if self._trainable is not None else self._loaded
        return None if trainable is None else {"trainable": list(trainable)}

    def load_state_dict(self, state_dict: Any) -> None:
        """Remember which parameters were trainable; ``on_begin`` unfreezes them again."""
        if state_dict is None:
            self._loaded = None
            return
        trainable = state_dict.get("trainable") if isinstance(state_dict, Mapping) else None
        if not isinstance(trainable, list | tuple) or not all(
            isinstance(n, str) for n in trainable
        ):
            raise InvalidTypeError(
                "The state of the unfreeze callback must be a dict {'trainable': [names]}. "
                f"Got {format_value(state_dict)} instead."
            )
        self._loaded = list(trainable)


def _unfreeze() -> TorchCallback:
    """Unfreeze: train selected weights first, unfreeze others at given epochs or batches."""
    ps = ParamSet(
        starting_weights=p_uty(
            custom_check=is_select,
            expected=_SELECT_EXPECTED,
            tags={"train", "required"},
            description="the parameters trainable from the start",
        ),
        unfreeze=p_uty(
            custom_check=_table_problem,
            expected=_UNFREEZE_EXPECTED,
            tags={"train", "required"},
            description="rules: a 'weights' Select and an 'epoch' or 'batch' per row",
        ),
    )
    return TorchCallback(CallbackSetUnfreeze, id="unfreeze", param_set=ps, label="Unfreeze")


_unfreeze.__name__ = CallbackSetUnfreeze.__name__
callbacks.register("unfreeze", _unfreeze, description="Unfreeze weights at given epochs or batches")
