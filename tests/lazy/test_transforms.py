"""The batch-wise transformations behind the trafo_* / augment_* operators: values and shapes."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from torchweave.errors import InvalidParameterError, ShapeError
from torchweave.lazy import transforms as tf


def rgb(n: int = 2, h: int = 5, w: int = 6, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, h, w, generator=gen)


def seeded(fn: Callable[[], torch.Tensor], seed: int) -> torch.Tensor:
    torch.manual_seed(seed)
    return fn()


# --- nop, reshape ------------------------------------------------------------------------------


def test_nop_and_reshape() -> None:
    x = rgb()
    assert tf.nop(x) is x
    assert tf.nop_shape((None, 3)) == (None, 3)
    assert torch.equal(tf.reshape(x, (-1, 90)), x.reshape(2, 90))
    assert tf.reshape_shape((None, 3, 5, 6), shape=(-1, 90)) == (None, 90)
    assert tf.reshape_shape((None, 3, 5, 6), (-1, 3, 30)) == (None, 3, 30)
    assert tf.reshape_shape(None, shape=(-1, 90)) is None
    with pytest.raises(ShapeError, match="trafo_reshape.*not compatible|trafo_reshape.*changes"):
        tf.reshape_shape((None, 3, 5, 6), shape=(-1, 7))


# --- resize ------------------------------------------------------------------------------------


def test_resize_keeps_constant_images_and_follows_the_size_rule() -> None:
    x = torch.full((2, 3, 10, 20), 0.25)
    y = tf.resize(x, (4, 7))
    assert y.shape == (2, 3, 4, 7)
    torch.testing.assert_close(y, torch.full_like(y, 0.25))
    # a single int sets the shorter side; the longer keeps the aspect ratio
    assert tf.resize(x, 5).shape == (2, 3, 5, 10)
    assert tf.resize(torch.zeros(1, 1, 9, 4), 2).shape == (1, 1, 4, 2)
    assert tf.resize_shape((None, 3, 10, 20), 5) == (None, 3, 5, 10)
    assert tf.resize_shape((None, 3, None, 20), 5) == (None, 3, None, None)
    assert tf.resize_shape((None, 3, None, 20), (4, 4)) == (None, 3, 4, 4)
    assert tf.resize_shape(None, 4) is None
    # integer images stay integer; (N, H, W) without channels works too
    u = tf.resize(torch.full((2, 8, 8), 200, dtype=torch.uint8), (3, 3), "bicubic")
    assert u.dtype == torch.uint8 and u.shape == (2, 3, 3) and bool((u == 200).all())


def test_resize_matches_interpolate_and_same_size_is_identity() -> None:
    x = rgb(h=8, w=8)
    expected = torch.nn.functional.interpolate(x, size=(4, 4), mode="nearest")
    assert torch.equal(tf.resize(x, 4, interpolation="nearest"), expected)
    assert tf.resize(x, (8, 8)) is x
    with pytest.raises(ShapeError, match="'trafo_resize' needs an input of at least 3 dim"):
        tf.resize(torch.zeros(2, 3), 2)
    with pytest.raises(InvalidParameterError, match="'interpolation' parameter of trafo_resize"):
        tf.resize(x, 2, interpolation="lanczos")
    with pytest.raises(InvalidParameterError, match="'size' parameter of trafo_resize"):
        tf.resize(x, (1, 2, 3))


# --- normalize ---------------------------------------------------------------------------------


def test_normalize_per_channel() -> None:
    x = rgb()
    mean, std = [0.1, 0.2, 0.3], [0.5, 1.0, 2.0]
    y = tf.normalize(x, mean, std)
    for c in range(3):
        torch.testing.assert_close(y[:, c], (x[:, c] - mean[c]) / std[c])
    torch.testing.assert_close(tf.normalize(x, 0.5, 0.25), (x - 0.5) / 0.25)
    # tabular (N, C) input and integer input (converted to float, not rescaled)
    tab = torch.tensor([[1, 2], [3, 4]])
    assert torch.equal(tf.normalize(tab, [1, 2], [2, 2]), torch.tensor([[0.0, 0.0], [1.0, 1.0]]))
    assert tf.normalize_shape((None, 3, 5, 6), mean, std) == (None, 3, 5, 6)
    with pytest.raises(ShapeError, match="got 3 values for 'mean'.*has 4 channels"):
        tf.normalize_shape((None, 4, 5, 6), mean, 1.0)
    with pytest.raises(ShapeError, match="got 3 values for 'std'"):
        tf.normalize(torch.zeros(2, 2, 3, 3), 0.0, std)
    with pytest.raises(InvalidParameterError, match="'std' parameter of trafo_normalize"):
        tf.normalize(x, 0.0, [1.0, 0.0, 1.0])


# --- pad ---------------------------------------------------------------------------------------


def test_pad_order_values_and_modes() -> None:
    x = torch.arange(1.0, 7.0).view(1, 1, 2, 3)  # [[1,2,3],[4,5,6]]
    # (left, top, right, bottom)
    y = tf.pad(x, (1, 0, 2, 1), fill=9.0)
    assert y.shape == (1, 1, 3, 6)
    assert y[0, 0].tolist() == [
        [9, 1, 2, 3, 9, 9],
        [9, 4, 5, 6, 9, 9],
        [9, 9, 9, 9, 9, 9],
    ]
    # (left/right, top/bottom) and an int for all sides
    assert tf.pad(x, (2, 1)).shape == (1, 1, 4, 7)
    assert tf.pad(x, 1).shape == (1, 1, 4, 5)
    row = torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 1, 3)
    expected = {
        "constant": [0, 0, 1, 2, 3, 0, 0],
        "edge": [1, 1, 1, 2, 3, 3, 3],
        "reflect": [3, 2, 1, 2, 3, 2, 1],
        "symmetric": [2, 1, 1, 2, 3, 3, 2],
    }
    for mode, values in expected.items():
        assert tf.pad(row, (2, 0), padding_mode=mode)[0, 0, 0].tolist() == values, mode
    # top/bottom use the same rule, and integer dtypes survive
    col = torch.tensor([1, 2, 3], dtype=torch.uint8).view(1, 3, 1)
    assert tf.pad(col, (0, 1), padding_mode="reflect")[0, :, 0].tolist() == [2, 1, 2, 3, 2]
    assert tf.pad(col, (0, 1), fill=7).dtype == torch.uint8
    assert tf.pad_shape((None, 3, 5, None), (1, 2, 3, 4)) == (None, 3, 11, None)
    with pytest.raises(InvalidParameterError, match="'padding' parameter of trafo_pad"):
        tf.pad(x, (1, 2, 3))
    with pytest.raises(InvalidParameterError, match="'padding_mode' parameter of trafo_pad"):
        tf.pad(x, 1, padding_mode="wrap")


# --- colour ------------------------------------------------------------------------------------


def test_grayscale_is_the_weighted_sum() -> None:
    x = rgb()
    expected = 0.2989 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]
    y = tf.grayscale(x)
    assert y.shape == (2, 1, 5, 6)
    torch.testing.assert_close(y[:, 0], expected)
    y3 = tf.grayscale(x, num_output_channels=3)
    assert y3.shape == (2, 3, 5, 6) and torch.equal(y3[:, 0], y3[:, 2])
    assert tf.grayscale_shape((None, 3, 5, 6), 3) == (None, 3, 5, 6)
    assert tf.grayscale_shape((None, None, 5, 6), 1) == (None, 1, 5, 6)
    white = torch.full((1, 3, 2, 2), 255, dtype=torch.uint8)
    assert tf.grayscale(white).dtype == torch.uint8 and bool((tf.grayscale(white) == 255).all())
    with pytest.raises(ShapeError, match="'trafo_grayscale' needs RGB images with 3 channels"):
        tf.grayscale_shape((None, 4, 5, 6))
    with pytest.raises(ShapeError, match="at least 4 dimensions"):
        tf.grayscale(torch.zeros(2, 3, 4))


def test_brightness_gamma_and_saturation() -> None:
    x = rgb()
    assert torch.equal(tf.adjust_brightness(x, 1.0), x)
    assert torch.equal(tf.adjust_brightness(x, 0.0), torch.zeros_like(x))
    torch.testing.assert_close(tf.adjust_brightness(x, 3.0), (3 * x).clamp(0, 1))
    u = torch.tensor([100, 200], dtype=torch.uint8).view(1, 1, 1, 2)
    assert tf.adjust_brightness(u, 2.0).flatten().tolist() == [200, 255]
    torch.testing.assert_close(tf.adjust_gamma(x, 2.0, gain=0.5), 0.5 * x**2)
    torch.testing.assert_close(tf.adjust_gamma(x, 1.0), x)
    torch.testing.assert_close(tf.adjust_saturation(x, 1.0), x)
    torch.testing.assert_close(tf.adjust_saturation(x, 0.0), tf.grayscale(x, 3))
    with pytest.raises(InvalidParameterError, match="'brightness_factor'.*>= 0. Got -1"):
        tf.adjust_brightness(x, -1)
    with pytest.raises(ShapeError, match="'trafo_adjust_saturation' needs RGB"):
        tf.adjust_saturation(torch.zeros(1, 2, 3, 3), 0.5)


def test_hue() -> None:
    x = rgb()
    torch.testing.assert_close(tf.adjust_hue(x, 0.0), x)
    torch.testing.assert_close(tf.adjust_hue(tf.adjust_hue(x, 0.5), 0.5), x)
    torch.testing.assert_close(tf.adjust_hue(tf.adjust_hue(x, 0.2), -0.2), x)
    pure = torch.eye(3).view(3, 3, 1, 1)  # red, green, blue
    # a third of a turn: red -> green -> blue -> red
    assert torch.allclose(tf.adjust_hue(pure, 1 / 3), pure.roll(1, dims=1), atol=1e-6)
    gray = torch.full((1, 3, 2, 2), 0.4)
    torch.testing.assert_close(tf.adjust_hue(gray, 0.3), gray)
    assert tf.adjust_hue_shape((None, None, 4, 4), 0.1) == (None, 3, 4, 4)
    with pytest.raises(InvalidParameterError, match=r"'hue_factor'.*\[-0.5, 0.5\]"):
        tf.adjust_hue(x, 0.7)


def test_color_jitter() -> None:
    x = rgb(n=6)
    assert tf.color_jitter(x) is x
    a = seeded(lambda: tf.color_jitter(x, 0.5, 0.5, 0.5, 0.1), 3)
    b = seeded(lambda: tf.color_jitter(x, 0.5, 0.5, 0.5, 0.1), 3)
    c = seeded(lambda: tf.color_jitter(x, 0.5, 0.5, 0.5, 0.1), 4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    # brightness only: every image is scaled by its own factor in [0.5, 1.5]
    y = seeded(lambda: tf.color_jitter(x, brightness=0.5), 1)
    ratios = (y / x).flatten(1)
    unclipped = y.flatten(1) < 1
    per_image = [float(r[m].mean()) for r, m in zip(ratios, unclipped, strict=True)]
    assert all(0.5 <= f <= 1.5 for f in per_image) and len({round(f, 4) for f in per_image}) > 1
    # a fixed range (factor, factor) is deterministic
    torch.testing.assert_close(
        tf.color_jitter(x, contrast=(1.0, 1.0), hue=(0.2, 0.2)), tf.adjust_hue(x, 0.2)
    )
    with pytest.raises(ShapeError, match="needs RGB"):
        tf.color_jitter_shape((None, 1, 4, 4), saturation=0.3)
    with pytest.raises(InvalidParameterError, match="'hue' parameter of augment_color_jitter"):
        tf.color_jitter(x, hue=0.8)


# --- flips -------------------------------------------------------------------------------------


def test_flips() -> None:
    x = rgb()
    assert torch.equal(tf.hflip(x), x.flip(-1))
    assert torch.equal(tf.vflip(x), x.flip(-2))
    assert torch.equal(tf.random_horizontal_flip(x, p=0.0), x)
    assert torch.equal(tf.random_horizontal_flip(x, p=1.0), x.flip(-1))
    assert torch.equal(tf.random_vertical_flip(x, p=1.0), x.flip(-2))
    with pytest.raises(ShapeError, match="'augment_vflip' needs an input of at least 3"):
        tf.vflip_shape((None, 4))


def test_random_flip_is_per_image_and_seeded() -> None:
    x = torch.rand(64, 1, 2, 3)
    a = seeded(lambda: tf.random_horizontal_flip(x), 1)
    b = seeded(lambda: tf.random_horizontal_flip(x), 1)
    c = seeded(lambda: tf.random_horizontal_flip(x), 2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    flipped = [torch.equal(a[i], x[i].flip(-1)) for i in range(64)]
    kept = [torch.equal(a[i], x[i]) for i in range(64)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert 10 < sum(flipped) < 54


# --- crops -------------------------------------------------------------------------------------


def test_crop_positions_and_errors() -> None:
    x = torch.arange(30.0).view(1, 1, 5, 6)
    y = tf.crop(x, top=1, left=2, height=3, width=2)
    assert torch.equal(y, x[..., 1:4, 2:4])
    assert tf.crop_shape((None, 1, 5, 6), 1, 2, 3, 2) == (None, 1, 3, 2)
    assert tf.crop_shape((None, 1, None, None), 1, 2, 3, 2) == (None, 1, 3, 2)
    with pytest.raises(
        ShapeError, match=r"'augment_crop' cannot crop rows 3 to 5.*\(None, 1, 5, 6\)"
    ):
        tf.crop_shape((None, 1, 5, 6), 3, 0, 3, 2)
    with pytest.raises(ShapeError, match="the crop leaves the image"):
        tf.crop(x, 0, 5, 2, 2)
    with pytest.raises(InvalidParameterError, match="'top' parameter of augment_crop"):
        tf.crop(x, -1, 0, 2, 2)


def test_center_crop() -> None:
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert torch.equal(tf.center_crop(x, 2), x[..., 1:3, 1:3])
    assert torch.equal(tf.center_crop(x, (1, 3)), x[..., 2:3, 0:3])  # round(1.5) == 2
    padded = tf.center_crop(torch.ones(1, 1, 2, 2), (3, 4))
    assert padded[0, 0].tolist() == [[0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    assert tf.center_crop_shape((None, 3, None, 7), (2, 3)) == (None, 3, 2, 3)


def test_random_crop_windows_and_seed() -> None:
    x = torch.arange(2 * 36.0).view(2, 1, 6, 6)
    torch.manual_seed(0)
    y = tf.random_crop(x, 3)
    assert y.shape == (2, 1, 3, 3)
    for i in range(2):
        top, left = divmod(int(y[i, 0, 0, 0]) - 36 * i, 6)
        assert torch.equal(y[i], x[i, :, top : top + 3, left : left + 3])
    a = seeded(lambda: tf.random_crop(x.repeat(8, 1, 1, 1), 3), 5)
    b = seeded(lambda: tf.random_crop(x.repeat(8, 1, 1, 1), 3), 5)
    assert torch.equal(a, b) and len({int(v) for v in a[:, 0, 0, 0] % 36}) > 1
    # padding first; pad_if_needed pads small images
    z = tf.random_crop(torch.ones(3, 1, 2, 2), (4, 4), padding=1)
    assert z.shape == (3, 1, 4, 4) and float(z.sum()) == 12
    assert tf.random_crop(torch.ones(2, 1, 2, 3), 4, pad_if_needed=True).shape == (2, 1, 4, 4)
    assert tf.random_crop_shape((None, 1, 2, 3), 4, pad_if_needed=True) == (None, 1, 4, 4)
    with pytest.raises(ShapeError, match="'augment_random_crop' cannot crop 4 x 4 pixels"):
        tf.random_crop(torch.ones(2, 1, 2, 3), 4)


def test_resized_crops() -> None:
    x = rgb(n=3, h=8, w=8)
    y = tf.resized_crop(x, 2, 2, 4, 4, (2, 2))
    torch.testing.assert_close(y, tf.resize(x[..., 2:6, 2:6], (2, 2)))
    assert tf.resized_crop_shape((None, 3, 8, 8), 2, 2, 4, 4, 2) == (None, 3, 2, 2)
    # scale and ratio of exactly 1 crop the whole (square) image
    full = tf.random_resized_crop(x, 4, scale=(1.0, 1.0), ratio=(1.0, 1.0))
    torch.testing.assert_close(full, tf.resize(x, (4, 4)))
    a = seeded(lambda: tf.random_resized_crop(x, (5, 3)), 2)
    b = seeded(lambda: tf.random_resized_crop(x, (5, 3)), 2)
    c = seeded(lambda: tf.random_resized_crop(x, (5, 3)), 3)
    assert a.shape == (3, 3, 5, 3) and torch.equal(a, b) and not torch.equal(a, c)
    assert tf.random_resized_crop(x[:0], 4).shape == (0, 3, 4, 4)
    assert tf.random_resized_crop_shape((None, 3, None, None), (5, 3)) == (None, 3, 5, 3)


# --- affine ------------------------------------------------------------------------------------


def test_rotate() -> None:
    x = rgb(h=5, w=5)
    assert torch.equal(tf.rotate(x, 90.0), torch.rot90(x, 1, (-2, -1)))
    assert torch.equal(tf.rotate(x, -90.0), torch.rot90(x, -1, (-2, -1)))
    assert torch.equal(tf.rotate(x, 0.0), x)
    wide = rgb(h=4, w=6)
    assert torch.equal(tf.rotate(wide, 90.0, expand=True), torch.rot90(wide, 1, (-2, -1)))
    for h, w in [(4, 6), (4, 8), (3, 8), (5, 2)]:
        for angle in (90.0, -90.0, 270.0):
            assert tf.rotate_shape((None, 3, h, w), angle, expand=True) == (None, 3, w, h)
        assert tf.rotate_shape((None, 3, h, w), 180.0, expand=True) == (None, 3, h, w)
        odd = torch.rand(1, 2, h, w)
        assert torch.equal(tf.rotate(odd, 90.0, expand=True), torch.rot90(odd, 1, (-2, -1)))
    assert tf.rotate_shape((None, 3, 3, 3), 45.0, expand=True) == (None, 3, 5, 5)
    assert tf.rotate_shape((None, 3, 4, 6), 30.0) == (None, 3, 4, 6)
    # a corner pixel rotated about itself stays; the far side is filled
    y = tf.rotate(torch.ones(1, 1, 3, 3), 180.0, center=(0.5, 0.5), fill=-1.0)
    assert y[0, 0].tolist() == [[1, -1, -1], [-1, -1, -1], [-1, -1, -1]]
    u = tf.rotate(torch.full((1, 1, 4, 4), 9, dtype=torch.uint8), 90.0)
    assert u.dtype == torch.uint8 and bool((u == 9).all())
    with pytest.raises(InvalidParameterError, match="'center'.*cannot be combined with 'expand'"):
        tf.rotate(x, 10.0, expand=True, center=(1.0, 1.0))


def test_random_affine() -> None:
    x = rgb(n=4, h=6, w=6)
    assert torch.equal(tf.random_affine(x, 0.0), x)
    a = seeded(lambda: tf.random_affine(x, 40.0, translate=(0.2, 0.2), scale=(0.8, 1.2)), 1)
    b = seeded(lambda: tf.random_affine(x, 40.0, translate=(0.2, 0.2), scale=(0.8, 1.2)), 1)
    c = seeded(lambda: tf.random_affine(x, 40.0, translate=(0.2, 0.2), scale=(0.8, 1.2)), 2)
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    # a rotation range of exactly 90 degrees is the 90 degree rotation of every image
    assert torch.equal(tf.random_affine(x, (90.0, 90.0)), torch.rot90(x, 1, (-2, -1)))
    # shifts are whole pixels: a single bright pixel moves to another pixel, differently per image
    dot = torch.zeros(16, 1, 7, 7)
    dot[:, :, 3, 3] = 1.0
    moved = tf.random_affine(dot, 0.0, translate=(3 / 7, 3 / 7))
    assert torch.equal(moved.flatten(1).sum(1), torch.ones(16))
    assert len(set(moved.flatten(1).argmax(1).tolist())) > 3
    assert tf.random_affine(torch.ones(2, 1, 4, 4), (45.0, 45.0), fill=0.5).min() == 0.5
    with pytest.raises(InvalidParameterError, match="'degrees' parameter of augment_random_affine"):
        tf.random_affine(x, -3.0)


# --- choice and order --------------------------------------------------------------------------


def test_random_choice() -> None:
    x = torch.rand(32, 1, 3, 3)
    assert torch.equal(tf.random_choice(x, [tf.hflip]), x.flip(-1))
    assert torch.equal(tf.random_choice(x, [tf.hflip, tf.vflip], p=[1.0, 0.0]), x.flip(-1))
    torch.manual_seed(0)
    y = tf.random_choice(x, [tf.hflip, tf.vflip])
    h = [torch.equal(y[i], x[i].flip(-1)) for i in range(32)]
    v = [torch.equal(y[i], x[i].flip(-2)) for i in range(32)]
    assert all(a or b for a, b in zip(h, v, strict=True)) and 0 < sum(h) < 32
    assert tf.random_choice_shape((None, 1, 3, 3), [tf.hflip]) is None
    with pytest.raises(ShapeError, match="'augment_random_choice' needs transforms that give"):
        tf.random_choice(x, [tf.hflip, functools.partial(tf.center_crop, size=2)])
    with pytest.raises(InvalidParameterError, match="one weight per transform"):
        tf.random_choice(x, [tf.hflip], p=[0.5, 0.5])
    with pytest.raises(InvalidParameterError, match="'transforms'.*non-empty list of callables"):
        tf.random_choice(x, [])


def test_random_order_per_image() -> None:
    x = torch.full((40, 1, 2, 2), 0.5)
    double = functools.partial(tf.adjust_brightness, brightness_factor=2.0)

    def add(v: torch.Tensor) -> torch.Tensor:
        return v + 0.25

    torch.manual_seed(0)
    y = tf.random_order(x, [double, add])
    # double then add: 1.25; add then double: clipped 1.0 (adjust_brightness clips to 1)
    values = set(y.flatten().tolist())
    assert values == {1.25, 1.0}
    assert torch.equal(tf.random_order(x, [tf.hflip, tf.vflip]), x.flip(-1).flip(-2))
    assert tf.random_order_shape((None, 1, 2, 2), [add]) is None


# --- shape rules agree with the functions -----------------------------------------------------

OPS: list[tuple[str, dict[str, Any]]] = [
    ("nop", {}),
    ("reshape", {}),  # the target depends on the input: set in the test
    ("resize", {"size": 4}),
    ("resize", {"size": (3, 5), "interpolation": "nearest"}),
    ("normalize", {"mean": 0.5, "std": 0.2}),
    ("pad", {"padding": (1, 2, 0, 3), "padding_mode": "symmetric"}),
    ("grayscale", {"num_output_channels": 2}),
    ("adjust_brightness", {"brightness_factor": 1.5}),
    ("adjust_gamma", {"gamma": 0.5}),
    ("adjust_hue", {"hue_factor": 0.1}),
    ("adjust_saturation", {"saturation_factor": 0.4}),
    ("hflip", {}),
    ("vflip", {}),
    ("random_horizontal_flip", {}),
    ("random_vertical_flip", {"p": 0.3}),
    ("crop", {"top": 0, "left": 1, "height": 1, "width": 1}),
    ("center_crop", {"size": (3, 2)}),
    ("random_crop", {"size": 2, "padding": 1, "pad_if_needed": True}),
    ("resized_crop", {"top": 0, "left": 0, "height": 1, "width": 1, "size": 3}),
    ("random_resized_crop", {"size": (3, 4)}),
    ("color_jitter", {"brightness": 0.3, "contrast": 0.3, "saturation": 0.3, "hue": 0.1}),
    ("random_affine", {"degrees": 20.0, "translate": (0.1, 0.1), "scale": (0.9, 1.1)}),
    ("rotate", {"angle": 33.0, "expand": True, "interpolation": "bilinear"}),
]


@settings(max_examples=40, deadline=None)
@given(
    op=st.sampled_from(range(len(OPS))),
    n=st.integers(1, 3),
    h=st.integers(1, 9),
    w=st.integers(1, 9),
)
def test_shape_rules_match_outputs(op: int, n: int, h: int, w: int) -> None:
    name, params = OPS[op]
    params = dict(params)
    if name == "reshape":
        params["shape"] = (-1, 3 * h * w)
    fn = getattr(tf, name)
    rule = getattr(tf, f"{name}_shape")
    x = torch.rand(n, 3, h, w)
    try:
        shape = rule((None, 3, h, w), **params)
    except ShapeError:  # an input the op cannot take: the function refuses it too
        with pytest.raises(ShapeError):
            fn(x, **params)
        return
    out = fn(x, **params)
    assert shape == (None, *out.shape[1:])
    assert rule(None, **params) is None


# --- torchvision gives the same results ------------------------------------------------------


def test_torchvision_dispatch_matches_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torchvision")
    x = rgb(n=3, h=7, w=9)
    calls = [
        (tf.adjust_brightness, {"brightness_factor": 1.4}),
        (tf.adjust_gamma, {"gamma": 0.7, "gain": 1.1}),
        (tf.adjust_hue, {"hue_factor": 0.23}),
        (tf.adjust_saturation, {"saturation_factor": 0.3}),
        (tf.grayscale, {"num_output_channels": 3}),
        (tf.normalize, {"mean": [0.1, 0.2, 0.3], "std": [0.3, 0.2, 0.1]}),
    ]
    with_tv = [fn(x, **kw) for fn, kw in calls]
    monkeypatch.setattr(tf, "_TV_ENABLED", False)
    for (fn, kw), expected in zip(calls, with_tv, strict=True):
        torch.testing.assert_close(fn(x, **kw), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.uint8])
def test_normalize_with_one_mean_and_std_equals_the_per_channel_form(dtype: torch.dtype) -> None:
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(16, 3, 4, 4, generator=g) * 200).to(dtype)
    scalar = tf.normalize(x, 0.3123, 0.27771)
    channels = tf.normalize(x, [0.3123] * 3, [0.27771] * 3)
    assert scalar.dtype == channels.dtype == (torch.float32 if dtype == torch.uint8 else dtype)
    assert torch.equal(scalar, channels)
    with pytest.raises(InvalidParameterError, match="'std' parameter of trafo_normalize"):
        tf.normalize(x, 0.5, 0.0)
