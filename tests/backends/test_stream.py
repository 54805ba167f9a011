"""Training and prediction stream from a database backend, with the results of pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import torchweave as tw
from torchweave import nn, po
from torchweave.data.backends.duckdb_backend import DataBackendDuckDB
from torchweave.training.stream import StreamDataset, StreamLoader


def penguin_graph(**params):
    return tw.as_learner(
        po("imputemedian")
        >> po("imputemode")
        >> po("encode")
        >> po("scale")
        >> po("torch_ingress_num")
        >> nn("linear", out_features=8)
        >> nn("relu")
        >> nn("head")
        >> po("torch_loss", loss="cross_entropy")
        >> po("torch_optimizer", optimizer=tw.t_opt("adam", lr=0.01))
        >> po("torch_model_classif", epochs=2, batch_size=16, seed=1, shuffle=False, **params)
    )


def test_graph_learner_gives_identical_results_on_pandas_and_parquet(tmp_path, monkeypatch):
    task = tw.tsk("penguins")
    path = tmp_path / "penguins.parquet"
    task.data().to_parquet(path)
    db = tw.TaskClassif(tw.as_data_backend(path, chunk_rows=40), "species")
    reads: list[int] = []
    original = DataBackendDuckDB.data

    def counting(self, rows, cols):
        reads.append(self.nrow if rows is None else len(rows))
        return original(self, rows, cols)

    monkeypatch.setattr(DataBackendDuckDB, "data", counting)
    train, test = np.arange(0, task.nrow, 2), np.arange(1, task.nrow, 2)
    results = []
    for t in (task, db):
        learner = penguin_graph()
        learner.predict_type = "prob"
        learner.train(t, row_ids=train)
        results.append(learner.predict(t, row_ids=test))
    mem, streamed = results
    np.testing.assert_array_equal(streamed.prob, mem.prob)
    assert streamed.response.tolist() == mem.response.tolist()
    assert streamed.row_ids.tolist() == test.tolist()
    # Rows come in chunks (the truth of the prediction reads the test rows once).
    assert max(reads) <= max(48, len(test)) and len(reads) > 10


def regr_graph(**params):
    return tw.as_learner(
        po("torch_ingress_num")
        >> nn("linear", out_features=8)
        >> nn("relu")
        >> nn("head")
        >> po("torch_loss", loss="mse")
        >> po("torch_optimizer", optimizer=tw.t_opt("sgd", lr=0.05))
        >> po("torch_model_regr", epochs=1, batch_size=8, seed=3, **params)
    )


def test_workers_read_chunks_in_order(frame, parquet):
    data = frame[["x", "z", "i", "r"]].fillna(0.0)
    path = parquet.with_name("num.parquet")
    data.to_parquet(path, row_group_size=16)
    mem = tw.TaskRegr(data, "r")
    db = tw.TaskRegr(tw.as_data_backend(path, chunk_rows=16), "r")
    a = regr_graph(shuffle=False).train(mem).predict(mem)
    b = regr_graph(shuffle=False, num_workers=2).train(db).predict(db)
    np.testing.assert_array_equal(a.response, b.response)


def test_chunk_shuffling_covers_every_row_once(parquet):
    task = tw.TaskRegr(tw.as_data_backend(parquet, chunk_rows=16), "r")
    task.select(["x", "z"])
    token = tw.TorchIngressToken(["x", "z"], tw.batchgetter_num)
    dataset = StreamDataset(task, {"input": token})
    loader = StreamLoader(dataset, 8, True, False, torch.Generator().manual_seed(0))
    orders = []
    for _ in range(2):
        batches = list(loader)
        assert len(batches) == len(loader) == 8
        index = torch.cat([b["index"] for b in batches])
        assert sorted(index.tolist()) == list(range(60))
        x = torch.cat([b["x"]["input"] for b in batches])
        expected = task.data(cols=["x", "z"]).to_numpy(np.float32, na_value=np.nan)[index.numpy()]
        np.testing.assert_array_equal(x.numpy(), expected)
        orders.append(index.tolist())
    assert orders[0] != orders[1] and orders[0] != list(range(60))


def test_unseen_levels_and_missing_values_fail_as_with_pandas(tmp_path, frame):
    data = frame[["k", "r"]]
    learner = tw.as_learner(
        po("torch_ingress_categ")
        >> nn("tokenizer_categ", d_token=2)
        >> nn("flatten")
        >> nn("head")
        >> po("torch_loss", loss="mse")
        >> po("torch_optimizer", optimizer="adam")
        >> po("torch_model_regr", epochs=1, batch_size=16, seed=1)
    )
    learner.train(tw.TaskRegr(data, "r"))
    new = data.assign(k=pd.Categorical(np.where(np.arange(60) == 4, "q", data["k"])))
    path = tmp_path / "new.parquet"
    new.to_parquet(path)
    errors = []
    for task in (tw.TaskRegr(new, "r"), tw.TaskRegr(tw.as_data_backend(path), "r")):
        with pytest.raises(tw.TaskError, match="factor column 'k' has the level\\(s\\) 'q'") as err:
            learner.predict(task)
        errors.append(str(err.value).split("\n")[0])
    assert errors[0] == errors[1]
    holes = frame[["x", "z", "r"]]
    path = tmp_path / "holes.parquet"
    holes.to_parquet(path)
    messages = []
    for task in (tw.TaskRegr(holes, "r"), tw.TaskRegr(tw.as_data_backend(path), "r")):
        with pytest.raises(tw.TaskError, match="missing") as err:
            regr_graph().train(task)
        messages.append(str(err.value).split("\n")[0])
    assert messages[0] == messages[1]
