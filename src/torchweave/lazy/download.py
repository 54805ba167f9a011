r"""Downloads and the dataset cache used by the downloadable tasks (``mnist``, ``cifar10``).

The cache lives in ``$TORCHWEAVE_CACHE`` when that variable is set, else in the user
cache directory (``$XDG_CACHE_HOME/torchweave`` or ``~/.cache/torchweave`` on Linux,
``~/Library/Caches/torchweave`` on macOS, ``%LOCALAPPDATA%\torchweave\Cache`` on
Windows). Its root holds a ``version.json`` (``{"datasets": 1}``) written by torchweave;
a root without it that holds other files is refused, so that a wrong path never gets
filled (or emptied). Each kind of entry lives in a versioned subfolder: when the
version of a kind changes, its old folder is removed.

Nothing corrupt is left behind: :func:`download` writes to a temporary file next to
the destination, checks its checksum and only then renames it into place;
:func:`cached` builds an entry in a temporary folder and renames it when complete.
Every failure removes what was partly written.

The network is reached only through :func:`fetch_url`, looked up when a download
starts, so tests can replace it (``monkeypatch.setattr(download, "fetch_url", ...)``)
or serve ``file://`` URLs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

from torchweave.errors import Error, InvalidParameterError

__all__ = [
    "CACHE_ENV",
    "CACHE_VERSIONS",
    "DownloadError",
    "cache_dir",
    "cached",
    "download",
    "fetch_url",
    "init_cache",
]

#: Environment variable naming the cache directory.
CACHE_ENV = "TORCHWEAVE_CACHE"

#: Version of each kind of cache entry; raising one invalidates that kind's folder.
CACHE_VERSIONS: dict[str, int] = {"datasets": 1}

_VERSION_FILE = "version.json"
_CHUNK = 1 << 20
_TIMEOUT_S = 60.0


class DownloadError(Error, OSError):
    """A download that failed, or whose checksum did not match."""


def _user_cache_dir() -> Path:
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(home / "AppData" / "Local")
        return Path(base) / "torchweave" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "torchweave"
    base = os.environ.get("XDG_CACHE_HOME") or str(home / ".cache")
    return Path(base) / "torchweave"


def cache_dir() -> Path:
    """The cache root: ``$TORCHWEAVE_CACHE`` if set, else the user cache directory.

    Returns
    -------
    pathlib.Path
        The (absolute) path; it may not exist yet.
    """
    env = os.environ.get(CACHE_ENV)
    path = Path(env).expanduser() if env else _user_cache_dir()
    return path.absolute()


def _write_json(path: Path, content: dict[str, int]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(content, handle)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def init_cache(root: str | os.PathLike[str] | None = None) -> Path:
    """Create or check the cache root and bring its versioned subfolders up to date.

    Parameters
    ----------
    root : str or path-like, optional
        The cache root (default: :func:`cache_dir`).

    Returns
    -------
    pathlib.Path
        The cache root.

    Raises
    ------
    InvalidParameterError
        If ``root`` is a file, or a non-empty folder without torchweave's
        ``version.json``, or its ``version.json`` is unreadable.
    """
    path = cache_dir() if root is None else Path(root).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise InvalidParameterError(
            f"The cache directory '{path}' is a file. Set ${CACHE_ENV} to a folder instead."
        )
    version_file = path / _VERSION_FILE
    if not version_file.exists():
        if path.exists() and any(path.iterdir()):
            raise InvalidParameterError(
                f"Cache directory '{path}' was not initialized by torchweave: it is not empty "
                f"and has no {_VERSION_FILE}. Set ${CACHE_ENV} to an empty or new folder."
            )
        path.mkdir(parents=True, exist_ok=True)
        _write_json(version_file, dict(CACHE_VERSIONS))
        return path
    try:
        versions = json.loads(version_file.read_text(encoding="utf-8"))
        if not isinstance(versions, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        raise InvalidParameterError(
            f"The cache file '{version_file}' is not valid ({exc}). Delete it and the "
            "folders next to it to reset the cache."
        ) from exc
    if any(versions.get(kind) != version for kind, version in CACHE_VERSIONS.items()):
        for kind, version in CACHE_VERSIONS.items():
            if versions.get(kind) != version:
                shutil.rmtree(path / kind, ignore_errors=True)
        _write_json(version_file, {**versions, **CACHE_VERSIONS})
    return path


def fetch_url(url: str, out: BinaryIO) -> None:
    """Copy the resource at ``url`` into the open binary file ``out`` (urllib).

    ``file://`` URLs work too. The downloadable tasks reach the network only through
    this function, which :func:`download` looks up at call time, so it can be replaced.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "torchweave"})
    with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:
        shutil.copyfileobj(response, out, _CHUNK)


def _digest(path: Path, algorithm: str) -> str:
    hasher = hashlib.new(algorithm, usedforsecurity=False)
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def download(
    url: str | Sequence[str],
    dest: str | os.PathLike[str],
    *,
    sha256: str | None = None,
    md5: str | None = None,
    fetcher: Callable[[str, BinaryIO], None] | None = None,
) -> Path:
    """Download ``url`` to ``dest`` atomically and check its checksum.

    The file is written to a temporary file in ``dest``'s folder, checked, and renamed
    to ``dest`` only when complete and valid; on any failure the temporary file is
    removed and ``dest`` is left as it was.

    Parameters
    ----------
    url : str or sequence of str
        The URL, or mirrors tried in turn until one gives a valid file.
    dest : str or path-like
        The file to write (its folder is created).
    sha256, md5 : str, optional
        The expected hex digest (give at least one; ``sha256`` wins when both are).
    fetcher : callable, optional
        ``fetcher(url, out)`` writes the resource into the binary file ``out``
        (default: :func:`fetch_url`).

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    InvalidParameterError
        If no checksum or no URL is given.
    DownloadError
        If every URL failed or gave a file with the wrong checksum.
    """
    urls = [url] if isinstance(url, str) else list(url)
    if not urls:
        raise InvalidParameterError("The 'url' parameter of download() must name a URL.")
    if sha256 is None and md5 is None:
        raise InvalidParameterError(
            "download() needs the expected checksum: give 'sha256' or 'md5'."
        )
    algorithm, expected = ("sha256", sha256) if sha256 is not None else ("md5", md5)
    assert expected is not None
    fetch = fetcher if fetcher is not None else fetch_url
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for source in urls:
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                fetch(source, handle)
            actual = _digest(tmp, algorithm)
            if actual != expected.lower():
                problems.append(f"{source}: {algorithm} {actual} instead of {expected}")
                continue
            os.replace(tmp, target)
            return target
        except Exception as exc:  # any failure of one mirror: try the next
            problems.append(f"{source}: {type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    raise DownloadError(
        f"Could not download '{target.name}'. " + "; ".join(problems) + ". Nothing was kept."
    )


def cached(
    name: str,
    constructor: Callable[[Path], None],
    kind: str = "datasets",
    root: str | os.PathLike[str] | None = None,
) -> Path:
    """The cache folder ``<root>/<kind>/<name>``, built by ``constructor`` on a miss.

    On a miss, ``constructor(folder)`` fills a new temporary folder next to the entry;
    when it returns, the folder is renamed to the entry. If it raises, the temporary
    folder is removed and the error propagates, so a cache entry is always complete.

    Parameters
    ----------
    name : str
        The entry's name (a folder name).
    constructor : callable
        ``constructor(folder: Path) -> None`` writes the entry's files into ``folder``.
    kind : str
        The versioned kind of entry, a key of :data:`CACHE_VERSIONS`.
    root : str or path-like, optional
        The cache root (default: :func:`cache_dir`).

    Returns
    -------
    pathlib.Path
        The complete entry folder.
    """
    if kind not in CACHE_VERSIONS:
        raise InvalidParameterError(
            f"The 'kind' parameter of cached() must be one of {sorted(CACHE_VERSIONS)}. "
            f"Got {kind!r} instead."
        )
    if not name or name.startswith(".") or Path(name).name != name:
        raise InvalidParameterError(
            f"The 'name' parameter of cached() must be a plain folder name. Got {name!r} instead."
        )
    entry = init_cache(root) / kind / name
    if entry.is_dir():
        return entry
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=entry.parent, prefix=f".{name}.", suffix=".part"))
    try:
        constructor(tmp)
        try:
            os.rename(tmp, entry)
        except OSError:
            # Another process finished the same entry first: keep theirs.
            if not entry.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return entry
