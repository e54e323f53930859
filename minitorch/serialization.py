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
into a model built by your own code with ``model.load_state_dict(minitorch.load(f))``.  For the
same reason a PyTorch checkpoint (a pickle, possibly inside a zip) is refused when loading, with
the way to convert one.  Every tensor is stored as its own array under the path
of keys leading to it, joined by '/' (a model's ``'0.weight'`` stays ``'0.weight'``, so
``numpy.load(path)['0.weight']`` works too).  The shape of the structure and the other leaves go
into one more array, ``__structure__``: UTF-8 JSON stored as bytes, still no pickle.

The file is written under a temporary name in the same folder and then renamed over ``path``
with ``os.replace``, which is atomic: a crash halfway leaves the old checkpoint intact, never a
half-written one.  As with ``torch.save``, the folder must exist already (a mistyped folder
name is an error, not a new folder).

A file that cannot be read gives an error naming the file and saying what it is instead: not
an ``.npz`` archive at all, a single ``.npy`` array, truncated, nested too deeply, or written
in a format version this minitorch does not know (a newer one).  ``__structure__`` records
that version (:data:`FORMAT_VERSION`); a file without the entry is a plain ``.npz`` of arrays.
"""
import json
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


def load(f, map_location=None, weights_only=None, **ignored):
    """Read a file (a path or an open binary file) written by ``save``, or any ``.npz`` of
    arrays, back.

    Tensors come back as minitorch Tensors on ``map_location`` ('cpu' by default, 'cuda', or a
    ``minitorch.device``); an ``.npz`` without a ``__structure__`` entry
    (``numpy.savez(path, **arrays)``) comes back as a dict of name → Tensor.  A missing,
    truncated or corrupt file raises an error naming it; so does a PyTorch checkpoint (a
    pickle), saying how to convert it.  ``weights_only`` is accepted for PyTorch's sake:
    minitorch loads nothing but weights and plain values, whatever it says.
    """
    path = getattr(f, "name", "<file object>") if hasattr(f, "read") else os.fspath(f)
    device = backend.canonical_device(map_location or "cpu")
    what = f"minitorch.load: {path!r}"
    try:
        _check_magic(f, what)
        with numpy.load(f if hasattr(f, "read") else path, allow_pickle=False) as archive:
            if any(name.rsplit("/", 1)[-1] == "data.pkl" for name in archive.files):
                raise _NotReadable(f"{what} is a PyTorch checkpoint (torch.save's zip of "
                                   f"pickles), which minitorch does not load. {CONVERT_TORCH}")
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
    except RecursionError:
        raise RuntimeError(f"{what} is not a readable minitorch checkpoint: its structure is "
                           "nested too deeply (not a file minitorch.save writes)") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, StopIteration,
            UnicodeDecodeError, AttributeError, TypeError) as error:
        raise RuntimeError(f"{what} is not a readable minitorch checkpoint (corrupt or "
                           f"truncated .npz file): {type(error).__name__}: {error}") from error


CONVERT_TORCH = (
    "Unpickling can run any code the file's author put in it. To bring PyTorch weights over, "
    "in PyTorch run numpy.savez('weights.npz', **{k: v.cpu().numpy() for k, v in "
    "model.state_dict().items()}) and here model.load_state_dict(minitorch.load('weights.npz')). "
    "To save a minitorch model: minitorch.save(model.state_dict(), f)")


class _NotReadable(Exception):
    """A file ``load`` recognised as not a checkpoint it can read (the message says why)."""


def _check_magic(f, what):
    """Refuse, by its first bytes, a file that is not an ``.npz`` archive: NumPy's own error
    would advise ``allow_pickle=True`` (unsafe: unpickling runs code) or, for an ``.npy``
    file, fail with a TypeError about context managers."""
    if hasattr(f, "read"):
        start = f.tell()
        head = f.read(len(NPY_MAGIC))
        f.seek(start)
    else:
        with open(f, "rb") as file:
            head = file.read(len(NPY_MAGIC))
    if head.startswith(NPY_MAGIC):
        raise _NotReadable(f"{what} is not a readable minitorch checkpoint: it is a single .npy "
                           "array, not an .npz archive (read it with numpy.load)")
    if head.startswith(b"\x80"):  # the pickle protocol's opcode: PyTorch's legacy format
        raise _NotReadable(f"{what} is a pickle (PyTorch's legacy torch.save format, or "
                           f"pickle.dump), which minitorch never loads. {CONVERT_TORCH}")
    if not head.startswith((ZIP_MAGIC, b"PK\x05\x06")):
        raise _NotReadable(f"{what} is not a readable minitorch checkpoint: an .npz file is a "
                           f"zip archive, starting with {ZIP_MAGIC!r}, this one starts with "
                           f"{head[:4]!r} (not a checkpoint at all)")
