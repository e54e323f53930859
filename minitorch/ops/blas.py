"""Reductions as BLAS products: row sums, row-by-row dot products and column sums.

Read after ``ops/reduce.py``; ``ops/conv.py`` (the bias gradient) and ``ops/norm.py`` (every
statistic of batchnorm and layer norm) use them.

``x.sum(axis)`` is NumPy's own loop.  The same sums written as matrix products go to BLAS,
which streams the numbers with vector instructions and accumulates them in blocks: measured
faster at the lesson's shapes, and accurate in float32 (an ``einsum`` of products, which
accumulates one by one, broke a gradient check here).  On the GPU the plain forms are faster,
and those are what runs there (``minitorch/speed/cpu.py``, ``tuned_for_cpu``, says why).
"""
from minitorch.speed.cpu import tuned_for_cpu


def row_sums(xp, matrix):
    """Σ along each row of a 2-D matrix, as BLAS dot products with a vector of ones.

    ``matrix[:, None, :] @ ones[:, None]`` is a stack of row-by-ones dot products, which NumPy
    hands to BLAS: vectorised, accumulated in blocks (accurate in float32) and measured about 2×
    faster than ``matrix.sum(axis=1)`` at the lesson's shapes (on par at the largest).  (A single
    matrix-vector product ``matrix @ ones`` is as fast for small matrices but was measured over
    10× slower for 64 rows of 25,000+ numbers in OpenBLAS; the stack of dots has no such cliff.)
    """
    if not tuned_for_cpu(matrix):  # the GPU: one reduction kernel (see speed/cpu.py)
        return matrix.sum(axis=1)
    return row_dots(matrix, xp.ones((1, matrix.shape[1]), dtype=matrix.dtype))


def row_dots(a, b):
    """Σⱼ a[i, j] · b[i, j] for every row i (b may be one row, broadcast), by BLAS dots.

    No a·b temporary is made, and unlike ``einsum``, which accumulates float32 products one by
    one (it broke a gradient check here), BLAS accumulates in blocks.
    """
    if not tuned_for_cpu(a):  # the GPU: elementwise, then one reduction kernel
        return (a * b).sum(axis=1)
    return (a[:, None, :] @ b[:, :, None])[:, 0, 0]


def column_sums(xp, matrix):
    """Σ down each column, as the BLAS vector-matrix product ``ones @ matrix``."""
    return xp.ones(matrix.shape[0], dtype=matrix.dtype) @ matrix
