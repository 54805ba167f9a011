"""Torchvision learners: ``classif.<model>`` with ``pretrained`` (mlr3torch's
``LearnerTorchVision``).

They are registered only when ``torchvision`` can be imported. With ``pretrained``
(init True) the model is built with its default ImageNet weights and its final linear
layer replaced by one with the task's outputs (:func:`replace_head`); without, it is
built untrained with ``num_classes`` set.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from torchweave.data.task import Task
from torchweave.errors import InvalidParameterError
from torchweave.network.ops.nn_head import output_dim_for
from torchweave.params.param import p_dbl, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.prebuilt.image import LearnerTorchImage
from torchweave.registry import learners
from torchweave.training.loop import Batch, TrainLoop

__all__ = [
    "HEADS",
    "VISION_MODELS",
    "AuxLossLoop",
    "LearnerTorchVision",
    "register_vision_learners",
    "replace_head",
    "torchvision_generator",
]

#: The final linear layer(s) of each torchvision model family, by class name.
HEADS: dict[str, tuple[str, ...]] = {
    "AlexNet": ("classifier.6",),
    "VGG": ("classifier.6",),
    "ConvNeXt": ("classifier.2",),
    "EfficientNet": ("classifier.1",),
    "Inception3": ("fc", "AuxLogits.fc"),
    "MaxVit": ("classifier.5",),
    "MobileNetV2": ("classifier.1",),
    "MobileNetV3": ("classifier.3",),
    "ResNet": ("fc",),
    "VisionTransformer": ("heads.head",),
}

#: The registered models (torchvision function names), as in mlr3torch where torchvision
#: has them (Python's torchvision has no ImageNet-22k ConvNeXt weights, and its MaxViT
#: is ``maxvit_t``).
VISION_MODELS: tuple[str, ...] = (
    "alexnet",
    "convnext_tiny",
    "convnext_small",
    "convnext_base",
    "convnext_large",
    *(f"efficientnet_b{i}" for i in range(8)),
    "efficientnet_v2_s",
    "efficientnet_v2_m",
    "efficientnet_v2_l",
    "inception_v3",
    "maxvit_t",
    "mobilenet_v2",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "resnext50_32x4d",
    "resnext101_32x8d",
    "wide_resnet50_2",
    "wide_resnet101_2",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    "vit_b_16",
    "vit_b_32",
    "vit_l_16",
    "vit_l_32",
    "vit_h_14",
)


def replace_head(network: nn.Module, d_out: int) -> nn.Module:
    """Replace the final linear layer(s) of a torchvision model by ``d_out`` outputs.

    The family is recognised by the class name (see :data:`HEADS`); a missing
    auxiliary head (Inception without ``aux_logits``) is skipped.

    Raises
    ------
    InvalidParameterError
        For a model family without a known head.
    """
    family = next((name for name in HEADS if type(network).__name__ == name), None)
    if family is None:
        raise InvalidParameterError(
            f"replace_head does not know the model class {type(network).__name__}; known: "
            f"{sorted(HEADS)}."
        )
    for path in HEADS[family]:
        *parents, last = path.split(".")
        parent: Any = network
        try:
            for part in parents:
                parent = parent[int(part)] if part.isdigit() else getattr(parent, part)
        except AttributeError:
            continue  # no auxiliary head
        if parent is None:
            continue
        old = parent[int(last)] if last.isdigit() else getattr(parent, last)
        if not isinstance(old, nn.Linear):
            raise InvalidParameterError(
                f"The head '{path}' of {family} is a {type(old).__name__}, not a Linear layer."
            )
        new = nn.Linear(old.in_features, d_out, bias=old.bias is not None)
        if last.isdigit():
            parent[int(last)] = new
        else:
            setattr(parent, last, new)
    return network


def torchvision_generator(
    name: str, pretrained: bool, num_classes: int | None, **kwargs: Any
) -> nn.Module:
    """Build ``torchvision.models.<name>``: default weights, or untrained with ``num_classes``."""
    models = importlib.import_module("torchvision.models")
    build = getattr(models, name)
    if pretrained:
        return build(weights="DEFAULT", **kwargs)
    return build(weights=None, num_classes=num_classes, **kwargs)


class _AuxLoss:
    """``loss(main) + aux_weight * loss(aux)`` for networks returning ``(main, aux)``."""

    def __init__(self, loss_fn: Callable[..., torch.Tensor], aux_weight: float) -> None:
        self.loss_fn = loss_fn
        self.aux_weight = aux_weight

    def __call__(self, y_hats: Any, y: torch.Tensor) -> torch.Tensor:
        if isinstance(y_hats, tuple | list):
            main, aux = y_hats[0], y_hats[1]
            return self.loss_fn(main, y) + self.aux_weight * self.loss_fn(aux, y)
        return self.loss_fn(y_hats, y)


class AuxLossLoop(TrainLoop):
    """Training loop for networks with an auxiliary output (Inception v3 ``aux_logits``).

    ``ctx.y_hats`` is ``(main, aux)`` and ``ctx.y_hat`` the main output; the loss is
    ``loss(main) + aux_weight * loss(aux)``.
    """

    def wrap_loss(self, loss_fn: Callable[[Any, Any], torch.Tensor]) -> Callable[..., Any]:
        """The loss over both outputs."""
        weight = self.ctx.learner._torch_ps.values.get("aux_weight", 0.4)
        return _AuxLoss(loss_fn, weight)

    def compute_loss(self, x: Batch, y: torch.Tensor) -> torch.Tensor:
        """The forward pass; the loss sees both outputs."""
        ctx = self.ctx
        ctx.y_hats = y_hats = self._forward(x)
        ctx.y_hat = y_hats[0] if isinstance(y_hats, tuple | list) else y_hats
        return self._loss(y_hats, y)

    def _loss_checked(self, y_hat: Any, y: torch.Tensor) -> torch.Tensor:
        main = y_hat[0] if isinstance(y_hat, tuple | list) else y_hat
        super()._loss_checked(main, y)  # checks the outputs (and sets the plain loss)
        return self.loss(y_hat, y)


class LearnerTorchVision(LearnerTorchImage):
    """A torchvision model for image classification (``classif.<name>``).

    Parameters
    ----------
    name : str
        Model name (the key is ``classif.<name>``).
    module_generator : callable
        ``module_generator(pretrained=..., num_classes=..., **network_args)``: the model
        with default weights (``pretrained``) or untrained with ``num_classes`` outputs.
    label : str
        Human-readable name.
    optimizer, loss, callbacks
        As for :class:`~torchweave.training.learner_torch.LearnerTorch`.
    extra_param_set : ParamSet, optional
        More parameters; those tagged ``network`` are passed to the generator.

    Notes
    -----
    Parameter ``pretrained`` (bool, init True): use the default weights and replace
    the head (:func:`replace_head`), or build untrained with ``num_classes``.
    """

    def __init__(
        self,
        name: str,
        module_generator: Callable[..., nn.Module],
        label: str = "",
        optimizer: Any = None,
        loss: Any = None,
        callbacks: Any = (),
        extra_param_set: ParamSet | None = None,
    ) -> None:
        ps = ParamSet(pretrained=p_lgl(init=True, tags={"train", "required"}))
        for pid, param in (extra_param_set.params if extra_param_set is not None else {}).items():
            ps.add(pid, param)
        self.module_generator = module_generator
        super().__init__(
            f"classif.{name}",
            "classif",
            param_set=ps,
            optimizer=optimizer,
            loss=loss,
            callbacks=callbacks,
            label=label or name,
        )

    def _network(self, task: Task, param_vals: dict[str, Any]) -> nn.Module:
        d_out = output_dim_for(task)
        net_args = {
            pid: param_vals[pid]
            for pid, param in self._torch_ps.params.items()
            if "network" in param.tags and pid in param_vals
        }
        if param_vals.get("pretrained", True):
            return replace_head(
                self.module_generator(pretrained=True, num_classes=None, **net_args), d_out
            )
        return self.module_generator(pretrained=False, num_classes=d_out, **net_args)


class _LearnerTorchInception(LearnerTorchVision):
    loop_class = AuxLossLoop


def vision_learner(
    name: str, generator: Callable[..., nn.Module] | None = None
) -> LearnerTorchVision:
    """The learner ``classif.<name>`` (default generator: torchvision's model of that name)."""
    gen = generator or functools.partial(torchvision_generator, name)
    if name == "inception_v3":
        extra = ParamSet(
            aux_logits=p_lgl(default=False, init=False, tags={"train", "network"}),
            aux_weight=p_dbl(0, default=0.4, init=0.4, tags="train"),
        )
        return _LearnerTorchInception(name, gen, "Inception v3", extra_param_set=extra)
    return LearnerTorchVision(name, gen, name)


def register_vision_learners() -> list[str]:
    """Register ``classif.<model>`` for each of :data:`VISION_MODELS` if torchvision imports.

    Returns
    -------
    list of str
        The registered keys (empty without torchvision).
    """
    try:
        importlib.import_module("torchvision.models")
    except ImportError:
        return []
    keys = []
    for name in VISION_MODELS:
        key = f"classif.{name}"
        learners.register(key, functools.partial(vision_learner, name), f"torchvision {name}")
        keys.append(key)
    return keys


register_vision_learners()
