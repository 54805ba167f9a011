"""Lazy tensors (mlr3torch): task columns that reference a dataset plus preprocessing.

A lazy tensor column holds row ids into a torch Dataset and a DataDescriptor (the
dataset and the preprocessing graph of its elements). Nothing is loaded until a batch
is needed: :func:`materialize` or a torch learner runs the dataset and the
preprocessing once per batch. Preprocessing operators (``trafo_*``, ``augment_*``)
append steps to the graph; augmentations act only at training time.

Importing this package registers the ``"lazy_tensor"`` feature type and the lazy
preprocessing operators.
"""

import torchweave.lazy.ops
import torchweave.lazy.tasks  # noqa: F401  (registers lazy_iris, digits, mnist, cifar10)
from torchweave.lazy.data_descriptor import DataDescriptor
from torchweave.lazy.download import DownloadError
from torchweave.lazy.image import ImageFileDataset, lazy_tensor_from_images, task_from_image_folder
from torchweave.lazy.lazy_tensor import (
    LazyTensorArray,
    LazyTensorDtype,
    LazyTensorElement,
    TensorRowsDataset,
    as_lazy_tensor,
    is_lazy_tensor,
    lazy_shape,
    transform_lazy_tensor,
)
from torchweave.lazy.materialize import materialize
from torchweave.lazy.preproc import PipeOpTaskPreprocTorch, pipeop_preproc_torch

__all__ = [
    "DataDescriptor",
    "DownloadError",
    "ImageFileDataset",
    "LazyTensorArray",
    "LazyTensorDtype",
    "LazyTensorElement",
    "PipeOpTaskPreprocTorch",
    "TensorRowsDataset",
    "as_lazy_tensor",
    "is_lazy_tensor",
    "lazy_shape",
    "lazy_tensor_from_images",
    "materialize",
    "pipeop_preproc_torch",
    "task_from_image_folder",
    "transform_lazy_tensor",
]
