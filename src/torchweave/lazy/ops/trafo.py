"""The ``trafo_*`` operators: deterministic preprocessing of lazy tensors (stages "both").

``trafo_nop``, ``trafo_reshape``, ``trafo_resize``, ``trafo_normalize``, ``trafo_pad``,
``trafo_grayscale`` and ``trafo_adjust_{brightness,gamma,hue,saturation}``; each wraps
the function of the same name in :mod:`torchweave.lazy.transforms` and its shape rule.
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
from torchweave.params.param import p_dbl, p_int
from torchweave.params.param_set import ParamSet
from torchweave.registry import pipeops

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

_REQ = {"train", "required"}
_INTRO = """>>> import torchweave as tw
>>> import torchweave.lazy"""

PipeOpPreprocTorchTrafoNop = pipeop_preproc_torch(
    "trafo_nop", tf.nop, shapes_out=tf.nop_shape, param_set=ParamSet(), random=False
)
document(
    PipeOpPreprocTorchTrafoNop,
    tf.nop,
    "trafo_nop",
    f"""{_INTRO}
>>> tw.po("trafo_nop").shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchTrafoReshape = pipeop_preproc_torch(
    "trafo_reshape",
    tf.reshape,
    shapes_out=tf.reshape_shape,
    param_set=ParamSet(shape=p_check(tf.check_reshape_target, required=True)),
    random=False,
)
document(
    PipeOpPreprocTorchTrafoReshape,
    tf.reshape,
    "trafo_reshape",
    f"""{_INTRO}
>>> tw.po("trafo_reshape", shape=(-1, 192)).shapes_out([(None, 3, 8, 8)], "train")
[(None, 192)]""",
)

PipeOpPreprocTorchTrafoResize = pipeop_preproc_torch(
    "trafo_resize",
    tf.resize,
    shapes_out=tf.resize_shape,
    param_set=ParamSet(size=p_size(), interpolation=p_interpolation(), antialias=p_antialias()),
    random=False,
)
document(
    PipeOpPreprocTorchTrafoResize,
    tf.resize,
    "trafo_resize",
    f"""{_INTRO}
>>> tw.po("trafo_resize", size=4).shapes_out([(None, 3, 8, 16)], "train")
[(None, 3, 4, 8)]""",
)

PipeOpPreprocTorchTrafoNormalize = pipeop_preproc_torch(
    "trafo_normalize",
    tf.normalize,
    shapes_out=tf.normalize_shape,
    param_set=ParamSet(
        mean=p_check(tf.check_mean, required=True), std=p_check(tf.check_std, required=True)
    ),
    random=False,
)
document(
    PipeOpPreprocTorchTrafoNormalize,
    tf.normalize,
    "trafo_normalize",
    f"""{_INTRO}
>>> op = tw.po("trafo_normalize", mean=[0.5, 0.4, 0.3], std=0.2)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchTrafoPad = pipeop_preproc_torch(
    "trafo_pad",
    tf.pad,
    shapes_out=tf.pad_shape,
    param_set=ParamSet(
        padding=p_check(tf.check_padding, required=True),
        fill=p_dbl(default=0.0, tags="train"),
        padding_mode=p_padding_mode(),
    ),
    random=False,
)
document(
    PipeOpPreprocTorchTrafoPad,
    tf.pad,
    "trafo_pad",
    f"""{_INTRO}
>>> tw.po("trafo_pad", padding=(1, 2)).shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 12, 10)]""",
)

PipeOpPreprocTorchTrafoGrayscale = pipeop_preproc_torch(
    "trafo_grayscale",
    tf.grayscale,
    shapes_out=tf.grayscale_shape,
    param_set=ParamSet(num_output_channels=p_int(1, 3, tags=_REQ)),
    random=False,
)
document(
    PipeOpPreprocTorchTrafoGrayscale,
    tf.grayscale,
    "trafo_grayscale",
    f"""{_INTRO}
>>> op = tw.po("trafo_grayscale", num_output_channels=1)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 1, 8, 8)]""",
)

PipeOpPreprocTorchTrafoAdjustBrightness = pipeop_preproc_torch(
    "trafo_adjust_brightness",
    tf.adjust_brightness,
    shapes_out=tf.adjust_brightness_shape,
    param_set=ParamSet(brightness_factor=p_dbl(0, tags=_REQ)),
    random=False,
)
document(
    PipeOpPreprocTorchTrafoAdjustBrightness,
    tf.adjust_brightness,
    "trafo_adjust_brightness",
    f"""{_INTRO}
>>> op = tw.po("trafo_adjust_brightness", brightness_factor=1.2)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchTrafoAdjustGamma = pipeop_preproc_torch(
    "trafo_adjust_gamma",
    tf.adjust_gamma,
    shapes_out=tf.adjust_gamma_shape,
    param_set=ParamSet(gamma=p_dbl(0, tags=_REQ), gain=p_dbl(default=1.0, tags="train")),
    random=False,
)
document(
    PipeOpPreprocTorchTrafoAdjustGamma,
    tf.adjust_gamma,
    "trafo_adjust_gamma",
    f"""{_INTRO}
>>> tw.po("trafo_adjust_gamma", gamma=0.5).shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchTrafoAdjustHue = pipeop_preproc_torch(
    "trafo_adjust_hue",
    tf.adjust_hue,
    shapes_out=tf.adjust_hue_shape,
    param_set=ParamSet(hue_factor=p_dbl(-0.5, 0.5, tags=_REQ)),
    random=False,
)
document(
    PipeOpPreprocTorchTrafoAdjustHue,
    tf.adjust_hue,
    "trafo_adjust_hue",
    f"""{_INTRO}
>>> tw.po("trafo_adjust_hue", hue_factor=0.1).shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

PipeOpPreprocTorchTrafoAdjustSaturation = pipeop_preproc_torch(
    "trafo_adjust_saturation",
    tf.adjust_saturation,
    shapes_out=tf.adjust_saturation_shape,
    param_set=ParamSet(saturation_factor=p_dbl(0, tags=_REQ)),
    random=False,
)
document(
    PipeOpPreprocTorchTrafoAdjustSaturation,
    tf.adjust_saturation,
    "trafo_adjust_saturation",
    f"""{_INTRO}
>>> op = tw.po("trafo_adjust_saturation", saturation_factor=0.5)
>>> op.shapes_out([(None, 3, 8, 8)], "train")
[(None, 3, 8, 8)]""",
)

pipeops.register("trafo_nop", PipeOpPreprocTorchTrafoNop)
pipeops.register("trafo_reshape", PipeOpPreprocTorchTrafoReshape)
pipeops.register("trafo_resize", PipeOpPreprocTorchTrafoResize)
pipeops.register("trafo_normalize", PipeOpPreprocTorchTrafoNormalize)
pipeops.register("trafo_pad", PipeOpPreprocTorchTrafoPad)
pipeops.register("trafo_grayscale", PipeOpPreprocTorchTrafoGrayscale)
pipeops.register("trafo_adjust_brightness", PipeOpPreprocTorchTrafoAdjustBrightness)
pipeops.register("trafo_adjust_gamma", PipeOpPreprocTorchTrafoAdjustGamma)
pipeops.register("trafo_adjust_hue", PipeOpPreprocTorchTrafoAdjustHue)
pipeops.register("trafo_adjust_saturation", PipeOpPreprocTorchTrafoAdjustSaturation)
