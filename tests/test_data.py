"""gnnedu.data: search order, checksums, downloads and bad inputs. No test needs the internet."""

import dataclasses
import http.server
import os
import threading
import zipfile
from pathlib import Path

import pytest

from gnnedu.data import DataError, _fetch, load_movielens, movielens

SHARED = Path(os.environ.get("GNNEDU_DATA", Path(__file__).parents[2] / "shared" / "data"))
ZIP = SHARED / "ml-100k.zip"
pytestmark = pytest.mark.skipif(not ZIP.is_file(), reason=f"no MovieLens copy at {ZIP}")


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """No GNNEDU_DATA and an empty cache of our own."""
    monkeypatch.delenv("GNNEDU_DATA", raising=False)
    monkeypatch.setenv("GNNEDU_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def extracted(tmp_path) -> Path:
    """An extracted copy of the dataset: <tmp>/copy/ml-100k/..."""
    root = tmp_path / "copy"
    with zipfile.ZipFile(ZIP) as archive:
        archive.extractall(root)
    return root


def flip_byte(file: Path, offset: int = 100) -> None:
    data = bytearray(file.read_bytes())
    data[offset] ^= 0x01
    file.write_bytes(bytes(data))


def use_urls(monkeypatch, *urls):
    """Point the MovieLens registry entry at local URLs (no internet in tests)."""
    ds = dataclasses.replace(_fetch.MOVIELENS_100K, urls=tuple(urls))
    monkeypatch.setattr(movielens, "MOVIELENS_100K", ds)
    return ds


def test_tables_have_the_documented_shape(clean_env, monkeypatch):
    monkeypatch.setenv("GNNEDU_DATA", str(SHARED))
    ml = load_movielens()
    assert (ml.num_users, ml.num_items, len(ml.ratings)) == (943, 1682, 100_000)
    assert list(ml.ratings.columns) == ["user", "item", "rating", "timestamp", "user_id", "item_id"]
    # contiguous 0-based indices that map back to the original ids
    assert sorted(ml.ratings["user"].unique()) == list(range(943))
    assert sorted(ml.ratings["item"].unique()) == list(range(1682))
    assert (ml.users.loc[ml.ratings["user"], "user_id"].to_numpy() == ml.ratings["user_id"]).all()
    assert (ml.items.loc[ml.ratings["item"], "item_id"].to_numpy() == ml.ratings["item_id"]).all()
    assert len(ml.genres) == 19 and ml.genres[0] == "unknown"
    assert list(ml.users.columns) == ["user_id", "age", "gender", "occupation", "zip"]
    assert ml.items.loc[0, "title"] == "Toy Story (1995)" and ml.items.loc[0, "year"] == 1995
    assert ml.source.origin == "GNNEDU_DATA"


def test_latin1_titles_are_decoded(clean_env, monkeypatch):
    monkeypatch.setenv("GNNEDU_DATA", str(SHARED))
    titles = load_movielens().items["title"]
    assert titles.str.contains("é").any(), "u.item is Latin-1; accented titles must survive"


def test_explicit_path_wins_and_an_extracted_folder_works(clean_env, tmp_path, monkeypatch):
    monkeypatch.setenv("GNNEDU_DATA", str(tmp_path / "nowhere"))
    root = extracted(tmp_path)
    for path in (root, root / "ml-100k", ZIP):
        ml = load_movielens(path=path)
        assert ml.source.origin == "path" and len(ml.ratings) == 100_000


def test_cache_is_used_when_gnnedu_data_is_unset(clean_env):
    clean_env.mkdir(parents=True)
    (clean_env / "ml-100k.zip").write_bytes(ZIP.read_bytes())
    assert load_movielens(download=False).source.origin == "cache"


def test_tampered_file_is_rejected_by_name(clean_env, tmp_path):
    root = extracted(tmp_path)
    flip_byte(root / "ml-100k" / "u.data")
    with pytest.raises(DataError) as err:
        load_movielens(path=root)
    message = str(err.value)
    assert "u.data" in message and "checksum mismatch" in message
    assert _fetch.MOVIELENS_100K.sha256["u.data"] in message  # the expected hash is shown
    assert (root / "ml-100k" / "u.data").exists(), "a user's own copy is never deleted"


def test_corrupt_cached_archive_is_removed(clean_env, tmp_path):
    root = extracted(tmp_path)
    flip_byte(root / "ml-100k" / "u.data")
    clean_env.mkdir(parents=True)
    with zipfile.ZipFile(clean_env / "ml-100k.zip", "w") as archive:
        for file in sorted((root / "ml-100k").iterdir()):
            archive.write(file, f"ml-100k/{file.name}")
    with pytest.raises(DataError, match="u.data"):
        load_movielens(download=False)
    assert list(clean_env.iterdir()) == [], "nothing corrupt may stay in the cache"


def test_truncated_archive_is_rejected_and_removed(clean_env):
    clean_env.mkdir(parents=True)
    (clean_env / "ml-100k.zip").write_bytes(ZIP.read_bytes()[: 200_000])
    with pytest.raises(DataError, match="truncated"):
        load_movielens(download=False)
    assert not (clean_env / "ml-100k.zip").exists()


def test_missing_file_is_named(clean_env, tmp_path):
    root = extracted(tmp_path)
    (root / "ml-100k" / "u.item").unlink()
    with pytest.raises(DataError, match="u.item.*missing"):
        load_movielens(path=root)


def test_bad_explicit_path_says_what_to_do(clean_env, tmp_path):
    with pytest.raises(DataError, match="GNNEDU_DATA"):
        load_movielens(path=tmp_path)


class _Server(http.server.ThreadingHTTPServer):
    payload = b""
    truncate = False


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = self.server.payload
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if self.server.truncate else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.payload = ZIP.read_bytes()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()


def closed_port_url() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/ml-100k.zip"


def test_download_falls_back_to_the_mirror_and_caches(clean_env, monkeypatch, server):
    mirror = f"http://127.0.0.1:{server.server_port}/ml-100k.zip"
    use_urls(monkeypatch, closed_port_url(), mirror)
    ml = load_movielens(progress=False)
    assert ml.source.origin == "download" and len(ml.ratings) == 100_000
    assert sorted(p.name for p in clean_env.iterdir()) == ["ml-100k.zip"]
    assert load_movielens(download=False).source.origin == "cache"


def test_interrupted_download_leaves_nothing(clean_env, monkeypatch, server):
    server.truncate = True
    use_urls(monkeypatch, f"http://127.0.0.1:{server.server_port}/ml-100k.zip")
    with pytest.raises(DataError, match="download failed"):
        load_movielens(progress=False)
    assert not clean_env.exists() or list(clean_env.iterdir()) == []


def test_no_data_and_no_network_fails_fast_with_instructions(clean_env, monkeypatch):
    use_urls(monkeypatch, closed_port_url())
    with pytest.raises(DataError) as err:
        load_movielens(progress=False)
    assert "GNNEDU_DATA" in str(err.value) and "download" in str(err.value)
