"""The public names of :mod:`torchweave.training`, each with the module defining it.

Torch-free: ``torchweave.training`` and ``import torchweave`` read this list to load a
name's module on first use. The callback machinery lives in :mod:`torchweave.callbacks`;
its base names are reachable from here too.
"""

__all__ = ["NAMES"]

NAMES: dict[str, str] = {
    "CallbackSet": "torchweave.callbacks.callback_set",
    "ContextTorch": "torchweave.callbacks.callback_set",
    "STAGES": "torchweave.callbacks.callback_set",
    "CallbackSetEarlyStopping": "torchweave.callbacks.early_stopping",
    "TorchCallback": "torchweave.callbacks.descriptor",
    "torch_callback": "torchweave.callbacks.descriptor",
    "SliceLoader": "torchweave.training.dataset",
    "TaskDataset": "torchweave.training.dataset",
    "TensorDataset": "torchweave.training.dataset",
    "target_tensor": "torchweave.training.dataset",
    "TorchDescriptor": "torchweave.training.descriptors",
    "TorchLoss": "torchweave.training.descriptors",
    "TorchOptimizer": "torchweave.training.descriptors",
    "LearnerTorch": "torchweave.training.learner_torch",
    "TorchModel": "torchweave.training.model",
    "encode_prediction": "torchweave.training.encode",
    "resolve_device": "torchweave.training.device",
    "TrainLoop": "torchweave.training.loop",
    "LearnerTorchModel": "torchweave.training.learner_torch_model",
    "PipeOpTorchCallbacks": "torchweave.training.ops.torch_callbacks",
    "PipeOpTorchLoss": "torchweave.training.ops.torch_loss",
    "PipeOpTorchOptimizer": "torchweave.training.ops.torch_optimizer",
    "paramset_torchlearner": "torchweave.training.paramset",
    "PipeOpTorchModel": "torchweave.training.pipeop_torch_model",
    "PipeOpTorchModelClassif": "torchweave.training.pipeop_torch_model",
    "PipeOpTorchModelRegr": "torchweave.training.pipeop_torch_model",
    "model_descriptor_to_learner": "torchweave.training.pipeop_torch_model",
    "as_torch_callback": "torchweave.training.sugar",
    "as_torch_callbacks": "torchweave.training.sugar",
    "as_torch_loss": "torchweave.training.sugar",
    "as_torch_optimizer": "torchweave.training.sugar",
    "t_clbk": "torchweave.training.sugar",
    "t_clbks": "torchweave.training.sugar",
    "t_loss": "torchweave.training.sugar",
    "t_losses": "torchweave.training.sugar",
    "t_opt": "torchweave.training.sugar",
    "t_opts": "torchweave.training.sugar",
    "train_distributed": "torchweave.distributed.ddp",
    # prebuilt learners (torchweave.prebuilt)
    "LearnerTorchFTTransformer": "torchweave.prebuilt.ft_transformer",
    "LearnerTorchFeatureless": "torchweave.prebuilt.featureless",
    "LearnerTorchImage": "torchweave.prebuilt.image",
    "LearnerTorchMLP": "torchweave.prebuilt.mlp",
    "LearnerTorchModule": "torchweave.prebuilt.module",
    "LearnerTorchResNetSmall": "torchweave.prebuilt.image",
    "LearnerTorchTabM": "torchweave.prebuilt.tabm",
    "LearnerTorchTabResNet": "torchweave.prebuilt.tab_resnet",
    "LearnerTorchVision": "torchweave.prebuilt.vision",
    "ppl_prebuilt": "torchweave.prebuilt.preprocessing",
}
