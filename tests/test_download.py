"""Finding, downloading and verifying data files (minitorch/data/download.py).

Downloads are tested against a real HTTP server that the test starts on 127.0.0.1, serving files
the test wrote, with a checksum table passed in: the code path is the one a real download takes,
without the network.  The real MNIST files are checked against the project's checksum table.
"""
import functools
import hashlib
import http.server
import threading

import numpy
import pytest

from minitorch.data import download as dl
from minitorch.data.idx import read_idx, write_idx


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep the test output clean
        pass


class _ShortHandler(http.server.BaseHTTPRequestHandler):
    """Promises more bytes than it sends, then hangs up: a dropped connection."""
    payload = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload) + 1000))
        self.end_headers()
        self.wfile.write(self.payload)
        self.close_connection = True

    def log_message(self, format, *args):
        pass


def _serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


@pytest.fixture
def served_dir(tmp_path):
    """(folder, base URL): an HTTP server on 127.0.0.1 serving ``folder``."""
    folder = tmp_path / "served"
    folder.mkdir()
    server, url = _serve(functools.partial(_QuietHandler, directory=str(folder)))
    yield folder, url
    server.shutdown()
    server.server_close()


def _checksums(data):
    return hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()


def _fake_labels_file(folder, name="labels-idx1-ubyte.gz"):
    """A small gzip IDX label file in ``folder``; returns (its path, its labels)."""
    labels = numpy.arange(50, dtype=numpy.uint8) % 10
    return write_idx(folder / name, labels), labels


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*.part")) if folder.exists() else []


# ---- checksums -----------------------------------------------------------------------------------
def test_file_checksums_match_hashlib(tmp_path):
    data = bytes(range(256)) * 5000  # more than one read chunk
    (tmp_path / "f").write_bytes(data)
    assert dl.file_checksums(tmp_path / "f") == _checksums(data)


def test_verify_file_names_the_corrupt_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"not the real file")
    md5, sha256 = _checksums(b"the real file")
    with pytest.raises(dl.ChecksumError, match="train-images-idx3-ubyte.gz: checksum mismatch"):
        dl.verify_file(path, md5, sha256)


def test_verify_file_checks_sha256_as_well_as_md5(tmp_path):
    path = tmp_path / "f.gz"
    path.write_bytes(b"payload")
    md5, _ = _checksums(b"payload")
    with pytest.raises(dl.ChecksumError, match="sha256"):
        dl.verify_file(path, md5, "0" * 64)


# ---- downloading from a local server -----------------------------------------------------------
def test_fetch_downloads_verifies_and_renames(served_dir, tmp_path):
    folder, url = served_dir
    source, labels = _fake_labels_file(folder)
    table = {"fake/labels-idx1-ubyte.gz": _checksums(source.read_bytes())}
    root = tmp_path / "root"
    path = dl.fetch("fake", "labels-idx1-ubyte.gz", root=root, mirrors=[url], checksums=table)
    assert path == root / "fake" / "labels-idx1-ubyte.gz"
    assert path.read_bytes() == source.read_bytes()
    numpy.testing.assert_array_equal(read_idx(path), labels)
    assert _leftovers(root) == []
    # A second fetch finds the verified file on disk and does not download again.
    source.unlink()
    assert dl.fetch("fake", "labels-idx1-ubyte.gz", root=root, mirrors=[url], checksums=table) == path


def test_fetch_downloads_into_the_cache_when_no_root(served_dir, tmp_path, monkeypatch):
    folder, url = served_dir
    source, _ = _fake_labels_file(folder)
    monkeypatch.delenv("MINITORCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    table = {"fake/labels-idx1-ubyte.gz": _checksums(source.read_bytes())}
    path = dl.fetch("fake", "labels-idx1-ubyte.gz", mirrors=[url], checksums=table, progress=False)
    assert path == tmp_path / "cache" / "minitorch" / "fake" / "labels-idx1-ubyte.gz"
    assert path.read_bytes() == source.read_bytes()


def test_download_with_a_checksum_mismatch_leaves_no_file(served_dir, tmp_path):
    folder, url = served_dir
    _fake_labels_file(folder)
    table = {"fake/labels-idx1-ubyte.gz": _checksums(b"what the file should have been")}
    root = tmp_path / "root"
    with pytest.raises(dl.DownloadError) as caught:
        dl.fetch("fake", "labels-idx1-ubyte.gz", root=root, mirrors=[url], checksums=table,
                 progress=False)
    message = str(caught.value)
    assert "labels-idx1-ubyte.gz" in message and "checksum mismatch" in message
    assert not (root / "fake" / "labels-idx1-ubyte.gz").exists()
    assert _leftovers(root) == []


def test_download_raises_checksum_error_directly(served_dir, tmp_path):
    folder, url = served_dir
    _fake_labels_file(folder)
    destination = tmp_path / "out" / "labels-idx1-ubyte.gz"
    with pytest.raises(dl.ChecksumError, match="labels-idx1-ubyte.gz downloaded from"):
        dl.download_url(url + "labels-idx1-ubyte.gz", destination, "0" * 32, "0" * 64, progress=False)
    assert not destination.exists() and _leftovers(destination.parent) == []


def test_fetch_falls_back_to_the_next_mirror(served_dir, tmp_path):
    folder, url = served_dir
    source, _ = _fake_labels_file(folder)
    table = {"fake/labels-idx1-ubyte.gz": _checksums(source.read_bytes())}
    missing_mirror = url + "no-such-folder/"  # answers 404
    path = dl.fetch("fake", "labels-idx1-ubyte.gz", root=tmp_path / "root",
                    mirrors=[missing_mirror, url], checksums=table, progress=False)
    assert path.read_bytes() == source.read_bytes()


def test_every_mirror_failing_lists_each_failure(served_dir, tmp_path):
    _, url = served_dir
    table = {"fake/labels-idx1-ubyte.gz": ("0" * 32, "0" * 64)}
    with pytest.raises(dl.DownloadError) as caught:
        dl.fetch("fake", "labels-idx1-ubyte.gz", root=tmp_path / "root",
                 mirrors=[url + "a/", url + "b/"], checksums=table, progress=False)
    message = str(caught.value)
    assert url + "a/labels-idx1-ubyte.gz" in message and url + "b/labels-idx1-ubyte.gz" in message
    assert "404" in message


def test_a_dropped_connection_is_reported_and_leaves_no_file(tmp_path):
    payload = b"\x1f\x8b" + bytes(500)
    handler = type("Short", (_ShortHandler,), {"payload": payload})
    server, url = _serve(handler)
    try:
        destination = tmp_path / "out" / "train-labels-idx1-ubyte.gz"
        md5, sha256 = _checksums(payload)
        with pytest.raises(dl.DownloadError, match="stopped after 502 of 1502 bytes"):
            dl.download_url(url + "train-labels-idx1-ubyte.gz", destination, md5, sha256,
                        progress=False)
        assert not destination.exists() and _leftovers(destination.parent) == []
    finally:
        server.shutdown()
        server.server_close()


# ---- finding files on disk ---------------------------------------------------------------------
def test_a_corrupt_file_on_disk_is_named_and_not_used(tmp_path):
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "labels.gz").write_bytes(b"truncated")
    table = {"fake/labels.gz": _checksums(b"the complete file")}
    with pytest.raises(dl.ChecksumError, match=r"fake/labels.gz: checksum mismatch"):
        dl.fetch("fake", "labels.gz", root=tmp_path, checksums=table, mirrors=[])


def test_fetch_without_download_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("MINITORCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    table = {"fake/labels.gz": ("0" * 32, "0" * 64)}
    with pytest.raises(FileNotFoundError) as caught:
        dl.fetch("fake", "labels.gz", download_missing=False, checksums=table)
    assert str(tmp_path / "data" / "fake") in str(caught.value)
    assert str(tmp_path / "cache" / "minitorch" / "fake") in str(caught.value)


def test_fetch_refuses_a_file_with_no_known_checksum(tmp_path):
    with pytest.raises(ValueError, match="no known checksums for 'mnist/extra.gz'"):
        dl.fetch("mnist", "extra.gz", root=tmp_path)


def test_minitorch_data_is_searched_before_the_cache(tmp_path, monkeypatch):
    for folder, content in ((tmp_path / "data", b"from data"), (tmp_path / "cache" / "minitorch",
                                                                 b"from cache")):
        (folder / "fake").mkdir(parents=True)
        (folder / "fake" / "f.gz").write_bytes(content)
    monkeypatch.setenv("MINITORCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    path = dl.fetch("fake", "f.gz", checksums={"fake/f.gz": _checksums(b"from data")})
    assert path == tmp_path / "data" / "fake" / "f.gz"


# ---- the real files ------------------------------------------------------------------------------
@pytest.mark.parametrize("key", sorted(dl.KNOWN_CHECKSUMS))
def test_the_real_files_match_the_checksum_table(key, data_dir):
    name, filename = key.split("/")
    path = dl.fetch(name, filename, root=data_dir, download_missing=False)
    assert path.is_file()


def test_every_known_dataset_has_mirrors_for_each_file():
    names = {key.split("/")[0] for key in dl.KNOWN_CHECKSUMS}
    assert names == set(dl.MIRRORS)
    for mirrors in dl.MIRRORS.values():
        assert mirrors and all(url.startswith(("http://", "https://")) and url.endswith("/")
                               for url in mirrors)
