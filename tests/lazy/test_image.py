import importlib.machinery
import pickle
import sys
import types

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image, features

from torchweave.errors import (
    InvalidParameterError,
    InvalidTypeError,
    MissingDependencyError,
    ShapeError,
    TaskError,
)
from torchweave.lazy.image import (
    IMAGE_EXTENSIONS,
    ImageFileDataset,
    lazy_tensor_from_images,
    task_from_image_folder,
)


def pixels(h, w, c=None, seed=0):
    rng = np.random.default_rng(seed)
    shape = (h, w) if c is None else (h, w, c)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


def save(path, array, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **kwargs)
    return path


def chw(array):
    """What the dataset should return for an 8-bit HxW(xC) array."""
    t = torch.from_numpy(array).float() / 255
    return t[None] if t.dim() == 2 else t.permute(2, 0, 1)


# --- decoding -------------------------------------------------------------------------------
def test_rgb_and_gray_png_values(tmp_path):
    rgb, gray = pixels(5, 7, 3), pixels(5, 7, seed=1)
    ds = ImageFileDataset([save(tmp_path / "c.png", rgb), str(save(tmp_path / "g.png", gray))])
    assert len(ds) == 2
    first = ds[0]
    assert list(first) == ["x"]
    assert first["x"].dtype == torch.float32
    torch.testing.assert_close(first["x"], chw(rgb), rtol=0, atol=0)
    torch.testing.assert_close(ds[1]["x"], chw(gray), rtol=0, atol=0)
    assert float(ds[0]["x"].min()) >= 0 and float(ds[0]["x"].max()) <= 1


def test_mode_conversion(tmp_path):
    gray = pixels(4, 4)
    rgba = pixels(4, 4, 4)
    paths = [save(tmp_path / "g.png", gray), save(tmp_path / "a.png", rgba)]
    as_rgb = ImageFileDataset(paths, mode="RGB")
    torch.testing.assert_close(as_rgb[0]["x"], chw(gray).expand(3, -1, -1))
    torch.testing.assert_close(as_rgb[1]["x"], chw(rgba[..., :3]))
    assert ImageFileDataset(paths)[1]["x"].shape == (4, 4, 4)  # mode=None keeps alpha
    assert ImageFileDataset(paths, mode="L")[1]["x"].shape == (1, 4, 4)
    assert ImageFileDataset(paths, mode="LA")[0]["x"][1].eq(1).all()


def test_palette_gif_becomes_rgb(tmp_path):
    rgb = np.zeros((6, 6, 3), dtype=np.uint8)
    rgb[:3] = (255, 0, 0)
    rgb[3:] = (0, 0, 255)
    path = tmp_path / "p.gif"
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(path)
    with Image.open(path) as img:
        assert img.mode == "P"
    out = ImageFileDataset([path])[0]["x"]
    torch.testing.assert_close(out, chw(rgb))


def test_sixteen_bit_png_scaled_to_unit_interval(tmp_path):
    values = (np.arange(12, dtype=np.uint16).reshape(3, 4) * 5000).astype(np.uint16)
    path = save(tmp_path / "deep.png", values)
    out = ImageFileDataset([path])[0]["x"]
    torch.testing.assert_close(out, torch.from_numpy(values.astype(np.float32) / 65535)[None])
    assert ImageFileDataset([path], mode="RGB")[0]["x"].shape == (3, 3, 4)


@pytest.mark.parametrize("ext", [".jpg", ".bmp", ".tif", ".webp"])
def test_other_formats(tmp_path, ext):
    if ext == ".webp" and not features.check("webp"):
        pytest.skip("Pillow without WebP")
    rgb = np.full((8, 8, 3), (200, 100, 50), dtype=np.uint8)
    kwargs = {"quality": 95} if ext == ".jpg" else {}
    out = ImageFileDataset([save(tmp_path / f"i{ext}", rgb, **kwargs)])[0]["x"]
    assert out.shape == (3, 8, 8)
    lossy = ext in (".jpg", ".webp")
    torch.testing.assert_close(out, chw(rgb), rtol=0, atol=0.02 if lossy else 0)


def test_getitems_stacks_a_batch(tmp_path):
    arrays = [pixels(3, 4, 3, seed=s) for s in range(3)]
    paths = [save(tmp_path / f"{i}.png", a) for i, a in enumerate(arrays)]
    batch = ImageFileDataset(paths).__getitems__([2, 0])
    assert batch["x"].shape == (2, 3, 3, 4)
    torch.testing.assert_close(batch["x"][0], chw(arrays[2]))
    torch.testing.assert_close(batch["x"][1], chw(arrays[0]))


def test_getitems_different_sizes_names_files(tmp_path):
    a = save(tmp_path / "small.png", pixels(3, 3, 3))
    b = save(tmp_path / "big.png", pixels(5, 5, 3))
    ds = ImageFileDataset([a, b])
    with pytest.raises(ShapeError, match=r"different sizes.*small\.png' \(3, 3, 3\).*big\.png"):
        ds.__getitems__([0, 1])
    assert ds.__getitems__([1])["x"].shape == (1, 3, 5, 5)


def test_declared_shape_checked_when_decoding(tmp_path):
    a = save(tmp_path / "a.png", pixels(3, 3, 3))
    b = save(tmp_path / "b.png", pixels(4, 3, 3))
    ds = ImageFileDataset([a, b], shape=(3, 3, 3))
    assert ds[0]["x"].shape == (3, 3, 3)
    with pytest.raises(ShapeError, match=r"'.*b\.png' has shape \(3, 4, 3\).*\(None, 3, 3, 3\)"):
        ds[1]
    assert ImageFileDataset([a, b], shape=(3, None, 3))[1]["x"].shape == (3, 4, 3)
    empty = ImageFileDataset([a], shape=(3, 3, 3)).__getitems__([])["x"]
    assert empty.shape == (0, 3, 3, 3)


def test_decode_errors_name_the_file(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    ds = ImageFileDataset([broken, tmp_path / "missing.png"])
    with pytest.raises(TaskError, match=r"Cannot decode the image file '.*broken\.png'"):
        ds[0]
    with pytest.raises(TaskError, match=r"Cannot decode the image file '.*missing\.png'"):
        ds[1]


def test_argument_errors(tmp_path):
    with pytest.raises(InvalidParameterError, match="'mode' parameter .* Got 'CMYK'"):
        ImageFileDataset(["a.png"], mode="CMYK")
    with pytest.raises(InvalidTypeError, match="sequence of image file paths.*Got str"):
        ImageFileDataset("a.png")
    with pytest.raises(InvalidTypeError, match=r"Got int \(3\)"):
        ImageFileDataset(["a.png", 3])
    with pytest.raises(InvalidParameterError, match="'backend' parameter"):
        ImageFileDataset(["a.png"], backend="cv2")
    with pytest.raises(ShapeError, match=r"\(channels, height, width\)"):
        ImageFileDataset(["a.png"], shape=(8, 8))


def test_pickles(tmp_path):
    path = save(tmp_path / "a.png", pixels(3, 3, 3))
    ds = pickle.loads(pickle.dumps(ImageFileDataset([path], mode="L")))
    assert ds.mode == "L" and ds[0]["x"].shape == (1, 3, 3)


def test_torchvision_backend_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    with pytest.raises(MissingDependencyError, match=r"torchweave\[vision\]"):
        ImageFileDataset(["a.png"], backend="torchvision")


def test_torchvision_backend_with_stand_in_module(tmp_path, monkeypatch):
    # torchvision is not installed here: a stand-in checks the calls and the scaling.
    calls = []

    class ImageReadMode:
        UNCHANGED, GRAY, GRAY_ALPHA, RGB, RGB_ALPHA = "u", "g", "ga", "rgb", "rgba"

    def read_file(path):
        calls.append(("read", path))
        return torch.tensor([1], dtype=torch.uint8)

    def decode_image(data, mode):
        calls.append(("decode", mode))
        return torch.full((3, 2, 2), 51, dtype=torch.uint8)

    io_module = types.SimpleNamespace(
        ImageReadMode=ImageReadMode, read_file=read_file, decode_image=decode_image
    )
    tv = types.ModuleType("torchvision")
    tv.__spec__ = importlib.machinery.ModuleSpec("torchvision", None)
    tv.io = io_module
    monkeypatch.setitem(sys.modules, "torchvision", tv)
    monkeypatch.setitem(sys.modules, "torchvision.io", io_module)
    out = ImageFileDataset(["pic.png"], mode="RGB", backend="torchvision")[0]["x"]
    torch.testing.assert_close(out, torch.full((3, 2, 2), 0.2))
    assert calls == [("read", "pic.png"), ("decode", "rgb")]
    assert ImageFileDataset(["pic.png"]).backend == "pil"  # auto prefers Pillow


# --- image folders: errors ------------------------------------------------------------------
def test_image_folder_errors(tmp_path):
    with pytest.raises(TaskError, match="does not exist"):
        task_from_image_folder(tmp_path / "nope")
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(TaskError, match="is not a folder"):
        task_from_image_folder(tmp_path / "file.txt")
    with pytest.raises(TaskError, match="has no class folders"):
        task_from_image_folder(tmp_path)
    (tmp_path / "cat").mkdir()
    (tmp_path / "dog").mkdir()
    (tmp_path / "dog" / "notes.txt").write_text("x")
    with pytest.raises(TaskError, match=r"no image files with the endings '\.png'.*'cat', 'dog'"):
        task_from_image_folder(tmp_path, extensions=("png",))
    save(tmp_path / "cat" / "a.png", pixels(3, 3))
    with pytest.raises(TaskError, match=r"class folder\(s\) 'dog' .* hold no image files"):
        task_from_image_folder(tmp_path)
    (tmp_path / "dog" / "notes.txt").unlink()
    (tmp_path / "dog").rmdir()
    with pytest.raises(TaskError, match="at least 2 class folders.*has 1: 'cat'"):
        task_from_image_folder(tmp_path)
    with pytest.raises(InvalidParameterError, match="file endings such as"):
        task_from_image_folder(tmp_path, extensions=[".png", 3])
    with pytest.raises(InvalidTypeError, match="folder path"):
        task_from_image_folder(3)


def test_default_extensions():
    assert ".png" in IMAGE_EXTENSIONS and ".jpeg" in IMAGE_EXTENSIONS


# --- lazy tensors over images (need torchweave.lazy.lazy_tensor) -----------------------------
def image_folder(tmp_path, size=(6, 6)):
    root = tmp_path / "animals"
    arrays = {}
    for cls, n in (("dog", 3), ("cat", 2), ("bird", 3)):
        for i in range(n):
            arr = pixels(*size, 3, seed=len(arrays))
            arrays[f"{cls}/{i}.png"] = arr
            save(root / cls / f"{i}.png", arr)
    (root / "cat" / "README.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    save(root / ".hidden" / "x.png", pixels(*size, 3))
    save(root / "bird" / "nested" / "deep.PNG", pixels(*size, 3, seed=99))
    return root, arrays


def test_lazy_tensor_from_images(tmp_path):
    from torchweave.lazy.lazy_tensor import lazy_shape
    from torchweave.lazy.materialize import materialize

    arrays = [pixels(4, 5, 3, seed=s) for s in range(3)]
    paths = [save(tmp_path / f"{i}.png", a) for i, a in enumerate(arrays)]
    lt = lazy_tensor_from_images(paths)
    assert len(lt) == 3
    assert lazy_shape(lt) == (None, 3, 4, 5)
    out = materialize(lt, rbind=True)
    torch.testing.assert_close(out, torch.stack([chw(a) for a in arrays]))
    assert lazy_shape(lazy_tensor_from_images(paths, shape=None)) is None
    assert lazy_shape(lazy_tensor_from_images(paths, shape=(1, 4, 5), mode="L")) == (None, 1, 4, 5)
    with pytest.raises(InvalidParameterError, match="'shape' parameter must be 'infer'"):
        lazy_tensor_from_images(paths, shape="guess")
    with pytest.raises(InvalidParameterError, match="'paths' is empty"):
        lazy_tensor_from_images([])
    with pytest.raises(ShapeError, match=r"\(None, channels, height, width\)"):
        lazy_tensor_from_images(paths, shape=(2, 3, 4, 5))


def test_as_lazy_tensor_delegates_paths(tmp_path):
    from torchweave.lazy.lazy_tensor import as_lazy_tensor, lazy_shape

    paths = [save(tmp_path / f"{i}.png", pixels(4, 4)) for i in range(2)]
    assert lazy_shape(as_lazy_tensor([str(p) for p in paths])) == (None, 1, 4, 4)


def test_task_from_image_folder(tmp_path):
    from torchweave.lazy.lazy_tensor import lazy_shape
    from torchweave.lazy.materialize import materialize

    root, arrays = image_folder(tmp_path)
    task = task_from_image_folder(root)
    assert task.id == "animals"
    assert task.class_names == ["bird", "cat", "dog"]
    assert task.feature_names == ["image"]
    assert task.feature_types == {"image": "lazy_tensor"}
    assert task.nrow == 9  # 3 birds + 1 nested bird, 2 cats, 3 dogs; hidden folder skipped
    assert task.truth().tolist() == ["bird"] * 4 + ["cat"] * 2 + ["dog"] * 3
    images = task.data(cols=["image"])["image"]
    assert lazy_shape(images) == (None, 3, 6, 6)
    out = materialize(images, rbind=True)
    assert out.shape == (9, 3, 6, 6)
    torch.testing.assert_close(out[4], chw(arrays["cat/0.png"]))
    torch.testing.assert_close(out[8], chw(arrays["dog/2.png"]))
    gray = task_from_image_folder(root, id="gray", mode="L", extensions=[".png"])
    assert gray.id == "gray"
    assert lazy_shape(gray.data(cols=["image"])["image"]) == (None, 1, 6, 6)
    assert isinstance(task.data(), pd.DataFrame)
