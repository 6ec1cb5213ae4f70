"""MovieLens-100K: parse the GroupLens files into DataFrames (taught in notebook 05).

Harper and Konstan (2015), "The MovieLens Datasets: History and Context", ACM TiiS 5(4).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import pandas as pd

from gnnedu.data.fetch import MOVIELENS_100K, DataError, Source, locate

RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
USER_COLUMNS = ["user_id", "age", "gender", "occupation", "zip"]
ITEM_INFO_COLUMNS = ["item_id", "title", "release_date", "video_release_date", "url"]
OFFICIAL_SPLITS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")
ITEM_ENCODING = "latin-1"  # u.item is Latin-1, not UTF-8


def _table(data: bytes, names, sep="\t", encoding="ascii") -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(data), sep=sep, names=names, header=None, encoding=encoding,
                       engine="python" if len(sep) > 1 else "c")


@dataclass
class MovieLens:
    """The MovieLens-100K tables with contiguous 0-based ``user`` and ``item`` indices.

    ``ratings`` has columns ``user, item, rating, timestamp, user_id, item_id`` sorted by
    (user, timestamp, item); ``users`` and ``items`` are indexed by those indices and keep the
    original ids in ``user_id`` and ``item_id``.
    """

    ratings: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    genres: list
    source: Source = field(repr=False)

    @property
    def num_users(self) -> int:
        return len(self.users)

    @property
    def num_items(self) -> int:
        return len(self.items)

    def index_ratings(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Add ``user``/``item`` indices to a table of original ids, in the ``ratings`` layout."""
        user_index = pd.Series(self.users.index, index=self.users["user_id"])
        item_index = pd.Series(self.items.index, index=self.items["item_id"])
        out = raw.assign(user=user_index.loc[raw["user_id"]].to_numpy(),
                         item=item_index.loc[raw["item_id"]].to_numpy())
        out = out[["user", "item", "rating", "timestamp", "user_id", "item_id"]]
        return out.sort_values(["user", "timestamp", "item"], kind="stable").reset_index(drop=True)

    def official_split(self, name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The official split ``name``: u1..u5 (5-fold 80/20) or ua/ub (10 test ratings a user)."""
        if name not in OFFICIAL_SPLITS:
            raise ValueError(f"unknown split {name!r}; choose one of {', '.join(OFFICIAL_SPLITS)}")
        parts = []
        for part in ("base", "test"):
            raw = _table(self.source.read(f"{name}.{part}"), RATING_COLUMNS)
            parts.append(self.index_ratings(raw))
        return parts[0], parts[1]


def load_movielens(path=None, download: bool = True, progress: bool = True) -> MovieLens:
    """Load MovieLens-100K from ``path``, ``$GNNEDU_DATA``, the cache, or a download.

    Every file read is checked against its SHA-256; a bad file raises :class:`DataError`.
    """
    source = locate(MOVIELENS_100K, path=path, download=download, progress=progress)
    raw = _table(source.read("u.data"), RATING_COLUMNS)
    users = _table(source.read("u.user"), USER_COLUMNS, sep="|")
    genre_table = _table(source.read("u.genre"), ["genre", "code"], sep="|")
    genres = genre_table.sort_values("code")["genre"].tolist()
    items = _table(source.read("u.item"), ITEM_INFO_COLUMNS + genres, sep="|",
                   encoding=ITEM_ENCODING)
    if len(genres) != 19:
        raise DataError(f"ml-100k: expected 19 genres in u.genre, found {len(genres)}")

    users = users.sort_values("user_id").reset_index(drop=True)
    items = items.sort_values("item_id").reset_index(drop=True)
    items["release_date"] = pd.to_datetime(items["release_date"], format="%d-%b-%Y",
                                           errors="coerce")
    items["year"] = items["release_date"].dt.year.astype("Int64")
    items = items[["item_id", "title", "release_date", "year"] + genres]
    users.index.name = "user"
    items.index.name = "item"

    ml = MovieLens(ratings=raw, users=users, items=items, genres=genres, source=source)
    ml.ratings = ml.index_ratings(raw)
    return ml


def find_movies(ml, titles) -> list[int]:
    """Item indices of movies given by exact title (``"Toy Story (1995)"``), in order; a
    ``KeyError`` names the titles that are not in the catalogue. A title listed twice (the
    MovieLens-100K catalogue has 18 such duplicates) gives its first item."""
    index = {}
    for item, title in zip(ml.items.index, ml.items["title"]):
        index.setdefault(str(title), int(item))
    missing = [t for t in titles if t not in index]
    if missing:
        raise KeyError(f"not in the catalogue: {missing}")
    return [index[t] for t in titles]
