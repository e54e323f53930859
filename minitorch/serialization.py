"""Saving and loading: ``minitorch.save(state, path)`` and ``minitorch.load(path)``.

Read after ``nn/module.py`` (``state_dict``).  A checkpoint is a NumPy ``.npz`` file (a zip of
``.npy`` arrays), read back with ``allow_pickle=False``.  That matters: PyTorch's default format
is a pickle, and unpickling a file can run any code its author put in it.  An ``.npz`` file
read this way can only ever produce arrays.

What can be saved: a (possibly nested) structure of dicts, lists and tuples whose leaves are
tensors, arrays, numbers, strings, booleans or None — a model's ``state_dict()``, an
optimizer's, or a dict holding both.  A whole model cannot: ``torch.save(model, f)`` pickles the
model's class and the code to rebuild it, which is exactly what must never be loaded from a file
one did not write.  The error says what to do instead: save ``model.state_dict()``, and load it
into a model built by your own code with ``model.load_state_dict(minitorch.load(f))`` (and a
PyTorch checkpoint is refused when loading, for the same reason: see "Pickles" below).  Every
tensor is stored as its own array under the path of keys leading to it, joined by '/' (a
model's ``'0.weight'`` stays ``'0.weight'``, so ``numpy.load(path)['0.weight']`` works too).  The shape of the structure and the other leaves go
into one more array, ``__structure__``: UTF-8 JSON stored as bytes, still no pickle.

The file is written under a temporary name in the same folder and then renamed over ``path``
with ``os.replace``, which is atomic: a crash halfway leaves the old checkpoint intact, never a
half-written one.  As with ``torch.save``, the folder must exist already (a mistyped folder
name is an error, not a new folder).

A file that cannot be read gives an error naming the file and saying what it is instead: not
an ``.npz`` archive at all, a single ``.npy`` array, truncated, nested too deeply, or written
in a format version this minitorch does not know (a newer one).  ``__structure__`` records
that version (:data:`FORMAT_VERSION`); a file without the entry is a plain ``.npz`` of arrays.

Before any array is read, ``load`` looks at every member's header (a few bytes each):

* **Sizes.**  A zip member may be compressed, so a 1 MB ``.npz`` can hold gigabytes of zeros,
  and a ``.npy`` header may claim any shape (10¹³ elements: a ``MemoryError``).  ``load``
  refuses an archive whose arrays would take more than ``max_bytes`` in memory — by default 16
  times what the members occupy in the file, and at least 256 MiB (an archive ``save`` writes
  is stored uncompressed, so it takes about its own size) — and a member whose header claims
  more elements than it holds.  Pass a larger ``max_bytes`` for a compressed archive you trust.
* **Pickles.**  An ``.npy`` member of dtype ``object`` is a pickle; a PyTorch checkpoint
  (``torch.save``: a zip holding ``data.pkl``, or in its legacy format a bare pickle) is one
  too.  They are named as such and never unpickled.  A PyTorch state dict converts once, where
  torch is installed, to a file ``load`` reads::

      state = torch.load("model.pt", weights_only=True)   # torch's restricted unpickler
      numpy.savez("model.npz", **{k: v.numpy() for k, v in state.items()})
      model.load_state_dict(minitorch.load("model.npz"))  # then, in minitorch
"""
import json
import math
import os
import zipfile

import numpy  # host-side file format only

from minitorch import backend
from minitorch.files import atomic_write
from minitorch.tensor import Tensor

STRUCTURE_KEY = "__structure__"
FORMAT_VERSION = 1
ZIP_MAGIC = b"PK\x03\x04"  # how every .npz (a zip archive) begins; an empty one: PK\x05\x06
NPY_MAGIC = b"\x93NUMPY"    # how a single .npy array begins
PICKLE_START = b"\x80"      # a pickle of protocol 2 or later begins with its PROTO opcode
# torch.save's legacy (pre-1.6) format: a pickle whose first object is this magic number.
TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19"
MIN_LIMIT = 256 * 2 ** 20   # the default max_bytes is at least this,
EXPANSION_LIMIT = 16        # or this many times the members' size in the file
CONVERT_TORCH = ("minitorch never unpickles (unpickling runs whatever code the file holds); "
                 "convert it once where torch is installed: state = torch.load(path, "
                 "weights_only=True); numpy.savez('model.npz', **{k: v.numpy() for k, v in "
                 "state.items()}), then minitorch.load('model.npz')")


SAVE_THE_STATE_DICT = (
    "Save its weights instead: minitorch.save(model.state_dict(), f); to load them, build the "
    "model in your code and call model.load_state_dict(minitorch.load(f)) (the same works for "
    "an optimizer's state_dict)")


def _encode(value, path, arrays):
    """The JSON description of ``value``; arrays found inside go into ``arrays`` by name."""
    if callable(getattr(value, "state_dict", None)):  # a Module or an Optimizer
        raise TypeError(
            f"minitorch.save: cannot save a whole {type(value).__name__} object at "
            f"{'/'.join(path) or 'the top level'}: saving an object means pickling its class "
            "and code, and minitorch never writes or loads pickles (loading one can run any "
            f"code). {SAVE_THE_STATE_DICT}")
    if isinstance(value, Tensor) or backend.is_array(value):
        array = backend.to_numpy(value.array if isinstance(value, Tensor) else value)
        if array.dtype.kind not in "biuf":
            raise TypeError(f"minitorch.save: cannot save an array of dtype {array.dtype} at "
                            f"{'/'.join(path) or 'the top level'}")
        name = "/".join(path) or "value"
        if name in arrays or name == STRUCTURE_KEY:
            raise ValueError(f"minitorch.save: two entries map to the same name {name!r}")
        arrays[name] = array
        return {"tensor" if isinstance(value, Tensor) else "array": name}
    if isinstance(value, numpy.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"value": value}
    if isinstance(value, dict):
        keys = list(value)
        for k in keys:
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"minitorch.save: dict keys must be str or int, got {k!r}")
        return {"dict": [[k, _encode(value[k], path + [str(k)], arrays)] for k in keys]}
    if isinstance(value, (list, tuple)):
        items = [_encode(v, path + [str(i)], arrays) for i, v in enumerate(value)]
        return {"tuple" if isinstance(value, tuple) else "list": items}
    raise TypeError(f"minitorch.save: cannot save a {type(value).__name__} at "
                    f"{'/'.join(path) or 'the top level'} (tensors, arrays, numbers, strings, "
                    "None, and dicts/lists/tuples of them can be saved)")


def _decode(node, arrays):
    kind, content = next(iter(node.items()))
    if kind == "tensor":
        return Tensor(arrays[content])
    if kind == "array":
        return arrays[content]
    if kind == "value":
        return content
    if kind == "dict":
        return {k: _decode(v, arrays) for k, v in content}
    if kind == "list":
        return [_decode(v, arrays) for v in content]
    if kind == "tuple":
        return tuple(_decode(v, arrays) for v in content)
    raise ValueError(f"unknown entry kind {kind!r}")


def save(obj, f):
    """Write ``obj`` (a state_dict, or any nesting of dicts/lists of tensors and numbers) to
    ``f``: a path (written atomically) or an open binary file."""
    if not hasattr(f, "write"):
        parent = os.path.dirname(os.path.abspath(os.fspath(f)))
        if not os.path.isdir(parent):
            raise RuntimeError(f"minitorch.save: parent directory {parent} does not exist "
                               f"(create it first, e.g. Path({parent!r}).mkdir(parents=True))")
    arrays = {}
    try:
        root = _encode(obj, [], arrays)
    except RecursionError:
        raise ValueError("minitorch.save: the structure is nested too deeply to save") from None
    structure = {"format": FORMAT_VERSION, "root": root}
    arrays[STRUCTURE_KEY] = numpy.frombuffer(json.dumps(structure).encode("utf-8"),
                                             dtype=numpy.uint8)
    if hasattr(f, "write"):  # a file object: the caller owns it, so write in place
        numpy.savez(f, **arrays)
        return
    with atomic_write(f) as out:
        numpy.savez(out, **arrays)


def load(f, map_location=None, *, weights_only=None, mmap=None, max_bytes=None):
    """Read a file (a path or an open binary file) written by ``save``, or any ``.npz`` of
    arrays, back.

    Tensors come back as minitorch Tensors on ``map_location`` ('cpu' by default, 'cuda', or a
    ``minitorch.device``); an ``.npz`` without a ``__structure__`` entry
    (``numpy.savez(path, **arrays)``) comes back as a dict of name → Tensor.  A missing,
    truncated or corrupt file raises an error naming it; so do an archive whose arrays would take
    more than ``max_bytes`` (default: 16 times their size in the file, at least 256 MiB), a
    pickled member and a PyTorch checkpoint (see the module docstring for how to convert one).
    ``weights_only`` and ``mmap`` are accepted for PyTorch's sake: minitorch loads nothing but
    arrays and plain values, whatever they say.
    """
    path = getattr(f, "name", "<file object>") if hasattr(f, "read") else os.fspath(f)
    device = backend.canonical_device(map_location or "cpu")
    what = f"minitorch.load: {path!r}"
    if max_bytes is not None and not (isinstance(max_bytes, int) and max_bytes > 0):
        raise ValueError(f"minitorch.load: max_bytes must be a positive int, got {max_bytes!r}")
    try:
        _check_magic(f, what)
        _check_members(f, what, max_bytes)
        with numpy.load(f if hasattr(f, "read") else path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}  # read all now: a
            # truncated member fails here, inside the try, not later
        if STRUCTURE_KEY not in arrays:
            return {name: Tensor(backend.to_device(a, device)) for name, a in arrays.items()}
        structure = json.loads(arrays.pop(STRUCTURE_KEY).tobytes().decode("utf-8"))
        version = structure.get("format") if isinstance(structure, dict) else None
        if version != FORMAT_VERSION:
            raise _NotReadable(f"{what} is not a readable minitorch checkpoint: it has format "
                               f"version {version!r}, this minitorch reads version "
                               f"{FORMAT_VERSION} (was it written by a newer minitorch?)")
        arrays = {name: backend.to_device(a, device) for name, a in arrays.items()}
        return _decode(structure["root"], arrays)
    except _NotReadable as error:
        raise RuntimeError(str(error)) from None
    except FileNotFoundError:
        raise FileNotFoundError(f"minitorch.load: no such file: {path!r}") from None
    except MemoryError as error:
        raise MemoryError(f"{what}: not enough memory for its arrays ({error})") from error
    except RecursionError:
        raise RuntimeError(f"{what} is not a readable minitorch checkpoint: its structure is "
                           "nested too deeply (not a file minitorch.save writes)") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, StopIteration,
            UnicodeDecodeError, AttributeError, TypeError) as error:
        raise RuntimeError(f"{what} is not a readable minitorch checkpoint (corrupt or "
                           f"truncated .npz file): {type(error).__name__}: {error}") from error


class _NotReadable(Exception):
    """A file ``load`` recognised as not a checkpoint it can read (the message says why)."""


def _check_magic(f, what):
    """Refuse, by its first bytes, a file that is not an ``.npz`` archive: NumPy's own error
    would advise ``allow_pickle=True`` (unsafe: unpickling runs code) or, for an ``.npy``
    file, fail with a TypeError about context managers."""
    if hasattr(f, "read"):
        start = f.tell()
        head = f.read(len(TORCH_LEGACY_MAGIC))
        f.seek(start)
    else:
        with open(f, "rb") as file:
            head = file.read(len(TORCH_LEGACY_MAGIC))
    if head.startswith(TORCH_LEGACY_MAGIC):
        raise _NotReadable(f"{what} is not a readable minitorch checkpoint: it is a PyTorch "
                           f"checkpoint in torch.save's legacy format (a pickle). {CONVERT_TORCH}")
    if head.startswith(PICKLE_START) and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise _NotReadable(f"{what} is not a readable minitorch checkpoint: it is a Python pickle "
                           f"(torch.save's legacy format, or pickle.dump). {CONVERT_TORCH}")
    if head.startswith(NPY_MAGIC):
        raise _NotReadable(f"{what} is not a readable minitorch checkpoint: it is a single .npy "
                           "array, not an .npz archive (read it with numpy.load)")
    if not head.startswith((ZIP_MAGIC, b"PK\x05\x06")):
        raise _NotReadable(f"{what} is not a readable minitorch checkpoint: an .npz file is a "
                           f"zip archive, starting with {ZIP_MAGIC!r}, this one starts with "
                           f"{head[:4]!r} (a pickle, or not a checkpoint at all)")


def _check_members(f, what, max_bytes):
    """Refuse, from the zip directory and each member's ``.npy`` header (nothing else is read),
    a PyTorch checkpoint, a pickled member, a header that claims more than its member holds,
    and arrays that would take more than ``max_bytes`` (see the module docstring)."""
    start = f.tell() if hasattr(f, "read") else None
    try:
        with zipfile.ZipFile(f) as archive:
            infos = archive.infolist()
            if any(info.filename.rsplit("/", 1)[-1] == "data.pkl" for info in infos):
                raise _NotReadable(f"{what} is not a readable minitorch checkpoint: it is a "
                                   f"PyTorch checkpoint (torch.save's zip format, whose data.pkl "
                                   f"is a pickle). {CONVERT_TORCH}")
            sizes = {info.filename: _member_bytes(archive, info, what) for info in infos}
    finally:
        if start is not None:
            f.seek(start)
    stored = sum(info.compress_size for info in infos)
    limit = max_bytes if max_bytes is not None else max(MIN_LIMIT, EXPANSION_LIMIT * stored)
    total = sum(sizes.values())
    if total > limit:
        largest = max(sizes, key=sizes.get)
        raise _NotReadable(
            f"{what} would expand to {total:,} bytes of arrays ({largest!r}: {sizes[largest]:,}) "
            f"from {stored:,} bytes in the file, more than the limit of {limit:,} bytes"
            f"{'' if max_bytes is not None else ' (16 times the stored size, at least 256 MiB)'}"
            "; if you trust the file, pass a larger max_bytes=... to minitorch.load")


def _member_bytes(archive, info, what):
    """The bytes member ``info`` takes once read: its ``.npy`` header's shape times its item
    size (its size in the zip directory when it is not an ``.npy`` array)."""
    with archive.open(info) as member:
        if member.read(len(NPY_MAGIC)) != NPY_MAGIC:
            return info.file_size
        member.seek(0)
        version = numpy.lib.format.read_magic(member)
        read_header = (numpy.lib.format.read_array_header_1_0 if version == (1, 0)
                       else numpy.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(member)
        if dtype.hasobject:
            raise _NotReadable(f"{what} is not a readable minitorch checkpoint: its member "
                               f"{info.filename!r} holds Python objects (dtype {dtype}), stored "
                               "as a pickle, which minitorch never unpickles (unpickling runs "
                               "whatever code the file holds)")
        claimed = math.prod(shape) * dtype.itemsize
        held = info.file_size - member.tell()
    if claimed > held:
        raise _NotReadable(f"{what} is not a readable minitorch checkpoint: its member "
                           f"{info.filename!r} claims shape {tuple(shape)} of {dtype} "
                           f"({claimed:,} bytes) but holds {held:,} bytes (corrupt or forged)")
    return claimed
