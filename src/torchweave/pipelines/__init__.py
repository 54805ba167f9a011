"""Pipelines (mlr3pipelines): PipeOp, Graph, GraphLearner, selectors and operators."""

from torchweave.learners.convert import register_learner_converter
from torchweave.pipelines.graph import Edge, Graph, Port, as_graph, concat_graphs, gunion
from torchweave.pipelines.graph_learner import GraphLearner
from torchweave.pipelines.ops import *  # noqa: F403
from torchweave.pipelines.ops import __all__ as _ops_all
from torchweave.pipelines.pipeop import ANY, VARARG, Channel, PipeOp
from torchweave.pipelines.preproc import PipeOpTaskPreproc
from torchweave.pipelines.selectors import (
    Selector,
    selector_all,
    selector_grep,
    selector_intersect,
    selector_invert,
    selector_name,
    selector_none,
    selector_type,
    selector_union,
)
from torchweave.pipelines.sugar import po, pos

register_learner_converter(
    lambda x: isinstance(x, Graph | PipeOp), lambda x, **kw: GraphLearner(x, **kw)
)

__all__ = [
    *_ops_all,
    "ANY",
    "VARARG",
    "Channel",
    "Edge",
    "Graph",
    "GraphLearner",
    "PipeOp",
    "PipeOpTaskPreproc",
    "Port",
    "Selector",
    "as_graph",
    "concat_graphs",
    "gunion",
    "po",
    "pos",
    "selector_all",
    "selector_grep",
    "selector_intersect",
    "selector_invert",
    "selector_name",
    "selector_none",
    "selector_type",
    "selector_union",
]
