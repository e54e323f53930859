"""``cupy.random`` of the stand-in: ``default_rng(seed)`` gives a Generator whose draws are made
on the device (no host→device copy is counted).  The numbers come from NumPy's generator with
the same seed, so they differ from real CuPy's (cuRAND) numbers, but a seed still gives the same
numbers on every run, which is all minitorch promises per device."""
import numpy


def _device(array):
    import cupy
    return cupy.ndarray._of(numpy.ascontiguousarray(array))


class Generator:
    """The methods of ``cupy.random.Generator`` that minitorch uses."""

    def __init__(self, seed=None):
        self._numpy = numpy.random.default_rng(seed)

    def random(self, size=None, dtype=numpy.float64, out=None):
        return self._put(self._numpy.random(size, dtype=dtype), out)

    def standard_normal(self, size=None, dtype=numpy.float64, out=None):
        return self._put(self._numpy.standard_normal(size, dtype=dtype), out)

    def uniform(self, low=0.0, high=1.0, size=None, dtype=numpy.float64):
        return _device(self._numpy.uniform(low, high, size).astype(dtype))

    def integers(self, low, high=None, size=None, dtype=numpy.int64, endpoint=False):
        return _device(numpy.asarray(self._numpy.integers(low, high, size, dtype=dtype,
                                                          endpoint=endpoint)))

    def permutation(self, x, axis=0):
        if not isinstance(x, int):
            raise TypeError("the stand-in permutes range(n) only: permutation(n)")
        return _device(self._numpy.permutation(x))

    @staticmethod
    def _put(values, out):
        if out is None:
            return _device(values)
        out._a[...] = values
        return out


def default_rng(seed=None):
    return Generator(seed)
