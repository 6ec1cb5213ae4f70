"""Gowalla, the LightGCN benchmark split (notebook 11).

Check-ins of the Gowalla location network (Cho, Myers and Leskovec, KDD 2011), as preprocessed
and split by the NGCF/LightGCN authors (Wang et al., SIGIR 2019; He et al., SIGIR 2020): 29,858
users, 40,981 items (places), 810,128 training and 217,242 test interactions. The files are
those of the LightGCN authors' repository ``gusye1234/LightGCN-PyTorch`` at commit
:data:`GOWALLA_COMMIT`, folder ``data/gowalla/``; the SHA-256 of each is in the data README.

File layouts (0-based remapped ids):

- ``test.txt`` (and ``train.txt``): one line per user, ``user item item ...``;
- ``s_adj_mat.npz``: the symmetric 0/1 adjacency of the *training* graph (SciPy ``save_npz``),
  users first (rows 0..29857), item ``i`` at row/column ``29858 + i``; its user-item block is
  exactly the 810,128 training pairs of ``train.txt``. The offline copy has only this file, so
  the loader reads the training pairs from it (it is checksummed; ``train.txt`` is not);
- ``user_list.txt``, ``item_list.txt``: ``org_id remap_id`` (original SNAP id, 0-based id).

API summary
-----------
- ``load_gowalla(path=None, download=True, progress=True) -> Gowalla``: found in the order
  ``path``, ``$GNNEDU_DATA`` (a folder holding ``gowalla/``), the cache, a download; every file
  read is checked by SHA-256 (:class:`gnnedu.data.DataError` names a bad file).
- ``Gowalla``: ``train``, ``test`` (DataFrames ``user, item``, sorted), ``num_users``,
  ``num_items``, ``user_ids``, ``item_ids`` (original SNAP ids), ``source``;
  ``subsample(fraction, seed=0, by="users")``: a random share of the users (or items) with
  their interactions (nested for one seed).
- ``read_interaction_lines(text) -> (users, items)`` and ``write_interaction_lines(users, items)
  -> str``: the ``train.txt``/``test.txt`` format; ``adjacency_pairs(adj, num_users)``: the
  user-item pairs of a bipartite adjacency.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gnnedu.data.fetch import DataError, Dataset, Source, locate

GOWALLA_REPOSITORY = "gusye1234/LightGCN-PyTorch"
GOWALLA_COMMIT = "947ca2b3b1d2d3545b114145710cb06c4e57b3d2"
# The published sizes of the split (He et al. 2020, Table 2); the loader checks them.
GOWALLA_SIZES = dict(num_users=29_858, num_items=40_981, train=810_128, test=217_242)

GOWALLA = Dataset(
    name="gowalla",
    archive="",
    urls=(f"https://raw.githubusercontent.com/{GOWALLA_REPOSITORY}/{GOWALLA_COMMIT}"
          "/data/gowalla",),
    sha256={  # the first file is how a folder is recognised as the dataset itself
        "s_adj_mat.npz": "6ab3ab7aa1278da3717054c60258d88d2d2d78914fa62db2b13da9321e397cab",
        "test.txt": "099a2a73924e4b754dc6efd730d764f492321b53c38eb93298850c83acf57be3",
        "user_list.txt": "5344c4d0deef610e1f148f23ad216a0db03b36f88834cd39a06786a672c5f5a1",
        "item_list.txt": "6b186f92890cc3f0c15a6dae5d6285f125a302bb8c5ea0cd9a16cf9c16347139",
        "README.md": "d2eea49ca83f034c71ddaa03422d4491e86fb6131bccfb35e35ec5f575a10955",
    },
)

__all__ = [
    "GOWALLA", "GOWALLA_COMMIT", "GOWALLA_REPOSITORY", "GOWALLA_SIZES", "Gowalla",
    "load_gowalla", "read_interaction_lines", "write_interaction_lines", "adjacency_pairs",
]


@dataclass
class Gowalla:
    """The Gowalla split: training and test pairs with 0-based ``user`` and ``item`` ids."""

    train: pd.DataFrame            # columns user, item; sorted by user, then item
    test: pd.DataFrame             # the same layout
    num_users: int
    num_items: int
    user_ids: np.ndarray           # original SNAP id of user u at position u
    item_ids: np.ndarray           # original SNAP id of item i at position i
    source: Source = field(repr=False)

    def __repr__(self) -> str:
        return (f"Gowalla(num_users={self.num_users}, num_items={self.num_items}, "
                f"train={len(self.train)}, test={len(self.test)})")

    def subsample(self, fraction: float, seed: int = 0, by: str = "users") -> Gowalla:
        """A smaller Gowalla, re-indexed from 0 (``user_ids``/``item_ids`` follow).

        ``by="users"``: the first ``fraction`` of the users in a random order drawn from
        ``seed``, all their interactions, and the items they have in training. ``by="items"``:
        the same with items (every user keeps the interactions with those items; users left
        with no training item are dropped). Subsamples of one seed are nested: the users (or
        items) of 10 % are among those of 25 %. Test pairs whose user or item is dropped go.
        """
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1], got {fraction}")
        if by not in ("users", "items"):
            raise ValueError(f"by must be 'users' or 'items', got {by!r}")
        size = self.num_users if by == "users" else self.num_items
        order = np.random.default_rng(seed).permutation(size)
        chosen = np.sort(order[: max(1, round(fraction * size))])
        column = "user" if by == "users" else "item"
        train = self.train[np.isin(self.train[column].to_numpy(), chosen)]
        keep_users = np.unique(train["user"].to_numpy())
        keep_items = np.unique(train["item"].to_numpy())
        test = self.test[np.isin(self.test["user"].to_numpy(), keep_users)
                         & np.isin(self.test["item"].to_numpy(), keep_items)]
        new_user = np.full(self.num_users, -1)
        new_user[keep_users] = np.arange(len(keep_users))
        new_item = np.full(self.num_items, -1)
        new_item[keep_items] = np.arange(len(keep_items))

        def remap(frame):
            return _frame(new_user[frame["user"].to_numpy()], new_item[frame["item"].to_numpy()])

        return Gowalla(train=remap(train), test=remap(test), num_users=len(keep_users),
                       num_items=len(keep_items), user_ids=self.user_ids[keep_users],
                       item_ids=self.item_ids[keep_items], source=self.source)


def read_interaction_lines(text: str | bytes, name: str = "interactions"
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Parse lines ``user item item ...`` (``train.txt``/``test.txt``) into index arrays.

    A line with a user and no item is allowed (that user has no interactions). ``name`` is used
    in the error message of a malformed line. Returns ``(users, items)``, int64, one entry per
    pair, in file order.
    """
    if isinstance(text, bytes):
        text = text.decode("ascii")
    users, items = [], []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            ids = np.array(fields, dtype=np.int64)
        except ValueError:
            raise DataError(f"gowalla: {name} line {number} is not a list of integers: "
                            f"{line[:60]!r}") from None
        if (ids < 0).any():
            raise DataError(f"gowalla: {name} line {number} holds a negative id")
        users.append(np.full(len(ids) - 1, ids[0], dtype=np.int64))
        items.append(ids[1:])
    if not users:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(users), np.concatenate(items)


def write_interaction_lines(users, items) -> str:
    """The ``train.txt`` format: one line ``user item item ...`` per user with interactions,
    users in increasing order, each user's items in the order given."""
    users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
    order = np.argsort(users, kind="stable")
    users, items = users[order], items[order]
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]]) if len(users) else []
    bounds = list(starts) + [len(users)]
    lines = [" ".join(map(str, [users[a], *items[a:b]])) for a, b in zip(bounds, bounds[1:])]
    return "\n".join(lines) + ("\n" if lines else "")


def adjacency_pairs(adj, num_users: int) -> tuple[np.ndarray, np.ndarray]:
    """The (user, item) pairs of the user-item block of a bipartite adjacency (users first).

    Args:
        adj: SciPy sparse matrix ``[num_users + num_items, num_users + num_items]``.
        num_users: how many rows are users.

    Returns:
        ``(users, items)`` int64 arrays sorted by user, then item (stored non-zeros only).
    """
    block = adj.tocsr()[:num_users, num_users:].tocoo()
    keep = block.data != 0
    users, items = block.row[keep].astype(np.int64), block.col[keep].astype(np.int64)
    order = np.lexsort((items, users))
    return users[order], items[order]


def _id_list(source: Source, rel: str) -> np.ndarray:
    """Original ids from ``org_id remap_id`` lines, indexed by the 0-based remapped id."""
    table = pd.read_csv(io.BytesIO(source.read(rel)), sep=" ")
    if list(table.columns) != ["org_id", "remap_id"]:
        raise DataError(f"gowalla: {rel} should start with the header 'org_id remap_id'")
    ids = np.empty(len(table), dtype=np.int64)
    ids[table["remap_id"].to_numpy()] = table["org_id"].to_numpy()
    return ids


def _frame(users: np.ndarray, items: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"user": users, "item": items})
    return frame.sort_values(["user", "item"], kind="stable").reset_index(drop=True)


def load_gowalla(path=None, download: bool = True, progress: bool = True) -> Gowalla:
    """Load the Gowalla split from ``path``, ``$GNNEDU_DATA``, the cache, or a download.

    Args:
        path: a folder holding ``gowalla/`` (or the ``gowalla/`` folder itself).
        download: allow a download into the cache when no local copy is found.
        progress: show a progress bar while downloading.

    Returns:
        :class:`Gowalla`. Every file read is checked against its SHA-256 and the sizes against
        :data:`GOWALLA_SIZES`; a problem raises :class:`DataError` naming the file.
    """
    import scipy.sparse as sp

    source = locate(GOWALLA, path=path, download=download, progress=progress)
    user_ids = _id_list(source, "user_list.txt")
    item_ids = _id_list(source, "item_list.txt")
    num_users, num_items = len(user_ids), len(item_ids)
    adj = sp.load_npz(io.BytesIO(source.read("s_adj_mat.npz")))
    if adj.shape != (num_users + num_items,) * 2:
        raise DataError(f"gowalla: s_adj_mat.npz has shape {adj.shape}, expected "
                        f"{(num_users + num_items,) * 2} (users + items)")
    train = _frame(*adjacency_pairs(adj, num_users))
    test = _frame(*read_interaction_lines(source.read("test.txt"), "test.txt"))
    sizes = dict(num_users=num_users, num_items=num_items, train=len(train), test=len(test))
    if sizes != GOWALLA_SIZES:
        raise DataError(f"gowalla: found {sizes}, expected {GOWALLA_SIZES}")
    return Gowalla(train=train, test=test, num_users=num_users, num_items=num_items,
                   user_ids=user_ids, item_ids=item_ids, source=source)
