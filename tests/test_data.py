"""gnnedu.data: search order, checksums, downloads and bad inputs. No test needs the internet."""

import dataclasses
import http.server
import threading
import zipfile
from pathlib import Path

import datafind
import pytest

from gnnedu.data import (
    MOVIELENS_100K,
    DataError,
    Source,
    copy_to_cache,
    load_movielens,
    locate,
    movielens,
)


@pytest.fixture(scope="module")
def shared(movielens_source) -> Path:
    """The folder that holds MovieLens ($GNNEDU_DATA, or the cache filled by `make data`)."""
    return datafind.data_folder(movielens_source)


@pytest.fixture(scope="module")
def zip_path(movielens_source, tmp_path_factory) -> Path:
    """A genuine ml-100k.zip: the located one, or one built from a located extracted copy."""
    return datafind.archive(movielens_source, tmp_path_factory.mktemp("zip"))


@pytest.fixture
def clean_env(tmp_path, monkeypatch):
    """No GNNEDU_DATA and an empty cache of our own."""
    monkeypatch.delenv("GNNEDU_DATA", raising=False)
    monkeypatch.setenv("GNNEDU_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def extracted(zip_path, tmp_path) -> Path:
    """An extracted copy of the dataset: <tmp>/copy/ml-100k/..."""
    root = tmp_path / "copy"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root)
    return root


def cache_entries(cache: Path) -> list[str]:
    """What the cache folder holds, apart from the folder of lock files."""
    return sorted(p.name for p in cache.iterdir() if p.name != ".locks") if cache.exists() else []


def temporary_files(cache: Path) -> list[Path]:
    """Leftover temporary files or folders of atomic writes (``.*.part``)."""
    return sorted(cache.rglob("*.part"))


def flip_byte(file: Path, offset: int = 100) -> None:
    data = bytearray(file.read_bytes())
    data[offset] ^= 0x01
    file.write_bytes(bytes(data))


def use_urls(monkeypatch, *urls):
    """Point the MovieLens registry entry at local URLs (no internet in tests)."""
    ds = dataclasses.replace(MOVIELENS_100K, urls=tuple(urls))
    monkeypatch.setattr(movielens, "MOVIELENS_100K", ds)
    return ds


def test_tables_have_the_documented_shape(clean_env, monkeypatch, shared):
    monkeypatch.setenv("GNNEDU_DATA", str(shared))
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


def test_latin1_titles_are_decoded(clean_env, monkeypatch, shared):
    monkeypatch.setenv("GNNEDU_DATA", str(shared))
    titles = load_movielens().items["title"]
    assert titles.str.contains("é").any(), "u.item is Latin-1; accented titles must survive"


def test_explicit_path_wins_and_an_extracted_folder_works(clean_env, tmp_path, monkeypatch,
                                                          zip_path):
    monkeypatch.setenv("GNNEDU_DATA", str(tmp_path / "nowhere"))
    root = extracted(zip_path, tmp_path)
    for path in (root, root / "ml-100k", zip_path):
        ml = load_movielens(path=path)
        assert ml.source.origin == "path" and len(ml.ratings) == 100_000


def test_cache_is_used_when_gnnedu_data_is_unset(clean_env, zip_path):
    clean_env.mkdir(parents=True)
    (clean_env / "ml-100k.zip").write_bytes(zip_path.read_bytes())
    assert load_movielens(download=False).source.origin == "cache"


def test_gnnedu_data_pointing_to_a_file_is_an_error(clean_env, tmp_path, monkeypatch):
    file = tmp_path / "ml-100k.zip"
    file.write_bytes(b"not a folder")
    monkeypatch.setenv("GNNEDU_DATA", str(file))
    with pytest.raises(DataError) as err:
        load_movielens(download=False)
    message = str(err.value)
    assert message.startswith(f"GNNEDU_DATA points to a file, not a folder: {file};")
    assert "set it to the folder that holds ml-100k.zip" in message
    assert file.read_bytes() == b"not a folder"


def test_copy_to_cache_verifies_copies_once_and_replaces_a_bad_copy(clean_env, tmp_path, zip_path):
    root = extracted(zip_path, tmp_path)
    for path, expected in ((zip_path, "ml-100k.zip"), (root, "ml-100k")):
        cached = copy_to_cache(locate(MOVIELENS_100K, path=path, download=False))
        assert cached.origin == "cache" and cached.location == clean_env / expected
        assert cached.verify() == list(MOVIELENS_100K.sha256)
        assert cache_entries(clean_env) == [expected] and temporary_files(clean_env) == []
        assert copy_to_cache(cached) is cached  # already in the cache: nothing to do
        if cached.is_zip:
            cached.location.write_bytes(cached.location.read_bytes()[:1000])  # truncated copy
            again = copy_to_cache(Source(MOVIELENS_100K, path, "path"))
            assert again.location == cached.location and again.verify()
            cached.location.unlink()
    flip_byte(root / "ml-100k" / "u.data")
    with pytest.raises(DataError, match="u.data"):
        copy_to_cache(Source(MOVIELENS_100K, root / "ml-100k", "path"))


def test_tampered_file_is_rejected_by_name(clean_env, tmp_path, zip_path):
    root = extracted(zip_path, tmp_path)
    flip_byte(root / "ml-100k" / "u.data")
    with pytest.raises(DataError) as err:
        load_movielens(path=root)
    message = str(err.value)
    assert "u.data" in message and "checksum mismatch" in message
    assert MOVIELENS_100K.sha256["u.data"] in message  # the expected hash is shown
    assert (root / "ml-100k" / "u.data").exists(), "a user's own copy is never deleted"


def test_corrupt_cached_archive_is_removed(clean_env, tmp_path, zip_path):
    root = extracted(zip_path, tmp_path)
    flip_byte(root / "ml-100k" / "u.data")
    clean_env.mkdir(parents=True)
    with zipfile.ZipFile(clean_env / "ml-100k.zip", "w") as archive:
        for file in sorted((root / "ml-100k").iterdir()):
            archive.write(file, f"ml-100k/{file.name}")
    with pytest.raises(DataError, match="u.data"):
        load_movielens(download=False)
    assert cache_entries(clean_env) == [], "nothing corrupt may stay in the cache"


def test_truncated_archive_is_rejected_and_removed(clean_env, zip_path):
    clean_env.mkdir(parents=True)
    (clean_env / "ml-100k.zip").write_bytes(zip_path.read_bytes()[: 200_000])
    with pytest.raises(DataError, match="truncated"):
        load_movielens(download=False)
    assert not (clean_env / "ml-100k.zip").exists()


def test_missing_file_is_named(clean_env, tmp_path, zip_path):
    root = extracted(zip_path, tmp_path)
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
def server(zip_path):
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.payload = zip_path.read_bytes()
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
    assert cache_entries(clean_env) == ["ml-100k.zip"] and temporary_files(clean_env) == []
    assert load_movielens(download=False).source.origin == "cache"


def test_interrupted_download_leaves_nothing(clean_env, monkeypatch, server):
    server.truncate = True
    use_urls(monkeypatch, f"http://127.0.0.1:{server.server_port}/ml-100k.zip")
    with pytest.raises(DataError, match="download failed"):
        load_movielens(progress=False)
    assert cache_entries(clean_env) == [] and temporary_files(clean_env) == []


def test_no_data_and_no_network_fails_fast_with_instructions(clean_env, monkeypatch):
    use_urls(monkeypatch, closed_port_url())
    with pytest.raises(DataError) as err:
        load_movielens(progress=False)
    assert "GNNEDU_DATA" in str(err.value) and "download" in str(err.value)
