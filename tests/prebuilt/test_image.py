"""Image learners: resnet_small, LearnerTorchImage, and the torchvision code path with
stand-in module generators (torchvision is not installed beside the CPU torch here)."""

import importlib.util

import pytest
import torch
from torch import nn

import torchweave as tw
from torchweave.errors import InvalidParameterError, TaskError
from torchweave.prebuilt.vision import (
    HEADS,
    LearnerTorchVision,
    _AuxLoss,
    register_vision_learners,
    replace_head,
    vision_learner,
)

from .conftest import image_task


def test_resnet_small_trains_on_images(fast):
    task = image_task(n_classes=3)
    learner = tw.lrn("classif.resnet_small", **fast, channels=4, n_blocks=2)
    learner.predict_type = "prob"
    prediction = learner.train(task).predict(task)
    assert prediction.prob.shape == (24, 3)
    net = learner.network
    assert net.blocks[1].conv1.stride == (2, 2) and net.head.in_features == 8
    assert learner.summary().table["layer"].tolist() == ["stem", "blocks", "pool", "head"]


def test_image_learner_needs_exactly_one_lazy_feature(fast):
    learner = tw.lrn("classif.resnet_small", **fast)
    with pytest.raises(TaskError, match=r"does not support the feature type\(s\) 'numeric'"):
        learner.train(tw.tsk("iris"))
    with pytest.raises(TaskError, match=r"expects exactly one feature"):
        learner._ingress_tokens(tw.tsk("iris"), {})


# --- stand-ins with the layouts of torchvision's model families ------------------------------
def _lin(d_in=6):
    return nn.Linear(d_in, 1000)


class _Features(nn.Module):
    def __init__(self, c_out=6):
        super().__init__()
        self.conv = nn.Conv2d(1, c_out, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flat = nn.Flatten()

    def forward(self, x):
        return self.flat(self.pool(self.conv(x)))


class AlexNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = _Features()
        self.classifier = nn.Sequential(*[nn.Identity()] * 6, nn.Linear(6, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class VGG(AlexNet):
    pass


class ConvNeXt(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = _Features()
        self.classifier = nn.Sequential(nn.Identity(), nn.Identity(), nn.Linear(6, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class EfficientNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = _Features()
        self.classifier = nn.Sequential(nn.Dropout(0.1), nn.Linear(6, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


class MobileNetV2(EfficientNet):
    pass


class MobileNetV3(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = _Features()
        self.classifier = nn.Sequential(
            nn.Linear(6, 6), nn.Hardswish(), nn.Dropout(0.1), nn.Linear(6, num_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class MaxVit(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = _Features()
        self.classifier = nn.Sequential(
            *[nn.Identity()] * 3, nn.Linear(6, 6), nn.Tanh(), nn.Linear(6, num_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class ResNet(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = _Features()
        self.fc = nn.Linear(6, num_classes)

    def forward(self, x):
        return self.fc(self.features(x))


class _Heads(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.head = nn.Linear(6, num_classes)


class VisionTransformer(nn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.features = _Features()
        self.heads = _Heads(num_classes)

    def forward(self, x):
        return self.heads.head(self.features(x))


class _Aux(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.fc = nn.Linear(6, num_classes)


class Inception3(nn.Module):
    def __init__(self, num_classes=1000, aux_logits=False):
        super().__init__()
        self.features = _Features()
        self.fc = nn.Linear(6, num_classes)
        self.AuxLogits = _Aux(num_classes) if aux_logits else None

    def forward(self, x):
        h = self.features(x)
        if self.training and self.AuxLogits is not None:
            return self.fc(h), self.AuxLogits.fc(h)
        return self.fc(h)


STAND_INS = {
    cls.__name__: cls
    for cls in (
        AlexNet,
        VGG,
        ConvNeXt,
        EfficientNet,
        MobileNetV2,
        MobileNetV3,
        MaxVit,
        ResNet,
        VisionTransformer,
        Inception3,
    )
}


def test_every_family_has_a_stand_in():
    assert set(STAND_INS) == set(HEADS)


@pytest.mark.parametrize("family", sorted(HEADS))
def test_replace_head_per_family(family):
    net = STAND_INS[family]()
    params_before = {n for n, _ in net.named_parameters()}
    replace_head(net, 5)
    assert {n for n, _ in net.named_parameters()} == params_before
    assert net.eval()(torch.randn(2, 1, 8, 8)).shape == (2, 5)


def test_replace_head_replaces_inception_aux_head_and_rejects_unknown_models():
    net = replace_head(Inception3(aux_logits=True), 3)
    assert net.fc.out_features == 3 and net.AuxLogits.fc.out_features == 3
    with pytest.raises(InvalidParameterError, match=r"does not know the model class Sequential"):
        replace_head(nn.Sequential(nn.Linear(2, 2)), 3)


class _Recorder:
    """A module generator recording its calls (module level: the learner pickles)."""

    def __init__(self, family):
        self.family = family
        self.calls = []

    def __call__(self, pretrained, num_classes, **kwargs):
        self.calls.append((pretrained, num_classes, kwargs))
        return STAND_INS[self.family](num_classes=num_classes or 1000, **kwargs)


@pytest.mark.parametrize("pretrained", [True, False])
def test_vision_learner_builds_with_and_without_pretrained_weights(pretrained, fast):
    generator = _Recorder("ResNet")
    learner = LearnerTorchVision("resnet_stand_in", generator).configure(
        **fast, pretrained=pretrained
    )
    assert learner.id == "classif.resnet_stand_in" and learner.task_type == "classif"
    assert tw.LearnerTorchVision("x", generator).param_set.values["pretrained"] is True
    task = image_task(n_classes=3)
    learner.train(task)
    assert generator.calls == [(pretrained, None if pretrained else 3, {})]
    assert learner.network.fc.out_features == 3
    assert learner.predict(task).response.shape == (24,)


def test_inception_aux_logits_add_the_weighted_aux_loss(fast):
    generator = _Recorder("Inception3")
    learner = vision_learner("inception_v3", generator)
    learner.configure(**fast, pretrained=False, aux_logits=True, aux_weight=0.5)
    task = image_task(n_classes=3)
    learner.train(task)
    assert generator.calls == [(False, 3, {"aux_logits": True})]
    assert learner.predict(task).response.shape == (24,)
    main, aux, y = torch.randn(4, 3), torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    ce = nn.CrossEntropyLoss()
    loss = _AuxLoss(ce, 0.5)((main, aux), y)
    torch.testing.assert_close(loss, ce(main, y) + 0.5 * ce(aux, y))


@pytest.mark.skipif(importlib.util.find_spec("torchvision") is not None, reason="has torchvision")
def test_vision_learners_are_not_registered_without_torchvision():
    assert register_vision_learners() == []
    assert "classif.resnet18" not in tw.registry.learners
