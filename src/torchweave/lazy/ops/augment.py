"""The ``augment_*`` operators: data augmentation of lazy tensors (stages "train").

At train time each operator appends its step to the lazy columns; at predict time the
step is the identity (set ``stages = "both"`` to apply it at predict time too). The
random ones draw per image from torch's global generator, which a learner's ``seed``
fixes. Each wraps the function of the same name in :mod:`torchweave.lazy.transforms`.
"""

from __future__ import annotations

from torchweave.lazy import transforms as tf
from torchweave.lazy.ops._common import (
    REQUIRED,
    p_antialias,
    p_check,
    p_interpolation,
    p_padding_mode,
    p_size,
    preproc_op,
)
from torchweave.params.param import Param, p_dbl, p_int, p_lgl
from torchweave.params.param_set import ParamSet

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

_AFFINE_MODES = ("nearest", "bilinear")


def _box() -> dict[str, Param]:
    return {
        "top": p_int(0, tags=REQUIRED),
        "left": p_int(0, tags=REQUIRED),
        "height": p_int(1, tags=REQUIRED),
        "width": p_int(1, tags=REQUIRED),
    }


# --- flips -------------------------------------------------------------------------------------
PipeOpPreprocTorchAugmentHflip = preproc_op(
    "augment_hflip",
    tf.hflip,
    example=""">>> tw.po("augment_hflip").shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchAugmentVflip = preproc_op(
    "augment_vflip",
    tf.vflip,
    example=""">>> tw.po("augment_vflip").shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchAugmentRandomHorizontalFlip = preproc_op(
    "augment_random_horizontal_flip",
    tf.random_horizontal_flip,
    param_set=ParamSet(p=p_dbl(0, 1, default=0.5, tags="train")),
    random=True,
    example=""">>> op = tw.po("augment_random_horizontal_flip", p=0.3)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchAugmentRandomVerticalFlip = preproc_op(
    "augment_random_vertical_flip",
    tf.random_vertical_flip,
    param_set=ParamSet(p=p_dbl(0, 1, default=0.5, tags="train")),
    random=True,
    example=""">>> tw.po("augment_random_vertical_flip").shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

# --- crops -------------------------------------------------------------------------------------
PipeOpPreprocTorchAugmentCrop = preproc_op(
    "augment_crop",
    tf.crop,
    param_set=ParamSet(_box()),
    example=""">>> op = tw.po("augment_crop", top=1, left=2, height=4, width=5)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 4, 5)]""",
)

PipeOpPreprocTorchAugmentCenterCrop = preproc_op(
    "augment_center_crop",
    tf.center_crop,
    param_set=ParamSet(size=p_size()),
    example=""">>> tw.po("augment_center_crop", size=6).shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 6, 6)]""",
)

PipeOpPreprocTorchAugmentRandomCrop = preproc_op(
    "augment_random_crop",
    tf.random_crop,
    param_set=ParamSet(
        size=p_size(),
        padding=p_check(tf.check_padding, default=None, allow_none=True),
        pad_if_needed=p_lgl(default=False, tags="train"),
        fill=p_dbl(default=0.0, tags="train"),
        padding_mode=p_padding_mode(),
    ),
    random=True,
    example=""">>> op = tw.po("augment_random_crop", size=8, padding=2)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchAugmentResizedCrop = preproc_op(
    "augment_resized_crop",
    tf.resized_crop,
    param_set=ParamSet(
        {
            **_box(),
            "size": p_size(),
            "interpolation": p_interpolation(),
            "antialias": p_antialias(),
        }
    ),
    example=""">>> op = tw.po("augment_resized_crop", top=0, left=0, height=4, width=4, size=8)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchAugmentRandomResizedCrop = preproc_op(
    "augment_random_resized_crop",
    tf.random_resized_crop,
    param_set=ParamSet(
        size=p_size(),
        scale=p_check(tf.check_range, default=(0.08, 1.0)),
        ratio=p_check(tf.check_range, default=(3.0 / 4.0, 4.0 / 3.0)),
        interpolation=p_interpolation(),
        antialias=p_antialias(),
    ),
    random=True,
    example=""">>> op = tw.po("augment_random_resized_crop", size=(6, 4))
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 6, 4)]""",
)

# --- colour ------------------------------------------------------------------------------------
PipeOpPreprocTorchAugmentColorJitter = preproc_op(
    "augment_color_jitter",
    tf.color_jitter,
    param_set=ParamSet(
        brightness=p_check(tf.check_jitter, default=0.0),
        contrast=p_check(tf.check_jitter, default=0.0),
        saturation=p_check(tf.check_jitter, default=0.0),
        hue=p_check(tf.check_hue_jitter, default=0.0),
    ),
    random=True,
    example=""">>> op = tw.po("augment_color_jitter", brightness=0.2, hue=0.05)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

# --- affine ------------------------------------------------------------------------------------
PipeOpPreprocTorchAugmentRandomAffine = preproc_op(
    "augment_random_affine",
    tf.random_affine,
    param_set=ParamSet(
        degrees=p_check(tf.check_degrees, required=True),
        translate=p_check(tf.check_translate, default=None, allow_none=True),
        scale=p_check(tf.check_range, default=None, allow_none=True),
        interpolation=p_interpolation(_AFFINE_MODES, default="nearest"),
        fill=p_dbl(default=0.0, tags="train"),
    ),
    random=True,
    example=""">>> op = tw.po("augment_random_affine", degrees=15, translate=(0.1, 0.1))
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchAugmentRotate = preproc_op(
    "augment_rotate",
    tf.rotate,
    param_set=ParamSet(
        angle=p_dbl(tags=REQUIRED),
        interpolation=p_interpolation(_AFFINE_MODES, default="nearest"),
        expand=p_lgl(default=False, tags="train"),
        center=p_check(tf.check_point, default=None, allow_none=True),
        fill=p_dbl(default=0.0, tags="train"),
    ),
    example=""">>> op = tw.po("augment_rotate", angle=90, expand=True)
>>> op.shapes_out([(None, 3, 4, 8)], "train")
[(None, 3, 8, 4)]""",
)

# --- random choice and order -------------------------------------------------------------------
PipeOpPreprocTorchAugmentRandomChoice = preproc_op(
    "augment_random_choice",
    tf.random_choice,
    param_set=ParamSet(
        transforms=p_check(tf.check_transforms, required=True),
        p=p_check(tf.check_probabilities, default=None, allow_none=True),
    ),
    random=True,
    example=""">>> from torchweave.lazy import transforms
>>> op = tw.po("augment_random_choice", transforms=[transforms.hflip, transforms.vflip])
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[None]""",
)

PipeOpPreprocTorchAugmentRandomOrder = preproc_op(
    "augment_random_order",
    tf.random_order,
    param_set=ParamSet(transforms=p_check(tf.check_transforms, required=True)),
    random=True,
    example=""">>> from torchweave.lazy import transforms
>>> op = tw.po("augment_random_order", transforms=[transforms.hflip, transforms.vflip])
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[None]""",
)
