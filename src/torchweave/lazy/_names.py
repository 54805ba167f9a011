"""The public names of :mod:`torchweave.lazy`, each with the module defining it.

Torch-free: ``torchweave.lazy`` and ``import torchweave`` read this list to load a
name's module on first use.
"""

__all__ = ["NAMES"]

NAMES: dict[str, str] = {
    "DataDescriptor": "torchweave.lazy.data_descriptor",
    "DownloadError": "torchweave.lazy.download",
    "lazy_tensor_from_images": "torchweave.lazy.image",
    "task_from_image_folder": "torchweave.lazy.image",
    "ImageFileDataset": "torchweave.lazy.image_dataset",
    "LazyTensorArray": "torchweave.lazy.lazy_tensor",
    "LazyTensorDtype": "torchweave.lazy.lazy_tensor",
    "LazyTensorElement": "torchweave.lazy.lazy_tensor",
    "TensorRowsDataset": "torchweave.lazy.lazy_tensor",
    "as_lazy_tensor": "torchweave.lazy.lazy_tensor",
    "is_lazy_tensor": "torchweave.lazy.lazy_tensor",
    "lazy_shape": "torchweave.lazy.lazy_tensor",
    "transform_lazy_tensor": "torchweave.lazy.lazy_tensor",
    "materialize": "torchweave.lazy.materialize",
    "PipeOpTorchIngressLazyTensor": "torchweave.lazy.ops.torch_ingress_ltnsr",
    "batchgetter_lazy_tensor": "torchweave.lazy.ops.torch_ingress_ltnsr",
    "ingress_ltnsr": "torchweave.lazy.ops.torch_ingress_ltnsr",
    "PipeOpTaskPreprocTorch": "torchweave.lazy.preproc",
    "pipeop_preproc_torch": "torchweave.lazy.preproc",
}
