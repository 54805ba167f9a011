"""PipeOpTaskPreprocTorch and pipeop_preproc_torch (§11 item 77)."""

import copy
import pickle

import numpy as np
import pandas as pd
import pytest
import torch

import torchweave as tw
from torchweave.errors import InvalidParameterError, NotTrainedError, ShapeError
from torchweave.lazy import (
    PipeOpTaskPreprocTorch,
    as_lazy_tensor,
    lazy_shape,
    materialize,
    pipeop_preproc_torch,
)
from torchweave.params import ParamSet, p_dbl
from torchweave.pipelines.selectors import selector_name
from torchweave.testing.pipeops import check_pipeop

X = torch.arange(6 * 2 * 4, dtype=torch.float32).reshape(6, 2, 4)


def scale(x, factor=2.0):
    """Multiplies by a factor."""
    return x * factor


def crop_last(x, width=2):
    return x[..., :width]


def crop_shape(shape, width=2):
    if shape is None:
        return None
    if shape[-1] is not None and shape[-1] < width:
        raise ShapeError(f"cannot crop {width} from {shape}")
    return (*shape[:-1], width)


def row_sum(x):
    assert x.dim() == 2  # one row: (2, 4)
    return x.sum(0)


PipeOpPreprocTorchTrafoScale = pipeop_preproc_torch(
    "trafo_scale",
    scale,
    shapes_out="infer",
    param_set=ParamSet(factor=p_dbl(default=2.0, tags="train")),
)
PipeOpPreprocTorchAugmentCropLast = pipeop_preproc_torch("augment_crop_last", crop_last, crop_shape)


def make_task(n=6):
    frame = pd.DataFrame(
        {
            "a": as_lazy_tensor(X[:n]),
            "b": as_lazy_tensor(X[:n] + 100),
            "num": np.arange(n, dtype=float),
            "y": np.arange(n, dtype=float),
        }
    )
    return tw.TaskRegr(frame, target="y", id="lazy")


def column(task, name):
    return materialize(task.data(cols=name)[name], rbind=True)


def test_factory_makes_a_named_class_with_inferred_parameters():
    op = PipeOpPreprocTorchTrafoScale()
    assert type(op).__name__ == "PipeOpPreprocTorchTrafoScale"
    assert op.id == "trafo_scale"
    assert op.param_set.values == {"stages": "both"}
    assert set(op.param_set.ids()) == {"factor", "stages", "affect_columns"}
    assert op.feature_types == ("lazy_tensor",)
    assert "Multiplies by a factor." in type(op).__doc__
    inferred = pipeop_preproc_torch("custom", crop_last, stages_init="predict")()
    assert inferred.param_set.params["width"].default == 2
    assert inferred.param_set.values["stages"] == "predict"
    required = pipeop_preproc_torch("trafo_req", lambda x, k: x * k)()
    assert "required" in required.param_set.params["k"].tags
    with pytest.raises(InvalidParameterError, match="'stages_init' of PipeOp 'custom' must be"):
        pipeop_preproc_torch("custom", crop_last)
    with pytest.raises(InvalidParameterError, match="'shapes_out' must be"):
        pipeop_preproc_torch("trafo_x", crop_last, shapes_out="guess")
    with pytest.raises(InvalidParameterError, match="reserved"):
        pipeop_preproc_torch("trafo_x", lambda x, stages=1: x)()


def test_both_stages_transform_train_and_predict():
    task = make_task()
    op = PipeOpPreprocTorchTrafoScale(param_vals={"factor": 3.0})
    out = op.train([task])[0]
    assert torch.equal(column(out, "a"), 3 * X)
    assert torch.equal(column(out, "b"), 3 * (X + 100))
    assert out.data(cols="num")["num"].tolist() == list(range(6))
    assert lazy_shape(out.data(cols="a")["a"]) == (None, 2, 4)
    pred = op.predict([task])[0]
    assert torch.equal(column(pred, "a"), 3 * X)
    assert task.feature_types["a"] == "lazy_tensor"
    assert torch.equal(column(task, "a"), X)  # the input is unchanged
    assert op.state["param_vals"] == {"factor": 3.0} and op.state["stages"] == "both"


def test_train_stage_is_the_identity_at_predict():
    task = make_task()
    op = PipeOpPreprocTorchTrafoScale(param_vals={"factor": 3.0, "stages": "train"})
    assert torch.equal(column(op.train([task])[0], "a"), 3 * X)
    assert torch.equal(column(op.predict([task])[0], "a"), X)
    op.param_set.set_values(stages="predict")
    assert torch.equal(column(op.train([task])[0], "a"), X)
    assert torch.equal(column(op.predict([task])[0], "a"), 3 * X)


def test_predict_uses_the_values_from_training():
    task = make_task()
    op = PipeOpPreprocTorchTrafoScale(param_vals={"factor": 3.0})
    op.train([task])
    op.param_set.set_values(factor=10.0, stages="train")
    assert torch.equal(column(op.predict([task])[0], "a"), 3 * X)
    assert op.shapes_out([(None, 2, 4)], "predict") == [(None, 2, 4)]


def test_shapes_out_and_predict_shapes():
    op = PipeOpPreprocTorchAugmentCropLast(param_vals={"width": 3})
    assert op.param_set.values["stages"] == "train"
    assert op.shapes_out([(None, 2, 4), None], "train") == [(None, 2, 3), None]
    with pytest.raises(NotTrainedError, match="after training"):
        op.shapes_out([(None, 2, 4)], "predict")
    out = op.train([make_task()])[0]
    dd = out.data(cols="a")["a"].array.data_descriptor
    assert dd.pointer_shape == (None, 2, 3)
    assert dd.pointer_shape_predict == (None, 2, 4)
    assert op.state["shapes"]["a"] == ((None, 2, 3), (None, 2, 4))
    assert op.shapes_out([(None, 2, 4)], "predict") == [(None, 2, 4)]
    with pytest.raises(ShapeError, match="cannot crop 5"):
        PipeOpPreprocTorchAugmentCropLast(param_vals={"width": 5}).train([make_task()])
    unknown = pipeop_preproc_torch("trafo_unknown", scale)()
    assert unknown.shapes_out([(None, 2, 4)], "train") == [None]


def test_rowwise_functions_get_one_row():
    op = pipeop_preproc_torch("trafo_rowsum", row_sum, rowwise=True, shapes_out="infer")()
    out = op.train([make_task()])[0]
    assert torch.equal(column(out, "a"), X.sum(1))
    assert lazy_shape(out.data(cols="a")["a"]) == (None, 4)


def test_affect_columns_and_direct_construction():
    op = PipeOpTaskPreprocTorch(
        scale,
        id="double",
        stages_init="both",
        param_vals={"affect_columns": selector_name("b")},
    )
    out = op.train([make_task()])[0]
    assert torch.equal(column(out, "a"), X)
    assert torch.equal(column(out, "b"), 2 * (X + 100))
    assert tw.po("preproc_torch", fn=scale, stages_init="both").id == "preproc_torch"
    with pytest.raises(InvalidParameterError, match="stages_init"):
        PipeOpTaskPreprocTorch(scale, id="double")


def test_graph_of_preprocessing_ops_runs_in_one_pass():
    task = make_task()
    graph = PipeOpPreprocTorchTrafoScale() >> PipeOpPreprocTorchAugmentCropLast()
    out = graph.train(task)["augment_crop_last.output"]
    assert torch.equal(column(out, "a"), (2 * X)[..., :2])
    pred = graph.predict(task)["augment_crop_last.output"]
    assert torch.equal(column(pred, "a"), 2 * X)
    assert out.data(cols="a")["a"].array.data_descriptor.n_steps == 2


def test_random_steps_are_flagged():
    assert PipeOpPreprocTorchAugmentCropLast().is_random
    assert not PipeOpPreprocTorchTrafoScale().is_random
    never = pipeop_preproc_torch("augment_fixed", crop_last, crop_shape, random=False)
    assert not never().is_random
    out = PipeOpPreprocTorchAugmentCropLast().train([make_task()])[0]
    assert out.data(cols="a")["a"].array.data_descriptor._node.has_augmentation()


def test_operators_pickle_and_copy_also_when_not_importable():
    local = pipeop_preproc_torch("trafo_local", scale, shapes_out="infer")
    op = local(param_vals={"factor": 4.0})
    op.train([make_task()])
    for restored in (pickle.loads(pickle.dumps(op)), copy.deepcopy(op)):
        assert type(restored) is local
        assert restored.param_set.values["factor"] == 4.0
        assert torch.equal(column(restored.predict([make_task()])[0], "a"), 4 * X)
    module_level = pickle.loads(pickle.dumps(PipeOpPreprocTorchTrafoScale()))
    assert type(module_level) is PipeOpPreprocTorchTrafoScale


def test_conformance_of_a_custom_operator():
    results = check_pipeop(PipeOpPreprocTorchTrafoScale())
    assert results["train_twice"] == "passed"
    assert results["predict_like_train"] == "passed"
    assert check_pipeop(PipeOpPreprocTorchAugmentCropLast())["pickle"] == "passed"
