"""Tasks and predictions (mlr3's data layer)."""

from torchweave.data.backends import (
    DataBackend,
    DataBackendDuckDB,
    DataBackendPandas,
    as_data_backend,
)
from torchweave.data.feature_types import FEATURE_TYPES, feature_type_of, register_feature_type
from torchweave.data.prediction import (
    Prediction,
    PredictionClassif,
    PredictionRegr,
    concat_predictions,
)
from torchweave.data.task import COL_ROLES, Task, TaskClassif, TaskRegr

__all__ = [
    "COL_ROLES",
    "FEATURE_TYPES",
    "DataBackend",
    "DataBackendDuckDB",
    "DataBackendPandas",
    "Prediction",
    "PredictionClassif",
    "PredictionRegr",
    "Task",
    "TaskClassif",
    "TaskRegr",
    "as_data_backend",
    "concat_predictions",
    "feature_type_of",
    "register_feature_type",
]
