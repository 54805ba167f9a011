"""The general pipeline operators; importing this package registers them."""

from torchweave.pipelines.ops.branch import PipeOpBranch
from torchweave.pipelines.ops.colapply import PipeOpColApply
from torchweave.pipelines.ops.copy import PipeOpCopy
from torchweave.pipelines.ops.encode import PipeOpEncode
from torchweave.pipelines.ops.featureunion import PipeOpFeatureUnion
from torchweave.pipelines.ops.fixfactors import PipeOpFixFactors
from torchweave.pipelines.ops.imputemean import PipeOpImputeMean
from torchweave.pipelines.ops.imputemedian import PipeOpImputeMedian
from torchweave.pipelines.ops.imputemode import PipeOpImputeMode
from torchweave.pipelines.ops.imputeoor import PipeOpImputeOOR
from torchweave.pipelines.ops.learner import PipeOpLearner
from torchweave.pipelines.ops.missind import PipeOpMissInd
from torchweave.pipelines.ops.nop import PipeOpNOP
from torchweave.pipelines.ops.removeconstants import PipeOpRemoveConstants
from torchweave.pipelines.ops.scale import PipeOpScale
from torchweave.pipelines.ops.select import PipeOpSelect
from torchweave.pipelines.ops.sklearn import PipeOpSklearn
from torchweave.pipelines.ops.targettrafo import PipeOpTargetTrafo
from torchweave.pipelines.ops.unbranch import PipeOpUnbranch

__all__ = [
    "PipeOpBranch",
    "PipeOpColApply",
    "PipeOpCopy",
    "PipeOpEncode",
    "PipeOpFeatureUnion",
    "PipeOpFixFactors",
    "PipeOpImputeMean",
    "PipeOpImputeMedian",
    "PipeOpImputeMode",
    "PipeOpImputeOOR",
    "PipeOpLearner",
    "PipeOpMissInd",
    "PipeOpNOP",
    "PipeOpRemoveConstants",
    "PipeOpScale",
    "PipeOpSelect",
    "PipeOpSklearn",
    "PipeOpTargetTrafo",
    "PipeOpUnbranch",
]
