"""The network core: ModelDescriptor, union, ingress, PipeOpTorch, ModuleGraph, sugar."""

import pickle
import subprocess
import sys
import types
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

import torchweave as tw
from torchweave.errors import GraphError, InvalidParameterError, ShapeError, TaskError
from torchweave.network import (
    ModelDescriptor,
    ModuleGraph,
    PipeOpTorch,
    TorchIngressToken,
    batchgetter_categ,
    batchgetter_num,
    model_descriptor_to_module,
    model_descriptor_union,
    summary,
)
from torchweave.network.ops.activations import PipeOpTorchReLU
from torchweave.network.ops.nn_linear import PipeOpTorchLinear
from torchweave.pipelines.graph import Graph
from torchweave.pipelines.ops.nop import PipeOpNOP


# --- helpers ------------------------------------------------------------------------------------
def _md(shape=(None, 4), name="inp", task=None, **kwargs):
    """A ModelDescriptor pointing at a NOP fed by a token of ``shape``."""
    task = task if task is not None else tw.tsk("iris")
    graph = Graph().add_pipeop(PipeOpNOP(id=name), clone=False)
    token = TorchIngressToken(task.feature_names, batchgetter_num, shape)
    return ModelDescriptor(
        graph=graph,
        ingress={f"{name}.input": token},
        task=task,
        pointer=(name, "output"),
        pointer_shape=shape,
        **kwargs,
    )


class AddModule(nn.Module):
    """Adds its two inputs."""

    def forward(self, a, b):
        return a + b


class PipeOpAdd(PipeOpTorch):
    """A two-input layer: ``a + b``."""

    module_class = AddModule

    def __init__(self, id="add", param_vals=None):
        super().__init__(id, param_vals=param_vals, inname=["a", "b"])


def _branch(prefix):
    """iris' sepal or petal features, selected and fed to an ingress of their own."""
    select = tw.po("select", id=f"select_{prefix}", selector=tw.selector_grep(f"^{prefix}"))
    return select >> tw.po("torch_ingress_num", id=f"ingress_{prefix}")


def _two_branches():
    task = tw.tsk("iris")
    md_sepal = _branch("sepal").train(task)["ingress_sepal.output"]
    md_petal = _branch("petal").train(task)["ingress_petal.output"]
    return md_sepal, md_petal


def _mlp_md():
    """ingress (4) -> linear (3) -> relu -> linear_2 (2), as a ModelDescriptor."""
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=3)
        >> tw.nn("relu")
        >> tw.nn("linear_2", out_features=2)
    )
    return graph.train(tw.tsk("iris"))["linear_2.output"]


# --- ModelDescriptor ----------------------------------------------------------------------------
def test_model_descriptor_validates_its_fields():
    md = _md()
    token = md.ingress["inp.input"]
    with pytest.raises(InvalidParameterError, match="graph must be a Graph. Got dict"):
        ModelDescriptor(graph={}, ingress={"inp.input": token}, task=md.task)
    with pytest.raises(InvalidParameterError, match="task must be a Task. Got DataFrame"):
        ModelDescriptor(graph=md.graph, ingress={"inp.input": token}, task=md.task.data())
    with pytest.raises(InvalidParameterError, match="at least one token"):
        ModelDescriptor(graph=md.graph, ingress={}, task=md.task)
    with pytest.raises(InvalidParameterError, match=r"'inp.input' are not TorchIngressTokens"):
        ModelDescriptor(graph=md.graph, ingress={"inp.input": "x"}, task=md.task)
    with pytest.raises(GraphError, match="names PipeOp 'nothere', which is not in the graph"):
        ModelDescriptor(
            graph=md.graph,
            ingress={"inp.input": token},
            task=md.task,
            pointer=("nothere", "output"),
            pointer_shape=(None, 4),
        )
    with pytest.raises(GraphError, match="PipeOp 'inp' has no output channel 'out'"):
        ModelDescriptor(
            graph=md.graph,
            ingress={"inp.input": token},
            task=md.task,
            pointer=("inp", "out"),
            pointer_shape=(None, 4),
        )
    with pytest.raises(InvalidParameterError, match="with a pointer needs a pointer_shape"):
        ModelDescriptor(
            graph=md.graph, ingress={"inp.input": token}, task=md.task, pointer=("inp", "output")
        )
    with pytest.raises(ShapeError, match=r"Invalid pointer_shape \(None, -1\): -1 is not a size"):
        ModelDescriptor(
            graph=md.graph,
            ingress={"inp.input": token},
            task=md.task,
            pointer=("inp", "output"),
            pointer_shape=(None, -1),
        )
    with pytest.raises(ShapeError, match=r"Invalid ingress shape \(None, 0.5\)"):
        TorchIngressToken(["a"], batchgetter_num, (None, 0.5))


def test_model_descriptor_checks_the_loss_task_type_and_names_callbacks():
    loss = types.SimpleNamespace(id="mse", task_types=("regr",))
    with pytest.raises(TaskError, match="The loss 'mse' is for 'regr' tasks, not classif tasks"):
        _md(loss=loss)
    callback = types.SimpleNamespace(id="history", label="History")
    md = _md(callbacks=[callback])
    assert md.callbacks == {"history": callback}


def test_model_descriptor_repr():
    md = _mlp_md()
    assert repr(md) == (
        "<ModelDescriptor: 4 ops>\n"
        "* Ingress:  torch_ingress_num.input: [(None, 4)]\n"
        "* Task:  iris [classif]\n"
        "* Callbacks:  N/A\n"
        "* Optimizer:  N/A\n"
        "* Loss:  N/A\n"
        "* pointer:  linear_2.output [(None, 2)]"
    )
    configured = _md(
        optimizer=types.SimpleNamespace(id="adam", label="Adaptive Moment Estimation"),
        loss=types.SimpleNamespace(id="cross_entropy", label="Cross Entropy"),
        callbacks=[types.SimpleNamespace(id="checkpoint", label="Checkpoint")],
    )
    lines = repr(configured).splitlines()
    assert lines[0] == "<ModelDescriptor: 1 ops>"
    assert lines[3:6] == [
        "* Callbacks:  Checkpoint",
        "* Optimizer:  Adaptive Moment Estimation",
        "* Loss:  Cross Entropy",
    ]
    assert lines[6] == "* pointer:  inp.output [(None, 4)]"


def test_with_pointer_shares_the_graph():
    md = _md()
    other = md.with_pointer(("inp", "output"), (None, 7))
    assert other.graph is md.graph and other.pointer_shape == (None, 7)
    assert md.pointer_shape == (None, 4)


# --- model_descriptor_union ---------------------------------------------------------------------
def test_union_of_a_descriptor_with_itself_keeps_the_graph_object():
    md = _md()
    merged = model_descriptor_union(md, md)
    assert merged.graph is md.graph
    assert merged.task is md.task
    assert merged.pointer is None and merged.pointer_shape is None


def test_union_of_two_branches_merges_graphs_tasks_and_ingress():
    md_sepal, md_petal = _two_branches()
    assert md_sepal.task.feature_names == ["sepal_length", "sepal_width"]
    merged = model_descriptor_union(md_sepal, md_petal)
    assert merged.graph is md_sepal.graph
    assert set(merged.graph.pipeops) == {"ingress_sepal", "ingress_petal"}
    assert list(merged.ingress) == ["ingress_sepal.input", "ingress_petal.input"]
    assert sorted(merged.task.feature_names) == sorted(tw.tsk("iris").feature_names)


def test_an_operator_with_two_inputs_merges_the_branches():
    md_sepal, md_petal = _two_branches()
    out = PipeOpAdd().train([md_sepal, md_petal])[0]
    assert out.pointer == ("add", "output") and out.pointer_shape == (None, 2)
    assert sorted(out.task.feature_names) == sorted(tw.tsk("iris").feature_names)
    assert set(out.graph.pipeops) == {"ingress_sepal", "ingress_petal", "add"}
    net = model_descriptor_to_module(out)
    a, b = torch.randn(5, 2), torch.randn(5, 2)
    torch.testing.assert_close(net(a, b), a + b)


def test_union_refuses_different_operators_with_the_same_id():
    md1 = tw.po("torch_ingress_num").train([tw.tsk("iris")])[0]
    md2 = tw.po("torch_ingress_num").train([tw.tsk("iris")])[0]
    with pytest.raises(
        GraphError,
        match=r"Both graphs have PipeOps with ID\(s\) 'torch_ingress_num' but they are not identical",
    ):
        model_descriptor_union(md1, md2)


def test_union_refuses_differing_incoming_edges():
    shared = PipeOpNOP(id="shared")
    mds = []
    for name in ("a", "b"):
        md = _md(name=name)
        md.graph.add_pipeop(shared, clone=False)
        md.graph.add_edge(name, "shared")
        mds.append(md)
    with pytest.raises(
        GraphError, match=r"PipeOp\(s\) 'shared' have differing incoming edges in the two graphs"
    ):
        model_descriptor_union(*mds)


@pytest.mark.parametrize("field", ["loss", "optimizer"])
def test_union_refuses_disagreeing_loss_or_optimizer(field):
    md1 = _md(name="a", **{field: object()})
    md2 = _md(name="b", task=md1.task, **{field: object()})
    with pytest.raises(
        GraphError, match=f"The {field} of two ModelDescriptors being merged disagree"
    ):
        model_descriptor_union(md1, md2)
    # One of them set, or the same object in both: kept.
    same = getattr(md1, field)
    md3 = _md(name="c", task=md1.task, **{field: same})
    assert getattr(model_descriptor_union(md1, md3), field) is same
    md4 = _md(name="d", task=md1.task)
    assert getattr(model_descriptor_union(md4, md1), field) is same


def test_union_refuses_clashing_ingress_tokens():
    md1 = _md(name="a")
    md2 = ModelDescriptor(
        graph=md1.graph,
        ingress={"a.input": TorchIngressToken(md1.task.feature_names, batchgetter_num, (None, 5))},
        task=md1.task,
    )
    with pytest.raises(
        GraphError, match=r"The ingress tokens with ID\(s\) 'a.input' .* are not identical"
    ):
        model_descriptor_union(md1, md2)


def test_union_refuses_tasks_of_which_only_one_has_a_validation_task():
    task = tw.tsk("iris")
    with_valid = task.clone()
    with_valid.internal_valid_task = task.clone().filter(task.row_ids[:10])
    md1, md2 = _md(name="a", task=task), _md(name="b", task=with_valid)
    with pytest.raises(TaskError, match="disagree on having an internal_valid_task"):
        model_descriptor_union(md1, md2)


# --- model_descriptor_to_module -----------------------------------------------------------------
def test_module_takes_inputs_by_position_keyword_and_dict():
    md_sepal, md_petal = _two_branches()
    out = PipeOpAdd().train([md_sepal, md_petal])[0]
    net = model_descriptor_to_module(out)
    assert isinstance(net, ModuleGraph)
    assert net.input_names == ["ingress_sepal.input", "ingress_petal.input"]
    a, b = torch.randn(4, 2), torch.randn(4, 2)
    expected = a + b
    torch.testing.assert_close(net(a, b), expected)
    torch.testing.assert_close(
        net(**{"ingress_sepal.input": a, "ingress_petal.input": b}), expected
    )
    torch.testing.assert_close(net({"ingress_petal.input": b, "ingress_sepal.input": a}), expected)
    torch.testing.assert_close(net(a, **{"ingress_petal.input": b}), expected)
    with pytest.raises(GraphError, match=r"'ingress_petal.input' is missing"):
        net({"ingress_sepal.input": a})
    with pytest.raises(GraphError, match=r"takes 2 input\(s\) .*Got 1"):
        net(a)


def test_a_chain_runs_like_the_general_plan():
    """A chain (one input and output per node) takes the fast path; same outputs."""
    from torchweave.network.module_graph import PipeOpModule

    torch.manual_seed(0)
    graph = Graph()
    for op in (
        PipeOpModule("twice", module=lambda x: 2 * x),
        PipeOpNOP(id="pass"),
        PipeOpModule("linear", module=nn.Linear(4, 3)),
        PipeOpModule("relu", module=nn.ReLU()),
    ):
        graph.add_pipeop(op, clone=False)
    graph.add_edge("twice", "pass").add_edge("pass", "linear").add_edge("linear", "relu")
    net = ModuleGraph(graph, ["twice.input"], [("relu", "output")])
    assert net._chain == ["twice", "linear", "relu"]  # the NOP is skipped
    x = torch.randn(5, 4)
    expected = torch.relu(net.layers["linear"](2 * x))
    torch.testing.assert_close(net(x), expected, rtol=0, atol=0)  # chain path
    torch.testing.assert_close(net({"twice.input": x}), expected, rtol=0, atol=0)  # general
    net.layers["linear"] = nn.Linear(4, 3)  # a replaced layer is the one that runs
    torch.testing.assert_close(net(x), torch.relu(net.layers["linear"](2 * x)))


def test_module_with_several_outputs():
    md = _mlp_md()
    net = model_descriptor_to_module(
        md, output_pointers=[("linear", "output"), ("linear_2", "output")]
    )
    hidden, out = net(torch.randn(6, 4))
    assert hidden.shape == (6, 3) and out.shape == (6, 2)
    md.pointer = None
    with pytest.raises(GraphError, match="has no pointer; pass output_pointers"):
        model_descriptor_to_module(md)
    with pytest.raises(GraphError, match="has no outputs"):
        model_descriptor_to_module(md, output_pointers=[("linear", "nothere")])


def test_module_registers_the_layers_and_resets_their_parameters():
    net = model_descriptor_to_module(_mlp_md())
    names = [name for name, _ in net.named_parameters()]
    assert names == [
        "layers.linear.weight",
        "layers.linear.bias",
        "layers.linear_2.weight",
        "layers.linear_2.bias",
    ]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.reset_parameters()
    after = net.state_dict()
    assert all(not torch.equal(before[k], after[k]) for k in before)


def test_module_pickles_with_the_same_outputs():
    net = model_descriptor_to_module(_mlp_md())
    restored = pickle.loads(pickle.dumps(net))
    x = torch.randn(5, 4)
    torch.testing.assert_close(restored(x), net(x), rtol=0, atol=0)


def test_module_can_be_traced_and_compiled():
    net = model_descriptor_to_module(_mlp_md()).eval()
    x = torch.randn(5, 4)
    with warnings.catch_warnings():
        # torch >= 2.9 deprecates tracing (torchweave's jit_trace option still uses it).
        warnings.filterwarnings("ignore", message=r".torch\.jit\.", category=DeprecationWarning)
        traced = torch.jit.trace(net, (x,))
    torch.testing.assert_close(traced(x), net(x))
    torch.testing.assert_close(traced(torch.ones(2, 4)), net(torch.ones(2, 4)))
    try:
        compiled = torch.compile(net, backend="eager")
        got = compiled(x)
    except Exception as exc:  # pragma: no cover - platform dependent
        pytest.skip(f"torch.compile does not work on this platform: {type(exc).__name__}: {exc}")
    torch.testing.assert_close(got, net(x))


def test_summary_lists_layers_shapes_and_parameter_counts():
    md = _mlp_md()
    result = summary(md)
    table = result.table
    assert list(table.columns) == ["layer", "class", "output shape", "params"]
    assert table["layer"].tolist() == ["torch_ingress_num.input", "linear", "relu", "linear_2"]
    assert table["class"].tolist() == ["input", "Linear", "ReLU", "Linear"]
    assert table["output shape"].tolist() == ["(None, 4)", "(None, 3)", "(None, 3)", "(None, 2)"]
    assert table["params"].tolist() == [0, 4 * 3 + 3, 0, 3 * 2 + 2]
    assert result.total_params == result.trainable_params == 23
    text = repr(result)
    assert "Total params: 23" in text and "Non-trainable params: 0" in text
    net = model_descriptor_to_module(md)
    net.layers["linear"].weight.requires_grad_(False)
    assert net.summary().trainable_params == 23 - 12


# --- ingress ------------------------------------------------------------------------------------
def test_numeric_ingress_refuses_factors_suggesting_select():
    with pytest.raises(TaskError, match=r"feature\(s\) 'island', 'sex' of type 'factor'") as info:
        tw.po("torch_ingress_num").train([tw.tsk("penguins")])
    assert 'po("select"' in str(info.value)
    assert "tw.selector_type(['numeric', 'integer'])" in str(info.value)


def test_ingress_refuses_missing_values_suggesting_imputation():
    task = tw.tsk("penguins").select(["bill_length_mm", "body_mass_g", "year"])
    with pytest.raises(
        TaskError, match=r"no missing values are allowed .* 'bill_length_mm', 'body_mass_g'"
    ) as info:
        tw.po("torch_ingress_num").train([task])
    assert 'po("imputemedian")' in str(info.value)
    md = (tw.po("imputemedian") >> tw.po("torch_ingress_num")).train(task)
    assert md["torch_ingress_num.output"].pointer_shape == (None, 3)


def test_ingress_builds_a_one_node_graph_and_a_token():
    task = tw.tsk("iris")
    op = tw.po("torch_ingress_num")
    md = op.train([task])[0]
    assert list(md.graph.pipeops) == ["torch_ingress_num"]
    token = md.ingress["torch_ingress_num.input"]
    assert token.feature_names(task) == task.feature_names
    batch = token(task.data(cols=task.feature_names).iloc[:3])
    assert batch.dtype == torch.float32 and batch.shape == (3, 4)
    assert op.state == {"shape": (None, 4)}
    assert op.predict([task])[0] is task


def test_batchgetter_categ_codes_start_at_zero():
    frame = pd.DataFrame(
        {
            "f": pd.Categorical(["b", "a", "c", "b"], categories=["a", "b", "c"]),
            "o": pd.Categorical(["hi", "lo", "lo", "hi"], categories=["lo", "hi"], ordered=True),
            "l": [False, True, True, False],
        }
    )
    codes = batchgetter_categ(frame)
    assert codes.dtype == torch.int64
    assert codes.tolist() == [[1, 1, 0], [0, 0, 1], [2, 0, 1], [1, 1, 0]]
    assert batchgetter_categ(frame.iloc[:0]).shape == (0, 3)


def test_batchgetter_categ_refuses_missing_or_unknown_levels():
    # codes -1: a missing value, and a value outside the levels (as a cast to the levels gives)
    frame = pd.DataFrame({"f": pd.Categorical.from_codes([0, -1, -1], categories=["a", "b"])})
    with pytest.raises(
        TaskError, match=r"Factor column 'f' has 2 value\(s\) that are missing or not among "
    ):
        batchgetter_categ(frame)


def test_a_learner_predicting_an_unseen_level_names_the_column():
    task = tw.tsk("penguins").select(["island"])
    token = TorchIngressToken(["island"], batchgetter_categ, (None, 1))
    torch.manual_seed(0)
    net = nn.Sequential(nn.Embedding(3, 2), nn.Flatten(), nn.Linear(2, 3))
    learner = tw.LearnerTorchModel(
        network=net, ingress_tokens={"x": token}, task_type="classif", loss="cross_entropy"
    ).configure(epochs=1, batch_size=64, device="cpu")
    learner.train(task)
    new = pd.DataFrame({"island": ["Biscoe", "Atlantis"]})
    with pytest.raises(
        TaskError,
        match=r"factor column 'island' has the level\(s\) 'Atlantis', which the training data",
    ):
        learner.predict_newdata(new)
    assert learner.predict_newdata(new.iloc[:1]).response.tolist()[0] in task.class_names


def test_batchgetter_num_gives_float32_in_column_order():
    frame = pd.DataFrame({"b": [1, 2], "a": [0.5, 1.5]})
    x = batchgetter_num(frame)
    assert x.dtype == torch.float32
    assert x.tolist() == [[1.0, 0.5], [2.0, 1.5]]
    frame.iloc[0, 0] = 7  # the tensor does not share memory with the frame
    assert x[0, 0].item() == 1.0


def test_categorical_ingress_on_penguins():
    task = tw.tsk("penguins").select(["island", "sex"])
    md = (tw.po("imputemode") >> tw.po("torch_ingress_categ")).train(task)
    md = md["torch_ingress_categ.output"]
    token = md.ingress["torch_ingress_categ.input"]
    codes = token(md.task.data(cols=md.task.feature_names))
    assert codes.dtype == torch.int64 and codes.shape == (task.nrow, 2)
    assert codes.min().item() == 0
    assert codes[:, 0].max().item() == len(task.data()["island"].cat.categories) - 1


def test_token_repr_and_equality():
    token = TorchIngressToken(["a", "b"], batchgetter_num, (None, 2))
    assert repr(token) == "<TorchIngressToken: Task[['a', 'b']] --> Tensor(None, 2)>"
    assert token == TorchIngressToken(["a", "b"], batchgetter_num, (None, 2))
    assert token != TorchIngressToken(["a", "b"], batchgetter_categ, (None, 2))
    with pytest.raises(TaskError, match="selects no features of task 'iris'"):
        TorchIngressToken(tw.selector_grep("^nothing"), batchgetter_num).feature_names(
            tw.tsk("iris")
        )


# --- PipeOpTorch --------------------------------------------------------------------------------
def test_torch_operator_state_shapes_and_errors():
    op = tw.nn("linear", out_features=3)
    out = op.train([_md(shape=(None, 5, 4))])[0]
    assert op.state == {"shapes_out": [(None, 5, 3)]}
    assert out.pointer == ("linear", "output")
    assert "shapes: [(None, 5, 3)]" in repr(op)
    with pytest.raises(ShapeError, match=r"has 1 input channel\(s\) \(input\), but 2 input shape"):
        op.shapes_out([(None, 4), (None, 4)])
    assert op.shapes_out((None, 4)) == [(None, 3)]
    no_pointer = dataclasses_replace(_md(), pointer=None, pointer_shape=None)
    with pytest.raises(ShapeError, match="received a ModelDescriptor without a pointer"):
        tw.nn("relu").train([no_pointer])


def dataclasses_replace(md, **changes):
    import dataclasses

    return dataclasses.replace(md, **changes)


def test_training_twice_into_one_graph_needs_another_id():
    md = _md()
    tw.nn("linear", out_features=2).train([md])
    with pytest.raises(
        GraphError, match=r"already has a PipeOp with id 'linear'.*nn\(\"linear_2\"\)"
    ):
        tw.nn("linear", out_features=2).train([md])


def test_predict_passes_the_task_through():
    task = tw.tsk("iris")
    graph = tw.po("torch_ingress_num") >> tw.nn("linear", out_features=3) >> tw.nn("relu")
    graph.train(task)
    assert graph.predict(task)["relu.output"] is task
    md_sepal, md_petal = _two_branches()
    add = PipeOpAdd()
    add.train([md_sepal, md_petal])
    sepal = tw.tsk("iris").select(["sepal_length", "sepal_width"])
    petal = tw.tsk("iris").select(["petal_length", "petal_width"])
    (merged,) = add.predict([sepal, petal])
    assert merged.feature_names == [
        "sepal_length",
        "sepal_width",
        "petal_length",
        "petal_width",
    ]
    np.testing.assert_array_equal(merged.row_ids, task.row_ids)


# --- sugar and ids ------------------------------------------------------------------------------
def test_nn_ids():
    assert type(tw.nn("linear")) is PipeOpTorchLinear and tw.nn("linear").id == "linear"
    op = tw.nn("linear_2", out_features=3)
    assert type(op) is PipeOpTorchLinear and op.id == "linear_2"
    assert op.param_set.values["out_features"] == 3
    assert tw.nn("linear", id="first").id == "first"
    relu6 = tw.nn("relu6")
    assert type(relu6).__name__ == "PipeOpTorchReLU6" and relu6.id == "relu6"


def test_po_with_a_numeric_suffix_gives_that_id():
    op = tw.po("nn_relu_1")
    assert type(op) is PipeOpTorchReLU and op.id == "nn_relu_1"
    assert tw.po("nn_relu").id == "nn_relu"
    assert tw.po("nn_relu_1", id="other").id == "other"


# --- lazy torch ---------------------------------------------------------------------------------
def _python(code):
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_torchweave_does_not_import_torch_but_a_layer_does():
    out = _python(
        "import sys, torchweave as tw\n"
        "print('torch' in sys.modules)\n"
        "tw.lrn('classif.featureless'); tw.tsk('iris'); tw.po('scale')\n"
        "print('torch' in sys.modules)\n"
        "tw.po('nn_linear')\n"
        "print('torch' in sys.modules)"
    )
    assert out.split() == ["False", "False", "True"]


def test_layer_ids_that_are_module_attributes_still_build():
    graph = tw.po("torch_ingress_num") >> tw.nn("relu", id="train")
    md = graph.train(tw.tsk("iris"))["train.output"]
    net = model_descriptor_to_module(md)
    x = torch.randn(2, 4)
    torch.testing.assert_close(net(x), torch.relu(x))


# --- the caller's RNG (issue 13) ------------------------------------------------------------------
def _mlp_graph_learner(seed):
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=8)
        >> tw.nn("relu")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam")
        >> tw.po("torch_model_classif", epochs=1, batch_size=50, seed=seed, device="cpu")
    )
    return tw.as_learner(graph)


def test_building_layers_leaves_the_global_torch_rng_alone():
    graph = tw.po("torch_ingress_num") >> tw.nn("linear", out_features=8) >> tw.nn("head")
    torch.manual_seed(1)
    md = graph.train(tw.tsk("iris"))["head.output"]
    after = torch.rand(3)
    torch.manual_seed(1)
    assert torch.equal(after, torch.rand(3))
    # The layers are still initialised randomly (from a fork of the caller's stream).
    torch.manual_seed(1)
    again = graph.clone().train(tw.tsk("iris"))["head.output"]
    weights = md.graph.pipeops["linear"].module.weight
    assert torch.equal(weights, again.graph.pipeops["linear"].module.weight)
    assert weights.std() > 0


@pytest.mark.parametrize("seed", ["random", 7])
def test_training_a_graph_learner_leaves_the_global_torch_rng_alone(seed):
    torch.manual_seed(1)
    _mlp_graph_learner(seed).train(tw.tsk("iris"))
    after = torch.rand(3)
    torch.manual_seed(1)
    assert torch.equal(after, torch.rand(3))


def test_a_seeded_graph_learner_gets_the_same_weights_under_any_global_seed():
    weights = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        learner = _mlp_graph_learner(7).train(tw.tsk("iris"))
        network = learner.model["torch_model_classif"].model.network
        weights.append({k: v.clone() for k, v in network.state_dict().items()})
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


# --- inferred sizes cannot be set (issue 13) ------------------------------------------------------
@pytest.mark.parametrize(
    ("key", "values", "name", "source"),
    [
        ("linear", {"out_features": 2}, "in_features", "the incoming shape"),
        ("batch_norm1d", {}, "num_features", "the incoming shape"),
        ("conv1d", {"out_channels": 2, "kernel_size": 1}, "in_channels", "the incoming shape"),
        ("layer_norm", {}, "normalized_shape", "the incoming shape"),
        ("multihead_attention", {"num_heads": 1}, "embed_dim", "the incoming shape"),
        ("head", {}, "in_features", "the incoming shape"),
        ("head", {}, "out_features", "the task"),
    ],
)
def test_setting_an_inferred_size_says_it_is_inferred(key, values, name, source):
    expected = (
        rf"^'{name}' is not a parameter of PipeOp '{key}': it is inferred from {source} "
        r"when the graph is trained, so it cannot be set by hand\.$"
    )
    with pytest.raises(InvalidParameterError, match=expected):
        tw.nn(key, **values, **{name: 3})
    op = tw.nn(key, **values)
    with pytest.raises(InvalidParameterError, match=expected):
        op.param_set.set_values(**{name: 3})
    with pytest.raises(InvalidParameterError, match=expected):
        op.clone().param_set.values = {name: 3}


def test_setting_an_inferred_size_through_a_graph_or_block_says_it_is_inferred():
    graph = tw.po("torch_ingress_num") >> tw.nn("linear", out_features=3)
    expected = r"'in_features' is not a parameter of PipeOp 'linear': it is inferred from"
    with pytest.raises(InvalidParameterError, match=expected):
        graph.param_set.set_values(**{"linear.in_features": 3})
    learner = _mlp_graph_learner(1)
    with pytest.raises(InvalidParameterError, match=expected):
        learner.param_set.set_values(**{"linear.in_features": 3})
    block = tw.nn("block", tw.nn("linear", out_features=3), n_blocks=2)
    with pytest.raises(InvalidParameterError, match=expected):
        block.param_set.set_values(**{"linear.in_features": 3})
    # A misspelling still gets a spelling hint.
    with pytest.raises(InvalidParameterError, match=r"Did you mean 'out_features'\?"):
        tw.nn("linear", out_feature=3)


def test_layers_built_in_one_graph_start_from_different_random_numbers():
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=4)
        >> tw.nn("linear_2", out_features=4)
        >> tw.nn("linear_3", out_features=4)
    )
    torch.manual_seed(3)
    md = graph.train(tw.tsk("iris"))["linear_3.output"]
    second = md.graph.pipeops["linear_2"].module.weight
    third = md.graph.pipeops["linear_3"].module.weight
    assert second.shape == third.shape
    assert not torch.equal(second, third)
