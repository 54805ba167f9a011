"""GraphLearner: a Graph that ends in a learner operator, used as one Learner.

Its ``param_set`` is the graph's flat ``"<op id>.<param>"`` collection, its task type
and predict types come from the learner operator at the end of the graph, and its
``model`` holds the trained graph's states by operator id.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from torchweave.data.prediction import Prediction
from torchweave.data.task import Task
from torchweave.errors import GraphError, InvalidParameterError, TaskError
from torchweave.learners.learner import Learner, _check_validate
from torchweave.params.param_set import ParamSet
from torchweave.pipelines.graph import Graph, as_graph
from torchweave.pipelines.pipeop import PipeOp, types_compatible

__all__ = ["GraphLearner"]


def _op_learner(op: PipeOp) -> Learner | None:
    learner = getattr(op, "learner", None)
    return learner if isinstance(learner, Learner) else None


class GraphLearner(Learner):
    """A graph of PipeOps ending in a learner operator, as a Learner.

    Parameters
    ----------
    graph : Graph or PipeOp
        The graph (copied). It must have one output channel that yields a
        Prediction at predict time.
    id : str, optional
        Learner id (default: the operator ids joined by ``"."``).

    Examples
    --------
    >>> import torchweave as tw
    >>> graph = tw.po("imputemedian") >> tw.po("learner", tw.lrn("classif.featureless"))
    >>> learner = tw.as_learner(graph)
    >>> learner.id
    'imputemedian.classif.featureless'
    """

    def __init__(self, graph: Graph | PipeOp, id: str | None = None) -> None:
        self.graph = as_graph(graph)
        outputs = self.graph.output_ports()
        if len(outputs) != 1 or not types_compatible(outputs[0].channel.predict, Prediction):
            names = ", ".join(p.name for p in outputs) or "none"
            raise GraphError(
                "A GraphLearner needs a graph with exactly one output channel that gives a "
                f"Prediction (a learner operator at the end). Got: {names}."
            )
        self._base_id = self._find_base_op(outputs[0].op_id)
        base = self._base_learner_template()
        super().__init__(
            id or ".".join(self.graph.ids()),
            task_type=base.task_type,
            param_set=None,
            predict_types=base.predict_types,
            properties=(base.properties - {"missings"}) | {"missings"},
            label=f"Graph learner around {base.id}",
        )
        self._predict_type = base.predict_type

    def _find_base_op(self, op_id: str) -> str:
        seen = op_id
        while True:
            op = self.graph.pipeops[seen]
            if _op_learner(op) is not None:
                return seen
            preds = {e.src_id for e in self.graph.in_edges(seen)}
            if len(preds) != 1:
                raise GraphError(
                    "A GraphLearner needs a learner operator (po('learner', ...) or a torch "
                    f"model operator) at the end of the graph; found none before '{op_id}'."
                )
            seen = preds.pop()

    def _base_learner_template(self) -> Learner:
        learner = _op_learner(self.graph.pipeops[self._base_id])
        assert learner is not None
        return learner

    # --- fields that go through the graph --------------------------------------------
    @property
    def param_set(self) -> ParamSet:
        """The graph's flat parameter set (``"<op id>.<param>"``)."""
        return self.graph.param_set

    @param_set.setter
    def param_set(self, value: ParamSet | None) -> None:
        if value is not None:
            raise InvalidParameterError(
                "The param_set of a GraphLearner is the graph's; set values on it instead."
            )

    @property
    def predict_type(self) -> str:
        """The predict type, shared with the learner inside the graph."""
        return self._predict_type

    @predict_type.setter
    def predict_type(self, value: str) -> None:
        Learner.predict_type.fset(self, value)  # type: ignore[attr-defined]
        self._base_learner_template().predict_type = value
        trained = self._learners_in_state().get(self._base_id)
        if trained is not None:  # a trained graph predicts with the learner in its state
            trained.predict_type = value

    @property
    def validate(self) -> Any:
        """Validation of the graph learner; the learner inside gets ``"predefined"``.

        The validation rows travel through the preprocessing operators, which
        transform them with the state learned on the training rows.
        """
        return self._validate

    @validate.setter
    def validate(self, value: Any) -> None:
        _check_validate(value, f"learner '{self.id}'")
        if value is not None:
            base = self._base_learner_template()
            if "validation" not in base.properties:
                raise InvalidParameterError(
                    f"The learner '{base.id}' inside graph learner '{self.id}' does not support "
                    f"internal validation, so 'validate' must be None. Got {value!r} instead."
                )
            base.validate = "predefined"
        else:
            base = self._base_learner_template()
            if base.validate is not None:
                base.validate = None
        self._validate = value

    def base_learner(self) -> Learner:
        """The learner inside the graph (trained, once the graph learner is)."""
        op = self.graph.pipeops[self._base_id]
        state = op.state if self.state is None else self.state.model.get(self._base_id)
        return state if isinstance(state, Learner) else self._base_learner_template()

    # --- train and predict ------------------------------------------------------------
    def _validation_seed(self) -> int | None:
        return self._base_learner_template()._validation_seed()

    def _check_features(self, task: Task) -> None:
        """The operators inside the graph check the features they receive."""

    def _check_values(self, task: Task, phase: str) -> None:
        """The learner inside the graph checks the values it receives (after preprocessing)."""

    def train(self, task: Task, row_ids: Iterable[int] | np.ndarray | None = None) -> Learner:
        """Train the graph; if that fails, the graph and the learner keep their old states.

        Each operator's ``train`` replaces its state (it never changes the old one in
        place), so keeping references to the old states is a full snapshot.
        """
        previous = self.graph.state
        try:
            return super().train(task, row_ids)
        except BaseException:
            self.graph.state = previous
            raise

    def _train(self, task: Task) -> dict[str, Any]:
        self.graph.train(task)
        return self.graph.state

    def _predict(self, task: Task) -> Prediction:  # type: ignore[override]
        self.graph.state = self.model
        out = next(iter(self.graph.predict(task).values()))
        if not isinstance(out, Prediction):
            raise TaskError(f"Graph learner '{self.id}' produced no Prediction.")
        # Target transformations before the learner (po("targettrafo")) map it back.
        for op_id in reversed(self.graph.ids()):
            invert = getattr(self.graph.pipeops[op_id], "invert_prediction", None)
            if callable(invert) and self.graph.reaches(op_id, self._base_id):
                out = invert(out)
        return out

    def _learners_in_state(self) -> dict[str, Learner]:
        if self.state is None:
            return {}
        return {k: v for k, v in self.state.model.items() if isinstance(v, Learner)}

    def _extract_internal_valid_scores(self) -> dict[str, float]:
        return {
            f"{op_id}.{key}": value
            for op_id, learner in self._learners_in_state().items()
            for key, value in learner.internal_valid_scores.items()
        }

    def _extract_internal_tuned_values(self) -> dict[str, Any]:
        return {
            f"{op_id}.{key}": value
            for op_id, learner in self._learners_in_state().items()
            for key, value in learner.internal_tuned_values.items()
        }
