"""Two small helpers every family of ops uses.  Read first in ``ops/``.

* :func:`sum_to_shape` undoes broadcasting in backward.  When ``a`` of shape (3, 1) is added
  to ``b`` of shape (4,), each element of ``a`` was *used* 4 times, so its gradient is the sum of
  the 4 upstream gradients it fed: broadcasting copies in forward, so backward sums.
* :func:`normalize_dim` turns PyTorch-style dims (negative counts from the end) into axes.
"""


def sum_to_shape(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get ``shape`` back."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    # axes that broadcasting prepended, plus the axes that were size 1 and got stretched
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    grad = grad.sum(axis=axes, keepdims=True) if axes else grad
    return grad.reshape(shape)


def normalize_dim(dim, ndim, op="op"):
    """``dim`` (possibly negative) as an axis in [0, ndim); a 0-d tensor accepts 0 and -1."""
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of "
                         f"[{-size}, {size - 1}], but got {dim})")
    return dim % size


def normalize_dims(dim, ndim, op="op"):
    """None → every axis; an int or a sequence of ints → a sorted tuple of axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    return tuple(sorted({normalize_dim(d, ndim, op) for d in dim}))
