"""DataDescriptor: shapes, input map, graphs, identity and pickling."""

import pickle

import pytest
import torch

from torchweave.errors import InvalidParameterError, InvalidTypeError, ShapeError
from torchweave.lazy import DataDescriptor, as_lazy_tensor, materialize
from torchweave.network import PipeOpModule
from torchweave.pipelines.graph import Graph
from torchweave.pipelines.ops.nop import PipeOpNOP

X = torch.arange(5 * 4, dtype=torch.float32).reshape(5, 4)
Z = torch.arange(5 * 2, dtype=torch.float32).reshape(5, 2)


class TwoElements(torch.utils.data.Dataset):
    """Elements x (4) and z (2), with batched fetching."""

    def __getitem__(self, i):
        return {"x": X[i], "z": Z[i]}

    def __getitems__(self, ids):
        return {"x": X[ids], "z": Z[ids]}

    def __len__(self):
        return 5


class Rows(torch.utils.data.Dataset):
    def __getitem__(self, i):
        return {"x": X[i]}

    def __len__(self):
        return 5


def double(x):
    return 2 * x


def add(a, b):
    return a + b


def test_shapes_are_inferred_from_getitems():
    dd = DataDescriptor(TwoElements(), input_map="z")
    assert dd.dataset_shapes == {"x": (None, 4), "z": (None, 2)}
    assert dd.pointer_shape == (None, 2)
    assert dd.input_map == ["z"]
    assert torch.equal(materialize(as_lazy_tensor(dd), rbind=True), Z)


def test_shapes_must_be_given_without_getitems():
    with pytest.raises(InvalidParameterError, match="dataset_shapes' must be provided"):
        DataDescriptor(Rows())
    dd = DataDescriptor(Rows(), dataset_shapes={"x": (None, 4)})
    assert dd.pointer_shape == (None, 4)


def test_shapes_are_checked_against_the_first_row():
    with pytest.raises(ShapeError, match="None as its first"):
        DataDescriptor(Rows(), dataset_shapes={"x": (5, 4)})
    with pytest.raises(ShapeError, match=r"its first row has the shape \(4,\)"):
        DataDescriptor(Rows(), dataset_shapes={"x": (None, 3)})
    with pytest.raises(ShapeError, match="first row"):
        DataDescriptor(Rows(), dataset_shapes={"x": (None, 4, 1)})
    with pytest.raises(InvalidParameterError, match="names 'y', but the dataset returns only 'x'"):
        DataDescriptor(Rows(), dataset_shapes={"y": (None, 4)})
    with pytest.raises(InvalidParameterError, match="non-empty dict"):
        DataDescriptor(Rows(), dataset_shapes={})
    # unknown sizes are fine
    assert DataDescriptor(Rows(), dataset_shapes={"x": (None, None)}).pointer_shape == (None, None)

    class NotTensors(Rows):
        def __getitem__(self, i):
            return {"x": [1, 2]}

    with pytest.raises(InvalidTypeError, match="must return torch tensors"):
        DataDescriptor(NotTensors(), dataset_shapes={"x": None})
    with pytest.raises(InvalidTypeError, match="must be a torch Dataset"):
        DataDescriptor(object(), dataset_shapes={"x": None})


def test_input_map_chooses_the_element():
    with pytest.raises(InvalidParameterError, match="must say which dataset element"):
        DataDescriptor(TwoElements())
    with pytest.raises(InvalidParameterError, match="does not return"):
        DataDescriptor(TwoElements(), input_map="w")
    with pytest.raises(InvalidParameterError, match="exactly one dataset element"):
        DataDescriptor(TwoElements(), input_map=["x", "z"])


def test_a_graph_of_modules_is_the_preprocessing():
    graph = Graph().add_pipeop(PipeOpModule("double", double), clone=False)
    dd = DataDescriptor(TwoElements(), graph=graph, input_map="x", pointer_shape=(None, 4))
    assert dd.pointer == ("double", "output")
    assert torch.equal(materialize(as_lazy_tensor(dd, ids=[1, 0]), rbind=True), 2 * X[[1, 0]])
    # two inputs fed by two dataset elements
    graph = Graph()
    graph.add_pipeop(PipeOpNOP("a"), clone=False)
    graph.add_pipeop(PipeOpModule("head", lambda t: t[:, :2]), clone=False)
    graph.add_pipeop(PipeOpModule("sum", add, inname=["a", "b"]), clone=False)
    graph.add_edge("head", "sum", dst_channel="a")
    graph.add_edge("a", "sum", dst_channel="b")
    dd = DataDescriptor(TwoElements(), graph=graph, input_map=["z", "x"])
    out = materialize(as_lazy_tensor(dd), rbind=True)
    assert torch.equal(out, X[:, :2] + Z)
    assert dd.pointer_shape is None
    with pytest.raises(InvalidParameterError, match="one dataset element per graph input"):
        DataDescriptor(TwoElements(), graph=graph, input_map=["z"])
    with pytest.raises(InvalidParameterError, match="not an output channel"):
        DataDescriptor(TwoElements(), graph=graph, input_map=["z", "x"], pointer=("x", "y"))


def test_only_module_graphs_are_accepted():
    from torchweave.pipelines.ops.scale import PipeOpScale

    graph = Graph().add_pipeop(PipeOpScale(), clone=False)
    with pytest.raises(InvalidTypeError, match="only PipeOpModule and PipeOpNOP"):
        DataDescriptor(Rows(), dataset_shapes={"x": (None, 4)}, graph=graph)
    with pytest.raises(InvalidTypeError, match="must be a torchweave Graph"):
        DataDescriptor(Rows(), dataset_shapes={"x": (None, 4)}, graph=double)


def test_identity_by_dataset_and_graph():
    ds = Rows()
    a = DataDescriptor(ds, dataset_shapes={"x": (None, 4)})
    b = DataDescriptor(ds, dataset_shapes={"x": (None, 4)})
    c = DataDescriptor(Rows(), dataset_shapes={"x": (None, 4)})
    assert a == b and a.hash == b.hash and a.dataset_hash == b.dataset_hash
    assert a != c and a.dataset_hash != c.dataset_hash
    assert len({a, b, c}) == 2


def test_pickle_keeps_the_identity():
    dd = DataDescriptor(TwoElements(), input_map="x")
    restored = pickle.loads(pickle.dumps(dd))
    assert restored == dd and restored.dataset_hash == dd.dataset_hash
    again = DataDescriptor(restored.dataset, input_map="x")
    assert again.dataset_hash == dd.dataset_hash


def test_repr_and_graph():
    dd = DataDescriptor(TwoElements(), input_map="x")
    text = repr(dd)
    assert text.startswith("<DataDescriptor: 0 ops>")
    assert "x: (None, 4)" in text and "shape(train): (None, 4)" in text
    graph = dd.graph
    assert graph.ids() == [dd.pointer[0]]
    lt = as_lazy_tensor(dd)
    from torchweave.lazy import transform_lazy_tensor

    more = transform_lazy_tensor(lt, double, "double.x", (None, 4))
    assert more.data_descriptor.n_steps == 1
    assert more.data_descriptor.graph.ids() == [dd.pointer[0], "double.x"]
    assert more.data_descriptor.pointer == ("double.x", "output")
