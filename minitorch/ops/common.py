"""Small helpers every family of ops uses.  Read first in ``ops/``.

* :func:`sum_to_shape` undoes broadcasting in backward.  When ``a`` of shape (3, 1) is added
  to ``b`` of shape (4,), each element of ``a`` was *used* 4 times, so its gradient is the sum of
  the 4 upstream gradients it fed: broadcasting copies in forward, so backward sums.
* :func:`broadcast_shape` says which shape broadcasting gives, or which op was handed shapes that
  do not broadcast (NumPy's own message does not name the op).
* :func:`normalize_dim` turns PyTorch-style dims (negative counts from the end) into axes.
* :func:`require_same_dtype` and :func:`require_floating` are PyTorch's dtype rules for layers:
  elementwise arithmetic promotes (int + float32 → float32), but a layer's input, weights and
  statistics must share one dtype, and math that only makes sense on reals (softmax, a norm)
  refuses integers.  Promoting there would hide a bug: float64 data fed to a float32 model
  would silently run (slowly) in float64, and an integer image would be treated as floats.
* :func:`pair` reads a 2-D size argument the way PyTorch takes it, an int or a pair
  (``kernel_size=3`` is ``(3, 3)``); convolutions, pooling, conv layers and image transforms
  all read theirs with it.
* :class:`LinearMap` is how a linear op (average pooling, resampling, edge padding) is
  differentiated twice: its backward, the adjoint, as an op of its own.
"""
import numbers

from minitorch.autograd import Function
from minitorch.tensor import Tensor


def broadcast_shape(op, *shapes):
    """The shape that ``shapes`` broadcast to: align them at the right; in each dim the sizes
    must match or be 1.  Raises an error naming ``op`` and the shapes when they do not."""
    ndim = max(len(s) for s in shapes)
    result = []
    for i in range(-ndim, 0):
        sizes = {s[i] for s in shapes if len(s) >= -i} - {1}
        if len(sizes) > 1:
            raise RuntimeError(
                f"{op}: shapes {' and '.join(str(tuple(s)) for s in shapes)} cannot be broadcast "
                f"together (sizes {sorted(sizes)} at dim {i}; they must match or be 1)")
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def require_same_dtype(op, error=RuntimeError, **tensors):
    """Raise ``error`` naming ``op`` unless the given tensors (None ones are skipped) all have
    the dtype of the first one."""
    given = [(name, t) for name, t in tensors.items() if t is not None]
    first_name, first = given[0]
    for name, t in given[1:]:
        if t.dtype != first.dtype:
            raise error(f"{op}: expected {name} to have the dtype of {first_name} "
                        f"({first.dtype}), got {t.dtype}; convert one of them (e.g. .float())")


def require_floating(op, tensor, what="input"):
    """Raise NotImplementedError (PyTorch's class: no kernel for that dtype) unless ``tensor``
    holds floats."""
    if tensor.dtype.kind not in "fc":
        raise NotImplementedError(f"{op}: not implemented for {what} of dtype {tensor.dtype} "
                                  "(expected a floating-point tensor; convert with .float())")


def sum_to_shape(grad, shape):
    """Sum ``grad`` over the axes that broadcasting added or stretched, to get ``shape`` back.

    ``grad`` is an array (in ``backward``) or a Tensor (in ``backward_graph``, where the sum and
    the reshape are ops, recorded: the sum's own derivative is a broadcast back)."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    # axes that broadcasting prepended, plus the axes that were size 1 and got stretched
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
    if axes:
        grad = (grad.sum(dim=axes, keepdim=True) if isinstance(grad, Tensor)
                else grad.sum(axis=axes, keepdims=True))
    return grad.reshape(shape)


def normalize_dim(dim, ndim, op="op"):
    """``dim`` (possibly negative) as an axis in [0, ndim); a 0-d tensor accepts 0 and -1."""
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of "
                         f"[{-size}, {size - 1}], but got {dim})")
    return dim % size


def normalize_dims(dim, ndim, op="op", empty_is_all=True):
    """None → every axis; an int or a sequence of ints → a sorted tuple of axes.

    An empty sequence also means every axis, as for PyTorch's sum, mean and var
    (``empty_is_all=False``: no axis, as its any and all take it).  A 0-d tensor accepts dim 0
    or -1 (as PyTorch) but has no axis to reduce: the result is ().  A dim named twice is an
    error, as in PyTorch.
    """
    if dim is None or (empty_is_all and not isinstance(dim, int) and len(dim) == 0):
        return tuple(range(ndim))
    if isinstance(dim, int):
        dim = (dim,)
    axes = [normalize_dim(d, ndim, op) for d in dim]
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"{op}: dim {tuple(dim)} names the same dimension twice")
    return tuple(sorted(axes)) if ndim else ()


def pair(value, name, op):
    """An int or a pair of ints as a (height, width) tuple of ints: 3 → (3, 3), [3, 5] → (3, 5).
    Anything else is a ValueError naming ``op`` and the argument ``name``."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                  for v in items):
        raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    return (int(items[0]), int(items[1]))


def positive_pair(value, name, op):
    """:func:`pair`, and both numbers positive."""
    result = pair(value, name, op)
    if min(result) <= 0:
        raise ValueError(f"{op}: {name} must be positive, got {value!r}")
    return result


class LinearMap(Function):
    """y = A·x, or Aᵀ·x with ``transposed``, for a linear op A: a linear op's ``backward_graph``.

    The backward of a linear op A (average pooling, resampling, edge padding) is its adjoint:
    dL/dx = Aᵀ·dL/dy, which reads nothing of x.  For ``create_graph=True`` that adjoint must be
    an op, so that the gradient can be differentiated again: ``LinearMap(op, True)``.  Its own
    backward is the adjoint of the adjoint, A, and its ``backward_graph`` is ``LinearMap(op,
    False)``: the orders alternate between A and Aᵀ, as unfold and fold do.  (The derivatives
    with respect to x itself are zero from the second on: a linear map has no curvature.)

    ``op`` is the linear op after its forward, with ``apply(x)`` (A·x) and ``adjoint(g)`` (Aᵀ·g)
    on arrays; both read only its settings and shapes, never saved arrays (which backward frees).
    """

    def __init__(self, op, transposed):
        self.op, self.transposed = op, transposed

    def forward(self, x):
        return self.op.adjoint(x) if self.transposed else self.op.apply(x)

    def backward(self, grad):
        return self.op.apply(grad) if self.transposed else self.op.adjoint(grad)

    def backward_graph(self, grad):
        return LinearMap(self.op, not self.transposed)(grad)

    def __repr__(self):
        return f"<{type(self.op).__name__}{'Adjoint' if self.transposed else ''}Backward>"
