"""Saving and loading: ``minitorch.save(state, path)`` and ``minitorch.load(path)``.

Read after ``nn/module.py`` (``state_dict``).  A checkpoint is a NumPy ``.npz`` file (a zip of
``.npy`` arrays), read back with ``allow_pickle=False``.  That matters: PyTorch's default format
is a pickle, and unpickling a file can run any code its author put in it.  An ``.npz`` file
read this way can only ever produce arrays.

What can be saved: a (possibly nested) structure of dicts, lists and tuples whose leaves are
tensors, arrays, numbers, strings, booleans or None — a model's ``state_dict()``, an
optimizer's, or a dict holding both.  Every tensor is stored as its own array under the path
of keys leading to it, joined by '/' (a model's ``'0.weight'`` stays ``'0.weight'``, so
``numpy.load(path)['0.weight']`` works too).  The shape of the structure and the other leaves go
into one more array, ``__structure__``: UTF-8 JSON stored as bytes, still no pickle.

The file is written under a temporary name in the same folder and then renamed over ``path``
with ``os.replace``, which is atomic: a crash halfway leaves the old checkpoint intact, never a
half-written one.  A file that cannot be read gives an error naming the file.
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


def _encode(value, path, arrays):
    """The JSON description of ``value``; arrays found inside go into ``arrays`` by name."""
    if isinstance(value, Tensor) or backend.is_array(value):
        array = backend.to_numpy(value.data if isinstance(value, Tensor) else value)
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
    arrays = {}
    structure = {"format": FORMAT_VERSION, "root": _encode(obj, [], arrays)}
    arrays[STRUCTURE_KEY] = numpy.frombuffer(json.dumps(structure).encode("utf-8"),
                                             dtype=numpy.uint8)
    if hasattr(f, "write"):  # a file object: the caller owns it, so write in place
        numpy.savez(f, **arrays)
        return
    with atomic_write(f) as out:
        numpy.savez(out, **arrays)


def load(f, map_location=None):
    """Read a file (a path or an open binary file) written by ``save``, or any ``.npz`` of
    arrays, back.

    Tensors come back as minitorch Tensors on ``map_location`` ('cpu' by default, or 'cuda');
    an ``.npz`` without a ``__structure__`` entry (``numpy.savez(path, **arrays)``) comes back as
    a dict of name → Tensor.  A missing, truncated or corrupt file raises an error naming it.
    """
    path = getattr(f, "name", "<file object>") if hasattr(f, "read") else os.fspath(f)
    device = backend.canonical_device(map_location or "cpu")
    try:
        with numpy.load(f if hasattr(f, "read") else path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}  # read all now: a
            # truncated member fails here, inside the try, not later
        if STRUCTURE_KEY not in arrays:
            return {name: Tensor(backend.to_device(a, device)) for name, a in arrays.items()}
        structure = json.loads(arrays.pop(STRUCTURE_KEY).tobytes().decode("utf-8"))
        arrays = {name: backend.to_device(a, device) for name, a in arrays.items()}
        return _decode(structure["root"], arrays)
    except FileNotFoundError:
        raise FileNotFoundError(f"minitorch.load: no such file: {path!r}") from None
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, StopIteration,
            UnicodeDecodeError, AttributeError, TypeError) as error:
        raise RuntimeError(f"minitorch.load: {path!r} is not a readable minitorch checkpoint "
                           f"(corrupt or truncated .npz file): {type(error).__name__}: "
                           f"{error}") from error
