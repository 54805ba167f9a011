"""Built-in tasks that need no network: ``tsk("iris")``, ``tsk("penguins")``, ...

``iris``, ``breast_cancer``, ``wine`` and ``diabetes`` come from
``sklearn.datasets`` (bundled with scikit-learn) with snake_case column names;
``mtcars`` and ``penguins`` ship as CSV files in this package. Every call returns a
new task.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

from torchweave import registry
from torchweave.data.task import TaskClassif, TaskRegr

__all__ = [
    "task_breast_cancer",
    "task_diabetes",
    "task_iris",
    "task_mtcars",
    "task_penguins",
    "task_wine",
]


def _snake_case(name: str) -> str:
    """``"mean concave points"`` -> ``"mean_concave_points"``, ``"a/b (cm)"`` -> ``"a_b"``."""
    name = re.sub(r"\(.*?\)", "", name)
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


@functools.cache
def _sklearn_dataset(loader_name: str) -> tuple[pd.DataFrame, np.ndarray, list[Any] | None]:
    # Cached: tasks copy the frame they are given, so sharing it is safe.
    from sklearn import datasets

    bunch = getattr(datasets, loader_name)(as_frame=True)
    features = bunch.data.rename(columns=_snake_case)
    target_names = getattr(bunch, "target_names", None)
    classes = None if target_names is None else [str(c) for c in target_names]
    return features, bunch.target.to_numpy(), classes


def _classif_from_sklearn(
    loader_name: str, target: str, id: str, positive: str | None = None
) -> TaskClassif:
    features, codes, classes = _sklearn_dataset(loader_name)
    labels = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(classes))
    frame = pd.concat([pd.Series(labels, name=target, index=features.index), features], axis=1)
    return TaskClassif(frame, target=target, id=id, positive=positive)


@functools.cache
def _csv(name: str, dtypes: tuple[tuple[str, Any], ...]) -> pd.DataFrame:
    source = resources.files("torchweave.tasks").joinpath("data", f"{name}.csv")
    with source.open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, keep_default_na=False, na_values=["NA"], dtype=dict(dtypes))


def task_iris() -> TaskClassif:
    """Iris flowers: 150 x 4 numeric features, 3 species (Fisher, 1936)."""
    return _classif_from_sklearn("load_iris", target="species", id="iris")


def task_breast_cancer() -> TaskClassif:
    """Breast cancer Wisconsin (diagnostic): 569 x 30 numeric features, malignant vs benign."""
    return _classif_from_sklearn(
        "load_breast_cancer", target="diagnosis", id="breast_cancer", positive="malignant"
    )


def task_wine() -> TaskClassif:
    """Wine recognition: 178 x 13 numeric features, 3 cultivars (class_0, class_1, class_2)."""
    return _classif_from_sklearn("load_wine", target="cultivar", id="wine")


def task_diabetes() -> TaskRegr:
    """Diabetes: 442 x 10 (scaled) numeric features, disease progression after one year."""
    features, values, _ = _sklearn_dataset("load_diabetes")
    target = pd.Series(values, name="disease_progression", index=features.index, dtype=float)
    frame = pd.concat([target, features], axis=1)
    return TaskRegr(frame, target="disease_progression", id="diabetes")


def task_mtcars() -> TaskRegr:
    """Motor Trend cars (1974): 32 cars x 10 features, miles per gallon; ``model`` names rows."""
    frame = _csv("mtcars", (("model", "str"),))
    task = TaskRegr(frame, target="mpg", id="mtcars")
    task.set_col_roles("model", "name")
    return task


_PENGUIN_TYPES = (
    ("species", pd.CategoricalDtype(["Adelie", "Chinstrap", "Gentoo"])),
    ("island", pd.CategoricalDtype(["Biscoe", "Dream", "Torgersen"])),
    ("sex", pd.CategoricalDtype(["female", "male"])),
    ("bill_length_mm", "float64"),
    ("bill_depth_mm", "float64"),
    ("flipper_length_mm", "float64"),
    ("body_mass_g", "float64"),
    ("year", "int64"),
)


def task_penguins() -> TaskClassif:
    """Palmer penguins: 344 x 7 numeric and factor features with missing values, 3 species."""
    return TaskClassif(_csv("penguins", _PENGUIN_TYPES), target="species", id="penguins")


registry.tasks.register("iris", task_iris)
registry.tasks.register("breast_cancer", task_breast_cancer)
registry.tasks.register("wine", task_wine)
registry.tasks.register("diabetes", task_diabetes)
registry.tasks.register("mtcars", task_mtcars)
registry.tasks.register("penguins", task_penguins)
