"""Indexing ops: ``x[...]``, masked_fill, gather, one_hot, tril/triu (a triangle kept), and
sort (with topk and argsort): a permutation, undone in backward by the inverse one.

Read after ``ops/shape.py``.  Indexing *picks* elements, so backward puts each picked
element's gradient back where it came from and leaves zeros elsewhere.  One subtlety: an index
may pick the same element twice (``x[[0, 0]]``); that element was used twice, so it must get
both gradients.  ``grad_x[idx] += g`` would keep only one of them; the backend's
``scatter_add`` adds every one.

For ``create_graph=True`` (``autograd.py``) that backward is an op of its own,
:class:`ScatterIntoZeros`, whose backward is indexing again: x[key] and "put at key" are each
other's adjoints, so gradients of every order alternate between the two.
"""
from minitorch import backend
from minitorch.autograd import Function
from minitorch.ops.common import broadcast_shape, normalize_dim
from minitorch.ops.reduce import ValuesIndices
from minitorch.speed.gpu import check_index_arrays, check_later
from minitorch.tensor import Tensor, as_tensor


def array_key(key):
    """The index with every Tensor inside it replaced by its array."""
    if isinstance(key, Tensor):
        return key.array
    if isinstance(key, tuple):
        return tuple(k.array if isinstance(k, Tensor) else k for k in key)
    return key


def _is_basic(key):
    """True when the index is only ints, slices, None and ... (NumPy then returns a view)."""
    parts = key if isinstance(key, tuple) else (key,)
    return all(isinstance(k, (int, slice)) or k is None or k is Ellipsis for k in parts)


class GetItem(Function):
    """y = x[key];   dL/dx = zeros with dL/dy added back at the picked places."""

    def __init__(self, key):
        self.key = key
        self.basic = _is_basic(key)
        self.is_view = self.basic

    def forward(self, x):
        self.x_shape, self.x_dtype = x.shape, x.dtype
        key = self.key
        if not self.basic:  # index arrays must live where x lives
            parts = key if isinstance(key, tuple) else (key,)
            parts = tuple(backend.to_device(self.xp.asarray(k), backend.device_of(x))
                          if isinstance(k, list) or backend.is_array(k) else k for k in parts)
            key = self.key = parts if isinstance(self.key, tuple) else parts[0]
            check_index_arrays(key, x.shape, "index")  # CuPy would wrap around
        return x[key]

    def backward(self, grad):
        return scatter_into_zeros(self.xp, self.x_shape, self.key, grad, self.basic)

    def backward_graph(self, grad):
        return ScatterIntoZeros(self.key, self.x_shape)(grad)


def scatter_into_zeros(xp, shape, key, values, basic):
    """zeros(shape) with ``values`` added at [key]; a repeated index adds up.

    The zeros take the memory layout of ``values`` when both have the same number of dims (the
    gradient of ``x[:, :, ::2, ::2]`` of a batch-innermost x stays batch-innermost), C order
    otherwise: mixing layouts would make every later op that meets both slow."""
    out = xp.zeros_like(values, shape=shape)
    if basic:  # a slice picks each element at most once: plain assignment is enough
        out[key] = values
    else:
        backend.scatter_add(out, key, values)
    return out


class ScatterIntoZeros(Function):
    """y = zeros(shape) with x added at [key] (repeats add up);   dL/dx = dL/dy[key].

    The backward of indexing (GetItem, Gather) as an op, so that it can be differentiated: its
    own backward is indexing, and indexing's is this.  ``key`` is an index GetItem has already
    moved to the device.
    """

    def __init__(self, key, shape):
        self.key, self.shape, self.basic = key, tuple(shape), _is_basic(key)

    def forward(self, x):
        return scatter_into_zeros(self.xp, self.shape, self.key, x, self.basic)

    def backward(self, grad):
        return grad[self.key]

    def backward_graph(self, grad):
        return GetItem(self.key)(grad)


class MaskedFill(Function):
    """y = value where mask, else x;   dL/dx = dL/dy where not mask, else 0."""

    def __init__(self, value):
        self.value = value

    def forward(self, x, mask):
        self.save_for_backward(mask)
        return self.xp.where(mask, x.dtype.type(self.value), x)

    def backward(self, grad):
        mask, = self.saved_tensors
        return self.xp.where(mask, grad.dtype.type(0), grad), None

    def backward_graph(self, grad):
        return masked_fill(grad, self.inputs[1], 0.0), None


class Gather(Function):
    """y[i][j] = x[i][index[i][j]] along ``dim`` (here dim = 1);   dL/dx = zeros with each
    dL/dy[i][j] added at [i][index[i][j]] (repeats add up)."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, x, index):
        self.axis = normalize_dim(self.dim, x.ndim, "gather")
        if index.ndim != x.ndim:
            raise RuntimeError(f"gather: index has {index.ndim} dims but input has {x.ndim}")
        if index.dtype.kind not in "iu":
            raise RuntimeError(f"gather: index must be an integer tensor, got {index.dtype}")
        n = x.shape[self.axis]
        if index.size:  # checked on the device, read with the next value (speed/gpu.py: check_later)
            check_later(((index < -n) | (index >= n)).any(), lambda: (
                f"gather: index out of range for dim {self.dim} of size {n}"))
        self.x_shape = x.shape
        self.save_for_backward(index)
        if index.shape[:self.axis] == x.shape[:self.axis] and \
                index.shape[self.axis + 1:] == x.shape[self.axis + 1:]:
            return self.xp.take_along_axis(x, index, axis=self.axis)
        return x[self._full_index(index)]

    def _full_index(self, index):
        # The places picked: the index itself along dim, the position of each entry elsewhere.
        grids = list(self.xp.ogrid[tuple(slice(0, n) for n in index.shape)])
        grids[self.axis] = index
        return tuple(grids)

    def backward(self, grad):
        index, = self.saved_tensors
        return scatter_into_zeros(self.xp, self.x_shape, self._full_index(index), grad,
                                  basic=False), None

    def backward_graph(self, grad):
        index, = self.saved_tensors
        return ScatterIntoZeros(self._full_index(index), self.x_shape)(grad), None


class OneHot(Function):
    """y[..., c] = 1 if x[...] == c else 0  (integers in, int64 out, no gradient)."""

    differentiable = False

    def __init__(self, num_classes):
        self.num_classes = num_classes

    def forward(self, x):
        if x.dtype.name != "int64":  # PyTorch's rule: LongTensor only
            raise RuntimeError(f"one_hot: expected an int64 tensor of class indices, got "
                               f"{x.dtype} (convert with .long())")
        n = self.num_classes if self.num_classes >= 0 else (int(x.max()) + 1 if x.size else 0)
        if x.size and self.num_classes >= 0:
            check_later(((x < 0) | (x >= n)).any(), lambda: (
                f"one_hot: class value {_first_outside(x, n)} is out of range [0, {n})"),
                RuntimeError)
        elif x.size and int(x.min()) < 0:  # the size read from the values: a sync already
            raise RuntimeError(f"one_hot: class value {int(x.min())} is out of range [0, {n})")
        return (x[..., None] == self.xp.arange(n)).astype("int64")


class Triangle(Function):
    """``tril``/``triu``: y = x on and below (``lower``) or on and above the ``diagonal``-th
    diagonal of the last two dims, 0 elsewhere;   dL/dx = dL/dy in the same triangle, 0 elsewhere.

    The diagonal k counts from the main one: k > 0 is above it, k < 0 below.  Element (i, j)
    is in the lower triangle when j − i ≤ k, in the upper one when j − i ≥ k.
    """

    def __init__(self, lower, diagonal):
        self.lower, self.diagonal = lower, diagonal

    def forward(self, x):
        name = "tril" if self.lower else "triu"
        if x.ndim < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions, got "
                               f"shape {tuple(x.shape)}")
        rows, cols = x.shape[-2:]
        below = self.xp.tri(rows, cols, k=self.diagonal if self.lower else self.diagonal - 1,
                            dtype=bool)  # True where j − i ≤ k (tril) or ≤ k − 1 (not triu)
        self.keep = below if self.lower else ~below
        return self.xp.where(self.keep, x, x.dtype.type(0))

    def backward(self, grad):
        return self.xp.where(self.keep, grad, grad.dtype.type(0))

    def backward_graph(self, grad):  # linear: the gradient is the same triangle of dL/dy
        return Triangle(self.lower, self.diagonal)(grad)


def _first_outside(x, n):
    values = backend.to_numpy(x).reshape(-1)
    return int(values[(values < 0) | (values >= n)][0])


# ---- the functions users call ---------------------------------------------------------------------
def getitem(x, key):
    return GetItem(array_key(key))(x)


def masked_fill(x, mask, value):
    mask = as_tensor(mask, like=x)
    if mask.dtype.kind != "b":
        raise RuntimeError(f"masked_fill: mask must be a bool tensor, got {mask.dtype}")
    if broadcast_shape("masked_fill", x.shape, mask.shape) != tuple(x.shape):
        raise RuntimeError(f"masked_fill: the mask of shape {tuple(mask.shape)} must broadcast "
                           f"to the input's shape {tuple(x.shape)}, not enlarge it")
    if isinstance(value, Tensor):
        value = value.item()
    return MaskedFill(value)(x, mask)


class Sort(Function):
    """(values, indices) = x sorted along ``dim``, values = x[indices];   dL/dx: each entry of
    dL/dvalues goes back to the place its value came from — values[k] = x[indices[k]], so
    dL/dx[indices[k]] = dL/dvalues[k].  Sorting is a permutation, so that is the inverse
    permutation: dL/dx = dL/dvalues[argsort(indices)] (a gather, differentiable again).

    Ties keep their order in the input (a stable sort), also in descending order, as torch's
    ``stable=True``; NaN sorts above everything, as in torch.
    """

    def __init__(self, dim, descending):
        self.dim, self.descending = dim, descending

    def forward(self, x):
        xp = self.xp
        if x.ndim == 0:
            return x.copy(), xp.zeros((), dtype="int64")
        axis = self.axis = normalize_dim(self.dim, x.ndim, "sort")
        if self.descending:   # ascending sort of x read backwards, read backwards again:
            n = x.shape[axis]  # ties in input order, NaN first (argsort puts it last)
            backwards = xp.argsort(xp.flip(x, axis), axis=axis, kind="stable")
            indices = n - 1 - xp.flip(backwards, axis)
        else:
            indices = xp.argsort(x, axis=axis, kind="stable")
        indices = indices.astype("int64")
        self.save_for_backward(indices)
        # the indices handed out are a copy: changing them in place cannot change backward's
        return xp.take_along_axis(x, indices, axis=axis), indices.copy()

    def backward(self, grad_values, grad_indices):
        if grad_values.ndim == 0:
            return grad_values
        indices, = self.saved_tensors
        grad = self.xp.empty_like(grad_values)
        self.xp.put_along_axis(grad, indices, grad_values, axis=self.axis)  # a permutation
        return grad

    def backward_graph(self, grad_values, grad_indices):
        if grad_values.ndim == 0:
            return grad_values
        indices, = self.saved_tensors
        inverse = self.xp.argsort(indices, axis=self.axis)
        return gather(grad_values, self.axis, Tensor(inverse))


def gather(x, dim, index):
    return Gather(dim)(x, index)


def sort(x, dim=-1, descending=False, stable=False):
    """(values, indices), sorted along ``dim``.  Always stable: ``stable=False`` lets torch
    order ties as it likes, and the input's order is one of those."""
    return ValuesIndices(*Sort(dim, descending)(x))


def argsort(x, dim=-1, descending=False, stable=False):
    """The indices that sort ``x`` along ``dim`` (``sort(...).indices``)."""
    return sort(x, dim, descending, stable).indices


def topk(x, k, dim=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) entries along ``dim`` and their indices: the first k of
    a sort, largest first (``sorted=False`` allows any order; this one is sorted)."""
    size = x.shape[normalize_dim(dim, x.ndim, "topk")] if x.ndim else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"topk: k must be in [0, {size}] for dim {dim} of size {size}, "
                           f"got {k}")
    values, indices = sort(x, dim, descending=largest)
    if x.ndim == 0:   # a single number: k is 0 or 1, and torch gives it back either way
        return ValuesIndices(values, indices)
    return ValuesIndices(values.narrow(dim, 0, k), indices.narrow(dim, 0, k))


def one_hot(x, num_classes=-1):
    return OneHot(num_classes)(x)


def tril(input, diagonal=0):
    """The lower triangle of the last two dims (on and below the ``diagonal``), zeros above."""
    return Triangle(True, int(diagonal))(input)


def triu(input, diagonal=0):
    """The upper triangle of the last two dims (on and above the ``diagonal``), zeros below."""
    return Triangle(False, int(diagonal))(input)
