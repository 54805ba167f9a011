"""``tnr("random_search")``: configurations drawn uniformly from the search space."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from torchweave.registry import tuners
from torchweave.tuning.tuners.base import Tuner

if TYPE_CHECKING:
    from torchweave.tuning.instance import TuningInstance

__all__ = ["TunerRandomSearch"]


class TunerRandomSearch(Tuner):
    """Random search: each configuration drawn independently (log-uniform with logscale).

    The draws come from the run's seed only, so the configurations do not depend on
    ``n_jobs`` or the batch size.

    Parameters
    ----------
    batch_size : int or None, default None
        Configurations per batch (``None``: ``n_jobs``).

    Examples
    --------
    >>> import torchweave as tw
    >>> tw.tnr("random_search")
    <TunerRandomSearch:random_search>
    """

    id = "random_search"

    def _ask(self, instance: TuningInstance, n: int) -> list[dict[str, Any]]:
        return [instance.search_space.sample(instance.rng) for _ in range(n)]


tuners.register("random_search", TunerRandomSearch)
