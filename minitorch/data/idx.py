"""The IDX file format, in which MNIST and Fashion-MNIST are published.  Read this first in ``data/``.

An IDX file is a tiny header followed by one big array, written in big-endian byte order::

    bytes 0-1   0x00 0x00            always zero (they let a reader spot a file that is not IDX)
    byte  2     the element type     0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                                     0x0D float32, 0x0E float64
    byte  3     the number of dimensions, d
    then        d sizes, each a big-endian unsigned 32-bit integer
    then        the elements, row-major, big-endian

So MNIST's training images start ``00 00 08 03 | 00 00 EA 60 | 00 00 00 1C | 00 00 00 1C``: uint8, three
dimensions, 60000 x 28 x 28; its labels start ``00 00 08 01 | 00 00 EA 60``.  The four-byte
"magic number" people quote (2051 for images, 2049 for labels) is just those first four bytes read
as one integer.

The published files are gzip-compressed; :func:`read_idx` reads plain and ``.gz`` files alike.
Everything that can be wrong with a file — not gzip after all, cut short, a header that does not
describe the bytes that follow — becomes an :class:`IDXError` that names the file, so a corrupt
download is never silently turned into an array.
"""
import gzip
import io
import math
import zlib
from pathlib import Path

import numpy

from minitorch.files import atomic_write

# The element-type byte of the header, and the NumPy dtype it stands for ('>' = big-endian).
IDX_DTYPES = {
    0x08: numpy.dtype("u1"),
    0x09: numpy.dtype("i1"),
    0x0B: numpy.dtype(">i2"),
    0x0C: numpy.dtype(">i4"),
    0x0D: numpy.dtype(">f4"),
    0x0E: numpy.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """An IDX file that cannot be read as its header says (the message names the file)."""


def _read_bytes(path):
    """All the bytes of ``path``, gunzipped when the file is gzip (recognised by its first bytes)."""
    with open(path, "rb") as file:
        raw = file.read()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except EOFError as error:  # the compressed stream stops before its end marker
        raise IDXError(f"{path}: the gzip data is truncated (the file was cut short: "
                       f"{len(raw)} bytes on disk); delete it and fetch it again") from error
    except (gzip.BadGzipFile, zlib.error) as error:
        raise IDXError(f"{path}: the gzip data is corrupt ({error}); delete it and fetch it "
                       "again") from error


def parse_idx(raw, source="<bytes>"):
    """The array that the IDX bytes ``raw`` hold; ``source`` names them in error messages.

    The result has the file's dimensions and a native-byte-order dtype (uint8 stays uint8).
    """
    if len(raw) < 4:
        raise IDXError(f"{source}: expected an IDX header of at least 4 bytes, got {len(raw)} bytes")
    zero, type_code, ndim = raw[0:2], raw[2], raw[3]
    if zero != b"\x00\x00":
        raise IDXError(f"{source}: not an IDX file: expected the first two bytes to be 00 00, "
                       f"got {zero.hex(' ')} (magic number {int.from_bytes(raw[:4], 'big')})")
    if type_code not in IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in IDX_DTYPES)
        raise IDXError(f"{source}: unknown IDX element type 0x{type_code:02X} "
                       f"(expected one of {known})")
    if ndim == 0:
        raise IDXError(f"{source}: the IDX header says the array has 0 dimensions; expected 1 or more")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise IDXError(f"{source}: truncated IDX header: {ndim} dimensions need {header_size} "
                       f"bytes, the file has {len(raw)}")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = IDX_DTYPES[type_code]
    expected = math.prod(shape) * dtype.itemsize
    got = len(raw) - header_size
    if got < expected:
        raise IDXError(f"{source}: truncated IDX data: the header promises shape {shape} of "
                       f"{dtype.name} ({expected} bytes), only {got} bytes follow it")
    if got > expected:
        raise IDXError(f"{source}: {got - expected} unexpected bytes after the IDX data of shape "
                       f"{shape} ({expected} bytes): the header does not describe this file")
    array = numpy.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=header_size)
    # A native-order, writable copy: frombuffer's view would pin ``raw`` and be read-only.
    return array.reshape(shape).astype(dtype.newbyteorder("="), copy=True)


def read_idx(path):
    """The array stored in the IDX file ``path`` (plain or gzip-compressed)."""
    path = Path(path)
    return parse_idx(_read_bytes(path), source=str(path))


def idx_bytes(array):
    """``array`` encoded as IDX (the inverse of :func:`parse_idx`)."""
    array = numpy.asarray(array)
    codes = {dtype.newbyteorder("="): code for code, dtype in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes:
        raise IDXError(f"IDX cannot store dtype {array.dtype}: expected one of "
                       f"{sorted(str(d) for d in codes)}")
    if array.ndim == 0 or array.ndim > 255:
        raise IDXError(f"IDX stores arrays of 1 to 255 dimensions, got {array.ndim}")
    code = codes[native]
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape)
    return header + numpy.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path, array, compress=None):
    """Write ``array`` to ``path`` as IDX, gzip-compressed when ``compress`` (default: the name ends
    in ``.gz``).  The bytes go to a temporary name first and are renamed, so a reader never sees a
    half-written file."""
    path = Path(path)
    data = idx_bytes(array)
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        buffer = io.BytesIO()
        # mtime=0 makes the bytes depend on the array alone (same array, same file, same checksum).
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
            gz.write(data)
        data = buffer.getvalue()
    with atomic_write(path) as file:
        file.write(data)
    return path
