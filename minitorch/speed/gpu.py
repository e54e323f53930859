"""Keeping the GPU busy: one upload per batch, one kernel per element-wise chain, no stalls.
Read after ``backend.py``, on a second reading (``minitorch/speed/__init__.py`` says why).

A GPU runs ahead of Python: kernels are queued and the host goes on.  Three things make it wait,
and each trick here removes one of them:

* a *host→device copy* has a fixed cost (a driver call, a synchronisation with the host buffer)
  that dwarfs the bytes of a small batch: :func:`to_device_together` packs a batch's inputs and
  targets into ONE upload.  Counted on the CuPy stand-in: the loader made two uploads per batch
  before, one after (``benchmarks/README.md``, "Sync and copy budgets");
* a *chain of element-wise ops* launches one kernel per op and writes every intermediate to GPU
  memory: :func:`fuse` compiles the chain into one kernel (batchnorm's normalise-and-scale and
  its gradient, Adam's update; not yet timed: no GPU has been lent);
* a *device→host sync* (``if x.any():``, ``.item()``) makes the host wait until the queue drains:
  :func:`reads_are_cheap` tells code to compute branch-free on the GPU instead, and the index
  checks that CuPy does not make are computed on the device and read back with the next value
  that leaves it anyway (:func:`check_later`).  Counted on the stand-in: a raw training step of
  the ResNet-ish model made 4 syncs before, 1 after (the loss); ``tests/test_sync_budget.py``
  holds training to one sync and one copy per batch.

Like ``backend.py``, this file imports CuPy when it is installed; on the CPU every function here
does the plain thing.
"""
import numpy

try:  # CuPy is optional: the CPU needs nothing but NumPy.
    import cupy
except ImportError:  # pragma: no cover - depends on the machine
    cupy = None


def on_gpu(array):
    """True for a CuPy array (this file's one question about devices)."""
    return cupy is not None and isinstance(array, cupy.ndarray)


def reads_are_cheap(array):
    """Whether looking at a value of ``array`` from Python (``if x.any():``) is cheap: on the CPU
    it is; on the GPU it is a sync, so code that would branch on a value should rather compute
    both ways branch-free there."""
    return not on_gpu(array)


# ---- one upload per batch ------------------------------------------------------------------------
def to_device_together(arrays, device):
    """Several host arrays (a batch's inputs and targets) moved to ``device`` in ONE host→device
    copy: their bytes are packed into one buffer, uploaded, and viewed back as the arrays.

    Each copy to the GPU has a fixed cost (a driver call, a synchronisation with the host
    buffer) that dwarfs the bytes of a small batch; two fields, two copies, would double it.
    On the CPU the arrays are returned unchanged.
    """
    if device == "cpu" or all(on_gpu(a) for a in arrays):
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


# ---- one kernel per element-wise chain -----------------------------------------------------------
def fuse(function):
    """``function`` of arrays and numbers, compiled by ``cupy.fuse`` into ONE GPU kernel when
    called with CuPy arrays (a chain of k element-wise ops otherwise launches k kernels and
    writes k − 1 temporaries to GPU memory); called with NumPy arrays it simply runs.  Inside,
    write only operators (``+ - * / **``), which both libraries share."""
    if cupy is None:
        return function
    fused = cupy.fuse()(function)

    def call(*args):
        return fused(*args) if any(on_gpu(a) for a in args) else function(*args)
    call.__name__, call.__doc__ = function.__name__, function.__doc__
    return call


# ---- index checks that cost no sync --------------------------------------------------------------
# CuPy does not check indices: an out-of-range index wraps around (or, in a hand-written kernel,
# reads whatever memory is there).  Checking on the host means reading a value back from the GPU
# — a sync, which stalls the pipeline of queued kernels — on every call.  Instead the check is
# computed on the device (a 0-d bool array) and kept; it is read together with the next value
# that leaves the device anyway (the loss, once per batch: backend.to_numpy reads through
# read_back), and raises there, as PyTorch's device-side asserts do.  On the CPU the check is
# made at once.
_pending_checks = []


def check_later(bad, message, error=IndexError):
    """Raise ``error(message())`` if the 0-d bool array ``bad`` is true: now on the CPU, on the
    GPU when the next array leaves the device.  ``message`` is called only to raise (it may
    read the offending values then)."""
    if not on_gpu(bad):
        if bad:
            raise error(message())
        return
    _pending_checks.append((bad, (message, error)))
    if len(_pending_checks) > 256:  # nothing read back for a long while: check now (one sync)
        _raise_pending(cupy.asnumpy(cupy.stack([b for b, _ in _pending_checks])))


def read_back(array):
    """The values of the CuPy array ``array`` as a NumPy array: one device→host transfer, which
    carries the pending checks (:func:`check_later`) back with the values and raises the first
    that failed.  ``backend.to_numpy`` reads from the GPU through this."""
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
    if not any(on_gpu(p) for p in parts):
        return

    def is_array(p):
        return isinstance(p, numpy.ndarray) or on_gpu(p)
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
    values = (read_back(index) if on_gpu(index) else numpy.asarray(index)).reshape(-1)
    return int(values[(values < -n) | (values >= n)][0])
