"""The ``augment_*`` operators: data augmentation of lazy tensors (stages "train").

At train time each operator appends its step to the lazy columns; at predict time the
step is the identity (set ``stages = "both"`` to apply it at predict time too). The
random ones draw per image from torch's global generator, which a learner's ``seed``
fixes. Each wraps the function of the same name in :mod:`torchweave.lazy.transforms`.
"""

from __future__ import annotations

from torchweave.lazy import transforms as tf
from torchweave.lazy.ops._common import (
    document,
    p_antialias,
    p_check,
    p_interpolation,
    p_padding_mode,
    p_size,
)
from torchweave.lazy.preproc import pipeop_preproc_torch
from torchweave.params.param import Param, p_dbl, p_int, p_lgl
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

__all__ = [
    "PipeOpPreprocTorchAugmentCenterCrop",
    "PipeOpPreprocTorchAugmentColorJitter",
    "PipeOpPreprocTorchAugmentCrop",
    "PipeOpPreprocTorchAugmentHflip",
    "PipeOpPreprocTorchAugmentRandomAffine",
    "PipeOpPreprocTorchAugmentRandomChoice",
    "PipeOpPreprocTorchAugmentRandomCrop",
    "PipeOpPreprocTorchAugmentRandomHorizontalFlip",
    "PipeOpPreprocTorchAugmentRandomOrder",
    "PipeOpPreprocTorchAugmentRandomResizedCrop",
    "PipeOpPreprocTorchAugmentRandomVerticalFlip",
    "PipeOpPreprocTorchAugmentResizedCrop",
    "PipeOpPreprocTorchAugmentRotate",
    "PipeOpPreprocTorchAugmentVflip",
]

_REQ = {"train", "required"}
_INTRO = """>>> import torchweave as tw
>>> import torchweave.lazy"""
_AFFINE_MODES = ("nearest", "bilinear")


def _box() -> dict[str, Param]:
    return {
        "top": p_int(0, tags=_REQ),
        "left": p_int(0, tags=_REQ),
        "height": p_int(1, tags=_REQ),
        "width": p_int(1, tags=_REQ),
    }


# --- flips -------------------------------------------------------------------------------------
PipeOpPreprocTorchAugmentHflip = pipeop_preproc_torch(
    "augment_hflip", tf.hflip, shapes_out=tf.hflip_shape, param_set=ParamSet(), random=False
)
document(
    PipeOpPreprocTorchAugmentHflip,
    tf.hflip,
    "augment_hflip",
    f"""{_INTRO}
>>> tw.po("augment_hflip").shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchAugmentVflip = pipeop_preproc_torch(
    "augment_vflip", tf.vflip, shapes_out=tf.vflip_shape, param_set=ParamSet(), random=False
)
document(
    PipeOpPreprocTorchAugmentVflip,
    tf.vflip,
    "augment_vflip",
    f"""{_INTRO}
>>> tw.po("augment_vflip").shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchAugmentRandomHorizontalFlip = pipeop_preproc_torch(
    "augment_random_horizontal_flip",
    tf.random_horizontal_flip,
    shapes_out=tf.random_horizontal_flip_shape,
    param_set=ParamSet(p=p_dbl(0, 1, default=0.5, tags="train")),
    random=True,
)
document(
    PipeOpPreprocTorchAugmentRandomHorizontalFlip,
    tf.random_horizontal_flip,
    "augment_random_horizontal_flip",
    f"""{_INTRO}
>>> op = tw.po("augment_random_horizontal_flip", p=0.3)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchAugmentRandomVerticalFlip = pipeop_preproc_torch(
    "augment_random_vertical_flip",
    tf.random_vertical_flip,
    shapes_out=tf.random_vertical_flip_shape,
    param_set=ParamSet(p=p_dbl(0, 1, default=0.5, tags="train")),
    random=True,
)
document(
    PipeOpPreprocTorchAugmentRandomVerticalFlip,
    tf.random_vertical_flip,
    "augment_random_vertical_flip",
    f"""{_INTRO}
>>> tw.po("augment_random_vertical_flip").shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

# --- crops -------------------------------------------------------------------------------------
PipeOpPreprocTorchAugmentCrop = pipeop_preproc_torch(
    "augment_crop",
    tf.crop,
    shapes_out=tf.crop_shape,
    param_set=ParamSet(_box()),
    random=False,
)
document(
    PipeOpPreprocTorchAugmentCrop,
    tf.crop,
    "augment_crop",
    f"""{_INTRO}
>>> op = tw.po("augment_crop", top=1, left=2, height=4, width=5)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 4, 5)]""",
)

PipeOpPreprocTorchAugmentCenterCrop = pipeop_preproc_torch(
    "augment_center_crop",
    tf.center_crop,
    shapes_out=tf.center_crop_shape,
    param_set=ParamSet(size=p_size()),
    random=False,
)
document(
    PipeOpPreprocTorchAugmentCenterCrop,
    tf.center_crop,
    "augment_center_crop",
    f"""{_INTRO}
>>> tw.po("augment_center_crop", size=6).shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 6, 6)]""",
)

PipeOpPreprocTorchAugmentRandomCrop = pipeop_preproc_torch(
    "augment_random_crop",
    tf.random_crop,
    shapes_out=tf.random_crop_shape,
    param_set=ParamSet(
        size=p_size(),
        padding=p_check(tf.check_padding, default=None, allow_none=True),
        pad_if_needed=p_lgl(default=False, tags="train"),
        fill=p_dbl(default=0.0, tags="train"),
        padding_mode=p_padding_mode(),
    ),
    random=True,
)
document(
    PipeOpPreprocTorchAugmentRandomCrop,
    tf.random_crop,
    "augment_random_crop",
    f"""{_INTRO}
>>> op = tw.po("augment_random_crop", size=8, padding=2)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchAugmentResizedCrop = pipeop_preproc_torch(
    "augment_resized_crop",
    tf.resized_crop,
    shapes_out=tf.resized_crop_shape,
    param_set=ParamSet(
        {
            **_box(),
            "size": p_size(),
            "interpolation": p_interpolation(),
            "antialias": p_antialias(),
        }
    ),
    random=False,
)
document(
    PipeOpPreprocTorchAugmentResizedCrop,
    tf.resized_crop,
    "augment_resized_crop",
    f"""{_INTRO}
>>> op = tw.po("augment_resized_crop", top=0, left=0, height=4, width=4, size=8)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchAugmentRandomResizedCrop = pipeop_preproc_torch(
    "augment_random_resized_crop",
    tf.random_resized_crop,
    shapes_out=tf.random_resized_crop_shape,
    param_set=ParamSet(
        size=p_size(),
        scale=p_check(tf.check_range, default=(0.08, 1.0)),
        ratio=p_check(tf.check_range, default=(3.0 / 4.0, 4.0 / 3.0)),
        interpolation=p_interpolation(),
        antialias=p_antialias(),
    ),
    random=True,
)
document(
    PipeOpPreprocTorchAugmentRandomResizedCrop,
    tf.random_resized_crop,
    "augment_random_resized_crop",
    f"""{_INTRO}
>>> op = tw.po("augment_random_resized_crop", size=(6, 4))
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 6, 4)]""",
)

# --- colour ------------------------------------------------------------------------------------
PipeOpPreprocTorchAugmentColorJitter = pipeop_preproc_torch(
    "augment_color_jitter",
    tf.color_jitter,
    shapes_out=tf.color_jitter_shape,
    param_set=ParamSet(
        brightness=p_check(tf.check_jitter, default=0.0),
        contrast=p_check(tf.check_jitter, default=0.0),
        saturation=p_check(tf.check_jitter, default=0.0),
        hue=p_check(tf.check_hue_jitter, default=0.0),
    ),
    random=True,
)
document(
    PipeOpPreprocTorchAugmentColorJitter,
    tf.color_jitter,
    "augment_color_jitter",
    f"""{_INTRO}
>>> op = tw.po("augment_color_jitter", brightness=0.2, hue=0.05)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

# --- affine ------------------------------------------------------------------------------------
PipeOpPreprocTorchAugmentRandomAffine = pipeop_preproc_torch(
    "augment_random_affine",
    tf.random_affine,
    shapes_out=tf.random_affine_shape,
    param_set=ParamSet(
        degrees=p_check(tf.check_degrees, required=True),
        translate=p_check(tf.check_translate, default=None, allow_none=True),
        scale=p_check(tf.check_range, default=None, allow_none=True),
        interpolation=p_interpolation(_AFFINE_MODES, default="nearest"),
        fill=p_dbl(default=0.0, tags="train"),
    ),
    random=True,
)
document(
    PipeOpPreprocTorchAugmentRandomAffine,
    tf.random_affine,
    "augment_random_affine",
    f"""{_INTRO}
>>> op = tw.po("augment_random_affine", degrees=15, translate=(0.1, 0.1))
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchAugmentRotate = pipeop_preproc_torch(
    "augment_rotate",
    tf.rotate,
    shapes_out=tf.rotate_shape,
    param_set=ParamSet(
        angle=p_dbl(tags=_REQ),
        interpolation=p_interpolation(_AFFINE_MODES, default="nearest"),
        expand=p_lgl(default=False, tags="train"),
        center=p_check(tf.check_point, default=None, allow_none=True),
        fill=p_dbl(default=0.0, tags="train"),
    ),
    random=False,
)
document(
    PipeOpPreprocTorchAugmentRotate,
    tf.rotate,
    "augment_rotate",
    f"""{_INTRO}
>>> op = tw.po("augment_rotate", angle=90, expand=True)
>>> op.shapes_out([(None, 3, 4, 8)], "train")
[(None, 3, 8, 4)]""",
)

# --- random choice and order -------------------------------------------------------------------
PipeOpPreprocTorchAugmentRandomChoice = pipeop_preproc_torch(
    "augment_random_choice",
    tf.random_choice,
    shapes_out=tf.random_choice_shape,
    param_set=ParamSet(
        transforms=p_check(tf.check_transforms, required=True),
        p=p_check(tf.check_probabilities, default=None, allow_none=True),
    ),
    random=True,
)
document(
    PipeOpPreprocTorchAugmentRandomChoice,
    tf.random_choice,
    "augment_random_choice",
    f"""{_INTRO}
>>> from torchweave.lazy import transforms
>>> op = tw.po("augment_random_choice", transforms=[transforms.hflip, transforms.vflip])
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[None]""",
)

PipeOpPreprocTorchAugmentRandomOrder = pipeop_preproc_torch(
    "augment_random_order",
    tf.random_order,
    shapes_out=tf.random_order_shape,
    param_set=ParamSet(transforms=p_check(tf.check_transforms, required=True)),
    random=True,
)
document(
    PipeOpPreprocTorchAugmentRandomOrder,
    tf.random_order,
    "augment_random_order",
    f"""{_INTRO}
>>> from torchweave.lazy import transforms
>>> op = tw.po("augment_random_order", transforms=[transforms.hflip, transforms.vflip])
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[None]""",
)

pipeops.register("augment_hflip", PipeOpPreprocTorchAugmentHflip)
pipeops.register("augment_vflip", PipeOpPreprocTorchAugmentVflip)
pipeops.register("augment_random_horizontal_flip", PipeOpPreprocTorchAugmentRandomHorizontalFlip)
pipeops.register("augment_random_vertical_flip", PipeOpPreprocTorchAugmentRandomVerticalFlip)
pipeops.register("augment_crop", PipeOpPreprocTorchAugmentCrop)
pipeops.register("augment_center_crop", PipeOpPreprocTorchAugmentCenterCrop)
pipeops.register("augment_random_crop", PipeOpPreprocTorchAugmentRandomCrop)
pipeops.register("augment_resized_crop", PipeOpPreprocTorchAugmentResizedCrop)
pipeops.register("augment_random_resized_crop", PipeOpPreprocTorchAugmentRandomResizedCrop)
pipeops.register("augment_color_jitter", PipeOpPreprocTorchAugmentColorJitter)
pipeops.register("augment_random_affine", PipeOpPreprocTorchAugmentRandomAffine)
pipeops.register("augment_rotate", PipeOpPreprocTorchAugmentRotate)
pipeops.register("augment_random_choice", PipeOpPreprocTorchAugmentRandomChoice)
pipeops.register("augment_random_order", PipeOpPreprocTorchAugmentRandomOrder)
