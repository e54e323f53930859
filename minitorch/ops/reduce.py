"""Reductions: sum, mean, var, std, norm, max, min, amax, amin, argmax, any, all, the softmax
family with logsumexp, and cumsum (every running sum of a sum).

Read after ``ops/matmul.py``.  A reduction maps many inputs to one output, so backward spreads
each output's gradient back over the inputs that made it:

* sum: every input contributed with weight 1 → each gets the output's gradient (a broadcast);
* mean over N: weight 1/N;
* cumsum: xⱼ is in every running sum yᵢ with i ≥ j → it gets the sum of their gradients,
  a running sum taken from the end;
* max: only the winner contributed → only the winner gets the gradient (amax and a full max:
  winners that tie share it evenly).

``dim`` and ``keepdim`` follow PyTorch.  With ``keepdim=False`` the reduced axes disappear, so
backward first puts them back (size 1) and then broadcasts.

``backward_graph`` (for ``create_graph=True``, see ``autograd.py``) writes the same with ops on
Tensors: the broadcast is ``expand``, a max's winner is a constant mask, and var and the
softmaxes recompute from their input what ``backward`` saved.
"""
import collections

from minitorch.autograd import Function
from minitorch.ops.common import normalize_dim, normalize_dims, require_floating
from minitorch.ops.elementwise import maximum, minimum, where
from minitorch.tensor import Tensor

# torch.max(x, dim) returns a (values, indices) pair whose fields have these names.
ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])


def _restore_dims(grad, axes, keepdim):
    """Put back the reduced axes as size 1, so grad broadcasts against the input."""
    if keepdim or not axes:
        return grad
    shape = list(grad.shape)
    for axis in axes:  # sorted ascending, so each insert lands in its final place
        shape.insert(axis, 1)
    return grad.reshape(shape)


def _drop_dims(y, axes, keepdim):
    """The other way: a result computed with the reduced axes kept (size 1) loses them unless
    ``keepdim``."""
    if keepdim:
        return y
    return y.reshape([n for i, n in enumerate(y.shape) if i not in axes])


class Sum(Function):
    """y = Σᵢ xᵢ over the reduced axes;   dL/dxᵢ = dL/dy for every i."""

    def __init__(self, dim, keepdim):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        self.axes = normalize_dims(self.dim, x.ndim, "sum")
        self.x_shape = x.shape
        return x.sum(axis=self.axes, keepdims=self.keepdim)

    def backward(self, grad):
        return self.xp.broadcast_to(_restore_dims(grad, self.axes, self.keepdim), self.x_shape)

    def backward_graph(self, grad):
        return _restore_dims(grad, self.axes, self.keepdim).expand(self.x_shape)


class Mean(Function):
    """y = (1/N) Σᵢ xᵢ;   dL/dxᵢ = dL/dy / N."""

    def __init__(self, dim, keepdim):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        self.axes = normalize_dims(self.dim, x.ndim, "mean")
        self.x_shape = x.shape
        self.count = 1
        for axis in self.axes:
            self.count *= x.shape[axis]
        return x.mean(axis=self.axes, keepdims=self.keepdim)

    def backward(self, grad):
        grad = _restore_dims(grad, self.axes, self.keepdim) / self.count
        return self.xp.broadcast_to(grad, self.x_shape)

    def backward_graph(self, grad):
        return (_restore_dims(grad, self.axes, self.keepdim) / self.count).expand(self.x_shape)


class Var(Function):
    """y = Σᵢ (xᵢ − x̄)² / (N − c)   (c = 1: unbiased, PyTorch's default);
    dL/dxᵢ = dL/dy · 2 (xᵢ − x̄) / (N − c)   (the x̄ terms cancel because Σᵢ (xᵢ − x̄) = 0);
    ∂²y/∂xᵢ∂xⱼ = 2 (δᵢⱼ − 1/N) / (N − c): centring's own derivative, which backward_graph
    keeps by recomputing x − x̄ with ops."""

    def __init__(self, dim, correction, keepdim):
        self.dim, self.correction, self.keepdim = dim, correction, keepdim

    def forward(self, x):
        self.axes = normalize_dims(self.dim, x.ndim, "var")
        count = 1
        for axis in self.axes:
            count *= x.shape[axis]
        # (not max(...): in this file max is the op defined below, not Python's builtin)
        self.denominator = count - self.correction if count > self.correction else 0
        centered = x - x.mean(axis=self.axes, keepdims=True)
        self.save_for_backward(centered)
        return (centered * centered).sum(axis=self.axes, keepdims=self.keepdim) / self.denominator

    def backward(self, grad):
        centered, = self.saved_tensors
        return _restore_dims(grad, self.axes, self.keepdim) * 2 * centered / self.denominator

    def backward_graph(self, grad):
        x, = self.inputs
        centered = x - x.mean(dim=self.axes, keepdim=True)
        return _restore_dims(grad, self.axes, self.keepdim) * 2 * centered / self.denominator


class Norm2(Function):
    """y = √(Σᵢ xᵢ²) over the reduced axes (the Euclidean length);   dL/dxᵢ = dL/dy · xᵢ / y,
    and 0 where y = 0 (a zero vector's length has no slope; 0 is the subgradient torch uses).
    """

    def __init__(self, dim, keepdim):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        self.axes = normalize_dims(self.dim, x.ndim, "norm")
        y = self.xp.sqrt((x * x).sum(axis=self.axes, keepdims=True))
        self.save_for_backward(x, y)
        return _drop_dims(y, self.axes, self.keepdim)

    def backward(self, grad):
        x, y = self.saved_tensors
        xp = self.xp
        inverse = xp.where(y > 0, 1 / xp.where(y > 0, y, 1), 0)   # 1/y, and 0 where y = 0
        return _restore_dims(grad, self.axes, self.keepdim) * x * inverse

    def backward_graph(self, grad):
        x, (_, y_saved) = self.inputs[0], self.saved_tensors
        positive = self.constant(y_saved > 0)
        y = where(positive, Norm2(self.axes, True)(x), 1.0)
        return where(positive, _restore_dims(grad, self.axes, self.keepdim) * x / y, 0.0)


class MaxAll(Function):
    """y = max of all elements;   the gradient goes to the maximum, shared evenly on a tie
    (PyTorch's rule for a full reduction)."""

    def __init__(self, largest):
        self.largest = largest

    def forward(self, x):
        if x.size == 0:
            raise RuntimeError("max(): expected a non-empty tensor (it has no maximum)")
        y = x.max() if self.largest else x.min()
        self.save_for_backward(x, y)
        return y

    def backward(self, grad):
        x, y = self.saved_tensors
        winners = x == y
        return winners * (grad / winners.sum())

    def backward_graph(self, grad):
        x, y = self.saved_tensors
        winners = x == y
        return self.constant((winners / winners.sum()).astype(x.dtype)) * grad  # 1/count at each winner


class MaxDim(Function):
    """(values, indices) = max over one dim;   the gradient goes to the index that won."""

    def __init__(self, dim, keepdim, largest):
        self.dim, self.keepdim, self.largest = dim, keepdim, largest

    def forward(self, x):
        axis = self.axis = normalize_dim(self.dim, x.ndim, "max")
        self.x_shape = x.shape
        if x.ndim == 0:  # a single number is its own maximum, at index 0
            return x.copy(), self.xp.zeros((), dtype="int64")
        if x.shape[axis] == 0:
            raise IndexError(f"max(): cannot reduce over dimension {self.dim} of size 0")
        pick = self.xp.argmax if self.largest else self.xp.argmin
        indices = self.xp.expand_dims(pick(x, axis=axis), axis)
        values = self.xp.take_along_axis(x, indices, axis=axis)
        self.save_for_backward(indices)
        if not self.keepdim:
            values, indices = values.squeeze(axis), indices.squeeze(axis)
        return values, indices.astype("int64")

    def backward(self, grad_values, grad_indices):
        if len(self.x_shape) == 0:
            return grad_values
        indices, = self.saved_tensors
        grad = self.xp.zeros(self.x_shape, dtype=grad_values.dtype)
        g = grad_values if self.keepdim else self.xp.expand_dims(grad_values, self.axis)
        self.xp.put_along_axis(grad, indices, g, axis=self.axis)  # indices are unique per row
        return grad

    def backward_graph(self, grad_values, grad_indices):
        if len(self.x_shape) == 0:
            return grad_values
        indices, = self.saved_tensors
        positions = [1] * len(self.x_shape)
        positions[self.axis] = -1
        won = self.xp.arange(self.x_shape[self.axis]).reshape(positions) == indices  # constant
        g = grad_values if self.keepdim else grad_values.unsqueeze(self.axis)
        return where(self.constant(won), g, 0.0)


class AMax(Function):
    """y = max (or min) over the reduced axes;   dL/dxᵢ = dL/dy / k at each of the k elements
    equal to the maximum, 0 elsewhere: winners that tie share the gradient evenly (PyTorch's
    rule for amax and amin, where ``max(dim)`` gives it all to the one index it returns)."""

    def __init__(self, dim, keepdim, largest):
        self.dim, self.keepdim, self.largest = dim, keepdim, largest

    def forward(self, x):
        name = "amax" if self.largest else "amin"
        self.axes = normalize_dims(self.dim, x.ndim, name)
        if x.size == 0:
            raise RuntimeError(f"{name}(): expected a non-empty tensor, got shape {x.shape}")
        y = x.max(axis=self.axes, keepdims=True) if self.largest else x.min(axis=self.axes,
                                                                             keepdims=True)
        winners = x == y
        self.save_for_backward((winners / winners.sum(axis=self.axes, keepdims=True))
                               .astype(x.dtype))                  # 1/k at each winner
        return _drop_dims(y, self.axes, self.keepdim)

    def backward(self, grad):
        share, = self.saved_tensors
        return share * _restore_dims(grad, self.axes, self.keepdim)

    def backward_graph(self, grad):
        share, = self.saved_tensors
        return self.constant(share) * _restore_dims(grad, self.axes, self.keepdim)


class ArgMax(Function):
    """The index of the maximum (or minimum): an integer, no gradient."""

    differentiable = False

    def __init__(self, dim, keepdim, largest):
        self.dim, self.keepdim, self.largest = dim, keepdim, largest

    def forward(self, x):
        pick = self.xp.argmax if self.largest else self.xp.argmin
        if self.dim is None:
            index = pick(x)
            return index.reshape((1,) * x.ndim if self.keepdim else ()).astype("int64")
        axis = normalize_dim(self.dim, x.ndim, "argmax")
        return pick(x, axis=axis, keepdims=self.keepdim).astype("int64")


class Any(Function):
    """y = True where any element over the reduced axes is nonzero: a bool tensor, no gradient."""

    differentiable = False

    def __init__(self, dim, keepdim):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        axes = normalize_dims(self.dim, x.ndim, "any", empty_is_all=False)
        return x.any(axis=axes, keepdims=self.keepdim)


class All(Function):
    """y = True where every element over the reduced axes is nonzero: a bool tensor, no gradient."""

    differentiable = False

    def __init__(self, dim, keepdim):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        axes = normalize_dims(self.dim, x.ndim, "all", empty_is_all=False)
        return x.all(axis=axes, keepdims=self.keepdim)


class CumSum(Function):
    """yᵢ = Σ_{j ≤ i} xⱼ along ``dim``;   dL/dxⱼ = Σ_{i ≥ j} dL/dyᵢ: the running sum of the
    gradient from the end (flip, cumsum, flip back)."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        self.axis = normalize_dim(self.dim, x.ndim, "cumsum")
        if x.ndim == 0:
            return x.copy()
        return self.xp.cumsum(x, axis=self.axis)

    def backward(self, grad):
        if grad.ndim == 0:
            return grad
        flip = self.xp.flip
        return flip(self.xp.cumsum(flip(grad, self.axis), axis=self.axis), self.axis)

    def backward_graph(self, grad):
        if grad.ndim == 0:
            return grad
        return grad.flip(self.axis).cumsum(self.axis).flip(self.axis)


class Softmax(Function):
    """yᵢ = e^{xᵢ} / Σⱼ e^{xⱼ};   dL/dxᵢ = yᵢ (dL/dyᵢ − Σⱼ dL/dyⱼ · yⱼ).

    Subtracting max x first changes nothing (the factor e^{−max} cancels) and keeps e^x finite.
    The second derivative is the same rule applied to the first: with gᵢ = dL/dyᵢ and
    ∂yᵢ/∂xₖ = yᵢ (δᵢₖ − yₖ),  ∂(dL/dxᵢ)/∂xₖ = ∂yᵢ/∂xₖ · (gᵢ − Σⱼ gⱼyⱼ) − yᵢ Σⱼ gⱼ ∂yⱼ/∂xₖ;
    backward_graph gets it by recomputing y from x with this op.
    """

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        self.axis = normalize_dim(self.dim, x.ndim, "softmax")
        e = self.xp.exp(x - x.max(axis=self.axis, keepdims=True)) if x.size else x.copy()
        y = e / e.sum(axis=self.axis, keepdims=True)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        y, = self.saved_tensors
        return y * (grad - (grad * y).sum(axis=self.axis, keepdims=True))

    def backward_graph(self, grad):
        y = self.inputs[0].softmax(self.axis)
        return y * (grad - (grad * y).sum(dim=self.axis, keepdim=True))


class LogSoftmax(Function):
    """yᵢ = xᵢ − log Σⱼ e^{xⱼ};   dL/dxᵢ = dL/dyᵢ − softmax(x)ᵢ · Σⱼ dL/dyⱼ.

    Stable the same way as softmax: log Σ e^{x} = m + log Σ e^{x − m} with m = max x.
    Second derivative: with p = softmax(x), ∂(dL/dxᵢ)/∂xₖ = −pᵢ (δᵢₖ − pₖ) · Σⱼ dL/dyⱼ
    (softmax's Jacobian; backward_graph gets it from the Softmax op).
    """

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x):
        self.axis = normalize_dim(self.dim, x.ndim, "log_softmax")
        if x.size == 0:  # nothing to normalize (and an empty max would raise)
            y = x.copy()
        else:
            shifted = x - x.max(axis=self.axis, keepdims=True)
            y = shifted - self.xp.log(self.xp.exp(shifted).sum(axis=self.axis, keepdims=True))
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        y, = self.saved_tensors
        return grad - self.xp.exp(y) * grad.sum(axis=self.axis, keepdims=True)

    def backward_graph(self, grad):
        return grad - self.inputs[0].softmax(self.axis) * grad.sum(dim=self.axis, keepdim=True)


class LogSumExp(Function):
    """y = log Σᵢ e^{xᵢ} over the reduced axes;   dL/dxᵢ = dL/dy · e^{xᵢ − y} = dL/dy · softmax(x)ᵢ.

    Stable as log_softmax: with m the maximum, y = m + log Σᵢ e^{xᵢ − m} (m taken as 0 where it
    is ±inf, so that a row of −inf gives −inf, not nan).  The second derivative is softmax's
    Jacobian; backward_graph gets it by recomputing y with this op.
    """

    def __init__(self, dim, keepdim):
        self.dim, self.keepdim = dim, keepdim

    def forward(self, x):
        xp, axes = self.xp, normalize_dims(self.dim, x.ndim, "logsumexp")
        self.axes = axes
        if x.size == 0:   # an empty sum is 0, and its log −inf
            y = xp.full([1 if i in axes else n for i, n in enumerate(x.shape)], -xp.inf, x.dtype)
        else:
            m = x.max(axis=axes, keepdims=True)
            m = xp.where(xp.isfinite(m), m, 0)
            total = xp.exp(x - m).sum(axis=axes, keepdims=True)
            # a row of −inf sums to 0: its log is −inf, written so (log(0) would warn)
            y = xp.where(total > 0, m + xp.log(xp.where(total > 0, total, 1)), -xp.inf)
        self.save_for_backward(x, y)
        return _drop_dims(y, self.axes, self.keepdim)

    def backward(self, grad):
        x, y = self.saved_tensors
        return _restore_dims(grad, self.axes, self.keepdim) * self.xp.exp(x - y)

    def backward_graph(self, grad):
        x = self.inputs[0]
        y = LogSumExp(self.axes, True)(x)
        return _restore_dims(grad, self.axes, self.keepdim) * (x - y).exp()


# ---- the functions users call ---------------------------------------------------------------------
def sum(x, dim=None, keepdim=False):
    return Sum(dim, keepdim)(x)


def mean(x, dim=None, keepdim=False):
    if x.dtype.kind != "f":
        raise RuntimeError(f"mean(): expected a floating-point tensor, got dtype {x.dtype}")
    return Mean(dim, keepdim)(x)


def var(x, dim=None, unbiased=True, keepdim=False, correction=None):
    if correction is None:
        correction = 1 if unbiased else 0
    return Var(dim, correction, keepdim)(x)


def std(x, dim=None, unbiased=True, keepdim=False, correction=None):
    return var(x, dim, unbiased, keepdim, correction).sqrt()


def norm(x, p="fro", dim=None, keepdim=False, dtype=None):
    """The p-norm over ``dim`` (all dims by default): p = 2 or 'fro' the Euclidean length
    (:class:`Norm2`), p = 1 the sum of |x|, p = inf the largest |x| and -inf the smallest
    (ties share the gradient, as amax's)."""
    if dtype is not None:
        x = x.to(dtype=dtype)
    require_floating("norm", x)
    if p == "fro" and not (dim is None or isinstance(dim, int) or len(dim) <= 2):
        raise RuntimeError(f"norm: p='fro' is over all dims, one or two, got dim {tuple(dim)} "
                           f"(use p=2 for the length over more)")
    if p in ("fro", 2, 2.0):
        return Norm2(dim, keepdim)(x)
    if p in (1, 1.0):
        return Sum(dim, keepdim)(x.abs())
    if p in (float("inf"), float("-inf")):
        return AMax(() if dim is None else dim, keepdim, largest=p > 0)(x.abs())
    raise ValueError(f"norm: p must be 1, 2, 'fro', inf or -inf, got {p!r}")


def max(x, dim=None, keepdim=False):
    """max(x) → the largest element; max(x, dim) → (values, indices); max(x, other_tensor) →
    the elementwise maximum; all as in PyTorch."""
    if isinstance(dim, Tensor):
        return maximum(x, dim)
    if dim is None:
        return MaxAll(largest=True)(x)
    return ValuesIndices(*MaxDim(dim, keepdim, largest=True)(x))


def min(x, dim=None, keepdim=False):
    """min(x), min(x, dim) → (values, indices), min(x, other_tensor): as ``max``."""
    if isinstance(dim, Tensor):
        return minimum(x, dim)
    if dim is None:
        return MaxAll(largest=False)(x)
    return ValuesIndices(*MaxDim(dim, keepdim, largest=False)(x))


def amax(x, dim=(), keepdim=False):
    """The maximum over ``dim`` (all dims by default); ties share the gradient (see AMax)."""
    return AMax(dim, keepdim, largest=True)(x)


def amin(x, dim=(), keepdim=False):
    """The minimum over ``dim``, as ``amax``."""
    return AMax(dim, keepdim, largest=False)(x)


def argmax(x, dim=None, keepdim=False):
    return ArgMax(dim, keepdim, largest=True)(x)


def argmin(x, dim=None, keepdim=False):
    return ArgMax(dim, keepdim, largest=False)(x)


def any(x, dim=None, keepdim=False):
    return Any(dim, keepdim)(x)


def all(x, dim=None, keepdim=False):
    return All(dim, keepdim)(x)


def cumsum(x, dim):
    """The running sums along ``dim`` (integers and booleans add up as int64, as torch)."""
    if x.dtype.kind in "biu":
        x = x.to(dtype="int64")
    return CumSum(dim)(x)


def softmax(x, dim):
    require_floating("softmax", x)
    return Softmax(dim)(x)


def log_softmax(x, dim):
    require_floating("log_softmax", x)
    return LogSoftmax(dim)(x)


def logsumexp(x, dim, keepdim=False):
    require_floating("logsumexp", x)
    return LogSumExp(dim, keepdim)(x)
