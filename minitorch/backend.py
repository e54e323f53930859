"""The one place that knows about NumPy and CuPy.  Read this file first.

Every array that a minitorch Tensor holds is either a ``numpy.ndarray`` (device ``'cpu'``) or a
``cupy.ndarray`` (device ``'cuda'``).  The two libraries share one API, so every op is written
once against an *array module* called ``xp`` and runs on whichever device its inputs live on.
This file answers the few questions whose answer differs between the two:

* which array module serves a device (:func:`array_module`) and which device an array is on
  (:func:`device_of`);
* how to move an array between devices (:func:`to_device`, :func:`to_numpy`);
* how to add values into an array at repeated indices (:func:`scatter_add`) — NumPy spells it
  ``numpy.add.at`` and CuPy ``cupyx.scatter_add``;
* where random numbers come from (:func:`rng`, :func:`manual_seed`).

No other file imports numpy or cupy for array math on tensor data; they ask this one.  What made
minitorch fast — one upload per batch, fused GPU kernels, index checks that cost no sync, the
CPU's BLAS-tuned shapes, the allocator — is in ``minitorch/speed/``, for a second reading.
"""
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


def canonical_device(device):
    """Turn 'cpu', 'cuda', 'cuda:0' or None into 'cpu' or 'cuda' (None means the default)."""
    if device is None:
        return default_device()
    name = str(device).split(":")[0]
    if name not in DEVICES:
        raise ValueError(f"unknown device {device!r}: expected one of {DEVICES}")
    if name == "cuda" and not cuda_is_available():
        raise RuntimeError(
            "device 'cuda' was asked for, but CuPy is not installed or sees no GPU "
            "(install the 'gpu' extra: pip install -e '.[gpu]')")
    return name


def default_device():
    """The device new tensors go to: $MINITORCH_DEVICE, else 'cpu'."""
    return canonical_device(os.environ.get("MINITORCH_DEVICE", "cpu"))


def array_module(device):
    """The ``xp`` that computes on ``device``: numpy for 'cpu', cupy for 'cuda'."""
    return numpy if device == "cpu" else cupy


def device_of(array):
    """'cuda' for a CuPy array, 'cpu' for anything else."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return "cuda"
    return "cpu"


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
