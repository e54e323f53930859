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
* where random numbers come from (:func:`rng`, :func:`manual_seed`);
* how the C allocator treats freed memory (:func:`keep_freed_memory`), which decides a good part
  of the speed of a small network on the CPU.

No other file imports numpy or cupy for array math on tensor data; they ask this one.
"""
import ctypes
import math
import os
import platform

import numpy

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


def to_device_together(arrays, device):
    """Several host arrays (a batch's inputs and targets) moved to ``device`` in ONE host→device
    copy: their bytes are packed into one buffer, uploaded, and viewed back as the arrays.

    Each copy to the GPU has a fixed cost (a driver call, a synchronisation with the host
    buffer) that dwarfs the bytes of a small batch; two fields, two copies, would double it.
    On the CPU the arrays are returned unchanged.
    """
    if device == "cpu" or all(device_of(a) == device for a in arrays):
        return list(arrays)
    hosts = [numpy.ascontiguousarray(a) for a in arrays]
    starts, end = [], 0
    for a in hosts:  # every field starts on a 16-byte boundary, so any dtype can view it
        end = -(-end // 16) * 16
        starts.append(end)
        end += a.nbytes
    packed = numpy.zeros(end, dtype=numpy.uint8)
    for a, start in zip(hosts, starts):
        packed[start:start + a.nbytes] = a.reshape(-1).view(numpy.uint8)
    on_device = cupy.asarray(packed)  # the one copy
    return [on_device[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
            for a, start in zip(hosts, starts)]


def to_numpy(array):
    """A NumPy array with the same values, wherever ``array`` lives.

    From the GPU this is a device→host sync; the index checks waiting on the device
    (:func:`check_later`) travel back with the values in the same transfer and raise here.
    """
    if device_of(array) == "cpu":
        return numpy.asarray(array)
    if not _pending_checks:
        return cupy.asnumpy(array)
    flags = cupy.stack([bad for bad, _ in _pending_checks])
    if array.dtype.kind == "f":  # one transfer: the values, then the flags, as float64
        both = cupy.asnumpy(cupy.concatenate([array.reshape(-1).astype(numpy.float64),
                                              flags.astype(numpy.float64)]))
        values, flags = both[:array.size].astype(array.dtype).reshape(array.shape), both[array.size:]
    else:
        flags, values = cupy.asnumpy(flags), None
    _raise_pending(flags)
    return cupy.asnumpy(array) if values is None else values


def tuned_for_cpu(array):
    """Whether to use the shapes measured fastest with OpenBLAS on the CPU (True) or the plain
    forms (False, on the GPU), for ``array``'s device.  The one place this choice is made.

    On the CPU, ops/conv.py sums rows as a stack of BLAS dot products (2× faster than
    ``.sum(axis=1)``), cuts a weight gradient's long, thin product into pieces of 512 positions
    summed afterwards (3-4× faster in OpenBLAS) and keeps the batch innermost.  On the GPU each
    of those hurts: a stack of dot products becomes a batched GEMV launching one tiny GEMM per
    row, where ``.sum(axis)`` is one reduction kernel; the pieces need transposed (strided)
    4-D operands, which CuPy's batched matmul first copies, where cuBLAS takes the whole long
    product in one call (it splits the long dimension itself); so the GPU takes the plain forms.
    """
    return device_of(array) == "cpu"


def fuse(function):
    """``function`` of arrays and numbers, compiled by ``cupy.fuse`` into ONE GPU kernel when
    called with CuPy arrays (a chain of k element-wise ops otherwise launches k kernels and
    writes k − 1 temporaries to GPU memory); called with NumPy arrays it simply runs.  Inside,
    write only operators (``+ - * / **``), which both libraries share."""
    if cupy is None:
        return function
    fused = cupy.fuse()(function)

    def call(*args):
        on_gpu = any(device_of(a) == "cuda" for a in args if is_array(a))
        return fused(*args) if on_gpu else function(*args)
    call.__name__, call.__doc__ = function.__name__, function.__doc__
    return call


def reads_are_cheap(array):
    """Whether looking at a value of ``array`` from Python (``if x.any():``) is cheap: on the CPU
    it is; on the GPU it is a sync, so code that would branch on a value should rather compute
    both ways branch-free there."""
    return device_of(array) == "cpu"


# ---- index checks that cost no sync --------------------------------------------------------------
# CuPy does not check indices: an out-of-range index wraps around (or, in a hand-written kernel,
# reads whatever memory is there).  Checking on the host means reading a value back from the GPU
# — a sync, which stalls the pipeline of queued kernels — on every call.  Instead the check is
# computed on the device (a 0-d bool array) and kept; it is read together with the next value
# that leaves the device anyway (the loss, once per batch, see to_numpy), and raises there, as
# PyTorch's device-side asserts do.  On the CPU the check is made at once.
_pending_checks = []


def check_later(bad, message, error=IndexError):
    """Raise ``error(message())`` if the 0-d bool array ``bad`` is true: now on the CPU, on the
    GPU when the next array leaves the device.  ``message`` is called only to raise (it may
    read the offending values then)."""
    if device_of(bad) == "cpu":
        if bad:
            raise error(message())
        return
    _pending_checks.append((bad, (message, error)))
    if len(_pending_checks) > 256:  # nothing read back for a long while: check now (one sync)
        _raise_pending(cupy.asnumpy(cupy.stack([b for b, _ in _pending_checks])))


def _raise_pending(flags):
    checks = list(_pending_checks)
    _pending_checks.clear()
    for flag, (_, (message, error)) in zip(flags, checks):
        if flag:
            raise error(message())


def check_index_arrays(key, shape, op):
    """Check the integer arrays in an index ``key`` (a tuple of ints, slices, None, ..., and
    arrays) against ``shape``; NumPy checks them itself, so this matters on the GPU only."""
    parts = key if isinstance(key, tuple) else (key,)
    if not any(is_array(p) and device_of(p) == "cuda" for p in parts):
        return
    consumed = sum(0 if p is None or p is Ellipsis else
                   (p.ndim if is_array(p) and p.dtype.kind == "b" else 1) for p in parts)
    axis = 0
    for p in parts:
        if p is Ellipsis:
            axis += len(shape) - consumed
        elif is_array(p) and p.dtype.kind == "b":
            axis += p.ndim
        elif p is not None:
            if is_array(p) and p.dtype.kind in "iu" and p.size and axis < len(shape):
                n, where, index = shape[axis], axis, p
                check_later(((index < -n) | (index >= n)).any(), lambda: (
                    f"{op}: index {_first_bad(index, n)} is out of bounds for dimension "
                    f"{where} with size {n}"))
            axis += 1


def _first_bad(index, n):
    """The first out-of-range value of ``index`` (read back only to write an error message)."""
    values = to_numpy(index).reshape(-1)
    return int(values[(values < -n) | (values >= n)][0])


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


# ---- the C allocator --------------------------------------------------------------------------------
def keep_freed_memory():
    """Ask glibc's ``malloc`` to keep freed memory for reuse instead of returning it to the OS.

    Every training step allocates and frees the same large arrays (activations, im2col columns,
    gradients).  By default glibc hands any block over 128 KiB back to the operating system when
    it is freed (``munmap``, or trimming the heap), and the next step's identical request then
    page-faults the memory back in, page by page: on the lesson's models that costs a third of a
    step.  Raising the mmap and trim thresholds keeps those blocks in the heap for reuse.  It is
    the same setting as the environment variables ``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_TOP_PAD_``, and it applies to the whole process — so
    a benchmark that runs PyTorch beside minitorch gives both the same allocator.

    Called once when minitorch is imported, on Linux with glibc; set ``MINITORCH_MALLOC=default``
    to leave the allocator alone.  Returns True when the settings were applied.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # from glibc's <malloc.h>
    return all([libc.mallopt(m_mmap_threshold, 1 << 30),   # serve blocks up to 1 GiB from the heap
                libc.mallopt(m_trim_threshold, 1 << 30),   # keep up to 1 GiB of free heap
                libc.mallopt(m_top_pad, 256 << 20)])       # grow the heap 256 MiB at a time


if os.environ.get("MINITORCH_MALLOC", "") != "default":
    keep_freed_memory()
