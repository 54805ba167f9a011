"""ParamSet: a validated collection of hyperparameters (paradox in Python).

A ParamSet holds :class:`~torchweave.params.param.Param` declarations and the values
currently set. Every write is validated as a whole: if one value is invalid, nothing
changes. Errors name the parameter, the owner, what was expected and what was given.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterator, Mapping
from typing import Any

from torchweave.errors import InvalidParameterError
from torchweave.params.param import NO_DEFAULT, Param, TuneToken
from torchweave.utils.text import did_you_mean, format_value, quote_list

__all__ = ["ParamSet", "ParamSetCollection"]

#: Tag of parameters that must be set before training.
REQUIRED = "required"


def _tag_filter(tags: str | Collection[str] | None) -> frozenset[str] | None:
    if tags is None:
        return None
    return frozenset({tags}) if isinstance(tags, str) else frozenset(tags)


class ParamSet:
    """A set of typed parameters and their current values.

    Parameters
    ----------
    params : mapping of str to Param, optional
        The declarations, by id.
    owner : str, default "ParamSet"
        Name of the object that owns the set, used in error messages
        (a learner or operator id).
    **kwargs : Param
        More declarations, by id.

    Examples
    --------
    >>> from torchweave.params import ParamSet, p_int, p_fct
    >>> ps = ParamSet(epochs=p_int(0, tags="required"), method=p_fct(["a", "b"], init="a"))
    >>> ps.values
    {'method': 'a'}
    >>> ps.set_values(epochs=10).values
    {'method': 'a', 'epochs': 10}
    """

    #: Names that are deliberately not parameters, with the reason (a layer's inferred
    #: sizes); setting one is refused with the reason instead of a spelling hint.
    not_parameters: Mapping[str, str] = {}

    def __init__(
        self,
        params: Mapping[str, Param] | None = None,
        owner: str = "ParamSet",
        **kwargs: Param,
    ) -> None:
        self.owner = owner
        self._params: dict[str, Param] = {}
        self._values: dict[str, Any] = {}
        for pid, param in {**(params or {}), **kwargs}.items():
            self.add(pid, param)

    # --- declarations -----------------------------------------------------------------
    @property
    def params(self) -> Mapping[str, Param]:
        """The declarations by id (read-only view)."""
        return dict(self._params)

    def add(self, id: str, param: Param) -> ParamSet:
        """Declare a new parameter, setting its ``init`` value if it has one.

        Raises
        ------
        InvalidParameterError
            If the id exists already or the init value is invalid.
        """
        if not isinstance(param, Param):
            raise TypeError(
                f"Parameter '{id}' of {self.owner} must be declared with a Param "
                f"(p_int, p_dbl, p_fct, p_lgl, p_uty). Got {type(param).__name__} instead."
            )
        if id in self._params:
            raise InvalidParameterError(f"{self.owner} already has a parameter '{id}'.")
        if param.has_init:
            problem = param.check(param.init)
            if problem is not None:
                raise InvalidParameterError(self._message(id, problem, param.init))
        self._params[id] = param
        if param.has_init:
            self._values[id] = copy.copy(param.init)
        return self

    def ids(self, tags: str | Collection[str] | None = None) -> list[str]:
        """Parameter ids, optionally only those carrying every tag in ``tags``."""
        wanted = _tag_filter(tags)
        return [pid for pid, p in self._params.items() if wanted is None or wanted <= p.tags]

    @property
    def default(self) -> dict[str, Any]:
        """The documented defaults (behaviour when unset), by id."""
        return {pid: p.default for pid, p in self._params.items() if p.has_default}

    @property
    def tags(self) -> dict[str, frozenset[str]]:
        """The tags of each parameter."""
        return {pid: p.tags for pid, p in self._params.items()}

    def __contains__(self, id: object) -> bool:
        return id in self._params

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    # --- values -----------------------------------------------------------------------
    @property
    def values(self) -> dict[str, Any]:
        """A copy of the values currently set. Assigning replaces all of them."""
        return dict(self._values)

    @values.setter
    def values(self, new: Mapping[str, Any]) -> None:
        candidate = dict(new)
        self._validate(candidate, changed=candidate.keys())
        self._values = candidate

    def set_values(self, values: Mapping[str, Any] | None = None, /, **kwargs: Any) -> ParamSet:
        """Set some values; validates all of them and changes nothing if any fails.

        Parameters
        ----------
        values : mapping, optional
            Values by id (handy for ids with dots: ``{"opt.lr": 0.1}``).
        **kwargs
            More values by id.

        Returns
        -------
        ParamSet
            ``self``, for chaining.

        Raises
        ------
        InvalidParameterError
            For an unknown id, a value of the wrong type or outside its bounds, or a
            value whose dependency is not met.
        """
        updates = {**(values or {}), **kwargs}
        candidate = {**self._values, **updates}
        self._validate(candidate, changed=updates.keys())
        self._values = candidate
        return self

    def remove_values(self, *ids: str) -> ParamSet:
        """Unset parameters (they fall back to their documented default)."""
        for pid in ids:
            self._check_id(pid)
        for pid in ids:
            self._values.pop(pid, None)
        return self

    def get_values(
        self,
        tags: str | Collection[str] | None = None,
        check_required: bool = False,
    ) -> dict[str, Any]:
        """Values currently set, optionally only for parameters with every tag in ``tags``.

        Parameters
        ----------
        tags : str or collection of str, optional
            Keep only parameters carrying all of these tags.
        check_required : bool, default False
            Raise if a parameter tagged ``"required"`` (and selected by ``tags``) is unset.

        Raises
        ------
        InvalidParameterError
            If ``check_required`` and a required parameter is missing.
        """
        ids = self.ids(tags)
        if check_required:
            self.check_required(ids)
        return {pid: self._values[pid] for pid in ids if pid in self._values}

    def check_required(self, ids: Collection[str] | None = None) -> None:
        """Raise if a parameter tagged ``"required"`` has no value, or any holds a tune token.

        A value ``tw.to_tune(...)`` marks a parameter for tuning; only the tuner
        replaces it with a value, so training with one is refused here.
        """
        ids = self.ids() if ids is None else ids
        values = self._values
        tokens = [pid for pid in self.ids() if isinstance(values.get(pid), TuneToken)]
        if tokens:
            raise InvalidParameterError(
                f"The parameter(s) {quote_list(tokens)} of {self.owner} are set to "
                f"{format_value(values[tokens[0]])}, a tuning token: tune the learner with "
                "tw.tune() or tw.auto_tuner(), or set a value instead."
            )
        missing = [
            pid for pid in ids if REQUIRED in self._params[pid].tags and pid not in self._values
        ]
        if missing:
            raise InvalidParameterError(
                f"{self.owner} needs the required parameter(s) {quote_list(missing)}, "
                "which are not set. Set them with param_set.set_values(...)."
            )

    # --- validation -------------------------------------------------------------------
    def check(self, id: str, value: Any) -> str | None:
        """Return the full error message for setting ``id`` to ``value``, or ``None``."""
        if id not in self._params:
            return self._unknown_message(id)
        if isinstance(value, TuneToken):
            problem = value.check_param(self._params[id])
            return None if problem is None else self._message(id, problem, value)
        problem = self._params[id].check(value)
        return None if problem is None else self._message(id, problem, value)

    def _check_id(self, id: str) -> None:
        if id not in self._params:
            raise InvalidParameterError(self._unknown_message(id))

    def _unknown_message(self, id: str) -> str:
        explained = self._explained(id)
        if explained is not None:
            return explained
        return f"'{id}' is not a parameter of {self.owner}.{did_you_mean(id, self._params)}"

    def _explained(self, id: str) -> str | None:
        """The message for a name listed in :attr:`not_parameters`, else None."""
        if id not in self.not_parameters:
            return None
        return f"'{id}' is not a parameter of {self.owner}: {self.not_parameters[id]}"

    def _message(self, id: str, problem: str, value: Any) -> str:
        return (
            f"The '{id}' parameter of {self.owner} must be {problem}. "
            f"Got {format_value(value)} instead."
        )

    def _validate(self, candidate: Mapping[str, Any], changed: Collection[str]) -> None:
        problems: list[str] = []
        for pid in changed:
            message = self.check(pid, candidate[pid])
            if message is not None:
                problems.append(message)
        if not problems:
            problems.extend(self._dependency_problems(candidate))
        if problems:
            raise InvalidParameterError(" ".join(problems))

    def _dependency_problems(self, candidate: Mapping[str, Any]) -> list[str]:
        problems = []
        for pid, value in candidate.items():
            cond = self._params[pid].depends
            if cond is None or value is NO_DEFAULT:
                continue
            parent = self._params.get(cond.on)
            parent_value = candidate.get(
                cond.on, parent.default if parent is not None else NO_DEFAULT
            )
            if isinstance(parent_value, TuneToken) or isinstance(value, TuneToken):
                continue  # tuning sets or drops the value per configuration
            if not cond.is_met(parent_value):
                problems.append(
                    f"The '{pid}' parameter of {self.owner} can only be set when {cond}. "
                    f"Got '{cond.on}' = {format_value(parent_value)} instead."
                )
        return problems

    # --- misc -------------------------------------------------------------------------
    def clone(self) -> ParamSet:
        """A deep copy: declarations and values are independent of this one."""
        return copy.deepcopy(self)

    def table(self) -> Any:
        """A pandas DataFrame describing each parameter (kind, bounds, default, value, tags)."""
        import pandas as pd

        rows = []
        for pid, p in self._params.items():
            rows.append(
                {
                    "id": pid,
                    "kind": p.kind,
                    "lower": p.lower,
                    "upper": p.upper,
                    "levels": p.levels,
                    "default": p.default if p.has_default else None,
                    "value": self._values.get(pid),
                    "tags": sorted(p.tags),
                }
            )
        return pd.DataFrame(rows, columns=list(rows[0]) if rows else ["id"])

    def __repr__(self) -> str:
        return f"<ParamSet of {self.owner}: {len(self._params)} params, values={self._values!r}>"


SetsLike = Mapping[str, ParamSet] | Callable[[], Mapping[str, ParamSet]]


class ParamSetCollection(ParamSet):
    """A view over several ParamSets under prefixes: ``"<prefix>.<param>"``.

    Reads and writes go through to the member sets, so a collection never goes stale.
    The prefix ``""`` exposes a member's parameters without a prefix.

    Parameters
    ----------
    sets : mapping of str to ParamSet, or a callable returning one
        The members by prefix. A callable is evaluated on every access, so members
        added later (a Graph's new PipeOps) show up.
    owner : str, default "ParamSetCollection"
        Name used in error messages.
    """

    def __init__(self, sets: SetsLike, owner: str = "ParamSetCollection") -> None:
        self.owner = owner
        self._sets_source = sets

    # Members and the id mapping are derived on every call: no cached state to go stale.
    def _sets(self) -> Mapping[str, ParamSet]:
        source = self._sets_source
        return source() if callable(source) else source

    def _resolve(self) -> dict[str, tuple[ParamSet, str]]:
        mapping: dict[str, tuple[ParamSet, str]] = {}
        for prefix, member in self._sets().items():
            for pid in member.ids():
                full = f"{prefix}.{pid}" if prefix else pid
                mapping[full] = (member, pid)
        return mapping

    @property
    def sets(self) -> dict[str, ParamSet]:
        """The member sets by prefix."""
        return dict(self._sets())

    @property
    def _params(self) -> dict[str, Param]:  # type: ignore[override]
        return {full: m.params[pid] for full, (m, pid) in self._resolve().items()}

    @property
    def _values(self) -> dict[str, Any]:  # type: ignore[override]
        out = {}
        for full, (member, pid) in self._resolve().items():
            member_values = member._values
            if pid in member_values:
                out[full] = member_values[pid]
        return out

    def add(self, id: str, param: Param) -> ParamSet:  # noqa: D102
        raise InvalidParameterError(
            f"Parameters cannot be added to the collection {self.owner}; "
            "add them to the member ParamSet instead."
        )

    @property
    def values(self) -> dict[str, Any]:
        """A copy of the values of all members, with prefixed ids."""
        return self._values

    @values.setter
    def values(self, new: Mapping[str, Any]) -> None:
        mapping = self._resolve()
        self._raise_unknown(new, mapping)
        grouped = self._group(new, mapping)
        members = {id(m): m for m, _ in mapping.values()}
        problems = []
        for key, member in members.items():
            member_new = grouped.get(key, (member, {}))[1]
            try:
                member._validate(member_new, changed=member_new.keys())
            except InvalidParameterError as exc:
                problems.append(str(exc))
        if problems:
            raise InvalidParameterError(" ".join(problems))
        for key, member in members.items():
            member.values = grouped.get(key, (member, {}))[1]

    def _explained(self, id: str) -> str | None:
        for prefix, member in self._sets().items():
            if prefix and not id.startswith(f"{prefix}."):
                continue
            explained = member._explained(id[len(prefix) + 1 :] if prefix else id)
            if explained is not None:
                return explained
        return None

    def _raise_unknown(self, ids: Collection[str], mapping: Mapping[str, Any]) -> None:
        unknown = [full for full in ids if full not in mapping]
        if unknown:
            raise InvalidParameterError(" ".join(self._unknown_message(u) for u in unknown))

    def _group(
        self, updates: Mapping[str, Any], mapping: Mapping[str, tuple[ParamSet, str]]
    ) -> dict[int, tuple[ParamSet, dict[str, Any]]]:
        grouped: dict[int, tuple[ParamSet, dict[str, Any]]] = {}
        for full, value in updates.items():
            member, pid = mapping[full]
            grouped.setdefault(id(member), (member, {}))[1][pid] = value
        return grouped

    def set_values(self, values: Mapping[str, Any] | None = None, /, **kwargs: Any) -> ParamSet:
        """Set values by prefixed id; validates every member first, then writes through."""
        updates = {**(values or {}), **kwargs}
        mapping = self._resolve()
        self._raise_unknown(updates, mapping)
        grouped = self._group(updates, mapping)
        problems = []
        for member, member_updates in grouped.values():
            try:
                member._validate(
                    {**member._values, **member_updates}, changed=member_updates.keys()
                )
            except InvalidParameterError as exc:
                problems.append(str(exc))
        if problems:
            raise InvalidParameterError(" ".join(problems))
        for member, member_updates in grouped.values():
            member.set_values(member_updates)
        return self

    def remove_values(self, *ids: str) -> ParamSet:  # noqa: D102
        mapping = self._resolve()
        self._raise_unknown(ids, mapping)
        for full in ids:
            member, pid = mapping[full]
            member.remove_values(pid)
        return self

    def clone(self) -> ParamSet:
        """A standalone ParamSet with copies of all declarations and values."""
        flat = ParamSet(owner=self.owner)
        flat._params = copy.deepcopy(self._params)
        flat._values = copy.deepcopy(self._values)
        return flat

    def __repr__(self) -> str:
        return (
            f"<ParamSetCollection of {self.owner}: {len(self._params)} params "
            f"from {len(self._sets())} sets>"
        )
