"""po("targettrafo"): the target is transformed for training and predictions are mapped back."""

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import torchweave as tw
from torchweave import nn, po
from torchweave.errors import ChannelTypeError, InvalidParameterError, TaskError
from torchweave.testing.pipeops import check_pipeop


def big_target_task(n=400, seed=1):
    """A target around 3e5 that moves by 5e4 per unit of a (non-linear) signal."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    signal = x[:, 0] + 0.5 * x[:, 1] ** 2 - 0.5
    y = 3e5 + 5e4 * signal + rng.normal(scale=2e3, size=n)
    frame = pd.DataFrame(x, columns=["x1", "x2", "x3"]).assign(price=y)
    return tw.TaskRegr(frame, "price", id="houses")


def small_task(y, id="small"):
    y = np.asarray(y, dtype=float)
    return tw.TaskRegr(pd.DataFrame({"x": np.arange(len(y), dtype=float), "y": y}), "y", id=id)


def mlp_graph(*head, epochs=30):
    return (tw.as_graph(po("nop")) if not head else head[0]) >> (
        po("scale")
        >> po("torch_ingress_num")
        >> nn("linear", out_features=32)
        >> nn("relu")
        >> nn("head")
        >> po("torch_loss", loss="mse")
        >> po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.01))
        >> po(
            "torch_model_regr",
            epochs=epochs,
            batch_size=32,
            seed=1,
            measures_valid=tw.msr("regr.mse"),
        )
    )


def test_params_and_registry():
    op = po("targettrafo")
    assert op.id == "targettrafo"
    assert op.param_set.values == {"method": "scale"}
    assert po("targettrafo", method="log1p").param_set.values["method"] == "log1p"
    with pytest.raises(InvalidParameterError, match="'method' parameter of PipeOp 'targettrafo'"):
        po("targettrafo", method="sqrt")


def test_scale_centres_and_scales_the_training_target_and_leaves_the_input_alone():
    task = small_task([1.0, 2.0, 3.0, 6.0])
    before = task.data()
    op = po("targettrafo")
    out = op.train([task])[0]
    assert op.state == {
        "target": "y",
        "method": "scale",
        "center": 3.0,
        "scale": pytest.approx(np.std([1, 2, 3, 6], ddof=1)),
    }
    expected = (np.array([1, 2, 3, 6]) - 3.0) / np.std([1, 2, 3, 6], ddof=1)
    np.testing.assert_allclose(out.truth().to_numpy(), expected)
    pd.testing.assert_frame_equal(task.data(), before)  # never modified
    pd.testing.assert_frame_equal(out.data(cols="x"), task.data(cols="x"))
    # at predict time the task passes through: the learner does not need the target
    assert op.predict([task])[0] is task
    np.testing.assert_allclose(op.inverse(expected), [1, 2, 3, 6])


def test_a_constant_target_is_only_centred():
    op = po("targettrafo")
    out = op.train([small_task([5.0, 5.0, 5.0])])[0]
    assert (op.state["center"], op.state["scale"]) == (5.0, 1.0)
    np.testing.assert_array_equal(out.truth().to_numpy(), [0.0, 0.0, 0.0])


@pytest.mark.parametrize(("method", "fun"), [("log", np.log), ("log1p", np.log1p)])
def test_log_methods_transform_and_invert(method, fun):
    y = [0.5, 1.0, 10.0, 1000.0] if method == "log" else [0.0, 1.0, 10.0, 1000.0]
    op = po("targettrafo", method=method)
    out = op.train([small_task(y)])[0]
    np.testing.assert_allclose(out.truth().to_numpy(), fun(y))
    np.testing.assert_allclose(op.inverse(fun(y)), y)


def test_log_refuses_non_positive_targets_naming_column_and_minimum():
    with pytest.raises(
        TaskError,
        match=r"'targettrafo' with method 'log' needs positive values of the target column "
        r"'y' \(task 'small'\)\. Got a minimum of 0\. Use method 'log1p'",
    ):
        po("targettrafo", method="log").train([small_task([0.0, 1.0, 2.0])])
    with pytest.raises(TaskError, match=r"greater than -1 .* column 'y' .* minimum of -3"):
        po("targettrafo", method="log1p").train([small_task([-3.0, 1.0, 2.0])])
    task = small_task([1.0, 2.0, 3.0, -1.0])
    task.internal_valid_task = [3]  # the validation rows must fit the method too
    with pytest.raises(TaskError, match=r"column 'y' \(task 'small'\)\. Got a minimum of -1\."):
        po("targettrafo", method="log").train([task])


def test_only_rows_in_use_count():
    task = small_task([-5.0, 1.0, np.e, np.e**2]).filter([1, 2, 3])
    out = po("targettrafo", method="log").train([task])[0]
    np.testing.assert_allclose(out.truth().to_numpy(), [0.0, 1.0, 2.0])
    assert list(out.row_ids) == [1, 2, 3]


def test_the_internal_validation_task_is_transformed_with_the_training_state():
    task = small_task([1.0, 2.0, 3.0, 4.0, 100.0])
    task.internal_valid_task = [4]
    op = po("targettrafo")
    out = op.train([task])[0]
    assert op.state["center"] == 2.5  # the validation row does not count
    valid = out.internal_valid_task
    assert valid is not None
    np.testing.assert_allclose(valid.truth().to_numpy(), [(100.0 - 2.5) / op.state["scale"]])


def test_classification_tasks_are_refused_clearly():
    with pytest.raises(
        TaskError,
        match=r"PipeOp 'targettrafo' transforms a regression target, but task 'iris' is a "
        r"TaskClassif \(target 'species'\)",
    ):
        po("targettrafo").train([tw.tsk("iris")])
    learner = tw.as_learner(po("targettrafo") >> po("learner", tw.lrn("classif.featureless")))
    with pytest.raises(TaskError, match="transforms a regression target"):
        learner.train(tw.tsk("iris"))
    op = po("targettrafo")
    op.train([small_task([1.0, 2.0])])
    with pytest.raises(ChannelTypeError, match="takes TaskRegr"):
        op.predict([tw.tsk("iris")])
    pred = tw.lrn("classif.featureless").train(tw.tsk("iris")).predict(tw.tsk("iris"))
    with pytest.raises(TaskError, match="can only invert regression predictions"):
        op.invert_prediction(pred)


def test_graph_learner_predicts_on_the_original_scale_with_a_featureless_learner():
    task = tw.tsk("mtcars")
    y = task.truth().to_numpy()
    for method, expected in [
        ("scale", y.mean()),
        ("log", np.exp(np.log(y).mean())),  # the geometric mean
        ("log1p", np.expm1(np.log1p(y).mean())),
    ]:
        learner = tw.as_learner(
            po("targettrafo", method=method) >> po("learner", tw.lrn("regr.featureless"))
        )
        pred = learner.train(task).predict(task)
        np.testing.assert_allclose(pred.response, expected)
        np.testing.assert_array_equal(pred.truth, y)  # the truth is untouched
        inner = learner.base_learner().predict(task).response
        assert not np.allclose(inner, expected)  # the learner inside sees the transformed scale


def test_with_an_sklearn_learner_in_resampling():
    task = big_target_task(n=200)
    learner = tw.as_learner(po("targettrafo") >> po("learner", tw.as_learner(LinearRegression())))
    rr = tw.resample(task, learner, tw.rsmp("cv", folds=3, random_state=1))
    plain = tw.resample(
        task, tw.as_learner(LinearRegression()), tw.rsmp("cv", folds=3, random_state=1)
    )
    # a linear model is equivariant to scaling the target: the same predictions
    assert rr.aggregate(tw.msr("regr.rsq"))["regr.rsq"] == pytest.approx(
        plain.aggregate(tw.msr("regr.rsq"))["regr.rsq"]
    )


def test_a_torch_mlp_fits_a_large_target_only_with_the_transformation():
    task = big_target_task()
    train, test = range(0, 400, 2), range(1, 400, 2)
    raw = tw.as_learner(mlp_graph())
    raw.validate = 0.25
    with pytest.warns(UserWarning, match=r"po\(\"targettrafo\"\)"):  # the loop points to it
        raw.train(task, row_ids=train)
    raw_rsq = raw.predict(task, row_ids=test).score(tw.msr("regr.rsq"))["regr.rsq"]
    assert raw_rsq < 0  # mse on the raw target: far from the data after 30 epochs

    learner = tw.as_learner(mlp_graph(po("targettrafo", method="scale")))
    assert learner.predict_type == "response"
    learner.validate = 0.25
    learner.train(task, row_ids=train)
    pred = learner.predict(task, row_ids=test)
    assert pred.score(tw.msr("regr.rsq"))["regr.rsq"] > 0.9
    assert 2e5 < float(np.median(pred.response)) < 4e5  # on the original scale
    # internal validation works through it; its mse is on the transformed (unit) scale
    scores = learner.internal_valid_scores
    assert set(scores) == {"torch_model_regr.regr.mse"}
    assert 0 < scores["torch_model_regr.regr.mse"] < 0.2


def test_log_with_a_torch_learner():
    task = big_target_task()
    learner = tw.as_learner(
        mlp_graph(po("targettrafo", method="log") >> po("targettrafo", id="t2"))
    )
    learner.validate = 0.25
    learner.train(task, row_ids=range(0, 400, 2))
    pred = learner.predict(task, row_ids=range(1, 400, 2))
    assert pred.score(tw.msr("regr.rsq"))["regr.rsq"] > 0.9  # both transformations inverted


def test_conforms():
    results = check_pipeop("targettrafo")
    assert results["predict_like_train"] == "skipped: the operator sets predict_like_train = False"
    assert all(r == "passed" or r.startswith("skipped") for r in results.values()), results
