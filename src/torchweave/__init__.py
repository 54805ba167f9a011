"""torchweave: deep learning as pipeline graphs, after R's mlr3torch.

``import torchweave as tw`` gives the public API: tasks, learners, measures,
resampling, parameters, pipelines, and the sugar functions ``tsk``, ``lrn``, ``msr``,
``rsmp`` and ``po``.
"""

from torchweave import registry
from torchweave.data import *  # noqa: F403
from torchweave.data import __all__ as _data_all
from torchweave.errors import *  # noqa: F403
from torchweave.errors import __all__ as _errors_all
from torchweave.learners import *  # noqa: F403
from torchweave.learners import __all__ as _learners_all
from torchweave.measures import *  # noqa: F403
from torchweave.measures import __all__ as _measures_all
from torchweave.params import *  # noqa: F403
from torchweave.params import __all__ as _params_all
from torchweave.pipelines import *  # noqa: F403
from torchweave.pipelines import __all__ as _pipelines_all
from torchweave.resampling import *  # noqa: F403
from torchweave.resampling import __all__ as _resampling_all
from torchweave.sugar import lrn, lrns, msr, msrs, rsmp, tsk, tsks
from torchweave.tasks import *  # noqa: F403
from torchweave.tasks import __all__ as _tasks_all

__version__ = "0.1.0"

# The torch layer loads on first use, so that `import torchweave` (and the core
# layers) never import torch. Keep this list equal to torchweave.network.__all__
# (a test checks it).
_LAZY_NAMES: dict[str, str] = {
    name: "torchweave.network"
    for name in [
        "ModelDescriptor",
        "ModuleGraph",
        "NetworkSummary",
        "PipeOpModule",
        "PipeOpTorch",
        "PipeOpTorchHead",
        "PipeOpTorchIngress",
        "PipeOpTorchIngressCategorical",
        "PipeOpTorchIngressNumeric",
        "PipeOpTorchLinear",
        "PipeOpTorchReLU",
        "Shape",
        "TorchIngressToken",
        "batchgetter_categ",
        "batchgetter_num",
        "infer_shapes",
        "model_descriptor_to_module",
        "model_descriptor_union",
        "nn",
        "output_dim_for",
        "shape_to_str",
        "summary",
    ]
}


def __getattr__(name: str) -> object:
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'torchweave' has no attribute '{name}'")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_NAMES))


__all__ = [
    *_data_all,
    *_errors_all,
    *_learners_all,
    *_measures_all,
    *_params_all,
    *_pipelines_all,
    *_resampling_all,
    *_tasks_all,
    *_LAZY_NAMES,
    "__version__",
    "lrn",
    "lrns",
    "msr",
    "msrs",
    "registry",
    "rsmp",
    "tsk",
    "tsks",
]
