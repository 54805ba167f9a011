import numpy as np
import pandas as pd
import pytest
import torch

import torchweave as tw

FAST = {"epochs": 2, "batch_size": 16, "device": "cpu", "seed": 1}


@pytest.fixture
def fast():
    return dict(FAST)


def image_task(n_classes=2, n=24, shape=(1, 8, 8)):
    from torchweave.lazy import as_lazy_tensor

    rng = np.random.default_rng(0)
    y = np.arange(n) % n_classes
    images = (rng.normal(size=(n, *shape)) + y.reshape(-1, 1, 1, 1)).astype(np.float32)
    frame = pd.DataFrame({"image": as_lazy_tensor(torch.from_numpy(images))})
    frame["y"] = pd.Categorical([f"c{v}" for v in y])
    return tw.TaskClassif(frame, target="y", id="images")
