"""scikit-learn's own estimator checks, for both classes of the face."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from tests.sklearn_face.conftest import small_graph
from torchweave.sklearn import TorchClassifier, TorchRegressor


@parametrize_with_checks(
    [TorchClassifier(small_graph("classif")), TorchRegressor(small_graph("regr"))],
)
def test_sklearn_check(estimator, check):
    check(estimator)
