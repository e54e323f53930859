"""``cupyx`` of the stand-in: ``scatter_add`` (and its siblings), which wrap out-of-range indices
as CuPy's do (no error)."""
import numpy


def _scatter(ufunc, a, slices, value):
    import cupy
    if not isinstance(a, cupy.ndarray):
        raise TypeError(f"Unsupported type {type(a)}")
    index, _ = cupy._wrap_index(slices, a.shape)
    if isinstance(value, cupy.ndarray):
        value = value._a
    elif not cupy._is_scalar(value):
        raise TypeError(f"Unsupported type {type(value)}")
    ufunc.at(a._a, index, value)


def scatter_add(a, slices, value):
    """``a[slices] += value``, adding every occurrence of a repeated index."""
    _scatter(numpy.add, a, slices, value)


def scatter_max(a, slices, value):
    _scatter(numpy.maximum, a, slices, value)


def scatter_min(a, slices, value):
    _scatter(numpy.minimum, a, slices, value)
