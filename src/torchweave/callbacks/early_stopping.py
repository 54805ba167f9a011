"""Early stopping: added by the learner when ``patience > 0``."""

from __future__ import annotations

import math
from typing import Any, ClassVar

from torchweave.callbacks.callback_set import CallbackSet

__all__ = ["CallbackSetEarlyStopping"]


class CallbackSetEarlyStopping(CallbackSet):
    """Stops training when the first validation measure stagnates.

    Patience counts evaluations, not epochs. An improvement must exceed
    ``min_delta`` (an equal score is no improvement). With ``restore_best_weights``
    the network of the best evaluation is restored at the very end (after any
    checkpoint was written), and the context's last validation scores become that
    evaluation's, so that ``model.internal_valid_scores`` describe the returned network.
    The best epoch and all its scores are kept in ``model.best_epoch`` and
    ``model.best_scores``.

    Parameters
    ----------
    patience : int
        Evaluations without improvement before stopping (>= 1).
    min_delta : float
        The smallest change that counts as an improvement.
    restore_best_weights : bool
        Restore the weights of the best evaluation on exit.
    """

    weight: ClassVar[float] = 1000.0

    def __init__(self, patience: int, min_delta: float = 0.0, restore_best_weights: bool = False):
        super().__init__()
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best_weights = restore_best_weights
        self.stagnation = 0
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.best_scores: dict[str, float] | None = None
        self._best_weights: dict[str, Any] | None = None

    def _remember(self, score: float) -> None:
        """Keep the current epoch as the best: its score, scores and (maybe) weights."""
        assert self.ctx is not None
        self.best_score, self.best_epoch = score, self.ctx.epoch
        self.best_scores = dict(self.ctx.last_scores_valid or {})
        if self.restore_best_weights:
            self._best_weights = {
                k: v.detach().clone() for k, v in self.ctx.network.state_dict().items()
            }

    def on_valid_end(self) -> None:
        """Compare the first validation score with the best so far."""
        ctx = self.ctx
        assert ctx is not None
        if not ctx.last_scores_valid:
            return
        measure = ctx.measures_valid[0]
        score = ctx.last_scores_valid[measure.id]
        if self.best_score is None:
            self._remember(score)
            return
        improvement = (-1.0 if measure.minimize else 1.0) * (score - self.best_score)
        if math.isnan(improvement):
            return
        if improvement <= self.min_delta:
            self.stagnation += 1
            if self.stagnation >= self.patience:
                ctx.terminate = True
        else:
            self.stagnation = 0
            self._remember(score)

    def on_exit(self) -> None:
        """Restore the best weights and report their scores (if asked to)."""
        if self.restore_best_weights and self._best_weights is not None and self.ctx is not None:
            self.ctx.network.load_state_dict(self._best_weights)
            if self.best_scores is not None:
                self.ctx.last_scores_valid = dict(self.best_scores)

    def state_dict(self) -> dict[str, Any]:
        """The best epoch, its score (and all its scores), and the current stagnation."""
        measures = self.ctx.measures_valid if self.ctx is not None else []
        return {
            "best_epochs": self.best_epoch,
            "best_score": self.best_score,
            "best_scores": self.best_scores,
            "stagnation": self.stagnation,
            "measure": measures[0].id if measures else None,
        }

    def load_state_dict(self, state_dict: Any) -> None:
        """Continue counting from a saved state."""
        self.best_epoch = state_dict["best_epochs"]
        self.best_score = state_dict["best_score"]
        self.best_scores = state_dict.get("best_scores")  # absent in older checkpoints
        self.stagnation = state_dict["stagnation"]

    def checkpoint_state(self) -> dict[str, Any]:
        """The state, plus the best weights when they are to be restored at the end."""
        state = self.state_dict()
        if self.restore_best_weights and self._best_weights is not None:
            state["best_weights"] = self._best_weights
        return state

    def load_checkpoint_state(self, state: Any) -> None:
        """Continue from a checkpoint, with the best weights seen before it."""
        self.load_state_dict(state)
        self._best_weights = state.get("best_weights")
