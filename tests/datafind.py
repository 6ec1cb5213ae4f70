"""Find the datasets for the tests exactly as the package does, and never download.

A test that needs a dataset takes the ``movielens_source`` or ``cora_source`` fixture (from
conftest.py) or carries the ``needs_movielens`` / ``needs_cora`` marker. Both look the dataset
up with ``gnnedu.data.locate(..., download=False)``: an explicit path, ``$GNNEDU_DATA``, then
the user cache (filled by ``make data``). When it is absent the test is skipped, or fails if
``GNNEDU_REQUIRE_DATA=1`` (for runs that must cover everything).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import NoReturn

import pytest

from gnnedu.data import CORA, MOVIELENS_100K, DataError, Dataset, Source, locate

REQUIRE_DATA = "GNNEDU_REQUIRE_DATA"

needs_movielens = pytest.mark.usefixtures("movielens_source")
needs_cora = pytest.mark.usefixtures("cora_source")


def find(ds: Dataset, path=None) -> Source:
    """Locate ``ds`` as the loaders do, without downloading (:class:`DataError` if absent)."""
    return locate(ds, path=path, download=False, progress=False)


def movielens_source(path=None) -> Source:
    return find(MOVIELENS_100K, path)


def cora_source(path=None) -> Source:
    return find(CORA, path)


def missing(reason: str) -> NoReturn:
    """Skip the running test for lack of data, or fail it when ``GNNEDU_REQUIRE_DATA=1``."""
    if os.environ.get(REQUIRE_DATA, "") not in ("", "0"):
        pytest.fail(f"{reason} ({REQUIRE_DATA} is set, so missing data is an error)",
                    pytrace=False)
    pytest.skip(reason)


def require(ds: Dataset, path=None) -> Source:
    """The located ``ds``; skips (or fails, see :func:`missing`) when it is not available."""
    try:
        return find(ds, path)
    except DataError as exc:
        reason = f"{ds.name} not available offline: {exc}"
    missing(reason)


def data_folder(source: Source) -> Path:
    """The folder that holds the dataset, i.e. what to pass as ``GNNEDU_DATA`` or ``path=``.

    Args:
        source: a located dataset (its archive, or its folder such as ``.../Cora/raw``).

    Returns:
        The folder with ``ml-100k.zip`` or ``ml-100k/`` (MovieLens), or ``Cora/raw/`` (Cora).
    """
    if source.is_zip:
        return source.location.parent
    return source.location.parents[len(Path(source.dataset.name).parts) - 1]


def archive(source: Source, scratch: Path) -> Path:
    """A zip archive of ``source``: the source itself, or one written into ``scratch``."""
    if source.is_zip:
        return source.location
    ds = source.dataset
    target = scratch / ds.archive
    scratch.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w") as out:
        for rel in ds.sha256:
            out.writestr(f"{ds.name}/{rel}", source.read(rel))
    return target


def layout(ml: Source, cora: Source, folder: Path) -> Path:
    """Lay out both datasets in ``folder`` as ``$GNNEDU_DATA`` expects them, cheaply.

    ``ml-100k.zip`` and ``Cora/raw`` become symbolic links to the located copies (an extracted
    MovieLens folder is zipped instead), so that tests can use one folder whatever the sources.

    Returns:
        ``folder``, holding ``ml-100k.zip`` and ``Cora/raw/``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if ml.is_zip:
        (folder / MOVIELENS_100K.archive).symlink_to(ml.location.resolve())
    else:
        archive(ml, folder)
    (folder / "Cora").mkdir()
    (folder / CORA.name).symlink_to(cora.location.resolve(), target_is_directory=True)
    return folder
