"""gnnedu.data.gowalla: the loader (checksums, search order, download, bad files), the train.txt
format, subsamples, and the metrics under Gowalla's conventions. No test needs the internet."""

import dataclasses
import http.server
import io
import threading

import datafind
import numpy as np
import pytest
import torch

from gnnedu.data import GOWALLA, DataError, gowalla, load_gowalla
from gnnedu.data.gowalla import (
    GOWALLA_SIZES,
    adjacency_pairs,
    read_interaction_lines,
    write_interaction_lines,
)
from gnnedu.graph import build_graph
from gnnedu.metrics import evaluate, ranking_metrics


@pytest.fixture(scope="module")
def source():
    """Where the Gowalla files are ($GNNEDU_DATA or the cache); skips (or fails) when absent."""
    return datafind.require(GOWALLA)


@pytest.fixture(scope="module")
def data(source):
    return load_gowalla(path=source.location, download=False, progress=False)


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """No GNNEDU_DATA and an empty cache of our own."""
    monkeypatch.delenv("GNNEDU_DATA", raising=False)
    monkeypatch.setenv("GNNEDU_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def copy(source, tmp_path):
    """A writable copy of the dataset folder: <tmp>/copy/gowalla/."""
    target = tmp_path / "copy" / "gowalla"
    target.mkdir(parents=True)
    for rel in GOWALLA.sha256:
        (target / rel).write_bytes(source.read(rel))
    return target


def test_sizes_ids_and_split_match_the_published_ones(data):
    assert (data.num_users, data.num_items, len(data.train), len(data.test)) == (
        29_858, 40_981, 810_128, 217_242)
    assert GOWALLA_SIZES["train"] + GOWALLA_SIZES["test"] == 1_027_370
    for frame in (data.train, data.test):
        assert list(frame.columns) == ["user", "item"]
        assert frame["user"].min() == 0 and frame["user"].max() == data.num_users - 1
        assert not frame.duplicated().any()
    # every test item of a user is unseen in training (the README's promise)
    keys = lambda f: f["user"].to_numpy() * data.num_items + f["item"].to_numpy()  # noqa: E731
    assert not np.isin(keys(data.test), keys(data.train)).any()
    # original SNAP ids from user_list.txt / item_list.txt (first lines: 343 -> 0, 8975 -> 0)
    assert data.user_ids[0] == 343 and data.item_ids[0] == 8975
    assert len(np.unique(data.user_ids)) == data.num_users


def test_a_train_txt_written_from_the_adjacency_reads_back_to_the_same_pairs(source, data):
    import scipy.sparse as sp

    adj = sp.load_npz(io.BytesIO(source.read("s_adj_mat.npz")))
    users, items = adjacency_pairs(adj, data.num_users)
    text = write_interaction_lines(users, items)
    assert len(text.splitlines()) == data.num_users     # every user has training items
    assert text.splitlines()[0].split()[:3] == ["0", "0", "1"]
    back_users, back_items = read_interaction_lines(text)
    np.testing.assert_array_equal(back_users, users)
    np.testing.assert_array_equal(back_items, items)
    np.testing.assert_array_equal(back_users, data.train["user"].to_numpy())
    np.testing.assert_array_equal(back_items, data.train["item"].to_numpy())


def test_interaction_lines_by_hand():
    users, items = read_interaction_lines(b"0 5 3\n2 7\n\n3\n")
    assert users.tolist() == [0, 0, 2] and items.tolist() == [5, 3, 7]   # user 3: no items
    assert write_interaction_lines([2, 0, 0], [7, 5, 3]) == "0 5 3\n2 7\n"
    with pytest.raises(DataError, match="test.txt line 2 is not a list of integers"):
        read_interaction_lines("0 1\n1 x\n", "test.txt")
    with pytest.raises(DataError, match="line 1 holds a negative id"):
        read_interaction_lines("0 -1\n")


def test_gnnedu_data_folder_and_explicit_path(clean_env, copy, monkeypatch):
    monkeypatch.setenv("GNNEDU_DATA", str(copy.parent))
    assert load_gowalla(download=False).source.origin == "GNNEDU_DATA"
    monkeypatch.delenv("GNNEDU_DATA")
    for path in (copy.parent, copy):          # the folder holding gowalla/, or gowalla/ itself
        found = load_gowalla(path=path, download=False)
        assert found.source.origin == "path" and len(found.train) == GOWALLA_SIZES["train"]


@pytest.mark.parametrize("rel", ["test.txt", "s_adj_mat.npz", "item_list.txt"])
def test_an_altered_file_is_rejected_by_name(clean_env, copy, rel):
    data = bytearray((copy / rel).read_bytes())
    data[200] ^= 0x01
    (copy / rel).write_bytes(bytes(data))
    with pytest.raises(DataError, match=f"checksum mismatch for '{rel}'") as err:
        load_gowalla(path=copy, download=False)
    assert "Replace it with an original copy" in str(err.value)
    assert (copy / rel).exists()              # a file outside the cache is never deleted


def test_truncated_and_missing_files_are_named(clean_env, copy):
    adj = copy / "s_adj_mat.npz"
    adj.write_bytes(adj.read_bytes()[: 1000])
    with pytest.raises(DataError, match="'s_adj_mat.npz'"):
        load_gowalla(path=copy, download=False)
    (copy / "user_list.txt").unlink()
    with pytest.raises(DataError, match="'user_list.txt' is missing"):
        load_gowalla(path=copy, download=False)


def test_not_found_offline_says_what_to_do(clean_env, tmp_path):
    with pytest.raises(DataError, match="downloading is switched off.*GNNEDU_DATA"):
        load_gowalla(download=False)
    with pytest.raises(DataError, match="nothing usable at path"):
        load_gowalla(path=tmp_path, download=False)


class _FolderServer(http.server.ThreadingHTTPServer):
    files: dict = {}


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.files.get(self.path.rsplit("/", 1)[-1])
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_download_fills_the_cache_once(clean_env, source, monkeypatch):
    server = _FolderServer(("127.0.0.1", 0), _Handler)
    server.files = {rel: source.read(rel) for rel in GOWALLA.sha256}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/data/gowalla"
        monkeypatch.setattr(gowalla, "GOWALLA", dataclasses.replace(GOWALLA, urls=(url,)))
        first = load_gowalla(progress=False)
        assert first.source.origin == "download" and len(first.test) == GOWALLA_SIZES["test"]
        assert sorted(p.name for p in (clean_env / "gowalla").iterdir()) == sorted(
            GOWALLA.sha256)
        assert sorted(clean_env.rglob("*.part")) == []
        server.files = {}                     # a second load must not download again
        assert load_gowalla(progress=False).source.origin == "cache"
    finally:
        server.shutdown()
    # the cached copy is ours: an altered cached file is removed, with a message that says so
    (clean_env / "gowalla" / "test.txt").write_bytes(b"0 1\n")
    with pytest.raises(DataError, match="The cached copy was removed"):
        load_gowalla(download=False)
    assert not (clean_env / "gowalla").exists()


def test_subsamples_are_nested_and_reindexed(data):
    small, large = data.subsample(0.1), data.subsample(0.25)
    assert small.num_users == round(0.1 * data.num_users)
    assert set(small.user_ids) < set(large.user_ids)             # nested
    for sub in (small, large):
        assert sub.train["user"].max() == sub.num_users - 1
        assert sub.train["item"].nunique() == sub.num_items       # every item has training data
        assert sub.test["item"].max() < sub.num_items
    by_items = data.subsample(0.1, by="items")
    assert by_items.num_items == round(0.1 * data.num_items)
    with pytest.raises(ValueError, match="fraction"):
        data.subsample(0.0)
    with pytest.raises(ValueError, match="by must be"):
        data.subsample(0.5, by="edges")


def test_recall_divides_by_the_users_number_of_test_items():
    """Gowalla's convention (LightGCN's code and paper): Recall@K = hits / |test items of u|,
    not hits / K nor hits / min(K, |test items|); NDCG's ideal DCG runs over min(K, |test|)."""
    k = 20
    hits = torch.zeros(2, k, dtype=torch.bool)
    hits[0, [0, 2]] = True          # user 0: 2 hits among 5 test items
    hits[1, :k] = True              # user 1: 20 hits among 30 test items
    out = ranking_metrics(hits, torch.tensor([5, 30]), ks=(k,))
    assert out["recall@20"].tolist() == pytest.approx([2 / 5, 20 / 30])
    idcg5 = sum(1 / np.log2(i + 1) for i in range(1, 6))
    assert out["ndcg@20"][0].item() == pytest.approx((1 + 1 / np.log2(4)) / idcg5)
    assert out["ndcg@20"][1].item() == pytest.approx(1.0)   # a full list of hits is perfect


class _Oracle:
    """Scores 1 for a user's test items, 0 elsewhere: the best possible ranking."""

    def __init__(self, test, num_items):
        self.test, self.num_items = test, num_items

    def score(self, users):
        out = torch.zeros(len(users), self.num_items)
        rows = self.test[self.test["user"].isin(users.tolist())]
        where = {int(u): r for r, u in enumerate(users.tolist())}
        out[[where[u] for u in rows["user"]], torch.tensor(rows["item"].to_numpy())] = 1.0
        return out


def test_evaluate_on_gowalla_in_user_blocks(data):
    """On real Gowalla users (a slice of 2,000, scored in blocks of 512): the oracle's recall
    is the mean of min(20, n_u) / n_u, and its NDCG is 1."""
    graph = build_graph(data.train, data.num_users, data.num_items)
    users = np.arange(2000)
    result = evaluate(_Oracle(data.test, data.num_items), graph, data.test, ks=(20,),
                      batch_size=512, users=users)
    n_test = data.test.groupby("user").size().reindex(users).dropna().to_numpy()
    assert result["users"] == len(n_test)
    assert result["recall@20"] == pytest.approx(np.mean(np.minimum(20, n_test) / n_test))
    assert result["ndcg@20"] == pytest.approx(1.0)
