import numpy as np
import pandas as pd
import pytest

import torchweave as tw
from torchweave.errors import UnknownKeyError

BUILTIN = {
    # key: (class, nrow, n features, target, class names or None)
    "iris": (tw.TaskClassif, 150, 4, "species", ["setosa", "versicolor", "virginica"]),
    "breast_cancer": (tw.TaskClassif, 569, 30, "diagnosis", ["malignant", "benign"]),
    "wine": (tw.TaskClassif, 178, 13, "cultivar", ["class_0", "class_1", "class_2"]),
    "diabetes": (tw.TaskRegr, 442, 10, "disease_progression", None),
    "mtcars": (tw.TaskRegr, 32, 10, "mpg", None),
    "penguins": (tw.TaskClassif, 344, 7, "species", ["Adelie", "Chinstrap", "Gentoo"]),
}


@pytest.mark.parametrize("key", sorted(BUILTIN))
def test_shape_target_and_id(key):
    cls, nrow, nfeat, target, classes = BUILTIN[key]
    task = tw.tsk(key)
    assert type(task) is cls
    assert task.id == key
    assert (task.nrow, len(task.feature_names)) == (nrow, nfeat)
    assert task.target_names == [target]
    if classes is not None:
        assert task.class_names == classes
        assert task.truth().value_counts().min() > 0
    assert key in tw.registry.tasks.table()["key"].tolist()


@pytest.mark.parametrize("key", sorted(BUILTIN))
def test_fresh_task_each_call(key):
    first = tw.tsk(key)
    first.filter(first.row_ids[:5]).select(first.feature_names[:1])
    second = tw.tsk(key)
    assert second is not first
    assert second.nrow == BUILTIN[key][1]
    assert len(second.feature_names) == BUILTIN[key][2]


def test_registry_descriptions_are_one_line():
    table = tw.registry.tasks.table().set_index("key")
    for key in BUILTIN:
        description = table.loc[key, "description"]
        assert description and "\n" not in description


def test_iris_columns():
    task = tw.tsk("iris")
    assert task.feature_names == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert set(task.feature_types.values()) == {"numeric"}
    assert task.truth().value_counts().tolist() == [50, 50, 50]
    assert task.data().iloc[0].tolist() == ["setosa", 5.1, 3.5, 1.4, 0.2]


def test_breast_cancer_positive_and_names():
    task = tw.tsk("breast_cancer")
    assert task.positive == "malignant"
    assert task.negative == "benign"
    assert task.feature_names[:3] == ["mean_radius", "mean_texture", "mean_perimeter"]
    assert "worst_concave_points" in task.feature_names
    assert (task.truth() == "malignant").sum() == 212


def test_wine_snake_case_names():
    task = tw.tsk("wine")
    assert "od280_od315_of_diluted_wines" in task.feature_names
    assert all(name == name.lower() and " " not in name for name in task.feature_names)


def test_diabetes_target():
    task = tw.tsk("diabetes")
    assert task.feature_names == ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]
    assert task.truth().dtype == np.float64
    assert task.truth().iloc[0] == 151.0


def test_mtcars_name_role_and_types():
    task = tw.tsk("mtcars")
    assert task.col_roles["name"] == ["model"]
    assert "model" not in task.feature_names
    assert task.feature_types["cyl"] == "integer"
    assert task.feature_types["wt"] == "numeric"
    assert task.data(rows=[0], cols=["model"]).iloc[0, 0] == "Mazda RX4"
    assert task.truth().mean() == pytest.approx(20.090625)


def test_penguins_types_and_missing_values():
    task = tw.tsk("penguins")
    assert task.feature_types == {
        "island": "factor",
        "bill_length_mm": "numeric",
        "bill_depth_mm": "numeric",
        "flipper_length_mm": "numeric",
        "body_mass_g": "numeric",
        "sex": "factor",
        "year": "integer",
    }
    data = task.data()
    assert list(data["island"].cat.categories) == ["Biscoe", "Dream", "Torgersen"]
    assert list(data["sex"].cat.categories) == ["female", "male"]
    assert data["year"].dtype == np.int64
    assert task.missings() == {
        "species": 0,
        "island": 0,
        "bill_length_mm": 2,
        "bill_depth_mm": 2,
        "flipper_length_mm": 2,
        "body_mass_g": 2,
        "sex": 11,
        "year": 0,
    }
    assert task.truth().value_counts().to_dict() == {"Adelie": 152, "Chinstrap": 68, "Gentoo": 124}


def test_unknown_key_suggests():
    with pytest.raises(
        UnknownKeyError, match=r"'irsi' is not a registered task. Did you mean 'iris'\?"
    ):
        tw.tsk("irsi")
    with pytest.raises(KeyError, match=r"Did you mean 'penguins'"):
        tw.tsk("penguin")


def test_tsks():
    tasks = tw.tsks("iris", "mtcars")
    assert [t.id for t in tasks] == ["iris", "mtcars"]


def test_frames_are_not_shared():
    first = tw.tsk("iris")
    first.cbind(pd.DataFrame({"extra": np.zeros(150)}))
    assert "extra" not in tw.tsk("iris").feature_names
