"""``po("learner", learner)``: a learner as a graph operator."""

from __future__ import annotations

from typing import Any

from torchweave.data.prediction import Prediction
from torchweave.data.task import Task
from torchweave.learners.convert import as_learner
from torchweave.learners.learner import Learner
from torchweave.pipelines.pipeop import Channel, PipeOp
from torchweave.registry import pipeops

__all__ = ["PipeOpLearner"]


class PipeOpLearner(PipeOp):
    """Wraps a Learner: trains it on the incoming task and predicts with it.

    Input and output channels
    -------------------------
    input : Task at train and predict.
    output : nothing (``None``) at train; a Prediction at predict.

    State
    -----
    The trained learner (a clone of ``learner``), so ``graph.state[id].model`` is the
    fitted model.

    Parameters
    ----------
    The learner's own parameters; they are shared with ``learner.param_set``.

    Examples
    --------
    >>> import torchweave as tw
    >>> op = tw.po("learner", tw.lrn("classif.featureless"))
    >>> op.id
    'classif.featureless'
    """

    def __init__(
        self, learner: Any, id: str | None = None, param_vals: dict[str, Any] | None = None
    ) -> None:
        self.learner: Learner = as_learner(learner, clone=True)
        super().__init__(
            id or self.learner.id,
            param_set=self.learner.param_set,
            param_vals=param_vals,
            input=[Channel("input", Task, Task)],
            output=[Channel("output", None, Prediction)],
            tags=("learner",),
        )
        self.learner.param_set.owner = f"PipeOp '{self.id}'"

    @property
    def learner_model(self) -> Learner:
        """The trained learner (or the untrained one before training)."""
        return self.state if isinstance(self.state, Learner) else self.learner

    def _train(self, inputs: list[Any]) -> list[Any]:
        trained = self.learner.clone()
        trained.train(inputs[0])
        self.state = trained
        return [None]

    def _predict(self, inputs: list[Any]) -> list[Any]:
        return [self.state.predict(inputs[0])]


pipeops.register("learner", PipeOpLearner)
