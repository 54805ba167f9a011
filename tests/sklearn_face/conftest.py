"""Small, fast estimators for the scikit-learn face tests."""

from __future__ import annotations

from typing import Any

import torchweave as tw


def small_graph(kind: str = "classif", epochs: int = 15, **params: Any) -> Any:
    """``scale >> ingress >> 16-unit MLP >> head``, adam lr 0.02, seeded, tensor dataset."""
    loss = "cross_entropy" if kind == "classif" else "mse"
    return (
        tw.po("scale")
        >> tw.po("torch_ingress_num")
        >> tw.nn("linear", out_features=16)
        >> tw.nn("relu")
        >> tw.nn("head")
        >> tw.po("torch_loss", loss=loss)
        >> tw.po("torch_optimizer", optimizer="adam", lr=0.02)
        >> tw.po(
            f"torch_model_{kind}",
            epochs=epochs,
            batch_size=16,
            seed=1,
            tensor_dataset=True,
            **params,
        )
    )
