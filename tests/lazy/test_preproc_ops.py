"""The trafo_* / augment_* operators on tasks with a lazy tensor column."""

from __future__ import annotations

import inspect
import pickle

import pandas as pd
import pytest
import torch

import torchweave as tw
import torchweave.lazy  # registers the operators
from torchweave import nn, po
from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.lazy import as_lazy_tensor, lazy_shape, materialize
from torchweave.lazy import transforms as tf
from torchweave.lazy.preproc import PipeOpTaskPreprocTorch
from torchweave.params.param import NO_DEFAULT
from torchweave.testing.params import check_param_set
from torchweave.testing.pipeops import lazy_preproc_params

TRAFO = [
    "trafo_nop",
    "trafo_reshape",
    "trafo_resize",
    "trafo_normalize",
    "trafo_pad",
    "trafo_grayscale",
    "trafo_adjust_brightness",
    "trafo_adjust_gamma",
    "trafo_adjust_hue",
    "trafo_adjust_saturation",
]
AUGMENT = [
    "augment_hflip",
    "augment_vflip",
    "augment_random_horizontal_flip",
    "augment_random_vertical_flip",
    "augment_crop",
    "augment_center_crop",
    "augment_random_crop",
    "augment_resized_crop",
    "augment_random_resized_crop",
    "augment_color_jitter",
    "augment_random_affine",
    "augment_rotate",
    "augment_random_choice",
    "augment_random_order",
]
RANDOM = {
    "augment_random_horizontal_flip",
    "augment_random_vertical_flip",
    "augment_random_crop",
    "augment_random_resized_crop",
    "augment_color_jitter",
    "augment_random_affine",
    "augment_random_choice",
    "augment_random_order",
}


def image_task(x: torch.Tensor) -> tw.TaskRegr:
    frame = pd.DataFrame({"img": as_lazy_tensor(x), "y": torch.arange(len(x)).double().numpy()})
    return tw.TaskRegr(frame, target="y", id="images")


def images(task: tw.TaskRegr) -> torch.Tensor:
    return materialize(task.data(cols="img")["img"], rbind=True)


def make(key: str) -> PipeOpTaskPreprocTorch:
    op = po(key, **lazy_preproc_params().get(key, {}))
    assert isinstance(op, PipeOpTaskPreprocTorch)
    return op


@pytest.fixture
def x() -> torch.Tensor:
    return torch.rand(6, 3, 8, 8, generator=torch.Generator().manual_seed(3))


def test_every_operator_is_registered_with_its_key_and_stages() -> None:
    keys = [k for k in tw.registry.pipeops if k.startswith(("trafo_", "augment_"))]
    assert sorted(keys) == sorted(TRAFO + AUGMENT)
    for key in keys:
        op = make(key)
        assert op.id == key
        assert op.param_set.values["stages"] == ("both" if key in TRAFO else "train")
        assert op.is_random == (key in RANDOM), key


@pytest.mark.parametrize("key", TRAFO + AUGMENT)
def test_param_set_mirrors_the_function(key: str) -> None:
    op = make(key)
    check_param_set(op.param_set)
    signature = list(inspect.signature(op.fn).parameters.values())[1:]
    reserved = ("stages", "affect_columns")
    declared = {k: p for k, p in op.param_set.params.items() if k not in reserved}
    assert set(declared) == {p.name for p in signature}
    for param in signature:
        spec = declared[param.name]
        assert "train" in spec.tags
        if param.default is inspect.Parameter.empty:
            assert "required" in spec.tags, (key, param.name)
        elif "required" not in spec.tags:
            assert spec.default == param.default, (key, param.name)
        else:  # mlr3torch requires it although the function has a default
            assert spec.default is NO_DEFAULT


@pytest.mark.parametrize("key", TRAFO + AUGMENT)
def test_materialized_output_matches_the_shape_rule_and_the_function(
    key: str, x: torch.Tensor
) -> None:
    op = make(key)
    task = image_task(x)
    out = op.train([task])[0]
    shape = lazy_shape(out.data(cols="img")["img"])
    torch.manual_seed(11)
    got = images(out)
    if shape is not None:
        assert shape == (None, *got.shape[1:])
    torch.manual_seed(11)
    expected = op.fn(x, **op.state["param_vals"])
    torch.testing.assert_close(got, expected)
    # at predict time an augmentation is the identity, a trafo applies again
    predicted = images(op.predict([task])[0])
    if key in AUGMENT:
        assert torch.equal(predicted, x)
    else:
        torch.testing.assert_close(predicted, expected)


def test_trafo_values_on_a_task(x: torch.Tensor) -> None:
    out = po("trafo_normalize", mean=[0.5, 0.5, 0.5], std=[0.5, 0.25, 1.0]).train([image_task(x)])
    got = images(out[0])
    std = torch.tensor([0.5, 0.25, 1.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(got, (x - 0.5) / std)
    gray = images(po("trafo_grayscale", num_output_channels=1).train([image_task(x)])[0])
    torch.testing.assert_close(gray[:, 0], 0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2])


def test_augmentation_is_seeded_and_only_at_train_time(x: torch.Tensor) -> None:
    task = image_task(x.repeat(4, 1, 1, 1))
    op = po("augment_random_crop", size=5, padding=1)
    col = op.train([task])[0].data(cols="img")["img"]
    assert lazy_shape(col) == (None, 3, 5, 5)
    torch.manual_seed(1)
    a = materialize(col, rbind=True)
    torch.manual_seed(1)
    b = materialize(col, rbind=True)
    torch.manual_seed(2)
    c = materialize(col, rbind=True)
    assert torch.equal(a, b) and not torch.equal(a, c)
    # the predict shape is the input's: a learner would refuse this train/predict mismatch
    assert op.state["shapes"]["img"] == ((None, 3, 5, 5), (None, 3, 8, 8))
    assert op.shapes_out([(None, 3, 8, 8)], "predict") == [(None, 3, 8, 8)]


def test_stages_both_applies_an_augmentation_at_predict(x: torch.Tensor) -> None:
    op = po("augment_hflip", stages="both")
    task = image_task(x)
    op.train([task])
    assert torch.equal(images(op.predict([task])[0]), x.flip(-1))
    trafo = po("trafo_adjust_brightness", brightness_factor=0.5, stages="train")
    trafo.train([task])
    assert torch.equal(images(trafo.predict([task])[0]), x)


def test_operators_chain_and_shapes_propagate(x: torch.Tensor) -> None:
    graph = (
        po("trafo_pad", padding=2)
        >> po("augment_center_crop", size=(6, 10), stages="both")
        >> po("trafo_resize", size=(3, 5))
        >> po("trafo_reshape", shape=(-1, 45))
    )
    out = graph.train(image_task(x))
    (task,) = out.values()
    col = task.data(cols="img")["img"]
    assert lazy_shape(col) == (None, 45)
    expected = tf.resize(tf.center_crop(tf.pad(x, 2), (6, 10)), (3, 5)).reshape(6, 45)
    torch.testing.assert_close(materialize(col, rbind=True), expected)


def test_invalid_parameters_and_shapes_are_reported() -> None:
    with pytest.raises(InvalidParameterError, match="'size'.*trafo_resize.*integer >= 1"):
        po("trafo_resize", size=0)
    with pytest.raises(InvalidParameterError, match="'padding_mode'"):
        po("trafo_pad", padding=1, padding_mode="wrap")
    with pytest.raises(InvalidParameterError, match="'hue_factor'"):
        po("trafo_adjust_hue", hue_factor=0.9)
    with pytest.raises(InvalidParameterError, match="'transforms'.*callables"):
        po("augment_random_choice", transforms=[1, 2])
    gray_task = image_task(torch.rand(4, 1, 8, 8))
    with pytest.raises(ShapeError, match="'trafo_grayscale' needs RGB images"):
        po("trafo_grayscale", num_output_channels=1).train([gray_task])
    with pytest.raises(ShapeError, match="'augment_crop' cannot crop rows 4 to 8"):
        po("augment_crop", top=4, left=0, height=5, width=2).train([gray_task])


def test_trained_operators_pickle(x: torch.Tensor) -> None:
    op = po("augment_random_choice", transforms=[tf.hflip, tf.vflip], p=[0.2, 0.8])
    task = image_task(x)
    op.train([task])
    clone = pickle.loads(pickle.dumps(op))
    assert type(clone) is type(op)
    assert clone.state["param_vals"]["p"] == [0.2, 0.8]
    assert torch.equal(images(clone.predict([task])[0]), x)


def test_learner_trains_on_augmented_lazy_images(x: torch.Tensor) -> None:
    task = tw.TaskClassif(
        pd.DataFrame(
            {
                "img": as_lazy_tensor(torch.rand(24, 3, 8, 8)),
                "y": pd.Categorical(["a", "b"] * 12),
            }
        ),
        target="y",
    )

    def learner() -> tw.Learner:
        graph = (
            po("augment_random_horizontal_flip")
            >> po("augment_color_jitter", brightness=0.3)
            >> po("trafo_resize", size=4)
            >> po("torch_ingress_ltnsr")
            >> nn("flatten")
            >> nn("head")
            >> po("torch_loss", loss="cross_entropy")
            >> po("torch_optimizer", optimizer="adam")
            >> po("torch_model_classif", epochs=2, batch_size=8, seed=7)
        )
        learner = tw.as_learner(graph)
        learner.predict_type = "prob"
        return learner

    first, second = learner(), learner()
    first.train(task)
    second.train(task)
    p1, p2 = first.predict(task), second.predict(task)
    assert p1.prob.shape == (24, 2)
    pd.testing.assert_frame_equal(pd.DataFrame(p1.prob), pd.DataFrame(p2.prob))
