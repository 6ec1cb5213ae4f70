"""Find, download and verify dataset files (the search order is in DESIGN.md).

A *source* is a folder or a zip archive that holds a dataset's files. Every file read goes
through :meth:`Source.read`, which checks its SHA-256 against the registry below, so a
GroupLens zip, a mirror copy and an extracted folder all pass, and an altered file fails.

Several processes may fill one cache at once (parallel test runs, two notebooks). Every write
into the cache goes to a temporary ``.*.part`` file or folder next to its target and is renamed
onto it with :func:`os.replace`, so a reader sees a complete file or none; each download and
copy into the cache runs under a per-dataset file lock (:func:`cache_lock`), so it happens once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from filelock import FileLock

DOWNLOAD_TIMEOUT_S = 30
CHUNK = 1 << 16
LOCKS = ".locks"  # folder of lock files inside the cache


class DataError(RuntimeError):
    """A dataset could not be found, downloaded or verified. The message says what to do."""


@dataclass(frozen=True)
class Dataset:
    name: str  # folder name inside a source, e.g. "ml-100k"
    archive: str  # archive name, e.g. "ml-100k.zip"
    urls: tuple[str, ...]  # official source first, then mirrors
    sha256: dict  # relative path inside `name` -> SHA-256


# SHA-256 of the original GroupLens files (../shared/data/README.md lists the same values).
MOVIELENS_100K = Dataset(
    name="ml-100k",
    archive="ml-100k.zip",
    urls=(
        "https://files.grouplens.org/datasets/movielens/ml-100k.zip",
        # Mirror: the Internet Archive's copy of the same URL (the files inside are checked anyway).
        "https://web.archive.org/web/2024id_/https://files.grouplens.org/datasets/movielens/ml-100k.zip",
    ),
    sha256={
        "u.data": "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490",
        "u.item": "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701",
        "u.user": "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c",
        "u.genre": "9757e0d3e6b298159a80dd48eaf938114690e911e39af97a76949ef1663610bb",
        "u.occupation": "cd5fbec9afe345d993a62fc7817df1a4a9079c4feb267b3118763b8fd942137d",
        "u.info": "5b0a40b2e47a729ee6203063f6dcf8790c2e63f5a18663e6ee318a72c5f3c27b",
        "README": "4883b8cf340ed0059971b33f56ad3adc88a40792108ebca3d24aafc4c82e8b52",
        "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
        "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
        "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
        "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
        "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
        "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
        "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
        "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
        "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
        "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
        "ua.base": "67b5bcdb380c29f85d56a012ecd88612ae020f30a6730d117a334ee8203b91f2",
        "ua.test": "d0497e202417720f57a184ec8c66be2d1afa4ff41bb53787c57b28d6bf79bc42",
        "ub.base": "237254d253b6ad7de84f919d041055428646254f34ed8f562703c899430cd881",
        "ub.test": "d54a72d05730d5892062734b2bec73e976f9b713d18c828a18b968d6cce442da",
    },
)

# The Planetoid files of Cora (Yang et al. 2016), as PyG's Planetoid reads them.
CORA_BASE_URL = "https://github.com/kimiyoung/planetoid/raw/master/data"
CORA = Dataset(
    name="Cora/raw",
    archive="",
    urls=(CORA_BASE_URL,),
    sha256={
        "ind.cora.x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
        "ind.cora.tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
        "ind.cora.allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
        "ind.cora.y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
        "ind.cora.ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
        "ind.cora.ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
        "ind.cora.graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
        "ind.cora.test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    },
)

HOW_TO_PROVIDE = (
    "To provide the data by hand, download {archive} from {url} and either set GNNEDU_DATA to the "
    "folder that holds it (or its extracted '{name}/' folder), or pass that folder as `path=`."
)


def cache_dir() -> Path:
    """The writable user cache: ``$GNNEDU_CACHE``, else ``~/.cache/gnnedu``."""
    return Path(os.environ.get("GNNEDU_CACHE") or Path.home() / ".cache" / "gnnedu").expanduser()


def cache_lock(name: str) -> FileLock:
    """An inter-process lock on the cache entry ``name`` (a lock file in ``<cache>/.locks``).

    Use it as ``with cache_lock("ml-100k"): ...``; it waits while another process holds it.
    """
    locks = cache_dir() / LOCKS
    try:
        locks.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(
            f"cannot write to the cache {cache_dir()} ({exc}). "
            "Set GNNEDU_CACHE to a writable folder."
        ) from None
    return FileLock(locks / (name.replace("/", "-") + ".lock"))


@contextmanager
def atomic_file(target: Path) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``target`` for writing; rename it onto ``target`` on success.

    Yields:
        The binary file object. If the block raises, the temporary file is removed and
        ``target`` is left as it was.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` so that no reader ever sees a partial file."""
    with atomic_file(target) as out:
        out.write(data)


@contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``target``; rename it to ``target`` on success.

    ``target`` must not exist yet (the caller holds the cache lock and has checked).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class Source:
    """Where a dataset was found: a folder or a zip archive, and how (``origin``)."""

    dataset: Dataset
    location: Path
    origin: str  # "path", "GNNEDU_DATA", "cache" or "download"

    @property
    def is_zip(self) -> bool:
        return self.location.suffix == ".zip"

    @property
    def owned(self) -> bool:
        """True when the file sits in our cache, so a corrupt copy may be deleted."""
        return self.origin in ("cache", "download")

    def describe(self) -> str:
        """The full location and how it was found, for messages: ``/data/ml-100k.zip (from
        GNNEDU_DATA)``."""
        return f"{self.location} (from {self.origin})"

    def relative(self) -> str:
        """The location relative to its root, for outputs that other machines share (committed
        notebook outputs): ``ml-100k.zip`` under ``$GNNEDU_DATA`` or the cache, else the path
        with the home folder written as ``~``."""
        roots = {"GNNEDU_DATA": os.environ.get("GNNEDU_DATA"), "cache": str(cache_dir())}
        root = roots.get(self.origin)
        location = Path(self.location)
        if root:
            try:
                return location.relative_to(Path(root).expanduser()).as_posix()
            except ValueError:
                pass
        try:
            return "~/" + location.relative_to(Path.home()).as_posix()
        except ValueError:
            return location.as_posix()

    def _raw(self, rel: str) -> bytes:
        if not self.is_zip:
            file = self.location / rel
            if not file.is_file():
                raise DataError(
                    f"{self.dataset.name}: the file '{rel}' is missing from {self.describe()}. "
                    "Replace the folder with a complete copy of the dataset."
                )
            return file.read_bytes()
        member = f"{self.dataset.name}/{rel}"
        try:
            with zipfile.ZipFile(self.location) as archive:
                return archive.read(member)
        except KeyError:
            raise DataError(
                f"{self.dataset.name}: '{member}' is missing from the archive {self.describe()}. "
                + self._remedy()
            ) from None
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            self._discard()
            raise DataError(
                f"{self.dataset.name}: the archive {self.describe()} is not a readable zip "
                f"({exc}); it is probably truncated. " + self._remedy()
            ) from None

    def read(self, rel: str) -> bytes:
        """Return the bytes of ``rel`` after checking its SHA-256 (else :class:`DataError`)."""
        data = self._raw(rel)
        expected = self.dataset.sha256[rel]
        actual = sha256_bytes(data)
        if actual != expected:
            self._discard()
            raise DataError(
                f"{self.dataset.name}: checksum mismatch for '{rel}' in {self.describe()}.\n"
                f"  expected SHA-256 {expected}\n  actual   SHA-256 {actual}\n"
                "The file is altered or truncated. " + self._remedy()
            )
        return data

    def verify(self, files=None) -> list[str]:
        """Check every file of the dataset (or ``files``); return the names checked."""
        names = list(files or self.dataset.sha256)
        for rel in names:
            self.read(rel)
        return names

    def _remedy(self) -> str:
        if self.owned:
            return "The cached copy was removed; run again to download it afresh."
        return (
            f"Replace it with an original copy of the dataset, or unset GNNEDU_DATA / `path=` "
            f"to use the cache and download ({self.dataset.urls[0]})."
        )

    def _discard(self) -> None:
        if self.owned and self.location.exists():
            if self.location.is_dir():
                shutil.rmtree(self.location, ignore_errors=True)
            else:
                self.location.unlink(missing_ok=True)


def _candidates(folder: Path, ds: Dataset) -> list[Path]:
    """A folder may be the dataset folder itself, or hold it or its archive."""
    found = []
    if (folder / next(iter(ds.sha256))).is_file() and folder.name == Path(ds.name).name:
        found.append(folder)
    if (folder / ds.name).is_dir():
        found.append(folder / ds.name)
    if ds.archive and (folder / ds.archive).is_file():
        found.append(folder / ds.archive)
    return found


def locate(ds: Dataset, path=None, download: bool = True, progress: bool = True) -> Source:
    """Find ``ds`` in the order: ``path``; ``$GNNEDU_DATA``; the user cache; a download.

    Raises :class:`DataError` with instructions when none of them works, or when
    ``$GNNEDU_DATA`` names a file instead of a folder. A download runs under the dataset's cache
    lock, so concurrent callers download once and the others use the cached copy.
    """
    if path is not None:
        path = Path(path).expanduser()
        if path.is_file() and path.suffix == ".zip":
            return Source(ds, path, "path")
        hits = _candidates(path, ds) if path.is_dir() else []
        if not hits:
            raise DataError(
                f"{ds.name}: nothing usable at path={path}: expected '{ds.archive or ds.name}' "
                f"or a '{ds.name}/' folder there. " + _how(ds)
            )
        return Source(ds, hits[0], "path")

    env = os.environ.get("GNNEDU_DATA")
    if env:
        folder = Path(env).expanduser()
        if folder.is_file():
            raise DataError(
                f"GNNEDU_DATA points to a file, not a folder: {folder}; set it to the folder "
                "that holds ml-100k.zip (or ml-100k/) and Cora/raw/, or unset it."
            )
        hits = _candidates(folder, ds)
        if hits:
            return Source(ds, hits[0], "GNNEDU_DATA")

    hits = _candidates(cache_dir(), ds)
    if hits:
        return Source(ds, hits[0], "cache")

    if not download:
        raise DataError(f"{ds.name}: not found, and downloading is switched off. " + _how(ds))
    with cache_lock(ds.name):
        hits = _candidates(cache_dir(), ds)  # another process may have filled it meanwhile
        if hits:
            return Source(ds, hits[0], "cache")
        return Source(ds, _download_dataset(ds, progress=progress), "download")


def copy_to_cache(source: Source) -> Source:
    """Copy a verified dataset into the user cache, unless a verified copy is already there.

    ``gnnedu data --path P`` uses this, so that later runs find the data without ``--path``.

    Args:
        source: where the dataset was found (a folder or an archive).

    Returns:
        The cached copy, verified, as a :class:`Source` with origin ``"cache"``.
    """
    ds = source.dataset
    if source.owned:
        return source
    source.verify()
    try:
        with cache_lock(ds.name):
            for hit in _candidates(cache_dir(), ds):
                cached = Source(ds, hit, "cache")
                try:
                    cached.verify()
                    return cached
                except DataError:
                    cached._discard()  # incomplete or altered: replaced below
            if source.is_zip:
                target = cache_dir() / ds.archive
                with atomic_file(target) as out, open(source.location, "rb") as src:
                    shutil.copyfileobj(src, out, CHUNK)
            else:
                target = cache_dir() / ds.name
                with atomic_folder(target) as tmp:
                    for rel in ds.sha256:
                        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
                        (tmp / rel).write_bytes(source.read(rel))
    except OSError as exc:
        raise DataError(
            f"{ds.name}: cannot copy {source.describe()} into the cache {cache_dir()} ({exc}). "
            "Set GNNEDU_CACHE to a writable folder with free space."
        ) from None
    cached = Source(ds, target, "cache")
    cached.verify()
    return cached


def _how(ds: Dataset) -> str:
    return HOW_TO_PROVIDE.format(archive=ds.archive or "the files", url=ds.urls[0], name=ds.name)


def _download_dataset(ds: Dataset, progress: bool = True) -> Path:
    """Download ``ds`` into the cache: its archive, or else each of its files, one at a time.

    The caller holds ``cache_lock(ds.name)``. The archive is renamed into place when complete;
    separate files are gathered in a temporary folder that is renamed when all have arrived.
    """
    errors = []
    for url in ds.urls:
        try:
            if ds.archive:
                target = cache_dir() / ds.archive
                download(url, target, progress=progress)
                return target
            folder = cache_dir() / ds.name
            with atomic_folder(folder) as tmp:
                for rel in ds.sha256:
                    download(f"{url}/{rel}", tmp / rel, progress=progress)
            return folder
        except (TimeoutError, urllib.error.URLError, OSError) as exc:
            errors.append(f"{url}: {getattr(exc, 'reason', exc)}")
    tried = "\n  ".join(errors)
    raise DataError(
        f"{ds.name}: not found locally (no path=, GNNEDU_DATA unset or without it, nothing in the "
        f"cache {cache_dir()}), and the download failed:\n  {tried}\n" + _how(ds)
    )


def download(url: str, target: Path, progress: bool = True, timeout: float = DOWNLOAD_TIMEOUT_S):
    """Fetch ``url`` to ``target`` with a timeout and a progress bar; never leave a partial file."""
    from tqdm.auto import tqdm

    with atomic_file(target) as out, urllib.request.urlopen(url, timeout=timeout) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=target.name,
                  disable=not progress) as bar:
            while chunk := resp.read(CHUNK):
                out.write(chunk)
                bar.update(len(chunk))
        if total is not None and out.tell() != total:
            raise OSError(f"incomplete download: {out.tell()} of {total} bytes")
