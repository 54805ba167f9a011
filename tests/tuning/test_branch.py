"""po("branch") / po("unbranch"): routing, skipped operators, errors, tuning the choice."""

import pytest

import torchweave as tw
from tests.tuning.helpers import branch_graph
from torchweave.errors import GraphError, InvalidParameterError
from torchweave.pipelines.pipeop import NO_OP

IRIS = tw.tsk("iris")


def test_branch_routes_and_unbranch_joins():
    op = tw.po("branch", options=3)
    assert [ch.name for ch in op.output] == ["output1", "output2", "output3"]
    op.param_set.set_values(selection=2)
    assert op.train([IRIS]) == [NO_OP, IRIS, NO_OP]
    assert tw.po("unbranch", options=["a", "b"]).train([NO_OP, 5]) == [5]


def test_only_the_selected_path_trains():
    graph = (
        tw.po("branch", options=["scale", "nop"])
        >> [tw.po("scale"), tw.po("nop")]
        >> tw.po("unbranch")
        >> tw.po("learner", tw.lrn("classif.rpart"))
    )
    learner = tw.as_learner(graph)
    learner.train(IRIS)
    assert learner.model["nop"] is NO_OP and learner.model["scale"] not in (None, NO_OP)
    learner.param_set.set_values(**{"branch.selection": "nop"})
    learner.train(IRIS)
    assert learner.model["scale"] is NO_OP
    assert learner.predict(IRIS).score(tw.msr("classif.acc"))["classif.acc"] > 0.9


def test_unbranch_needs_exactly_one_active_input():
    with pytest.raises(GraphError, match="exactly one active input at train time.*Got 2 of 2"):
        tw.po("unbranch").train([1, 2])
    with pytest.raises(GraphError, match="Got 0 of 2"):
        tw.po("unbranch").train([NO_OP, NO_OP])


@pytest.mark.parametrize("options", [0, [], ["a", "a"], "ab", [2, 1], [1, 3]])
def test_bad_options(options):
    with pytest.raises(InvalidParameterError, match="'options' argument of PipeOp 'branch'"):
        tw.po("branch", options=options)


def test_numbered_options_given_as_their_list_equal_a_count():
    by_count, by_list = tw.po("branch", options=3), tw.po("branch", options=[1, 2, 3])
    assert by_list.options == by_count.options == [1, 2, 3]
    assert [ch.name for ch in by_list.output] == ["output1", "output2", "output3"]
    by_list.param_set.set_values(selection=2)
    assert by_list.train(["x"]) == [NO_OP, "x", NO_OP]


def test_the_selection_is_a_validated_parameter():
    with pytest.raises(InvalidParameterError, match=r"'selection' parameter.*one of"):
        tw.po("branch", options=["a", "b"], param_vals={"selection": "c"})


def test_tuning_the_branch_choice_makes_the_other_branch_inactive():
    learner = branch_graph()
    learner.param_set.set_values(
        **{
            "branch.selection": tw.to_tune(["small", "wide"]),
            "wide.out_features": tw.to_tune(8, 32),
        }
    )
    instance = tw.tune(
        tw.tnr("grid_search", resolution=2),
        IRIS,
        learner,
        tw.rsmp("holdout"),
        "classif.ce",
        seed=1,
    )
    archive = instance.archive
    assert len(archive) == 3  # small; wide with 8 and 32 units
    small = archive[archive["branch.selection"] == "small"]
    assert len(small) == 1 and small["wide.out_features"].isna().all()
    assert sorted(archive["wide.out_features"].dropna()) == [8, 32]
    assert set(archive["status"]) == {"ok"}
