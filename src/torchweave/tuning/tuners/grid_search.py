"""``tnr("grid_search", resolution=...)``: the points of a grid, in random order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from torchweave.errors import InvalidParameterError
from torchweave.registry import tuners
from torchweave.tuning.tuners.base import Tuner
from torchweave.utils.text import format_value

if TYPE_CHECKING:
    from torchweave.tuning.instance import TuningInstance

__all__ = ["TunerGridSearch"]


class TunerGridSearch(Tuner):
    """Grid search: every grid point once (shuffled, as in mlr3tuning), then it stops.

    Numbers get ``resolution`` evenly spaced points (log-spaced with ``logscale``;
    integers rounded, duplicates dropped), factors and logicals all their levels.
    Inactive parameters are left out, so dependent parameters do not multiply the grid.

    Parameters
    ----------
    resolution : int, default 10
        Points per numeric parameter.
    param_resolutions : mapping of str to int, optional
        Per-parameter resolutions.
    shuffle : bool, default True
        Evaluate the points in random order (seeded by the run).
    batch_size : int or None, default None
        Configurations per batch (``None``: ``n_jobs``).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.tnr("grid_search", resolution=5).resolution
    5
    """

    id = "grid_search"

    def __init__(
        self,
        resolution: int = 10,
        param_resolutions: Mapping[str, int] | None = None,
        shuffle: bool = True,
        batch_size: int | None = None,
    ) -> None:
        super().__init__(batch_size)
        if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1:
            raise InvalidParameterError(
                f"The 'resolution' parameter of tuner '{self.id}' must be an integer >= 1. "
                f"Got {format_value(resolution)} instead."
            )
        self.resolution = resolution
        self.param_resolutions = dict(param_resolutions or {})
        self.shuffle = bool(shuffle)
        self._points: list[dict[str, Any]] = []

    def _start(self, instance: TuningInstance) -> None:
        points = instance.search_space.grid(self.resolution, self.param_resolutions)
        if self.shuffle:
            order = instance.rng.permutation(len(points))
            points = [points[i] for i in order]
        self._points = points

    def _ask(self, instance: TuningInstance, n: int) -> list[dict[str, Any]]:
        batch, self._points = self._points[:n], self._points[n:]
        return batch


tuners.register("grid_search", TunerGridSearch)
