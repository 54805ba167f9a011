"""Network outputs as predictions: encoding for a task, and scoring with measures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from torchweave.data.prediction import PredictionClassif, PredictionRegr
from torchweave.data.task import Task, TaskClassif

__all__ = ["encode_prediction", "score_outputs"]


def encode_prediction(output: torch.Tensor, task: Task, with_prob: bool) -> dict[str, Any]:
    """Turn network outputs into ``{"response": ..., "prob": ...}`` for a task.

    Multiclass: softmax over k logits, response the argmax. Binary: one logit for the
    positive class. Regression: the single output column. No rows give empty
    predictions of the same form (``prob`` with one column per class).
    """
    out = output.detach().float().cpu()
    if isinstance(task, TaskClassif):
        classes = task.class_names
        if len(classes) == 2:
            p_pos = torch.sigmoid(out.reshape(-1)).numpy().astype(np.float64)
            pos_first = classes[0] == task.positive
            prob = np.stack([p_pos, 1 - p_pos] if pos_first else [1 - p_pos, p_pos], axis=1)
        elif out.shape[0] == 0:
            prob = np.empty((0, len(classes)), dtype=np.float64)
        else:
            prob = torch.softmax(out, dim=1).numpy().astype(np.float64)
        codes = np.argmax(prob, axis=1) if len(prob) else np.empty(0, dtype=np.int64)
        codes[~np.isfinite(prob).all(axis=1)] = -1  # a NaN output has no class
        response = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(classes))
        return {"response": response, "prob": prob if with_prob else None}
    return {"response": out.reshape(-1).numpy().astype(np.float64)}


def score_outputs(
    outputs: list[torch.Tensor], indices: list[torch.Tensor], task: Task, measures: list[Any]
) -> dict[str, float]:
    """Score the network outputs of an epoch (batches at row positions of ``task``).

    A measure that cannot score the outputs scores NaN; no measures or no outputs give
    an empty dict.
    """
    if not measures or not outputs:
        return {}
    output = torch.cat(outputs)
    positions = torch.cat(indices).cpu().numpy()
    row_ids = task.row_ids[positions]
    needs_prob = any(m.predict_type == "prob" for m in measures)
    encoded = encode_prediction(output, task, with_prob=needs_prob)
    truth = task.truth(rows=row_ids)
    if isinstance(task, TaskClassif):
        pred: Any = PredictionClassif(
            row_ids,
            truth,
            response=encoded["response"],
            prob=encoded["prob"],
            class_names=task.class_names,
            positive=task.positive,
        )
    else:
        pred = PredictionRegr(row_ids, truth, encoded["response"])
    scores = {}
    for m in measures:
        try:
            scores[m.id] = float(m.score(pred))
        except Exception:  # a measure that cannot score this output scores NaN
            scores[m.id] = float("nan")
    return scores
