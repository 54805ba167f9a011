"""torchweave: deep learning as pipeline graphs, after R's mlr3torch.

``import torchweave as tw`` gives the public API: tasks, learners, measures,
resampling, parameters, pipelines, and the sugar functions ``tsk``, ``lrn``, ``msr``,
``rsmp``, ``po``, ``tnr`` and ``trm``.
"""

from torchweave import _lazy, registry
from torchweave._version import __version__
from torchweave.callbacks import _names as _callbacks_names
from torchweave.data import *  # noqa: F403
from torchweave.data import __all__ as _data_all
from torchweave.errors import *  # noqa: F403
from torchweave.errors import __all__ as _errors_all
from torchweave.io import _names as _io_names
from torchweave.lazy import _names as _lazy_names
from torchweave.learners import *  # noqa: F403
from torchweave.learners import __all__ as _learners_all
from torchweave.measures import *  # noqa: F403
from torchweave.measures import __all__ as _measures_all
from torchweave.network import _names as _network_names
from torchweave.params import *  # noqa: F403
from torchweave.params import __all__ as _params_all
from torchweave.pipelines import *  # noqa: F403
from torchweave.pipelines import __all__ as _pipelines_all
from torchweave.resampling import *  # noqa: F403
from torchweave.resampling import __all__ as _resampling_all
from torchweave.sugar import lrn, lrns, msr, msrs, rsmp, tnr, tnrs, trm, trms, tsk, tsks
from torchweave.tasks import *  # noqa: F403
from torchweave.tasks import __all__ as _tasks_all
from torchweave.training import _names as _training_names
from torchweave.tuning import *  # noqa: F403
from torchweave.tuning import __all__ as _tuning_all

# The torch layers load on first use, so that `import torchweave` (and the core
# layers) never import torch. Each torch subpackage keeps its public names, with the
# module defining each, in its torch-free `_names.py`; this merges them.
_LAZY_NAMES: dict[str, str] = {
    **_network_names.NAMES,
    **_training_names.NAMES,
    **_callbacks_names.NAMES,
    **_lazy_names.NAMES,
    **_io_names.NAMES,
}
# The scikit-learn face (imports scikit-learn on first use).
_FACE_NAMES: dict[str, str] = {"to_sklearn": "torchweave.sklearn"}
__getattr__, __dir__ = _lazy.lazy_exports(__name__, {**_LAZY_NAMES, **_FACE_NAMES})

__all__ = [
    *_data_all,
    *_errors_all,
    *_learners_all,
    *_measures_all,
    *_params_all,
    *_pipelines_all,
    *_resampling_all,
    *_tasks_all,
    *_tuning_all,
    *_LAZY_NAMES,
    *_FACE_NAMES,
    "__version__",
    "lrn",
    "lrns",
    "msr",
    "msrs",
    "registry",
    "rsmp",
    "tnr",
    "tnrs",
    "trm",
    "trms",
    "tsk",
    "tsks",
]
