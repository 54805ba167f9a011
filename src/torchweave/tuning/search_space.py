"""Search spaces: ``tw.ps(...)`` and the space read from a learner's ``to_tune`` tokens.

A :class:`SearchSpace` holds parameter declarations (``p_int``, ``p_dbl``, ``p_fct``,
``p_lgl``) with finite bounds, optional per-parameter transformations (``trafo``),
log-scale sampling (``logscale``) and dependencies (``depends``: a parameter is only
active while another takes given values). It draws random configurations, builds grids
and asks Optuna trials for values; :meth:`SearchSpace.transform` turns a configuration
into the values a learner gets.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from torchweave.errors import InvalidParameterError
from torchweave.params.param import (
    Condition,
    Param,
    ParamDbl,
    ParamFct,
    ParamInt,
    ParamLgl,
    TuneToken,
)
from torchweave.tuning.tokens import InternalTuneToken, LevelsTuneToken, RangeTuneToken
from torchweave.utils.text import format_value, quote_list

__all__ = [
    "SearchSpace",
    "TokenSpace",
    "branch_conditions",
    "check_search_space",
    "ps",
    "space_from_learner",
]

Config = dict[str, Any]


class SearchSpace:
    """A set of parameters to tune, with transformations and dependencies.

    Parameters
    ----------
    params : mapping of str to Param
        The parameters by id (the learner's parameter ids). Numbers need finite
        bounds; factors and logicals are taken as they are.
    extra_trafo : callable, optional
        ``dict -> dict`` applied to the whole configuration after the per-parameter
        transformations (for values that depend on several parameters).

    Raises
    ------
    InvalidParameterError
        An untyped or unbounded parameter, log scale with a bound <= 0, or a
        dependency on an id that is not in the space, or a cycle of dependencies.
    """

    def __init__(
        self,
        params: Mapping[str, Param],
        extra_trafo: Callable[[Config], Config] | None = None,
    ) -> None:
        self.params: dict[str, Param] = dict(params)
        self.extra_trafo = extra_trafo
        for pid, param in self.params.items():
            problem = _domain_problem(param)
            if problem:
                raise InvalidParameterError(
                    f"The search space parameter '{pid}' must be {problem}. "
                    f"Got {type(param).__name__} {_bounds(param)} instead."
                )
            cond = param.depends
            if cond is not None and cond.on not in self.params:
                raise InvalidParameterError(
                    f"The search space parameter '{pid}' depends on '{cond.on}', which is not "
                    f"in the search space ({quote_list(self.params)})."
                )
        if extra_trafo is not None and not callable(extra_trafo):
            raise InvalidParameterError(
                f"'extra_trafo' must be callable. Got {format_value(extra_trafo)} instead."
            )
        self.order = self._topological_order()

    def _topological_order(self) -> list[str]:
        order: list[str] = []
        pending = list(self.params)
        while pending:
            ready = [
                pid
                for pid in pending
                if self.params[pid].depends is None or self.params[pid].depends.on in order  # type: ignore[union-attr]
            ]
            if not ready:
                raise InvalidParameterError(
                    f"The dependencies of the search space parameters {quote_list(pending)} "
                    "form a cycle."
                )
            order.extend(ready)
            pending = [pid for pid in pending if pid not in ready]
        return order

    @property
    def ids(self) -> list[str]:
        """The parameter ids."""
        return list(self.params)

    def __len__(self) -> int:
        return len(self.params)

    def __contains__(self, pid: object) -> bool:
        return pid in self.params

    # --- activity ---------------------------------------------------------------------
    def is_active(self, pid: str, config: Mapping[str, Any]) -> bool:
        """Whether ``pid`` is active given the (pre-transformation) values in ``config``."""
        cond = self.params[pid].depends
        return cond is None or (cond.on in config and cond.is_met(config[cond.on]))

    # --- sampling ---------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Config:
        """One random configuration (inactive parameters left out).

        Numbers are uniform between the bounds (log-uniform with ``logscale``),
        factors and logicals uniform over their levels.
        """
        config: Config = {}
        for pid in self.order:
            if self.is_active(pid, config):
                config[pid] = _draw(self.params[pid], rng)
        return config

    def grid(
        self, resolution: int, param_resolutions: Mapping[str, int] | None = None
    ) -> list[Config]:
        """Every point of a grid (inactive parameters left out, duplicates dropped).

        Parameters
        ----------
        resolution : int
            Points per numeric parameter (evenly spaced; log-spaced with ``logscale``).
        param_resolutions : mapping of str to int, optional
            Per-parameter resolutions overriding ``resolution``.
        """
        per = dict(param_resolutions or {})
        unknown = [pid for pid in per if pid not in self.params]
        if unknown:
            raise InvalidParameterError(
                f"'param_resolutions' names {quote_list(unknown)}, which are not in the search "
                f"space ({quote_list(self.params)})."
            )
        axes = [_grid_axis(self.params[pid], per.get(pid, resolution)) for pid in self.order]
        seen: set[tuple[tuple[str, Any], ...]] = set()
        points: list[Config] = []
        for combo in itertools.product(*axes):
            config: Config = {}
            for pid, value in zip(self.order, combo, strict=True):
                if self.is_active(pid, config):
                    config[pid] = value
            key = tuple(sorted(config.items(), key=lambda kv: kv[0]))
            if key not in seen:
                seen.add(key)
                points.append({pid: config[pid] for pid in self.ids if pid in config})
        return points

    def suggest(self, trial: Any) -> Config:
        """Ask an Optuna trial for a configuration (define-by-run; inactive ones left out)."""
        config: Config = {}
        for pid in self.order:
            if not self.is_active(pid, config):
                continue
            param = self.params[pid]
            if isinstance(param, ParamInt):
                lo, hi = int(param.lower_bound), int(param.upper_bound)  # type: ignore[arg-type]
                config[pid] = trial.suggest_int(pid, lo, hi, log=param.logscale)
            elif isinstance(param, ParamDbl):
                lo_f, hi_f = float(param.lower_bound), float(param.upper_bound)  # type: ignore[arg-type]
                config[pid] = trial.suggest_float(pid, lo_f, hi_f, log=param.logscale)
            else:
                levels = list(param.levels or ())
                # Optuna stores categorical choices of str/int/float/bool/None only:
                # ask for the level's index and map it back.
                if all(v is None or isinstance(v, str | int | float | bool) for v in levels):
                    config[pid] = trial.suggest_categorical(pid, levels)
                else:
                    index = trial.suggest_categorical(pid, list(range(len(levels))))
                    config[pid] = levels[index]
        return config

    # --- transformation ----------------------------------------------------------------
    def transform(self, config: Mapping[str, Any]) -> Config:
        """The learner values of a configuration: per-parameter ``trafo``, then ``extra_trafo``."""
        out: Config = {}
        for pid, value in config.items():
            trafo = self.params[pid].trafo
            out[pid] = trafo(value) if trafo is not None else value
        if self.extra_trafo is not None:
            out = dict(self.extra_trafo(dict(out)))
        return out

    def __repr__(self) -> str:
        lines = [f"<SearchSpace> of {len(self.params)} parameter(s)"]
        for pid, p in self.params.items():
            extras = []
            if p.logscale:
                extras.append("logscale")
            if p.trafo is not None:
                extras.append("trafo")
            if p.depends is not None:
                extras.append(f"depends on {p.depends}")
            lines.append(
                f"* {pid}: {p.kind} {_bounds(p)}{' (' + ', '.join(extras) + ')' if extras else ''}"
            )
        return "\n".join(lines)


def _bounds(param: Param) -> str:
    if isinstance(param, ParamInt | ParamDbl):
        return f"[{param.lower}, {param.upper}]"
    if param.levels is not None:
        return "{" + quote_list(param.levels) + "}"
    return ""


def _domain_problem(param: Param) -> str | None:
    if isinstance(param, ParamInt | ParamDbl):
        lo, hi = param.lower, param.upper
        if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            return "a p_int or p_dbl with finite bounds"
        if param.logscale and lo <= 0:
            return "a parameter with a lower bound > 0 (logscale=True)"
        return None
    if isinstance(param, ParamFct):
        return None if param.levels else "a p_fct with at least one level"
    if isinstance(param, ParamLgl):
        return None
    return "a p_int, p_dbl, p_fct or p_lgl"


def _draw(param: Param, rng: np.random.Generator) -> Any:
    if isinstance(param, ParamInt):
        lo, hi = int(param.lower_bound), int(param.upper_bound)  # type: ignore[arg-type]
        if param.logscale:
            value = math.exp(rng.uniform(math.log(lo), math.log(hi + 1)))
            return min(hi, max(lo, math.floor(value)))
        return int(rng.integers(lo, hi + 1))
    if isinstance(param, ParamDbl):
        lo_f, hi_f = float(param.lower_bound), float(param.upper_bound)  # type: ignore[arg-type]
        if param.logscale:
            return float(math.exp(rng.uniform(math.log(lo_f), math.log(hi_f))))
        return float(rng.uniform(lo_f, hi_f))
    levels = list(param.levels or ())
    return levels[int(rng.integers(len(levels)))]


def _grid_axis(param: Param, resolution: int) -> list[Any]:
    if isinstance(param, ParamInt | ParamDbl):
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
            raise InvalidParameterError(
                f"The grid 'resolution' must be an integer >= 1. Got {format_value(resolution)} "
                "instead."
            )
        lo, hi = float(param.lower), float(param.upper)  # type: ignore[arg-type]
        points = (
            np.geomspace(lo, hi, resolution) if param.logscale else np.linspace(lo, hi, resolution)
        )
        if isinstance(param, ParamInt):
            return sorted({round(p) for p in points})
        return [float(p) for p in points]
    return list(param.levels or ())


def ps(extra_trafo: Callable[[Config], Config] | None = None, **params: Param) -> SearchSpace:
    """A search space from parameter declarations (paradox's ``ps()``).

    Parameters
    ----------
    extra_trafo : callable, optional
        ``dict -> dict`` applied to each configuration after the per-parameter
        transformations.
    **params : Param
        The parameters by id; use a dict for ids with dots:
        ``tw.ps(**{"torch_optimizer.lr": tw.p_dbl(1e-4, 1e-1, logscale=True)})``.

    Returns
    -------
    SearchSpace

    Examples
    --------
    >>> import torchweave as tw
    >>> space = tw.ps(
    ...     units=tw.p_int(2, 6, trafo=lambda x: 2**x),
    ...     act=tw.p_fct(["relu", "tanh"]),
    ...     slope=tw.p_dbl(0.01, 0.3, depends=("act", "relu")),
    ... )
    >>> space.transform({"units": 3, "act": "tanh"})
    {'units': 8, 'act': 'tanh'}
    """
    return SearchSpace(params, extra_trafo=extra_trafo)


class TokenSpace:
    """What a learner's ``to_tune`` tokens say: the space, internal tokens, fill-ins.

    Attributes
    ----------
    space : SearchSpace
        The tuned parameters (tokens set to ranges or levels).
    internal : dict of str to InternalTuneToken
        The parameters the learner tunes itself.
    inactive_values : dict
        A valid value for each token parameter, set while it is inactive.
    fixed_inactive : list of str
        Token parameters that can never be active (in a branch that is not selected).
    """

    def __init__(
        self,
        space: SearchSpace,
        internal: dict[str, InternalTuneToken],
        inactive_values: dict[str, Any],
        fixed_inactive: list[str],
    ) -> None:
        self.space = space
        self.internal = internal
        self.inactive_values = inactive_values
        self.fixed_inactive = fixed_inactive


def space_from_learner(learner: Any) -> TokenSpace:
    """Read the ``to_tune`` tokens of a learner's ParamSet.

    In a graph learner, a token on a parameter of an operator that only runs for some
    options of a ``po("branch")`` depends on ``"<branch id>.selection"`` (when that is
    tuned too), or is dropped when the fixed selection never runs the operator.

    Parameters
    ----------
    learner : Learner
        Any learner (a graph learner included).
    """
    param_set = learner.param_set
    declared = param_set.params
    values = param_set.values
    tokens = {pid: v for pid, v in values.items() if isinstance(v, TuneToken)}
    internal = {pid: t for pid, t in tokens.items() if isinstance(t, InternalTuneToken)}
    conditions = branch_conditions(learner)
    params: dict[str, Param] = {}
    inactive: dict[str, Any] = {}
    never: list[str] = []
    for pid, token in tokens.items():
        if isinstance(token, InternalTuneToken):
            continue
        if not isinstance(token, RangeTuneToken | LevelsTuneToken):
            raise InvalidParameterError(
                f"The parameter '{pid}' holds {format_value(token)}, a tune token of unknown kind."
            )
        inactive[pid] = token.inactive_value(declared[pid])
        domain = token.domain(declared[pid])
        cond = conditions.get(pid)
        if cond is not None:
            selection = values.get(cond.on)
            if isinstance(selection, TuneToken):
                domain.depends = cond
            elif not cond.is_met(selection):
                never.append(pid)
                continue
        params[pid] = domain
    # A dependency on a selection that is not itself in the space cannot be met.
    for pid, domain in list(params.items()):
        if domain.depends is not None and domain.depends.on not in params:
            never.append(pid)
            del params[pid]
    return TokenSpace(SearchSpace(params), internal, inactive, never)


def branch_conditions(learner: Any) -> dict[str, Condition]:
    """Per parameter id of a graph learner: the branch option(s) under which it runs.

    An operator reachable from some, but not all, outputs of a ``po("branch")`` runs
    only for those options; its parameters get ``Condition("<branch>.selection",
    options)``. With nested branches the innermost branch decides.
    """
    from torchweave.pipelines.ops.branch import PipeOpBranch

    graph = getattr(learner, "graph", None)
    if graph is None:
        return {}
    ops = graph.pipeops
    edges = graph.edge_records()
    op_condition: dict[str, Condition] = {}
    for branch_id in graph.ids():  # topological: inner branches come later and win
        branch = ops[branch_id]
        if not isinstance(branch, PipeOpBranch):
            continue
        reach: dict[Any, set[str]] = {}
        for option, channel in zip(branch.options, branch.output, strict=True):
            starts = [
                e.dst_id for e in edges if e.src_id == branch_id and e.src_channel == channel.name
            ]
            reach[option] = {op_id for op_id in ops if any(graph.reaches(s, op_id) for s in starts)}
        for op_id in ops:
            options = [opt for opt, members in reach.items() if op_id in members]
            if options and len(options) < len(reach):
                op_condition[op_id] = Condition(f"{branch_id}.selection", tuple(options))
    out: dict[str, Condition] = {}
    for op_id, cond in op_condition.items():
        for pid in ops[op_id].param_set.ids():
            out[f"{op_id}.{pid}"] = cond
    return out


def check_search_space(space: SearchSpace, learner: Any) -> None:
    """Raise if a search space names a parameter the learner lacks, or a value is invalid."""
    declared = learner.param_set.params
    unknown = [pid for pid in space.ids if pid not in declared]
    if unknown:
        raise InvalidParameterError(
            f"The search space names {quote_list(unknown)}, which are not parameters of "
            f"learner '{learner.id}'."
        )
