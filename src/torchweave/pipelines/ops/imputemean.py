"""``po("imputemean")``: impute missing numbers by each feature's mean.

``PipeOpImputeMean`` builds a :class:`~torchweave.pipelines.impute.PipeOpImputeStatistic`.
"""

from torchweave.pipelines.impute import statistic_imputer
from torchweave.registry import pipeops

__all__ = ["PipeOpImputeMean"]

PipeOpImputeMean = statistic_imputer("mean", "PipeOpImputeMean", __name__)

pipeops.register("imputemean", PipeOpImputeMean)
