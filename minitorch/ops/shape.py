"""Shape ops: reshape, permute, flip, squeeze, expand, repeat, cat, stack, split, pad.

Read after ``ops/reduce.py``.  None of these does arithmetic; they only move numbers around.
So every backward moves the gradient back the opposite way:

* reshape ↔ reshape back;  permute ↔ the inverse permutation;  flip ↔ flip again;
* expand (one value used many times) ↔ sum (gradients of the uses add up);
* cat ↔ split the gradient;  split ↔ concatenate the gradients;  pad ↔ crop.

Each backward is linear in the gradient and uses nothing of the input but its shape, so
``backward_graph`` (for ``create_graph=True``) is the same move done with these ops on Tensors
(the gradient's own derivative with respect to the input is zero).
"""
from minitorch.autograd import Function
from minitorch.ops.common import normalize_dim, normalize_dims, sum_to_shape
from minitorch.ops.elementwise import cast, promote_types
from minitorch.ops.index import getitem


class Reshape(Function):
    """y = x with a new shape (same numbers, same order);   dL/dx = dL/dy reshaped back."""

    is_view = True

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, x):
        self.x_shape = x.shape
        known = [n for n in self.shape if n != -1]
        size = 1
        for n in known:
            size *= n
        fits = (len(known) == len(self.shape) and size == x.size) or (
            len(self.shape) - len(known) == 1 and size > 0 and x.size % size == 0) or (
            len(self.shape) - len(known) == 1 and size == 0 and x.size == 0)
        if not fits:
            raise RuntimeError(f"reshape: shape {list(self.shape)} is invalid for an input of "
                               f"shape {tuple(x.shape)} (size {x.size})")
        y = x.reshape(self.shape)
        # NumPy copies when no view can show the new shape: then y is not a view of x, and an
        # in-place change of one must not count as a change of the other
        self.is_view = y.size == 0 or self.xp.may_share_memory(x, y)
        return y

    def backward(self, grad):
        return grad.reshape(self.x_shape)

    def backward_graph(self, grad):
        return grad.reshape(self.x_shape)


class View(Reshape):
    """``x.view(shape)``: the same memory read with a new shape, never a copy.

    A transposed or sliced tensor cannot always be read that way (its elements are not in the
    order the new shape needs); then PyTorch refuses and so do we.  ``reshape`` copies instead.
    """

    def forward(self, x):
        y = super().forward(x)
        if not self.is_view:   # Reshape found that NumPy had to copy
            strides = tuple(s // x.itemsize for s in x.strides)
            raise RuntimeError(
                f"view size is not compatible with input tensor's size and stride (at least one "
                f"dimension spans across two contiguous subspaces). view: shape "
                f"{list(self.shape)} is not compatible with the memory layout of the input "
                f"(shape {tuple(x.shape)}, strides {strides}): no view can show it; use "
                f".reshape(...) (which copies) or .contiguous() first")
        return y


class Contiguous(Function):
    """``x.contiguous()`` of a strided view: y = the same values laid out in row-major order
    (a copy);   dL/dx = dL/dy.

    A transposed or sliced tensor reads its numbers from scattered places in memory; ``view``
    cannot reshape it (see :class:`View`), but it can reshape the contiguous copy.
    (``Tensor.contiguous`` returns the tensor itself when it is already contiguous, as torch.)
    """

    def forward(self, x):
        return x.copy(order="C")

    def backward(self, grad):
        return grad

    def backward_graph(self, grad):
        return grad


class Permute(Function):
    """y = x with its axes reordered;   dL/dx = dL/dy with the inverse order."""

    is_view = True

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        if len(self.dims) != x.ndim:
            raise RuntimeError(f"permute: got {len(self.dims)} dims {tuple(self.dims)} for a "
                               f"tensor with {x.ndim} dims")
        self.axes = tuple(normalize_dim(d, x.ndim, "permute") for d in self.dims)
        if len(set(self.axes)) != len(self.axes):
            raise RuntimeError(f"permute: repeated dim in {tuple(self.dims)}")
        return x.transpose(self.axes)

    def backward(self, grad):
        return grad.transpose(self.inverse())

    def backward_graph(self, grad):
        return grad.permute(*self.inverse())

    def inverse(self):
        """The permutation that undoes ours."""
        inverse = [0] * len(self.axes)
        for i, axis in enumerate(self.axes):
            inverse[axis] = i
        return inverse


class Flip(Function):
    """y = x read backwards along ``dims``;   dL/dx = dL/dy flipped back (a flip undoes itself).
    A copy, as torch's (NumPy's flip would be a view with negative strides)."""

    def __init__(self, dims):
        self.dims = dims

    def forward(self, x):
        self.axes = normalize_dims(self.dims, x.ndim, "flip", empty_is_all=False)
        return self.xp.flip(x, axis=self.axes).copy() if self.axes else x.copy()

    def backward(self, grad):
        return self.xp.flip(grad, axis=self.axes) if self.axes else grad

    def backward_graph(self, grad):
        return Flip(self.axes)(grad)


class Expand(Function):
    """y = x broadcast to a larger shape (no copy);   dL/dx = Σ of dL/dy over the copies."""

    is_view = True

    def __init__(self, sizes):
        self.sizes = sizes

    def forward(self, x):
        extra = len(self.sizes) - x.ndim
        if extra < 0:
            raise RuntimeError(f"expand: the number of sizes {len(self.sizes)} must be at least "
                               f"the number of dims {x.ndim}")
        if any(n == -1 for n in self.sizes[:extra]):
            raise RuntimeError(f"expand: size -1 (keep the size) is not allowed in a new leading "
                               f"dim; got sizes {tuple(self.sizes)} for shape {tuple(x.shape)}")
        shape = tuple(x.shape[i - extra] if n == -1 and i >= extra else n
                      for i, n in enumerate(self.sizes))
        for i, n in enumerate(x.shape):
            if n != 1 and n != shape[extra + i]:
                raise RuntimeError(f"expand: the size of a tensor of shape {tuple(x.shape)} at "
                                   f"dim {i} ({n}) must match {shape[extra + i]} (or be 1)")
        self.x_shape = x.shape
        return self.xp.broadcast_to(x, shape)

    def backward(self, grad):
        return sum_to_shape(grad, self.x_shape)

    def backward_graph(self, grad):
        return sum_to_shape(grad, self.x_shape)


class Repeat(Function):
    """y = x tiled ``repeats`` times along each dim;   dL/dx = Σ of dL/dy over the tiles."""

    def __init__(self, repeats):
        self.repeats = tuple(repeats)

    def forward(self, x):
        if len(self.repeats) < x.ndim:
            raise RuntimeError(f"repeat: {len(self.repeats)} repeat sizes for a tensor with "
                               f"{x.ndim} dims; give at least one per dim")
        self.input_shape = x.shape
        self.x_shape = (1,) * (len(self.repeats) - x.ndim) + x.shape  # leading dims made explicit
        return self.xp.tile(x.reshape(self.x_shape), self.repeats)

    def backward(self, grad):
        # View each axis of length r·n as (r, n): the tiles lie along the r axes; sum them.
        split_shape = self.tiles_apart()
        grad = grad.reshape(split_shape).sum(axis=tuple(range(0, len(split_shape), 2)))
        return grad.reshape(self.input_shape)

    def backward_graph(self, grad):
        split_shape = self.tiles_apart()
        grad = grad.reshape(split_shape).sum(dim=tuple(range(0, len(split_shape), 2)))
        return grad.reshape(self.input_shape)

    def tiles_apart(self):
        """The output's shape with each axis of length r·n written as (r, n)."""
        split_shape = []
        for r, n in zip(self.repeats, self.x_shape):
            split_shape += [r, n]
        return split_shape


class Cat(Function):
    """y = the inputs joined along ``dim``;   each input's gradient is its slice of dL/dy."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        ndim = xs[0].ndim
        axis = self.axis = normalize_dim(self.dim, ndim, "cat")
        for x in xs[1:]:
            if x.ndim != ndim or x.shape[:axis] + x.shape[axis + 1:] != \
                    xs[0].shape[:axis] + xs[0].shape[axis + 1:]:
                raise RuntimeError(f"cat: sizes of tensors must match except in dim {self.dim}: "
                                   f"got {tuple(xs[0].shape)} and {tuple(x.shape)}")
        self.sizes = [x.shape[axis] for x in xs]
        return self.xp.concatenate(xs, axis=axis)

    def backward(self, grad):
        edges, total = [], 0
        for n in self.sizes[:-1]:
            total += n
            edges.append(total)
        return tuple(self.xp.split(grad, edges, axis=self.axis))

    def backward_graph(self, grad):
        return tuple(grad.split(self.sizes, dim=self.axis))


class Stack(Function):
    """y = the inputs stacked along a new ``dim``;   input i's gradient is dL/dy[..., i, ...]."""

    def __init__(self, dim):
        self.dim = dim

    def forward(self, *xs):
        for x in xs[1:]:
            if x.shape != xs[0].shape:
                raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                                   f"{tuple(xs[0].shape)} and {tuple(x.shape)}")
        self.axis = normalize_dim(self.dim, xs[0].ndim + 1, "stack")
        return self.xp.stack(xs, axis=self.axis)

    def backward(self, grad):
        return tuple(grad.take(i, axis=self.axis) for i in range(grad.shape[self.axis]))

    def backward_graph(self, grad):
        before = (slice(None),) * self.axis
        return tuple(grad[before + (i,)] for i in range(grad.shape[self.axis]))


class Split(Function):
    """(y₁, y₂, …) = consecutive pieces of x along ``dim``;   dL/dx = the pieces' gradients
    joined back together (a piece nobody used contributes zeros)."""

    is_view = True  # the pieces are windows onto x

    def __init__(self, sizes, dim):
        self.sizes, self.dim = sizes, dim

    def forward(self, x):
        self.axis = normalize_dim(self.dim, x.ndim, "split")
        if sum(self.sizes) != x.shape[self.axis]:
            raise RuntimeError(f"split: sizes {self.sizes} do not add up to {x.shape[self.axis]}, "
                               f"the size of dim {self.dim}")
        edges, total = [], 0
        for n in self.sizes[:-1]:
            total += n
            edges.append(total)
        return tuple(self.xp.split(x, edges, axis=self.axis))

    def backward(self, *grads):
        return self.xp.concatenate(grads, axis=self.axis)

    def backward_graph(self, *grads):
        return cat(grads, dim=self.axis)


class Pad(Function):
    """y = x with ``value`` added around it;   dL/dx = dL/dy with the padding cut off.

    ``pad`` is PyTorch's: (left, right) for the last dim, then (top, bottom) for the one before…
    A negative amount cuts that many elements off instead, as in PyTorch; their gradient is 0.
    """

    def __init__(self, pad, value):
        self.pad, self.value = tuple(pad), value

    def forward(self, x):
        if len(self.pad) % 2 or len(self.pad) // 2 > x.ndim:
            raise RuntimeError(f"pad: padding {self.pad} must have an even length of at most "
                               f"2 × the {x.ndim} dims of the input")
        widths = [(0, 0)] * x.ndim
        for i in range(len(self.pad) // 2):
            widths[x.ndim - 1 - i] = (self.pad[2 * i], self.pad[2 * i + 1])
        # first cut off what the negative amounts remove, then pad by the positive ones
        self.kept = tuple(slice(max(-before, 0), n - max(-after, 0))
                          for (before, after), n in zip(widths, x.shape))
        for (before, after), n, kept in zip(widths, x.shape, self.kept):
            if kept.stop < kept.start:
                raise RuntimeError(f"pad: the input size {n}, padded by {before} and {after}, "
                                   f"would be {n + before + after}: a negative size")
        self.x_shape = x.shape
        grown = [(max(before, 0), max(after, 0)) for before, after in widths]
        self.crop = tuple(slice(before, before + kept.stop - kept.start)
                          for (before, _), kept in zip(grown, self.kept))
        padded_shape = tuple(kept.stop - kept.start + before + after
                             for kept, (before, after) in zip(self.kept, grown))
        # full_like keeps x's memory layout (a conv's batch-innermost output stays so): an array
        # in another layout would make every later op that meets both walk one of them across.
        y = self.xp.full_like(x, self.value, shape=padded_shape)
        y[self.crop] = x[self.kept]
        return y

    def backward(self, grad):
        if all(k.start == 0 and k.stop == n for k, n in zip(self.kept, self.x_shape)):
            return grad[self.crop]
        grad_x = self.xp.zeros_like(grad, shape=self.x_shape)       # in the gradient's layout
        grad_x[self.kept] = grad[self.crop]
        return grad_x

    def backward_graph(self, grad):
        cropped = grad[self.crop]
        if all(k.start == 0 and k.stop == n for k, n in zip(self.kept, self.x_shape)):
            return cropped
        # zeros where the negative amounts cut the input off: pad them back (last dim first)
        amounts = []
        for k, n in zip(reversed(self.kept), reversed(self.x_shape)):
            amounts += [k.start, n - k.stop]
        return pad(cropped, amounts)


# ---- the functions users call ---------------------------------------------------------------------
def reshape(x, shape):
    return Reshape(shape)(x)


def contiguous(x):
    return Contiguous()(x)


def view(x, shape):
    return View(shape)(x)


def flatten(x, start_dim=0, end_dim=-1):
    if x.ndim == 0:
        return reshape(x, (1,))
    start = normalize_dim(start_dim, x.ndim, "flatten")
    end = normalize_dim(end_dim, x.ndim, "flatten")
    if start > end:
        raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.shape[:start] + (-1 if x.numel() else _prod(x.shape[start:end + 1]),) + \
        x.shape[end + 1:]
    return reshape(x, shape)


def _prod(sizes):
    total = 1
    for n in sizes:
        total *= n
    return total


def narrow(x, dim, start, length):
    """``x`` cut to ``length`` elements of ``dim`` starting at ``start`` (negative counts from the
    end): a view, the slice ``start:start + length`` of that dim."""
    axis = normalize_dim(dim, x.ndim, "narrow")
    size = x.shape[axis]
    start, length = int(start), int(length)
    if not -size <= start <= size:
        raise IndexError(f"narrow: start out of range (expected to be in range of [{-size}, "
                         f"{size}], but got {start})")
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    start = start + size if start < 0 else start
    if start + length > size:
        raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension "
                           f"size ({size}).")
    return getitem(x, (slice(None),) * axis + (slice(start, start + length),))


def permute(x, dims):
    return Permute(tuple(dims))(x)


def transpose(x, dim0, dim1):
    dims = list(range(x.ndim))
    d0, d1 = normalize_dim(dim0, x.ndim, "transpose"), normalize_dim(dim1, x.ndim, "transpose")
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return permute(x, dims)


def flip(x, dims):
    """x with the order of its entries reversed along each of ``dims`` (an int or a sequence)."""
    return Flip(dims)(x)


def squeeze(x, dim=None):
    """Drop dims of size 1 (all of them, or only ``dim`` when it has size 1)."""
    if dim is None:
        axes = [i for i, n in enumerate(x.shape) if n == 1]
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        axes = [normalize_dim(d, x.ndim, "squeeze") for d in dims]
        axes = [a for a in axes if x.ndim and x.shape[a] == 1]
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


def unsqueeze(x, dim):
    axis = normalize_dim(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


def expand(x, sizes):
    return Expand(tuple(sizes))(x)


def repeat(x, sizes):
    return Repeat(sizes)(x)


def _same_dtype(tensors):
    """The tensors cast to the dtype they promote to together (int64 with float32: float32)."""
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = promote_types(dtype, t.dtype)
    return [t if t.dtype == dtype else cast(t, dtype) for t in tensors]


def cat(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of tensors")
    return Cat(dim)(*_same_dtype(tensors))


concatenate = cat


def stack(tensors, dim=0):
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of tensors")
    return Stack(dim)(*_same_dtype(tensors))


def split(x, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` (the last may be smaller), or of the listed sizes."""
    length = x.shape[normalize_dim(dim, x.ndim, "split")]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, length - start) for start in range(0, length, step)] or [0]
    else:
        sizes = list(split_size_or_sections)
    return Split(sizes, dim)(x)  # a tuple of tensors, even when there is only one piece


def chunk(x, chunks, dim=0):
    """``chunks`` pieces of equal size ceil(n / chunks) (fewer if n is small), as PyTorch."""
    length = x.shape[normalize_dim(dim, x.ndim, "chunk")]
    step = max(-(-length // chunks), 1)
    return split(x, step, dim)


def pad(x, pad, mode="constant", value=0.0):
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not implemented here (constant only); "
                                  "minitorch.nn.functional.pad also does 'replicate', 'reflect' "
                                  "and 'circular'")
    return Pad(pad, value)(x)
