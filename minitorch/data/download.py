"""Finding a data file on disk, or downloading it safely.  Read after ``idx.py``.

A dataset file is looked for in three steps (:func:`fetch`):

1. ``$MINITORCH_DATA/<name>/<file>`` — a data folder the user (or CI) already filled;
2. ``~/.cache/minitorch/<name>/<file>`` (``$XDG_CACHE_HOME/minitorch`` when that is set) — where
   earlier downloads went;
3. otherwise each mirror in :data:`MIRRORS` in turn (the list torchvision uses), into the cache.

A file is trusted only after its md5 *and* sha256 match the table :data:`KNOWN_CHECKSUMS` (both,
because md5 alone is broken as a defence against tampering, while md5 is what the mirrors
publish).  A download is streamed to a temporary name beside its destination, checked, and only
then renamed to its real name: the rename is atomic, so a crash, a dropped connection or a
corrupt mirror can never leave a half-written file where a later run would find and use it.
"""
import hashlib
import http.client
import os
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from minitorch.files import atomic_write

# md5 and sha256 of the canonical files, byte-identical on every mirror (md5s as torchvision lists
# them; the sha256s were computed from the same files).
KNOWN_CHECKSUMS = {
    "mnist/train-images-idx3-ubyte.gz": (
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "mnist/train-labels-idx1-ubyte.gz": (
        "d53e105ee54ea40749a09fcbcd1e9432",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "mnist/t10k-images-idx3-ubyte.gz": (
        "9fb629c4189551a2d022fa330f9573f3",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "mnist/t10k-labels-idx1-ubyte.gz": (
        "ec29112dd5afa0611ce80d1b7f02629c",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    "fashion_mnist/train-images-idx3-ubyte.gz": (
        "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
    "fashion_mnist/train-labels-idx1-ubyte.gz": (
        "25c81989df183df01b3e8a0aad5dffbe",
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
    "fashion_mnist/t10k-images-idx3-ubyte.gz": (
        "bef4ecab320f06d8554ea6380940ec79",
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
    "fashion_mnist/t10k-labels-idx1-ubyte.gz": (
        "bb300cfdad3c16e7a12a480ee83cd310",
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
}

# Base URLs tried in order; the file name is appended.  The same lists as torchvision's datasets.
MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "http://yann.lecun.com/exdb/mnist/"],
    "fashion_mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}

_CHUNK = 1 << 20  # read and hash 1 MiB at a time: big enough to be fast, small enough for memory


class ChecksumError(ValueError):
    """A file whose bytes are not the ones the checksum table expects (the message names it)."""


class DownloadError(RuntimeError):
    """No mirror gave a good copy of a file (the message lists what each mirror did)."""


def cache_dir():
    """Where downloads go: ``$XDG_CACHE_HOME/minitorch``, else ``~/.cache/minitorch``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "minitorch"


def search_dirs(root=None):
    """The folders :func:`fetch` looks in, in order: ``[root]`` when given, else
    ``$MINITORCH_DATA`` (when set) and then the cache."""
    if root is not None:
        return [Path(root)]
    folders = []
    if os.environ.get("MINITORCH_DATA"):
        folders.append(Path(os.environ["MINITORCH_DATA"]))
    folders.append(cache_dir())
    return folders


def file_checksums(path):
    """``(md5, sha256)`` of the file at ``path``, as hex strings, in one pass over its bytes."""
    md5, sha256 = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
    return md5.hexdigest(), sha256.hexdigest()


def verify_file(path, md5, sha256, shown_as=None):
    """Raise :class:`ChecksumError` unless the file at ``path`` has this md5 and this sha256.

    ``shown_as`` is the name the error uses."""
    _require_checksums(shown_as or path, Path(path).stat().st_size, file_checksums(path),
                       md5, sha256)


def _require_checksums(shown_as, size, got, md5, sha256):
    got_md5, got_sha256 = got
    if (got_md5, got_sha256) != (md5, sha256):
        raise ChecksumError(
            f"{shown_as}: checksum mismatch, the file is corrupt or truncated "
            f"({size} bytes): expected md5 {md5} and sha256 {sha256}, got md5 {got_md5} and "
            f"sha256 {got_sha256}")


def download_url(url, destination, md5, sha256, progress=True, timeout=30):
    """Download ``url`` to ``destination`` (a file path), checked against ``md5`` and ``sha256``.

    The bytes are hashed as they arrive and written, with a tqdm progress bar, through
    :func:`minitorch.files.atomic_write`: only a complete file with both checksums right is
    renamed to ``destination``.  Anything else raises (:class:`ChecksumError`,
    :class:`DownloadError`, or urllib's errors) and leaves no file behind.

    Before connecting it says which URL it tries and how long it waits (``timeout`` seconds for
    the connection and again for each read), so a server that accepts and never answers does
    not look like a hung program.
    """
    destination = Path(destination)
    if progress:
        tqdm.write(f"Downloading {url} (waiting up to {timeout:g} s for the server to answer)")
    with atomic_write(destination) as file, \
            urllib.request.urlopen(url, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        expected_size = int(length) if length is not None else None
        received, md5_hash, sha256_hash = 0, hashlib.md5(), hashlib.sha256()
        with tqdm(total=expected_size, unit="B", unit_scale=True, unit_divisor=1024,
                  desc=destination.name, disable=not progress, leave=False) as bar:
            while chunk := response.read(_CHUNK):
                file.write(chunk)
                md5_hash.update(chunk)
                sha256_hash.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        if expected_size is not None and received != expected_size:
            raise DownloadError(f"{destination.name}: the download from {url} stopped after "
                                f"{received} of {expected_size} bytes")
        _require_checksums(f"{destination.name} downloaded from {url}", received,
                           (md5_hash.hexdigest(), sha256_hash.hexdigest()), md5, sha256)
    return destination


def fetch(name, filename, root=None, download_missing=True, mirrors=None, checksums=None,
          progress=True, timeout=30):
    """The path of the verified file ``<name>/<filename>`` (e.g. ``'mnist'``,
    ``'train-images-idx3-ubyte.gz'``), downloading it first when it is nowhere on disk.

    Looks in ``root/<name>/`` when ``root`` is given, else in ``$MINITORCH_DATA/<name>/`` and then
    the cache (:func:`search_dirs`); downloads into ``root/<name>/`` when ``root`` is given, else
    into the cache.  ``mirrors`` (base URLs) and ``checksums`` (a
    table like :data:`KNOWN_CHECKSUMS`) default to this module's tables; tests pass their own.
    ``timeout`` (seconds) is how long each mirror may stay silent before the next is tried.
    A file found on disk whose checksums are wrong raises :class:`ChecksumError` naming it: it is
    never used, and never silently replaced (it may be the user's own copy).
    """
    checksums = KNOWN_CHECKSUMS if checksums is None else checksums
    key = f"{name}/{filename}"
    if key not in checksums:
        raise ValueError(f"no known checksums for {key!r}: expected one of {sorted(checksums)}")
    md5, sha256 = checksums[key]
    folders = search_dirs(root)
    for folder in folders:
        candidate = folder / name / filename
        if candidate.is_file():
            try:
                verify_file(candidate, md5, sha256)
            except ChecksumError as error:
                raise ChecksumError(f"{error}. The file was not used: delete or replace it") from None
            return candidate
    looked_in = ", ".join(str(folder / name) for folder in folders)
    if not download_missing:
        raise FileNotFoundError(f"{key} is not in {looked_in} and downloading was turned off "
                                "(set MINITORCH_DATA to a folder that holds it, or allow the download)")
    mirrors = MIRRORS.get(name, []) if mirrors is None else mirrors
    if not mirrors:
        raise DownloadError(f"{key} is not in {looked_in} and no mirror is known for {name!r}")
    destination = (Path(root) if root is not None else cache_dir()) / name / filename
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        try:
            return download_url(url, destination, md5, sha256, progress=progress,
                                timeout=timeout)
        except (OSError, http.client.HTTPException, ChecksumError, DownloadError) as error:
            failures.append(f"  {url}: {error}")
    raise DownloadError(f"could not get a good copy of {key} (not in {looked_in}); every mirror "
                        "failed:\n" + "\n".join(failures))
