"""po("torch_ingress_ltnsr"): shapes, feature selection and errors (§11 item 81)."""

import numpy as np
import pandas as pd
import pytest
import torch

import torchweave as tw
from torchweave.errors import InvalidParameterError, ShapeError, TaskError
from torchweave.lazy import PipeOpTorchIngressLazyTensor, as_lazy_tensor, batchgetter_lazy_tensor

IMAGES = torch.rand(5, 3, 28, 30)


class Images(torch.utils.data.Dataset):
    """Images of unknown shape (declared None)."""

    def __getitem__(self, i):
        return {"x": IMAGES[i]}

    def __getitems__(self, ids):
        return {"x": IMAGES[ids]}

    def __len__(self):
        return 5


def task_of(**columns):
    frame = pd.DataFrame({**columns, "y": np.arange(5.0)})
    return tw.TaskRegr(frame, target="y", id="imgs")


def test_shape_comes_from_the_column():
    md = tw.po("torch_ingress_ltnsr").train([task_of(x=as_lazy_tensor(IMAGES))])[0]
    assert md.pointer_shape == (None, 3, 28, 30)
    token = md.ingress["torch_ingress_ltnsr.input"]
    assert token.batchgetter is batchgetter_lazy_tensor
    assert token.features == ["x"]
    data = task_of(x=as_lazy_tensor(IMAGES)).data(rows=[3, 1], cols="x")
    assert torch.equal(token.batchgetter(data), IMAGES[[3, 1]])


def test_unknown_shapes_need_the_shape_parameter():
    task = task_of(x=as_lazy_tensor(Images(), dataset_shapes={"x": None}))
    with pytest.raises(ShapeError, match="see its documentation"):
        tw.po("torch_ingress_ltnsr").train([task])
    md = tw.po("torch_ingress_ltnsr", shape="infer").train([task])[0]
    assert md.pointer_shape == (None, 3, 28, 30)
    md = tw.po("torch_ingress_ltnsr", shape=(None, 3, 28, 30)).train([task])[0]
    assert md.pointer_shape == (None, 3, 28, 30)


def test_a_given_shape_must_agree():
    task = task_of(x=as_lazy_tensor(IMAGES))
    with pytest.raises(ShapeError, match="disagrees with the shape"):
        tw.po("torch_ingress_ltnsr", shape=(None, 1, 28, 30)).train([task])
    with pytest.raises(InvalidParameterError, match="batch"):
        tw.po("torch_ingress_ltnsr", shape=(5, 3, 28, 30))


def test_other_feature_types_are_rejected_unless_a_column_is_named():
    task = task_of(x=as_lazy_tensor(IMAGES), num=np.arange(5.0))
    with pytest.raises(TaskError, match="takes features of type 'lazy_tensor'"):
        tw.po("torch_ingress_ltnsr").train([task])
    md = tw.po("torch_ingress_ltnsr", feature_name="x").train([task])[0]
    assert md.ingress["torch_ingress_ltnsr.input"].features == ["x"]
    assert md.task.feature_names == ["x", "num"]
    with pytest.raises(TaskError, match="'num' of task 'imgs' is a 'numeric' feature"):
        tw.po("torch_ingress_ltnsr", feature_name="num").train([task])
    with pytest.raises(TaskError, match="'z' of task 'imgs' is not a feature"):
        tw.po("torch_ingress_ltnsr", feature_name="z").train([task])


def test_exactly_one_lazy_column_without_a_name():
    x = as_lazy_tensor(IMAGES)
    task = task_of(a=x, b=x)
    with pytest.raises(TaskError, match="expects 1 'lazy_tensor' feature, but got 2"):
        tw.po("torch_ingress_ltnsr").train([task])
    md = tw.po("torch_ingress_ltnsr", feature_name="b").train([task])[0]
    assert md.ingress["torch_ingress_ltnsr.input"].features == ["b"]


def test_missing_elements_are_refused():
    x = pd.Series(as_lazy_tensor(IMAGES)[:4]).reindex(range(5)).array
    with pytest.raises(TaskError, match="missing"):
        tw.po("torch_ingress_ltnsr").train([task_of(x=x)])
    with pytest.raises(TaskError, match="missing"):
        tw.po("torch_ingress_ltnsr", feature_name="x").train([task_of(x=x)])


def test_registered_and_predict_passes_the_task():
    op = tw.po("torch_ingress_ltnsr")
    assert isinstance(op, PipeOpTorchIngressLazyTensor)
    task = task_of(x=as_lazy_tensor(IMAGES))
    op.train([task])
    assert op.state == {"shape": (None, 3, 28, 30)}
    assert op.predict([task])[0] is task
