"""The configuration operators torch_loss, torch_optimizer and torch_callbacks."""

import pickle

import pytest

import torchweave as tw
import torchweave.training.ops  # registers the operators
from torchweave.callbacks.callback_set import CallbackSet
from torchweave.callbacks.descriptor import TorchCallback
from torchweave.errors import InvalidParameterError, TaskError
from torchweave.network.model_descriptor import ModelDescriptor
from torchweave.testing.pipeops import check_pipeop
from torchweave.training.descriptors import TorchLoss, TorchOptimizer
from torchweave.training.ops import PipeOpTorchCallbacks, PipeOpTorchLoss, PipeOpTorchOptimizer
from torchweave.training.sugar import t_clbk, t_loss, t_opt


def _md(task="iris") -> ModelDescriptor:
    return tw.po("torch_ingress_num").train([tw.tsk(task)])[0]


class CallbackSetCheck(CallbackSet):
    def __init__(self, freq=1, path=None):
        super().__init__()
        self.freq = freq
        self.path = path


# --- torch_loss ----------------------------------------------------------------------------
def test_torch_loss_sets_a_copy_of_the_loss():
    md = _md()
    op = tw.po("torch_loss", loss=t_loss("cross_entropy"))
    assert isinstance(op, PipeOpTorchLoss)
    assert (op.id, op.loss.id) == ("torch_loss", "cross_entropy")
    op.param_set.set_values(reduction="sum")
    out = op.train([md])[0]
    assert isinstance(out.loss, TorchLoss)
    assert out.loss is not op.loss
    assert out.loss.param_set.values == {"reduction": "sum"}
    assert out.graph is md.graph
    assert md.loss is None  # the input is not changed
    assert op.state == {}
    task = tw.tsk("iris")
    assert op.predict([task])[0] is task


def test_torch_loss_param_set_is_the_loss_param_set():
    given = t_loss("mse")
    op = PipeOpTorchLoss(given)
    assert op.loss is not given  # converted with clone=True
    assert op.param_set is op.loss.param_set
    given.param_set.set_values(reduction="none")
    assert op.param_set.values == {}


def test_torch_loss_takes_strings_and_param_vals():
    op = tw.po("torch_loss", loss="mse", reduction="sum")
    assert op.loss.id == "mse"
    assert op.param_set.values == {"reduction": "sum"}
    assert PipeOpTorchLoss().loss.id == "cross_entropy"
    op = PipeOpTorchLoss("l1", id="my_loss", param_vals={"reduction": "none"})
    assert op.id == "my_loss"
    assert op.loss.param_set.values == {"reduction": "none"}


def test_torch_loss_errors():
    md = tw.po("torch_loss", loss="cross_entropy").train([_md()])[0]
    with pytest.raises(
        InvalidParameterError, match="The loss of the model descriptor is already configured."
    ) as info:
        tw.po("torch_loss", loss="cross_entropy").train([md])
    assert "(raised in PipeOp 'torch_loss' during train)" in info.value.__notes__
    with pytest.raises(
        TaskError, match=r"The loss 'mse' is for 'regr' tasks, not classif tasks \(task 'iris'\)"
    ):
        tw.po("torch_loss", loss="mse").train([_md()])
    with pytest.raises(TaskError, match="'bce' is for binary tasks"):
        tw.po("torch_loss", loss="bce").train([_md()])
    with pytest.raises(
        InvalidParameterError,
        match="The 'reduction' parameter of PipeOp 'torch_loss' must be one of",
    ):
        tw.po("torch_loss", loss="mse", reduction="avg")


def test_torch_loss_on_a_regression_task():
    out = tw.po("torch_loss", loss="huber", delta=0.5).train([_md("mtcars")])[0]
    assert out.loss.generate(out.task).delta == 0.5


# --- torch_optimizer -----------------------------------------------------------------------
def test_torch_optimizer_sets_a_copy_of_the_optimizer():
    md = _md()
    op = tw.po("torch_optimizer", optimizer=t_opt("adam", lr=0.1))
    assert isinstance(op, PipeOpTorchOptimizer)
    assert op.param_set is op.optimizer.param_set
    out = op.train([md])[0]
    assert isinstance(out.optimizer, TorchOptimizer)
    assert out.optimizer is not op.optimizer
    assert out.optimizer.param_set.values == {"lr": 0.1}
    assert md.optimizer is None
    assert tw.po("torch_optimizer").optimizer.id == "adam"
    assert tw.po("torch_optimizer", optimizer="sgd", lr=0.2).param_set.values == {"lr": 0.2}


def test_torch_optimizer_already_configured():
    md = tw.po("torch_optimizer").train([_md()])[0]
    with pytest.raises(
        InvalidParameterError, match="The optimizer of the model descriptor is already configured."
    ):
        tw.po("torch_optimizer", optimizer="sgd").train([md])


def test_flat_params_in_a_graph_read_and_write_through():
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_optimizer", optimizer=t_opt("adam", lr=0.1))
        >> tw.po("torch_loss", loss=t_loss("cross_entropy"))
    )
    assert graph.param_set.values["torch_optimizer.lr"] == 0.1
    assert "torch_loss.reduction" in graph.param_set.ids()
    assert "torch_optimizer.param_groups" in graph.param_set.ids()
    graph.param_set.set_values(**{"torch_optimizer.lr": 0.01, "torch_loss.reduction": "sum"})
    assert graph.pipeops["torch_optimizer"].optimizer.param_set.values["lr"] == 0.01
    assert graph.pipeops["torch_loss"].loss.param_set.values == {"reduction": "sum"}
    with pytest.raises(
        InvalidParameterError,
        match="The 'lr' parameter of PipeOp 'torch_optimizer' must be a float >= 0",
    ):
        graph.param_set.set_values(**{"torch_optimizer.lr": -1.0})
    md = graph.train(tw.tsk("iris"))["torch_loss.output"]
    assert md.optimizer.param_set.values == {"lr": 0.01}
    assert md.loss.param_set.values == {"reduction": "sum"}
    assert md.pointer == ("head", "output")


# --- torch_callbacks -----------------------------------------------------------------------
def test_torch_callbacks_adds_copies_own_first():
    md = _md()
    first = tw.po("torch_callbacks", callbacks=t_clbk("history")).train([md])[0]
    assert list(first.callbacks) == ["history"]
    check = TorchCallback(CallbackSetCheck)
    op = tw.po("torch_callbacks", callbacks=[check], id="more")
    assert isinstance(op, PipeOpTorchCallbacks)
    assert op.callbacks["check"] is not check
    out = op.train([first])[0]
    assert list(out.callbacks) == ["check", "history"]
    assert out.callbacks["check"] is not op.callbacks["check"]
    assert out.callbacks["history"] is first.callbacks["history"]
    assert list(first.callbacks) == ["history"]  # the input is not changed


def test_torch_callbacks_default_and_strings():
    assert tw.po("torch_callbacks").callbacks == {}
    assert tw.po("torch_callbacks").train([_md()])[0].callbacks == {}
    assert list(tw.po("torch_callbacks", callbacks=["history"]).callbacks) == ["history"]
    assert list(PipeOpTorchCallbacks(CallbackSetCheck).callbacks) == ["check"]


def test_torch_callbacks_duplicates():
    md = tw.po("torch_callbacks", callbacks="history").train([_md()])[0]
    with pytest.raises(
        InvalidParameterError, match="Callbacks with IDs 'history' are already present."
    ):
        tw.po("torch_callbacks", callbacks=[t_clbk("history")]).train([md])
    with pytest.raises(
        InvalidParameterError, match="Callback ids must be unique; 'history' appear"
    ):
        tw.po("torch_callbacks", callbacks=["history", t_clbk("history")])
    two = tw.po("torch_callbacks", callbacks=["history", t_clbk("history", id="history2")])
    assert list(two.callbacks) == ["history", "history2"]


def test_torch_callbacks_param_set_prefixes_ids():
    check = TorchCallback(CallbackSetCheck)
    op = tw.po("torch_callbacks", callbacks=[check, "history"])
    assert op.param_set.ids() == ["check.freq", "check.path"]
    op.param_set.set_values(**{"check.freq": 3})
    assert op.callbacks["check"].param_set.values == {"freq": 3}
    graph = tw.po("torch_ingress_num") >> op
    assert graph.param_set.values["torch_callbacks.check.freq"] == 3
    graph.param_set.set_values(**{"torch_callbacks.check.path": "out"})
    md = graph.train(tw.tsk("iris"))["torch_callbacks.output"]
    cb = md.callbacks["check"].generate()
    assert (cb.freq, cb.path) == (3, "out")
    assert tw.po(
        "torch_callbacks", callbacks=check, param_vals={"check.freq": 5}
    ).param_set.values == {"check.freq": 5}


def test_the_full_configuration_chain():
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=5)
        >> tw.nn("relu")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss=t_loss("cross_entropy"))
        >> tw.po("torch_optimizer", optimizer=t_opt("adam", lr=0.1))
        >> tw.po("torch_callbacks", callbacks=t_clbk("history"))
    )
    md = graph.train(tw.tsk("iris"))["torch_callbacks.output"]
    assert (md.loss.id, md.optimizer.id, list(md.callbacks)) == (
        "cross_entropy",
        "adam",
        ["history"],
    )
    network = tw.model_descriptor_to_module(md)
    optimizer = md.optimizer.generate(network.named_parameters())
    assert optimizer.param_groups[0]["lr"] == 0.1
    assert type(md.loss.generate(md.task)).__name__ == "CrossEntropyLoss"
    text = repr(md)
    assert "* Loss:  Cross Entropy" in text
    assert "* Optimizer:  Adaptive Moment Estimation" in text
    assert "* Callbacks:  History" in text
    predicted = graph.predict(tw.tsk("iris"))
    assert list(predicted) == ["torch_callbacks.output"]


@pytest.mark.parametrize(
    ("key", "make"),
    [
        ("torch_loss", lambda: tw.po("torch_loss")),
        ("torch_optimizer", lambda: tw.po("torch_optimizer", optimizer=t_opt("sgd", lr=0.1))),
        (
            "torch_callbacks",
            lambda: tw.po(
                "torch_callbacks", callbacks=[TorchCallback(CallbackSetCheck), "history"]
            ),
        ),
    ],
)
def test_conformance(key, make):
    op = make()
    results = check_pipeop(op, inputs=[_md()], predict_inputs=[tw.tsk("iris")])
    assert results["registry"] == "passed"
    assert all(r == "passed" or r.startswith("skipped: ") for r in results.values()), results
    back = pickle.loads(pickle.dumps(op))
    assert back.param_set.values == op.param_set.values


def test_clone_keeps_param_set_and_descriptor_together():
    op = tw.po("torch_optimizer", optimizer=t_opt("adam", lr=0.1))
    twin = op.clone()
    assert twin.param_set is twin.optimizer.param_set
    twin.param_set.set_values(lr=0.5)
    assert op.param_set.values == {"lr": 0.1}
    cbs = tw.po("torch_callbacks", callbacks=[TorchCallback(CallbackSetCheck)])
    twin_cbs = cbs.clone()
    twin_cbs.param_set.set_values(**{"check.freq": 9})
    assert twin_cbs.callbacks["check"].param_set.values == {"freq": 9}
    assert cbs.param_set.values == {}


# --- PipeOpTorchModel: one final class, two named constructors --------------------------------
def test_pipeop_torch_model_takes_the_task_type_as_in_mlr3torch():
    op = tw.PipeOpTorchModel("regr")
    assert (op.id, op.task_type, op.learner.task_type) == ("torch_model", "regr", "regr")
    classif = tw.po("torch_model_classif", epochs=3)
    assert type(classif) is tw.PipeOpTorchModel
    assert (classif.id, classif.task_type, classif.param_set.values["epochs"]) == (
        "torch_model_classif",
        "classif",
        3,
    )
    assert tw.PipeOpTorchModelRegr(id="m").id == "m"
    with pytest.raises(InvalidParameterError, match="task_type must be 'classif' or 'regr'"):
        tw.PipeOpTorchModel("surv")


def test_a_graph_ending_in_a_plain_pipeop_torch_model_trains_and_predicts():
    graph = (
        tw.po("torch_ingress_num")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss="cross_entropy")
        >> tw.po("torch_optimizer", optimizer="adam")
        >> tw.PipeOpTorchModel("classif", param_vals={"epochs": 1, "batch_size": 50, "seed": 1})
    )
    learner = tw.as_learner(graph).train(tw.tsk("iris"))
    assert learner.model["torch_model"].model.epochs == 1
    assert len(learner.predict(tw.tsk("iris")).response) == 150
