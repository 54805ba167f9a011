import hashlib
import json
import sys

import pytest

from torchweave.errors import InvalidParameterError
from torchweave.lazy import download as dl


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "served" / "file.bin"
    path.parent.mkdir()
    path.write_bytes(b"hello torchweave" * 100)
    return path


def leftovers(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


# --- cache directory ------------------------------------------------------------------------
def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHWEAVE_CACHE", str(tmp_path / "c"))
    assert dl.cache_dir() == tmp_path / "c"


@pytest.mark.skipif(sys.platform in ("win32", "darwin"), reason="Linux locations")
def test_cache_dir_default_linux(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHWEAVE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert dl.cache_dir() == tmp_path / "xdg" / "torchweave"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert dl.cache_dir() == tmp_path / "home" / ".cache" / "torchweave"


def test_init_cache_writes_version_and_accepts_its_own_folder(tmp_path):
    root = tmp_path / "cache"
    assert dl.init_cache(root) == root
    assert json.loads((root / "version.json").read_text()) == {"datasets": 1}
    (root / "datasets").mkdir()
    assert dl.init_cache(root) == root
    assert (root / "datasets").is_dir()


def test_init_cache_refuses_foreign_folder(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(InvalidParameterError, match="was not initialized by torchweave"):
        dl.init_cache(tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    with pytest.raises(InvalidParameterError, match="is a file"):
        dl.init_cache(tmp_path / "precious.txt")


def test_version_change_invalidates_that_kind(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    dl.init_cache(root)
    (root / "datasets" / "old").mkdir(parents=True)
    monkeypatch.setitem(dl.CACHE_VERSIONS, "datasets", 2)
    dl.init_cache(root)
    assert not (root / "datasets").exists()
    assert json.loads((root / "version.json").read_text()) == {"datasets": 2}


def test_broken_version_file(tmp_path):
    (tmp_path / "version.json").write_text("{not json")
    with pytest.raises(InvalidParameterError, match="is not valid"):
        dl.init_cache(tmp_path)


# --- download -------------------------------------------------------------------------------
def test_download_file_url_with_checksum(tmp_path, source):
    dest = tmp_path / "out" / "sub" / "copy.bin"
    data = source.read_bytes()
    assert dl.download(source.as_uri(), dest, md5=md5(data)) == dest
    assert dest.read_bytes() == data
    assert leftovers(dest.parent) == ["copy.bin"]
    sha = hashlib.sha256(data).hexdigest()
    assert dl.download(source.as_uri(), tmp_path / "s.bin", sha256=sha).read_bytes() == data


def test_download_checksum_mismatch_leaves_nothing(tmp_path, source):
    dest = tmp_path / "out" / "copy.bin"
    with pytest.raises(dl.DownloadError, match=r"md5 [0-9a-f]{32} instead of 0+\. Nothing was"):
        dl.download(source.as_uri(), dest, md5="0" * 32)
    assert leftovers(dest.parent) == []


def test_download_keeps_existing_file_on_failure(tmp_path, source):
    dest = tmp_path / "copy.bin"
    dest.write_bytes(b"old")
    with pytest.raises(dl.DownloadError, match="FileNotFoundError|URLError"):
        dl.download((tmp_path / "missing.bin").as_uri(), dest, md5=md5(b"x"))
    assert dest.read_bytes() == b"old"
    assert leftovers(tmp_path) == ["copy.bin", "served", "served/file.bin"]


def test_download_falls_back_to_next_mirror(tmp_path, source):
    data = source.read_bytes()
    urls = [(tmp_path / "missing.bin").as_uri(), source.as_uri()]
    dest = dl.download(urls, tmp_path / "copy.bin", md5=md5(data))
    assert dest.read_bytes() == data


def test_download_failure_mid_transfer_removes_partial_file(tmp_path):
    def fetcher(url, out):
        out.write(b"partial")
        raise ConnectionResetError("connection dropped")

    with pytest.raises(dl.DownloadError, match="ConnectionResetError: connection dropped"):
        dl.download("https://example.invalid/x", tmp_path / "x.bin", md5="0" * 32, fetcher=fetcher)
    assert leftovers(tmp_path) == []


def test_download_uses_replaceable_module_fetcher(tmp_path, monkeypatch):
    calls = []

    def fake(url, out):
        calls.append(url)
        out.write(b"abc")

    monkeypatch.setattr(dl, "fetch_url", fake)
    dl.download("https://example.invalid/a", tmp_path / "a", md5=md5(b"abc"))
    assert calls == ["https://example.invalid/a"]
    assert (tmp_path / "a").read_bytes() == b"abc"


def test_download_argument_errors(tmp_path):
    with pytest.raises(InvalidParameterError, match="'sha256' or 'md5'"):
        dl.download("file:///x", tmp_path / "x")
    with pytest.raises(InvalidParameterError, match="must name a URL"):
        dl.download([], tmp_path / "x", md5="0" * 32)


# --- cached ---------------------------------------------------------------------------------
def test_cached_builds_once_then_hits(tmp_path):
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "data.txt").write_text("built")

    entry = dl.cached("thing", build, root=tmp_path / "c")
    assert entry == tmp_path / "c" / "datasets" / "thing"
    assert (entry / "data.txt").read_text() == "built"
    assert calls[0] != entry and calls[0].parent == entry.parent
    assert dl.cached("thing", build, root=tmp_path / "c") == entry
    assert len(calls) == 1
    assert leftovers(entry.parent) == ["thing", "thing/data.txt"]


def test_cached_failure_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHWEAVE_CACHE", str(tmp_path / "c"))

    def build(folder):
        (folder / "half.txt").write_text("half")
        raise RuntimeError("constructor failed")

    with pytest.raises(RuntimeError, match="constructor failed"):
        dl.cached("thing", build)
    assert leftovers(tmp_path / "c" / "datasets") == []


def test_cached_argument_errors(tmp_path):
    with pytest.raises(InvalidParameterError, match="'kind' parameter of cached"):
        dl.cached("x", lambda folder: None, kind="models", root=tmp_path)
    with pytest.raises(InvalidParameterError, match="plain folder name"):
        dl.cached("../x", lambda folder: None, root=tmp_path)
