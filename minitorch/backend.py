"""The one place that knows about NumPy and CuPy.  Read this file first.

Every array that a minitorch Tensor holds is either a ``numpy.ndarray`` (device ``'cpu'``) or a
``cupy.ndarray`` (device ``'cuda'``).  The two libraries share one API, so every op is written
once against an *array module* called ``xp`` and runs on whichever device its inputs live on.
This file answers the few questions whose answer differs between the two:

* what a device is (:class:`device`, PyTorch's ``torch.device``), which array module serves it
  (:func:`array_module`) and which device an array is on (:func:`device_of`);
* how to move an array between devices (:func:`to_device`, :func:`to_numpy`);
* how to add values into an array at repeated indices (:func:`scatter_add`) — NumPy spells it
  ``numpy.add.at`` and CuPy ``cupyx.scatter_add``;
* where random numbers come from (:func:`rng`, :func:`manual_seed`).

No other file imports numpy or cupy for array math on tensor data; they ask this one.  What made
minitorch fast — one upload per batch, fused GPU kernels, index checks that cost no sync, the
CPU's BLAS-tuned shapes, the allocator — is in ``minitorch/speed/``, for a second reading.
"""
import math
import os

import numpy

from minitorch.speed.gpu import read_back

try:  # CuPy is optional: the CPU needs nothing but NumPy.
    import cupy
    import cupyx
except ImportError:  # pragma: no cover - depends on the machine
    cupy = None
    cupyx = None

DEVICES = ("cpu", "cuda")


def cuda_is_available():
    """True when CuPy is installed and can see a GPU."""
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # CuPy installed without a driver
        return False


def cuda_device_count():
    """How many GPUs minitorch can use: 1 when CuPy sees one (minitorch drives one GPU,
    ``cuda:0``), else 0."""
    return 1 if cuda_is_available() else 0


class device(str):
    """PyTorch's ``torch.device``: a device type, ``'cpu'`` or ``'cuda'``, and an optional index.

    ``device('cuda')``, ``device('cuda:0')``, ``device('cuda', 0)`` and ``device('cpu')`` are
    accepted wherever a device string is (``tensor(..., device=d)``, ``t.to(d)``,
    ``model.to(d)``), because a device *is* a string here: its value is the type, ``'cpu'`` or
    ``'cuda'``, which is what minitorch compares internally.  ``d.type`` and ``d.index`` are
    torch's attributes, ``str(d)`` and ``repr(d)`` print as torch prints them.

    Equality compares the device each side means: ``device('cuda') == 'cuda:0' == device('cuda',
    0)``.  (In torch, ``'cuda'`` means "the current GPU" and differs from ``'cuda:0'``; minitorch
    drives one GPU, so they are the same device — and an index other than 0 is refused.)
    Making a device never needs a GPU; using a ``'cuda'`` one without a GPU raises.
    """

    def __new__(cls, type, index=None):
        if isinstance(type, device) and index is None:
            return type
        if not isinstance(type, str):
            raise TypeError(f"device() expected a string such as 'cpu' or 'cuda:0', got "
                            f"{type.__class__.__name__} {type!r}")
        name, _, written_index = type.partition(":")
        if written_index:
            if index is not None:
                raise RuntimeError(f"device(): type {type!r} already has an index; got index="
                                   f"{index!r} too")
            if not written_index.isdigit():
                raise RuntimeError(f"Invalid device string: {type!r}")
            index = int(written_index)
        if name not in DEVICES:
            raise RuntimeError(f"Expected one of {', '.join(DEVICES)} device type at start of "
                               f"device string: {type!r}")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)
                                  or index < 0):
            raise RuntimeError(f"Device index must be a non-negative integer, got {index!r}")
        if index not in (None, 0):
            raise RuntimeError(f"device {type!r}, index {index}: minitorch drives one {name} "
                               "device, index 0")
        self = super().__new__(cls, name)
        self.type, self.index = name, index
        return self

    def __eq__(self, other):
        if other.__class__ is device:  # the common cases first: they are asked at every op
            return str.__eq__(self, other)
        if other.__class__ is str:
            if other in DEVICES:
                return str.__eq__(self, other)
            try:
                other = device(other)
            except RuntimeError:
                return False
        if isinstance(other, device):
            return str.__eq__(self, other)
        return NotImplemented

    def __ne__(self, other):
        if other.__class__ is device:
            return str.__ne__(self, other)
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = str.__hash__  # equal devices have the same type, hence the same hash

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __format__(self, spec):
        return format(str(self), spec)

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"

    def __reduce__(self):  # copy and deepcopy make it again from its type and index
        return (device, (self.type, self.index))


CPU = device("cpu")
CUDA = device("cuda", 0)  # the device of every CuPy array (torch's tensor.device says cuda:0)


def canonical_device(device_):
    """Turn 'cpu', 'cuda', 'cuda:0', a :class:`device` or None into the device ``CPU`` or
    ``CUDA`` (None means the default); 'cuda' without a GPU raises."""
    if device_ is None:
        return default_device()
    try:
        name = device(device_ if isinstance(device_, str) else str(device_)).type
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"unknown device {device_!r}: expected one of {DEVICES} "
                         f"({error})") from None
    if name == "cuda" and not cuda_is_available():
        raise RuntimeError(
            "device 'cuda' was asked for, but CuPy is not installed or sees no GPU "
            "(install the 'gpu' extra: pip install -e '.[gpu]')")
    return CUDA if name == "cuda" else CPU


def default_device():
    """The device new tensors go to: $MINITORCH_DEVICE, else 'cpu'."""
    return canonical_device(os.environ.get("MINITORCH_DEVICE", "cpu"))


def array_module(device):
    """The ``xp`` that computes on ``device``: numpy for 'cpu', cupy for 'cuda'."""
    return numpy if str.__eq__(device, "cpu") else cupy  # (str's own ==: asked at every op)


def device_of(array):
    """The device ``CUDA`` (``'cuda'``) for a CuPy array, ``CPU`` (``'cpu'``) for anything else."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return CUDA
    return CPU


def is_array(obj):
    """True for a NumPy or CuPy ndarray."""
    return isinstance(obj, numpy.ndarray) or (cupy is not None and isinstance(obj, cupy.ndarray))


def to_device(array, device):
    """The same values as an array on ``device`` (no copy when it is already there)."""
    if device_of(array) == device:
        return array
    if device == "cuda":
        return cupy.asarray(array)
    return cupy.asnumpy(array)


def to_numpy(array):
    """A NumPy array with the same values, wherever ``array`` lives.

    From the GPU this is a device→host sync: the host waits until the GPU has done everything
    queued.  The index checks waiting on the device travel back in the same transfer and raise
    here (``speed/gpu.py``, ``read_back``; skip it on a first reading).
    """
    if device_of(array) == "cpu":
        return numpy.asarray(array)
    return read_back(array)


def erf(array):
    """The error function erf(x) = (2/√π) ∫₀ˣ e^(−t²) dt, element by element (the normal
    distribution's CDF is Φ(x) = (1 + erf(x/√2)) / 2; GELU needs it).

    NumPy has no erf.  On the CPU this applies Python's ``math.erf`` to each element (in float64,
    then rounded to the array's dtype): exact, but a Python call per element (about 0.1 µs).  CuPy
    has one (``cupyx.scipy.special.erf``), a single kernel.
    """
    if device_of(array) == "cuda":
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(array)
    return numpy.asarray(_erf_each(array), dtype=numpy.float64).astype(array.dtype, copy=False)


_erf_each = numpy.frompyfunc(math.erf, 1, 1)


def scatter_add(target, indices, values):
    """``target[indices] += values``, adding *every* occurrence of a repeated index.

    Plain ``target[idx] += v`` keeps only the last write when ``idx`` repeats; the gradient of
    indexing must add them all (x[[0, 0]] uses x[0] twice, so x[0] gets both gradients).
    """
    if device_of(target) == "cuda":
        cupyx.scatter_add(target, indices, values)
    else:
        numpy.add.at(target, indices, values)


# ---- random numbers ------------------------------------------------------------------------------
# Weights, shuffling and augmentation draw from one NumPy generator on the CPU (moved to the
# tensor's device when needed), so a seed gives the same weights on every device.  Masks drawn
# on every call (dropout) come from a generator on the device itself — drawing on the host and
# uploading would cost a host→device copy per call: on the GPU that is CuPy's generator, seeded
# by the same seed, so a seed gives the same masks on every run of a device (not the CPU's).
_seed = 0
_generator = numpy.random.default_rng(0)
_device_generator = None


def manual_seed(seed):
    """Seed minitorch's random numbers (weights, dropout, shuffling, augmentation)."""
    global _generator, _device_generator, _seed
    _seed = int(seed)
    _generator = numpy.random.default_rng(_seed)
    _device_generator = None  # made again, from the new seed, at its next use


def rng():
    """The generator every random draw on the host uses."""
    return _generator


def random(shape, device):
    """Uniform samples in [0, 1) of ``shape``, drawn on ``device`` (float64 from :func:`rng` on
    the CPU; float32 from the device's own seeded generator on the GPU)."""
    global _device_generator
    if device == "cpu":
        return _generator.random(shape)
    if _device_generator is None:
        _device_generator = cupy.random.default_rng(_seed)
    return _device_generator.random(shape, dtype=numpy.float32)
