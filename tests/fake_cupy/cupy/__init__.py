"""A strict stand-in for CuPy, backed by NumPy, for running minitorch's GPU path without a GPU.

Read after minitorch/backend.py.  ``tests/conftest.py`` puts ``tests/fake_cupy`` first on
``sys.path`` when ``MINITORCH_DEVICE=cuda`` and no real CuPy with a GPU is importable, so
``import cupy`` finds this package.  It computes with NumPy, but it behaves like CuPy 14 where
minitorch could go wrong:

* A device array is not a NumPy array.  ``numpy.asarray(device_array)`` (``__array__``) raises
  TypeError, as CuPy does; so does any operation that mixes a ``numpy.ndarray`` with a device
  array (arithmetic, ufuncs, ``numpy.*`` functions, assignment ``d[...] = host``).  Python and
  NumPy *scalars* mix freely, as in CuPy.
* Leaving the device is explicit and COUNTED as a device→host sync: ``float``/``int``/``bool``/
  ``complex``, ``.item()``, ``.tolist()``, ``.get()``, ``cupy.asnumpy``, printing, and the
  operations whose result size depends on the values (``nonzero``, ``unique``, boolean-mask
  indexing).  Entering it is explicit and COUNTED as a host→device copy: ``cupy.asarray``/
  ``cupy.array`` of host data, ``.set()``, and host index lists/arrays.  The counts are keyed
  by the ``file:line`` in minitorch that caused each one (see ``cupy._stand_in``).
* Element-wise results (operators, ufuncs, ``where``, ``clip``, matmul) are C-contiguous,
  whatever the inputs' layout.
* Out-of-range integer-array indices wrap around (``a[cupy.array([5])]`` on 3 elements gives
  ``a[2]``), in getitem, setitem and ``cupyx.scatter_add``: CuPy does not check them.
* ``broadcast_to`` returns a *writable* view (zero strides): writing through it writes one
  element many times, as CuPy does.
* Only names CuPy has: a function CuPy lacks is an AttributeError here too.
"""
import builtins

import numpy

from cupy import _stand_in
from cupy import cuda, random, lib  # noqa: F401  (submodules, as in CuPy)

__version__ = "14.0.0+stand-in"

# ---- dtypes and constants (re-exported from NumPy, as CuPy does) ----------------------------------
from numpy import (bool_, int8, int16, int32, int64, uint8, uint16, uint32, uint64,  # noqa: E402,F401
                   float16, float32, float64, complex64, complex128, intp, int_, dtype,
                   iinfo, finfo, result_type, can_cast, promote_types, newaxis, inf, nan, pi, e,
                   ndim, shape, size, isscalar)
float_ = float64
complex_ = complex128


def _unsupported(obj):
    return TypeError(f"Unsupported type {type(obj)}")


def _unwrap(obj):
    """Device arrays → their NumPy storage; a host ndarray anywhere in the arguments raises."""
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, numpy.ndarray):
        raise _unsupported(obj)
    if isinstance(obj, (list, tuple)):
        return type(obj)(_unwrap(o) for o in obj)
    return obj


def _wrap(result, contiguous=False):
    if isinstance(result, numpy.ndarray):
        if contiguous and not result.flags.c_contiguous:
            result = numpy.ascontiguousarray(result)
        return ndarray._of(result)
    if isinstance(result, numpy.generic):  # CuPy returns 0-d arrays, never NumPy scalars
        return ndarray._of(numpy.asarray(result))
    if isinstance(result, tuple):
        return tuple(_wrap(r, contiguous) for r in result)
    if isinstance(result, list):
        return [_wrap(r, contiguous) for r in result]
    return result


def _is_scalar(obj):
    return isinstance(obj, (bool, int, float, complex, numpy.generic))


def _wrap_index(key, shape):
    """NumPy's index with every integer-array part taken modulo its axis length (CuPy wraps)."""
    if not isinstance(key, tuple):
        key = (key,)
    parts = []
    for k in key:
        if isinstance(k, ndarray):
            parts.append(k._a)
        elif isinstance(k, (numpy.ndarray, list)):
            _stand_in.record_copy()   # a host index goes to the device first
            parts.append(numpy.asarray(k))
        else:
            parts.append(k)
    consumed = builtins.sum(0 if (p is None or p is Ellipsis) else
                   (p.ndim if isinstance(p, numpy.ndarray) and p.dtype == bool else 1)
                   for p in parts)
    out, axis, has_mask = [], 0, False
    for p in parts:
        if p is None:
            out.append(p)
        elif p is Ellipsis:
            out.append(p)
            axis += len(shape) - consumed
        elif isinstance(p, numpy.ndarray) and p.dtype == bool:
            out.append(p)
            axis += p.ndim
            has_mask = True
        elif isinstance(p, numpy.ndarray) and p.dtype.kind in "iu":
            n = shape[axis] if axis < len(shape) else 0
            out.append(p % n if n > 0 else p)
            axis += 1
        else:
            out.append(p)
            axis += 1
    return tuple(out), has_mask


class ndarray:
    """A device array: NumPy storage, CuPy's rules."""

    __array_priority__ = 100

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        self._a = numpy.empty(shape, dtype=dtype, order=order)

    @classmethod
    def _of(cls, array):
        out = cls.__new__(cls)
        out._a = array
        return out

    # -- what CuPy forbids -------------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = _unwrap(inputs)
        if "out" in kwargs:
            kwargs["out"] = _unwrap(kwargs["out"])
        result = getattr(ufunc, method)(*inputs, **kwargs)
        return _wrap(result, contiguous=method == "__call__" and "out" not in kwargs)

    def __array_function__(self, func, types, args, kwargs):
        name = func.__name__
        if name not in globals():
            raise TypeError(f"cupy has no {name}")
        return globals()[name](*args, **kwargs)

    # -- attributes --------------------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: ndarray._of(self._a.T))
    real = property(lambda self: ndarray._of(self._a.real))
    imag = property(lambda self: ndarray._of(self._a.imag))
    device = property(lambda self: cuda.Device(0))

    @property
    def base(self):
        return None if self._a.base is None else ndarray._of(self._a.base)

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))

    # -- leaving the device: counted syncs ---------------------------------------------------------
    def get(self, stream=None, order="C", out=None, blocking=True):
        _stand_in.record_sync()
        return numpy.array(self._a, order=order)

    def item(self):
        _stand_in.record_sync()
        return self._a.item()

    def tolist(self):
        _stand_in.record_sync()
        return self._a.tolist()

    def tobytes(self, order="C"):
        _stand_in.record_sync()
        return self._a.tobytes(order)

    def _scalar(self, kind):
        if self.size != 1:
            raise TypeError(f"only size-1 arrays can be converted to Python scalars")
        _stand_in.record_sync()
        return kind(self._a.reshape(()))

    def __float__(self):
        return self._scalar(float)

    def __int__(self):
        return self._scalar(int)

    def __complex__(self):
        return self._scalar(complex)

    def __bool__(self):
        if self.size != 1:
            raise ValueError("The truth value of an array with more than one element is "
                             "ambiguous. Use a.any() or a.all()")
        return self._scalar(bool)

    def __repr__(self):
        _stand_in.record_sync()
        return repr(self._a).replace("array(", "array(", 1)

    def __str__(self):
        _stand_in.record_sync()
        return str(self._a)

    def __format__(self, spec):
        if self.ndim == 0:
            return format(self._scalar(lambda a: a.item()), spec)
        return format(str(self), spec)

    def nonzero(self):
        _stand_in.record_sync()   # the output size depends on the values
        return _wrap(self._a.nonzero())

    # -- entering the device: a counted copy -------------------------------------------------------
    def set(self, arr, stream=None):
        if not isinstance(arr, numpy.ndarray):
            raise TypeError(f"Only numpy.ndarray can be set to cupy.ndarray, got {type(arr)}")
        if arr.shape != self.shape:
            raise ValueError("Shape mismatch")
        _stand_in.record_copy()
        self._a[...] = arr

    # -- indexing ----------------------------------------------------------------------------------
    def __getitem__(self, key):
        index, has_mask = _wrap_index(key, self.shape)
        if has_mask:
            _stand_in.record_sync()   # the number of selected elements is read back
        return ndarray._of(self._a[index])

    def __setitem__(self, key, value):
        index, _ = _wrap_index(key, self.shape)
        if isinstance(value, ndarray):
            value = value._a
        elif not _is_scalar(value):
            raise _unsupported(value)
        self._a[index] = value

    # -- methods that compute ----------------------------------------------------------------------
    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        if not copy and numpy.dtype(dtype) == self.dtype:
            return self
        return ndarray._of(self._a.astype(dtype, order=order))

    def copy(self, order="C"):
        return ndarray._of(self._a.copy(order=order))

    def fill(self, value):
        if isinstance(value, ndarray):
            value = value._a
        elif not _is_scalar(value):
            raise _unsupported(value)
        self._a.fill(value)

    def view(self, dtype=None):
        return ndarray._of(self._a.view() if dtype is None else self._a.view(dtype))

    def reshape(self, *shape, order="C"):
        return ndarray._of(self._a.reshape(*shape, order=order))

    def transpose(self, *axes):
        return ndarray._of(self._a.transpose(*axes))

    def sort(self, axis=-1, kind=None):
        self._a.sort(axis=axis)

    def take(self, indices, axis=None, out=None):
        return take(self, indices, axis, out)

    def put(self, indices, values, mode="wrap"):
        put(self, indices, values, mode)


def _method(name, contiguous=False):
    def method(self, *args, **kwargs):
        args, kwargs = _unwrap(args), {k: _unwrap(v) for k, v in kwargs.items()}
        return _wrap(getattr(self._a, name)(*args, **kwargs), contiguous and "out" not in kwargs)
    method.__name__ = name
    return method


for _name in ("sum", "mean", "var", "std", "prod", "max", "min", "argmax", "argmin", "any",
              "all", "cumsum", "cumprod", "swapaxes", "squeeze", "ravel", "flatten", "repeat",
              "diagonal", "trace", "argsort", "conj", "dot", "ptp"):
    setattr(ndarray, _name, _method(_name, contiguous=_name == "dot"))
for _name in ("clip", "round"):
    setattr(ndarray, _name, _method(_name, contiguous=True))


def _operator(name, inplace=False):
    def op(self, other):
        if isinstance(other, ndarray):
            other = other._a
        elif isinstance(other, (numpy.ndarray, list)):
            raise _unsupported(other)
        elif not _is_scalar(other):
            return NotImplemented
        result = getattr(self._a, name)(other)
        if result is NotImplemented:
            return result
        if inplace:
            return self
        return _wrap(result, contiguous=True)
    op.__name__ = name
    return op


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul",
              "and", "or", "xor", "lshift", "rshift"):
    setattr(ndarray, f"__{_name}__", _operator(f"__{_name}__"))
    setattr(ndarray, f"__r{_name}__", _operator(f"__r{_name}__"))
    setattr(ndarray, f"__i{_name}__", _operator(f"__i{_name}__", inplace=True))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_name}__", _operator(f"__{_name}__"))
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__",
            (lambda n: lambda self: _wrap(getattr(self._a, n)(), contiguous=True))(f"__{_name}__"))
ndarray.__hash__ = None


# ---- module functions ------------------------------------------------------------------------------
def _function(name, contiguous=False):
    numpy_function = getattr(numpy, name)

    def function(*args, **kwargs):
        args, kwargs = _unwrap(args), {k: _unwrap(v) for k, v in kwargs.items()}
        return _wrap(numpy_function(*args, **kwargs), contiguous and "out" not in kwargs)
    function.__name__ = name
    return function


_ELEMENTWISE = (
    "abs", "absolute", "add", "subtract", "multiply", "divide", "true_divide", "floor_divide",
    "power", "negative", "positive", "exp", "exp2", "expm1", "log", "log1p", "log2", "log10",
    "sqrt", "square", "cbrt", "reciprocal", "tanh", "sinh", "cosh", "sin", "cos", "tan",
    "arcsin", "arccos", "arctan", "arctan2", "arcsinh", "arccosh", "arctanh", "sign", "floor",
    "ceil", "trunc", "rint", "around", "round", "fix", "maximum", "minimum", "fmax", "fmin",
    "clip", "where", "isnan", "isinf", "isfinite", "logical_and", "logical_or", "logical_not",
    "logical_xor", "equal", "not_equal", "greater", "greater_equal", "less", "less_equal",
    "mod", "remainder", "fmod", "bitwise_and", "bitwise_or", "bitwise_xor", "invert",
    "logaddexp", "logaddexp2", "copysign", "signbit", "heaviside", "nan_to_num", "hypot",
    "matmul", "dot", "einsum", "tensordot", "outer", "inner", "vdot", "kron", "isclose")
_OTHER = (
    "sum", "mean", "var", "std", "prod", "max", "min", "amax", "amin", "argmax", "argmin",
    "any", "all", "cumsum", "cumprod", "count_nonzero", "nansum", "nanmean", "nanmax", "nanmin",
    "ptp", "median", "average", "diff", "reshape", "transpose", "swapaxes", "moveaxis",
    "rollaxis", "expand_dims", "squeeze", "ravel", "concatenate", "stack", "vstack", "hstack",
    "dstack", "column_stack", "split", "array_split", "hsplit", "vsplit", "pad", "tile",
    "repeat", "flip", "fliplr", "flipud", "roll", "rot90", "atleast_1d", "atleast_2d",
    "atleast_3d", "tril", "triu", "diag", "diagonal", "trace",
    "sort", "argsort", "searchsorted", "allclose", "array_equal", "may_share_memory",
    "shares_memory", "linspace", "logspace", "meshgrid", "eye", "identity", "tri",
    "ascontiguousarray", "asfortranarray", "zeros", "ones", "empty", "full", "zeros_like",
    "ones_like", "empty_like", "full_like", "arange", "indices", "copyto", "broadcast_shapes",
    "histogram", "bincount", "cov", "corrcoef", "percentile", "quantile", "lexsort")
for _name in _ELEMENTWISE:
    globals()[_name] = _function(_name, contiguous=True)
for _name in _OTHER:
    globals()[_name] = _function(_name)
class _Grid:
    def __init__(self, grid):
        self.grid = grid

    def __getitem__(self, key):
        return _wrap(self.grid[key])


ogrid = _Grid(numpy.ogrid)
mgrid = _Grid(numpy.mgrid)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    """CuPy returns a 0-d device array (not a Python bool)."""
    return _wrap(numpy.asarray(numpy.allclose(_unwrap(a), _unwrap(b), rtol, atol, equal_nan)))


def array_equal(a1, a2, equal_nan=False):
    return _wrap(numpy.asarray(numpy.array_equal(_unwrap(a1), _unwrap(a2), equal_nan=equal_nan)))


def nonzero(a):
    _stand_in.record_sync()
    return _wrap(numpy.nonzero(_unwrap(a)))


def flatnonzero(a):
    _stand_in.record_sync()
    return _wrap(numpy.flatnonzero(_unwrap(a)))


def argwhere(a):
    _stand_in.record_sync()
    return _wrap(numpy.argwhere(_unwrap(a)))


def unique(ar, return_index=False, return_inverse=False, return_counts=False, axis=None):
    _stand_in.record_sync()
    return _wrap(numpy.unique(_unwrap(ar), return_index, return_inverse, return_counts, axis))


def take_along_axis(a, indices, axis):
    """Out-of-range indices wrap around (CuPy indexes without checking)."""
    a, indices = _unwrap(a), _unwrap(indices)
    n = a.shape[axis] if axis is not None else a.size
    return _wrap(numpy.take_along_axis(a, indices % n if n else indices, axis))


def put_along_axis(arr, indices, values, axis):
    arr, indices = _unwrap(arr), _unwrap(indices)
    n = arr.shape[axis] if axis is not None else arr.size
    numpy.put_along_axis(arr, indices % n if n else indices, _unwrap(values), axis)


def take(a, indices, axis=None, out=None):
    a, indices = _unwrap(a), _unwrap(indices)
    return _wrap(numpy.take(a, indices, axis=axis, out=_unwrap(out), mode="wrap"))


def put(a, ind, v, mode="wrap"):
    numpy.put(_unwrap(a), _unwrap(ind), _unwrap(v), mode=mode)


def broadcast_to(array, shape):
    """A writable view with zero strides, as in CuPy (NumPy's is read-only)."""
    view = numpy.broadcast_to(_unwrap(array), shape)
    return ndarray._of(numpy.lib.stride_tricks.as_strided(
        _unwrap(array), view.shape, view.strides, writeable=True))


def broadcast_arrays(*args):
    shape = numpy.broadcast_shapes(*(a.shape for a in args))
    return [broadcast_to(a, shape) for a in args]


# ---- moving between host and device ----------------------------------------------------------------
def asarray(a, dtype=None, order=None, *, blocking=False):
    """A device array; from host data this is a counted host→device copy."""
    if isinstance(a, ndarray):
        return a if dtype is None or numpy.dtype(dtype) == a.dtype else a.astype(dtype)
    _stand_in.record_copy()
    return ndarray._of(numpy.array(a, dtype=dtype, order=order or "K", copy=True))


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if isinstance(obj, ndarray):
        out = obj._a.astype(dtype if dtype is not None else obj.dtype, order=order,
                            copy=copy)
        return ndarray._of(out if ndmin <= out.ndim else out.reshape((1,) * (ndmin - out.ndim)
                                                                   + out.shape))
    _stand_in.record_copy()
    return ndarray._of(numpy.array(obj, dtype=dtype, order=order, ndmin=ndmin, copy=True))


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """A NumPy array; from a device array this is a counted device→host sync."""
    if isinstance(a, ndarray):
        return a.get(order=order)
    return numpy.asarray(a, order=order)


def copy(a, order="K"):
    return array(a, copy=True, order=order)


def get_array_module(*args):
    """cupy when any argument is a device array, else numpy."""
    import sys
    return sys.modules[__name__] if builtins.any(isinstance(a, ndarray) for a in args) else numpy


def fuse(*args, **kwargs):
    """``@cupy.fuse()`` or ``@cupy.fuse``: here the function simply runs, op by op."""
    def decorate(function):
        def fused(*a, **k):
            return function(*a, **k)
        fused.__name__ = getattr(function, "__name__", "fused")
        fused.__wrapped__ = function
        return fused
    if len(args) == 1 and callable(args[0]) and not kwargs:
        return decorate(args[0])
    return decorate


def is_available():
    return True


def show_config():
    print("CuPy stand-in (NumPy", numpy.__version__ + ")")
