"""The Tuner base: propose configurations in batches until the terminator says stop."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from torchweave.errors import InvalidParameterError
from torchweave.utils.text import format_value

if TYPE_CHECKING:
    from torchweave.tuning.evaluation import EvalRecord
    from torchweave.tuning.instance import TuningInstance

__all__ = ["Tuner"]


class Tuner(abc.ABC):
    """Abstract base of the tuners.

    ``optimize(instance)`` asks :meth:`_ask` for up to ``instance.remaining()``
    configurations, has the instance evaluate them as one batch, hands the records
    to :meth:`_tell`, and repeats until the terminator stops it or the tuner has
    nothing left to propose.

    Parameters
    ----------
    batch_size : int or None, default None
        Configurations per batch; ``None`` uses the number of joblib workers of the
        run (``n_jobs``), so that a batch keeps every worker busy.
    """

    id: str = ""

    def __init__(self, batch_size: int | None = None) -> None:
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1
        ):
            raise InvalidParameterError(
                f"The 'batch_size' parameter of tuner '{self.id}' must be an integer >= 1 or "
                f"None. Got {format_value(batch_size)} instead."
            )
        self.batch_size = batch_size

    def _start(self, instance: TuningInstance) -> None:  # noqa: B027
        """Prepare a run (called once by :meth:`optimize`)."""

    @abc.abstractmethod
    def _ask(self, instance: TuningInstance, n: int) -> list[dict[str, Any]]:
        """Up to ``n`` configurations to evaluate next (``[]``: nothing left)."""

    def _trials(self) -> list[Any] | None:
        """The Optuna trials of the last :meth:`_ask` (pruning), or None."""
        return None

    def _tell(self, instance: TuningInstance, records: list[EvalRecord]) -> None:  # noqa: B027
        """Learn from the records of the last batch (default: nothing)."""

    def optimize(self, instance: TuningInstance) -> TuningInstance:
        """Run the tuning loop on ``instance``; returns it."""
        self._start(instance)
        while not instance.is_terminated:
            n = instance.remaining()
            if n <= 0:
                break
            configs = self._ask(instance, n)
            if not configs:
                break
            records = instance.eval_batch(configs, trials=self._trials())
            self._tell(instance, records)
        return instance

    def __repr__(self) -> str:
        return f"<{type(self).__name__}:{self.id}>"
