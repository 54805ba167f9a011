"""The ``trafo_*`` operators: deterministic preprocessing of lazy tensors (stages "both").

``trafo_nop``, ``trafo_reshape``, ``trafo_resize``, ``trafo_normalize``, ``trafo_pad``,
``trafo_grayscale`` and ``trafo_adjust_{brightness,gamma,hue,saturation}``; each wraps
the function of the same name in :mod:`torchweave.lazy.transforms` and its shape rule.
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
from torchweave.params.param import p_dbl, p_int
from torchweave.params.param_set import ParamSet

__all__ = [
    "PipeOpPreprocTorchTrafoAdjustBrightness",
    "PipeOpPreprocTorchTrafoAdjustGamma",
    "PipeOpPreprocTorchTrafoAdjustHue",
    "PipeOpPreprocTorchTrafoAdjustSaturation",
    "PipeOpPreprocTorchTrafoGrayscale",
    "PipeOpPreprocTorchTrafoNop",
    "PipeOpPreprocTorchTrafoNormalize",
    "PipeOpPreprocTorchTrafoPad",
    "PipeOpPreprocTorchTrafoReshape",
    "PipeOpPreprocTorchTrafoResize",
]


PipeOpPreprocTorchTrafoNop = preproc_op(
    "trafo_nop",
    tf.nop,
    example=""">>> tw.po("trafo_nop").shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchTrafoReshape = preproc_op(
    "trafo_reshape",
    tf.reshape,
    param_set=ParamSet(shape=p_check(tf.check_reshape_target, required=True)),
    example=""">>> tw.po("trafo_reshape", shape=(-1, 192)).shapes_out([(None, 3, 8, 8)], "train")
[(None, 192)]""",
)

PipeOpPreprocTorchTrafoResize = preproc_op(
    "trafo_resize",
    tf.resize,
    param_set=ParamSet(size=p_size(), interpolation=p_interpolation(), antialias=p_antialias()),
    example=""">>> tw.po("trafo_resize", size=4).shapes_out([(None, 3, 8, 16)], "train")
[(None, 3, 4, 8)]""",
)

PipeOpPreprocTorchTrafoNormalize = preproc_op(
    "trafo_normalize",
    tf.normalize,
    param_set=ParamSet(
        mean=p_check(tf.check_mean, required=True), std=p_check(tf.check_std, required=True)
    ),
    example=""">>> op = tw.po("trafo_normalize", mean=[0.5, 0.4, 0.3], std=0.2)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchTrafoPad = preproc_op(
    "trafo_pad",
    tf.pad,
    param_set=ParamSet(
        padding=p_check(tf.check_padding, required=True),
        fill=p_dbl(default=0.0, tags="train"),
        padding_mode=p_padding_mode(),
    ),
    example=""">>> tw.po("trafo_pad", padding=(1, 2)).shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 12, 10)]""",
)

PipeOpPreprocTorchTrafoGrayscale = preproc_op(
    "trafo_grayscale",
    tf.grayscale,
    param_set=ParamSet(num_output_channels=p_int(1, 3, tags=REQUIRED)),
    example=""">>> op = tw.po("trafo_grayscale", num_output_channels=1)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 1, 8, 8)]""",
)

PipeOpPreprocTorchTrafoAdjustBrightness = preproc_op(
    "trafo_adjust_brightness",
    tf.adjust_brightness,
    param_set=ParamSet(brightness_factor=p_dbl(0, tags=REQUIRED)),
    example=""">>> op = tw.po("trafo_adjust_brightness", brightness_factor=1.2)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchTrafoAdjustGamma = preproc_op(
    "trafo_adjust_gamma",
    tf.adjust_gamma,
    param_set=ParamSet(gamma=p_dbl(0, tags=REQUIRED), gain=p_dbl(default=1.0, tags="train")),
    example=""">>> tw.po("trafo_adjust_gamma", gamma=0.5).shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchTrafoAdjustHue = preproc_op(
    "trafo_adjust_hue",
    tf.adjust_hue,
    param_set=ParamSet(hue_factor=p_dbl(-0.5, 0.5, tags=REQUIRED)),
    example=""">>> tw.po("trafo_adjust_hue", hue_factor=0.1).shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchTrafoAdjustSaturation = preproc_op(
    "trafo_adjust_saturation",
    tf.adjust_saturation,
    param_set=ParamSet(saturation_factor=p_dbl(0, tags=REQUIRED)),
    example=""">>> op = tw.po("trafo_adjust_saturation", saturation_factor=0.5)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)
