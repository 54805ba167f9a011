"""The pipelines issue's acceptance run: penguins through a preprocessing graph."""

import numpy as np

import torchweave as tw
from torchweave.cli.demo import penguins_pipeline


def test_penguins_graph_learner_beats_the_baseline_and_draws(tmp_path):
    np.random.seed(3)
    task = tw.tsk("penguins")
    learner = tw.as_learner(penguins_pipeline())
    learner.param_set.set_values(**{"scale.robust": True, "encode.method": "treatment"})
    assert learner.param_set.values["scale.robust"] is True
    assert learner.param_set.values["encode.method"] == "treatment"
    cv = tw.rsmp("cv", folds=3, random_state=3)
    design = tw.benchmark_grid([task], [learner, tw.lrn("classif.featureless")], [cv])
    scores = tw.benchmark(design).aggregate(tw.msr("classif.acc")).set_index("learner_id")
    graph_acc = scores.loc[learner.id, "classif.acc"]
    baseline = scores.loc["classif.featureless", "classif.acc"]
    assert graph_acc > 0.95
    assert graph_acc > baseline + 0.4
    path = tmp_path / "penguins.png"
    assert learner.graph.plot(path) == path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
