"""benchmark() gives different learners that share an id distinct ids."""

import torchweave as tw


def test_duplicate_learner_ids_get_suffixes():
    shallow = tw.lrn("classif.rpart", max_depth=1)
    deep = tw.lrn("classif.rpart", max_depth=4)
    design = tw.benchmark_grid(
        tw.tsks("iris", "wine"), [shallow, deep, tw.lrn("classif.featureless")], tw.rsmp("holdout")
    )
    bmr = tw.benchmark(design)
    ids = list(bmr.aggregate("classif.ce")["learner_id"])
    assert ids == ["classif.rpart_1", "classif.rpart_2", "classif.featureless"] * 2
    assert bmr.renamed_learners == {
        "classif.rpart_1": "classif.rpart",
        "classif.rpart_2": "classif.rpart",
    }
    assert "renamed: classif.rpart_1 (classif.rpart)" in repr(bmr)
    assert shallow.id == deep.id == "classif.rpart"  # the user's learners keep their ids


def test_one_learner_on_several_tasks_keeps_its_id():
    design = tw.benchmark_grid(tw.tsks("iris", "wine"), tw.lrn("classif.rpart"), tw.rsmp("holdout"))
    bmr = tw.benchmark(design)
    assert set(bmr.aggregate("classif.ce")["learner_id"]) == {"classif.rpart"}
    assert bmr.renamed_learners == {}
