"""The network-graphs issue's acceptance: real networks build with the right shapes.

Each graph is trained on a real task, turned into a module, and run on real batches
built by the ingress tokens; the output shape must equal the inferred one.
"""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.datasets import load_digits

import torchweave as tw


def batch(md: tw.ModelDescriptor, task: tw.Task, n: int = 7) -> dict[str, torch.Tensor]:
    rows = task.row_ids[:n]
    return {
        name: token(task.data(rows=rows, cols=token.feature_names(task)))
        for name, token in md.ingress.items()
    }


def check(graph, task: tw.Task, expected: tuple) -> tw.ModuleGraph:
    md = next(iter(graph.train(task).values()))
    assert md.pointer_shape == expected
    network = tw.model_descriptor_to_module(md)
    out = network(batch(md, task))
    assert tuple(out.shape) == (7, *expected[1:])
    assert torch.isfinite(out).all()
    return network


def test_iris_mlp():
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=20)
        >> tw.nn("relu")
        >> tw.nn("head")
    )
    network = check(graph, tw.tsk("iris"), (None, 3))
    assert sum(p.numel() for p in network.parameters()) == 4 * 20 + 20 + 20 * 3 + 3


def test_penguins_numeric_and_categorical_ingress_merged():
    numeric = tw.po("select", id="num", selector=tw.selector_type(["numeric", "integer"])) >> tw.po(
        "torch_ingress_num"
    )
    categorical = (
        tw.po("select", id="categ", selector=tw.selector_type("factor"))
        >> tw.po("torch_ingress_categ")
        >> tw.nn("tokenizer_categ", d_token=4)
        >> tw.nn("flatten")
    )
    graph = (
        tw.po("imputemedian")
        >> tw.po("imputemode")
        >> tw.po("copy", outnum=2)
        >> [numeric, categorical]
        >> tw.nn("merge_cat")
        >> tw.nn("head")
    )
    task = tw.tsk("penguins")
    md = graph.train(task)["head.output"]
    assert md.graph.pipeops["merge_cat"].shapes_out == [(None, 5 + 2 * 4)]
    assert md.pointer_shape == (None, 3)
    assert set(md.ingress) == {"torch_ingress_num.input", "torch_ingress_categ.input"}
    # the ModelDescriptor's task is the preprocessed one (imputed), with both feature sets
    assert md.task.missings(md.task.feature_names) == dict.fromkeys(md.task.feature_names, 0)
    network = tw.model_descriptor_to_module(md)
    out = network(batch(md, md.task))
    assert out.shape == (7, 3)
    predicted = graph.predict(task)["head.output"]
    assert isinstance(predicted, tw.TaskClassif) and predicted.nrow == task.nrow


def test_residual_block_of_five():
    residual = [
        tw.po("nop"),
        tw.nn("linear", out_features=50) >> tw.nn("dropout") >> tw.nn("relu"),
    ] >> tw.nn("merge_sum")
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=50)
        >> tw.nn("block", residual, n_blocks=5)
        >> tw.nn("head")
    )
    network = check(graph, tw.tsk("mtcars"), (None, 1))
    layer_ids = set(network.layers.keys())
    assert {f"block_linear__{i}" for i in range(1, 6)} <= layer_ids


def test_conv_net_on_8x8_images():
    digits = load_digits(as_frame=True)
    frame = digits.frame.rename(columns=lambda c: str(c).replace("-", "_"))
    frame["target"] = pd.Categorical(frame["target"])
    task = tw.TaskClassif(
        frame.astype({c: np.float64 for c in frame.columns[:-1]}), "target", id="digits"
    )
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("reshape", shape=(-1, 1, 8, 8))
        >> tw.nn("conv2d", out_channels=4, kernel_size=3)
        >> tw.nn("batch_norm2d")
        >> tw.nn("relu")
        >> tw.nn("max_pool2d", kernel_size=2)
        >> tw.nn("flatten")
        >> tw.nn("head")
    )
    md = graph.train(task)["head.output"]
    shapes = {k: op.shapes_out for k, op in md.graph.pipeops.items() if hasattr(op, "shapes_out")}
    assert shapes["reshape"] == [(None, 1, 8, 8)]
    assert shapes["conv2d"] == [(None, 4, 6, 6)]
    assert shapes["max_pool2d"] == [(None, 4, 3, 3)]
    assert shapes["flatten"] == [(None, 36)]
    check(graph, task, (None, 10))


def test_ft_transformer_stack():
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("tokenizer_num", d_token=8)
        >> tw.nn("ft_cls")
        >> tw.nn("ft_transformer_block", attention_n_heads=2, is_first_layer=True)
        >> tw.nn("ft_transformer_block_2", attention_n_heads=2, query_idx=-1)
        >> tw.nn("flatten")
        >> tw.nn("head")
    )
    task = tw.tsk("iris")
    md = graph.train(task)["head.output"]
    assert md.graph.pipeops["ft_cls"].shapes_out == [(None, 5, 8)]
    assert md.graph.pipeops["ft_transformer_block_2"].shapes_out == [(None, 1, 8)]
    check(graph, task, (None, 3))


def test_the_same_declaration_fits_another_task():
    graph = tw.po("torch_ingress_num") >> tw.nn("linear", out_features=8) >> tw.nn("head")
    assert graph.train(tw.tsk("wine"))["head.output"].pointer_shape == (None, 3)
    assert graph.train(tw.tsk("breast_cancer"))["head.output"].pointer_shape == (None, 1)
    assert graph.train(tw.tsk("diabetes"))["head.output"].pointer_shape == (None, 1)


def test_summary_and_module_graph_plot(tmp_path):
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=8)
        >> tw.nn("relu")
        >> tw.nn("head")
    )
    md = graph.train(tw.tsk("iris"))["head.output"]
    table = tw.summary(md).table
    assert table["layer"].tolist() == ["torch_ingress_num.input", "linear", "relu", "head"]
    assert table["output shape"].tolist() == ["(None, 4)", "(None, 8)", "(None, 8)", "(None, 3)"]
    assert table["params"].tolist() == [0, 40, 0, 27]
    path = md.graph.plot(tmp_path / "net.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("bad", ["linear", "head"])
def test_errors_name_the_operator_and_shape(bad):
    md = tw.po("torch_ingress_num").train([tw.tsk("iris")])[0]
    three_d = (tw.nn("unsqueeze", dim=1)).train([md])[0]
    op = tw.nn("head") if bad == "head" else tw.nn("conv1d", out_channels=2, kernel_size=9)
    with pytest.raises(tw.ShapeError, match=f"PipeOp '{op.id}'.*\\(None, 1, 4\\)"):
        op.train([three_d])
