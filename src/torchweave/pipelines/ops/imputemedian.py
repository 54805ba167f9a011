"""``po("imputemedian")``: impute missing numbers by each feature's median.

``PipeOpImputeMedian`` builds a :class:`~torchweave.pipelines.impute.PipeOpImputeStatistic`.
"""

from torchweave.pipelines.impute import statistic_imputer
from torchweave.registry import pipeops

__all__ = ["PipeOpImputeMedian"]

PipeOpImputeMedian = statistic_imputer("median", "PipeOpImputeMedian", __name__)

pipeops.register("imputemedian", PipeOpImputeMedian)
