"""``Tensor``: an array, plus what autograd needs to know about it.  Read after ``autograd.py``.

A Tensor holds

* ``array`` — the array itself (``numpy.ndarray`` on 'cpu', ``cupy.ndarray`` on 'cuda'), which
  the ops compute on.  ``data`` is PyTorch's: another Tensor over the same array, outside the
  graph (``w.data.normal_(0, 0.02)`` changes ``w``'s values without autograd seeing it);
* ``requires_grad`` — whether gradients should flow to it;
* ``grad`` — the gradient that ``backward`` accumulated into it (a Tensor, or None);
* ``grad_fn`` — the Function that made it (None for a *leaf*: a tensor you created yourself);
* a version counter that in-place changes bump (see ``autograd.py`` for why).

Everything a Tensor can *do* — ``+``, ``exp``, ``sum``, ``reshape``, ``[...]`` — is a one-line
method that calls the op of the same name in ``minitorch/ops/``, where the math lives.  The
bottom of the file has the creation functions: ``tensor``, ``zeros``, ``randn``, ...
"""
import numpy  # only for dtypes and for turning Python lists into arrays

from minitorch import autograd, backend

# dtypes are NumPy's (CuPy uses the same ones), under PyTorch's names.
float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
float16 = numpy.dtype("float16")
int64 = numpy.dtype("int64")
int32 = numpy.dtype("int32")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")


class Tensor:
    """An n-dimensional array that records the ops applied to it, for ``backward``."""

    __array_priority__ = 1000  # numpy_scalar * tensor must call Tensor.__rmul__, not NumPy's

    def __init__(self, data, requires_grad=False):
        if not backend.is_array(data):
            raise TypeError(f"Tensor wraps a NumPy or CuPy array, got {type(data).__name__}; "
                            "use minitorch.tensor(...) to build one from Python data")
        self.array = data
        self.grad = None
        self.grad_fn = None
        self._output_index = 0
        self._retains_grad = False
        self._version_counter = [0]  # a list, so views can share one counter
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---- what it is ------------------------------------------------------------------------------
    @property
    def shape(self):
        return self.array.shape

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        return backend.device_of(self.array)

    @property
    def xp(self):
        """The array module (numpy or cupy) that computes on this tensor's device."""
        return backend.array_module(self.device)

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def is_cuda(self):
        return self.device == "cuda"

    def is_contiguous(self):
        """Whether the elements lie in memory in row-major order, without gaps (view needs it)."""
        return bool(self.array.flags.c_contiguous)

    @property
    def _version(self):
        return self._version_counter[0]

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self):
        """The transpose of each matrix of a batch: the last two dims swapped."""
        return self.transpose(-2, -1)

    def dim(self):
        return self.array.ndim

    def size(self, dim=None):
        return tuple(self.shape) if dim is None else self.shape[dim]

    def numel(self):
        return self.array.size

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def is_floating_point(self):
        return self.dtype.kind == "f"

    def __repr__(self):
        values = numpy.array2string(backend.to_numpy(self.array), separator=", ", prefix="tensor(")
        extras = []
        if self.dtype not in (float32, int64, bool_):
            extras.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([values] + extras) + ")"

    # ---- autograd --------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``autograd.backward``).

        ``create_graph=True`` makes the gradients Tensors in a graph, differentiable again;
        ``retain_graph`` defaults to ``create_graph``; ``inputs`` limits which ``.grad`` change.
        """
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.dtype.kind not in "fc":
            raise RuntimeError(f"only floating-point tensors can require gradients, "
                               f"got dtype {self.dtype}")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) is only allowed on leaf tensors; "
                               "use .detach() for a non-leaf")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that has requires_grad=False")
        self._retains_grad = True

    def detach(self):
        """The same data (shared, not copied), cut off from the graph."""
        out = Tensor(self.array)
        out._version_counter = self._version_counter
        return out

    @property
    def data(self):
        """PyTorch's ``.data``: a tensor over the same array that does not require grad.

        Unlike ``detach()`` it does not share the version counter, so a change made through it
        (``p.data.add_(...)``) is invisible to autograd's in-place check: that is what old
        PyTorch code relies on, and why ``detach()`` (or ``with no_grad():``) is the safe way.
        """
        return Tensor(self.array)

    @data.setter
    def data(self, value):
        """``p.data = t`` makes ``p`` hold ``t``'s array (any shape, as torch allows)."""
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        self.array = value.array

    # ---- leaving minitorch -----------------------------------------------------------------------
    def numpy(self):
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on a tensor that requires grad. "
                               "Use tensor.detach().numpy() instead.")
        return backend.to_numpy(self.array)

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {tuple(self.shape)}")
        return backend.to_numpy(self.array.reshape(())).item()  # a sync on the GPU

    def tolist(self):
        return backend.to_numpy(self.array).tolist()

    def __array__(self, dtype=None, copy=None):
        """``numpy.asarray(t)`` (and ``minitorch.tensor([t1, t2])``) see the values, on the CPU."""
        array = backend.to_numpy(self.array)
        return array if dtype is None else array.astype(dtype, copy=False)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} elements is "
                               "ambiguous; use .any() or .all()")
        return bool(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return self.item()

    def __hash__(self):
        return id(self)

    def __format__(self, spec):
        """``f"{loss:.4f}"`` formats a 0-d tensor as its number (as torch)."""
        return format(self.item(), spec) if self.ndim == 0 else format(str(self), spec)

    def __iter__(self):
        """``for row in t`` gives t[0], t[1], ... (each one a tensor, in the graph)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __contains__(self, element):
        """``value in t``: whether any element equals it."""
        return bool((self == element).any())

    # ---- moving and converting (differentiable) --------------------------------------------------
    def to(self, *args, dtype=None, device=None, non_blocking=False, copy=False):
        """``t.to('cuda')``, ``t.to(minitorch.device('cuda'))``, ``t.to(minitorch.float64)``,
        ``t.to(other_tensor)``, or a device and a dtype.  Returns ``t`` itself when nothing
        changes, unless ``copy=True``.  (``non_blocking`` is accepted: a copy to the GPU is
        asynchronous in CuPy anyway.)"""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, str):
                device = a
            else:
                dtype = a
        out = self
        if device is not None and backend.canonical_device(device) != self.device:
            out = ops.to_device(out, backend.canonical_device(device))
        if dtype is not None and numpy.dtype(dtype) != out.dtype:
            out = ops.cast(out, numpy.dtype(dtype))
        return ops.clone(out) if copy and out is self else out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to("cuda" if device is None else backend.device(
            device if isinstance(device, str) else f"cuda:{device}"))

    def type(self, dtype):
        return self.to(dtype=dtype)

    def float(self):
        return self.to(dtype=float32)

    def double(self):
        return self.to(dtype=float64)

    def half(self):
        return self.to(dtype=float16)

    def long(self):
        return self.to(dtype=int64)

    def int(self):
        return self.to(dtype=int32)

    def bool(self):
        return self.to(dtype=bool_)

    def clone(self):
        return ops.clone(self)

    def contiguous(self):
        """This tensor when it is contiguous, else a row-major copy (in the graph), which
        ``view`` can reshape: ``t.t().contiguous().view(-1)``."""
        return self if self.is_contiguous() else ops.contiguous(self)

    # ---- new tensors like this one: same dtype and device unless told (as torch) -----------------
    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        return tensor(data, dtype=self.dtype if dtype is None else dtype,
                      device=self.device if device is None else device,
                      requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_full(_sizes(size), 0, dtype=dtype, device=device,
                             requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self.new_full(_sizes(size), 1, dtype=dtype, device=device,
                             requires_grad=requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        """Uninitialised in torch; zeros here (NumPy's ``empty`` would show old memory)."""
        return self.new_zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return _filled(_sizes((size,)) if isinstance(size, int) else size, fill_value,
                       self.dtype if dtype is None else dtype,
                       self.device if device is None else device, requires_grad)

    # ---- in-place changes: not recorded; they bump the version counter ----------------------------
    def _check_inplace(self, name):
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError(
                f"{name}: a tensor that requires grad can't be changed in place while gradients "
                "are recorded (the change would not be in the graph). Write y = y + ... , or do "
                "it inside `with minitorch.no_grad():` (as optimizers and init functions do).")
        # An expanded tensor repeats one element along a zero stride: writing it would write that
        # element many times (NumPy's broadcast views are read-only, CuPy's are not).
        if any(stride == 0 and n > 1 for stride, n in zip(self.array.strides, self.array.shape)):
            raise RuntimeError(
                f"{name}: unsupported operation: more than one element of the written-to tensor "
                "refers to a single memory location. Please clone() the tensor before "
                "performing the operation.")
        self._version_counter[0] += 1

    def _as_array(self, value):
        """The array to combine with ``self.array`` in place: a tensor's data, or host values
        (a NumPy array, a list) moved to this tensor's device; numbers stay numbers."""
        if isinstance(value, Tensor):
            value = value.array
        if isinstance(value, (list, tuple)):
            value = numpy.asarray(value)
        return backend.to_device(value, self.device) if backend.is_array(value) else value

    def __setitem__(self, key, value):
        self._check_inplace("__setitem__")
        key = ops.index.array_key(key)
        self.array[key] = self._as_array(value)

    def copy_(self, src):
        self._check_inplace("copy_")
        src = src.array if isinstance(src, Tensor) else self.xp.asarray(src)
        self.array[...] = backend.to_device(src, self.device)
        return self

    def fill_(self, value):
        self._check_inplace("fill_")
        self.array[...] = value
        return self

    def zero_(self):
        self._check_inplace("zero_")
        self.array[...] = 0
        return self

    def add_(self, other, alpha=1):
        self._check_inplace("add_")
        self.array += alpha * self._as_array(other) if alpha != 1 else self._as_array(other)
        return self

    def sub_(self, other, alpha=1):
        self._check_inplace("sub_")
        self.array -= alpha * self._as_array(other) if alpha != 1 else self._as_array(other)
        return self

    def mul_(self, other):
        self._check_inplace("mul_")
        self.array *= self._as_array(other)
        return self

    def div_(self, other):
        self._check_inplace("div_")
        self.array /= self._as_array(other)
        return self

    def clamp_(self, min=None, max=None):
        self._check_inplace("clamp_")
        self.xp.clip(self.array, min, max, out=self.array)
        return self

    def masked_fill_(self, mask, value):
        self._check_inplace("masked_fill_")
        self.array[self._as_array(mask)] = value
        return self

    def uniform_(self, a=0.0, b=1.0):
        self._check_inplace("uniform_")
        self.array[...] = _to_like(backend.rng().uniform(a, b, self.shape), self)
        return self

    def normal_(self, mean=0.0, std=1.0):
        self._check_inplace("normal_")
        self.array[...] = _to_like(backend.rng().normal(mean, std, self.shape), self)
        return self

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    # ---- arithmetic (ops/elementwise.py) ---------------------------------------------------------
    def __add__(self, other):
        return ops.add(self, other)

    def __radd__(self, other):
        return ops.add(other, self)

    def __sub__(self, other):
        return ops.sub(self, other)

    def __rsub__(self, other):
        return ops.sub(other, self)

    def __mul__(self, other):
        return ops.mul(self, other)

    def __rmul__(self, other):
        return ops.mul(other, self)

    def __truediv__(self, other):
        return ops.div(self, other)

    def __rtruediv__(self, other):
        return ops.div(other, self)

    def __pow__(self, other):
        return ops.pow(self, other)

    def __rpow__(self, other):
        return ops.pow(other, self)

    def __neg__(self):
        return ops.neg(self)

    def __abs__(self):
        return ops.abs(self)

    def __matmul__(self, other):
        return ops.matmul(self, other)

    def __rmatmul__(self, other):
        return ops.matmul(other, self)

    def __eq__(self, other):
        return ops.eq(self, other)

    def __ne__(self, other):
        return ops.ne(self, other)

    def __lt__(self, other):
        return ops.lt(self, other)

    def __le__(self, other):
        return ops.le(self, other)

    def __gt__(self, other):
        return ops.gt(self, other)

    def __ge__(self, other):
        return ops.ge(self, other)

    def __invert__(self):
        return ops.logical_not(self)

    def __and__(self, other):
        return ops.logical_and(self, other)

    def __or__(self, other):
        return ops.logical_or(self, other)

    def __getitem__(self, key):
        return ops.getitem(self, key)

    def add(self, other):
        return ops.add(self, other)

    def sub(self, other):
        return ops.sub(self, other)

    def mul(self, other):
        return ops.mul(self, other)

    def div(self, other):
        return ops.div(self, other)

    def pow(self, exponent):
        return ops.pow(self, exponent)

    def matmul(self, other):
        return ops.matmul(self, other)

    def mm(self, mat2):
        return ops.mm(self, mat2)

    def bmm(self, mat2):
        return ops.bmm(self, mat2)

    def neg(self):
        return ops.neg(self)

    def abs(self):
        return ops.abs(self)

    def exp(self):
        return ops.exp(self)

    def log(self):
        return ops.log(self)

    def sqrt(self):
        return ops.sqrt(self)

    def sin(self):
        return ops.sin(self)

    def cos(self):
        return ops.cos(self)

    def tanh(self):
        return ops.tanh(self)

    def sigmoid(self):
        return ops.sigmoid(self)

    def relu(self):
        return ops.relu(self)

    def clamp(self, min=None, max=None):
        return ops.clamp(self, min, max)

    clip = clamp

    def maximum(self, other):
        return ops.maximum(self, other)

    def minimum(self, other):
        return ops.minimum(self, other)

    def eq(self, other):
        return ops.eq(self, other)

    def ne(self, other):
        return ops.ne(self, other)

    def lt(self, other):
        return ops.lt(self, other)

    def le(self, other):
        return ops.le(self, other)

    def gt(self, other):
        return ops.gt(self, other)

    def ge(self, other):
        return ops.ge(self, other)

    def logical_not(self):
        return ops.logical_not(self)

    def masked_fill(self, mask, value):
        return ops.masked_fill(self, mask, value)

    def gather(self, dim, index):
        return ops.gather(self, dim, index)

    # ---- reductions (ops/reduce.py) --------------------------------------------------------------
    def sum(self, dim=None, keepdim=False):
        return ops.sum(self, dim, keepdim)

    def mean(self, dim=None, keepdim=False):
        return ops.mean(self, dim, keepdim)

    def var(self, dim=None, unbiased=True, keepdim=False):
        return ops.var(self, dim, unbiased=unbiased, keepdim=keepdim)

    def std(self, dim=None, unbiased=True, keepdim=False):
        return ops.std(self, dim, unbiased=unbiased, keepdim=keepdim)

    def max(self, dim=None, keepdim=False):
        return ops.max(self, dim, keepdim)

    def min(self, dim=None, keepdim=False):
        return ops.min(self, dim, keepdim)

    def amax(self, dim=(), keepdim=False):
        return ops.amax(self, dim, keepdim)

    def amin(self, dim=(), keepdim=False):
        return ops.amin(self, dim, keepdim)

    def logsumexp(self, dim, keepdim=False):
        return ops.logsumexp(self, dim, keepdim)

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        return ops.reduce.norm(self, p, dim, keepdim, dtype)  # (ops.norm is batch norm's file)

    def cumsum(self, dim):
        return ops.cumsum(self, dim)

    def sort(self, dim=-1, descending=False, stable=False):
        return ops.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return ops.argsort(self, dim, descending, stable)

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return ops.topk(self, k, dim, largest, sorted)

    def argmax(self, dim=None, keepdim=False):
        return ops.argmax(self, dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        return ops.argmin(self, dim, keepdim)

    def any(self, dim=None, keepdim=False):
        return ops.any(self, dim, keepdim)

    def all(self, dim=None, keepdim=False):
        return ops.all(self, dim, keepdim)

    def softmax(self, dim):
        return ops.softmax(self, dim)

    def log_softmax(self, dim):
        return ops.log_softmax(self, dim)

    # ---- shapes (ops/shape.py) -------------------------------------------------------------------
    def reshape(self, *shape):
        return ops.reshape(self, _sizes(shape))

    def view(self, *shape):
        return ops.view(self, _sizes(shape))

    def view_as(self, other):
        return ops.view(self, other.shape)

    def flatten(self, start_dim=0, end_dim=-1):
        return ops.flatten(self, start_dim, end_dim)

    def permute(self, *dims):
        return ops.permute(self, _sizes(dims))

    def transpose(self, dim0, dim1):
        return ops.transpose(self, dim0, dim1)

    def flip(self, *dims):
        """``x.flip(0)``, ``x.flip(0, 1)`` or ``x.flip((0, 1))``, as torch."""
        return ops.flip(self, _sizes(dims))

    def t(self):
        """The transpose of a matrix; a vector or a number stays as it is (as torch)."""
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got shape "
                               f"{tuple(self.shape)}; use transpose(dim0, dim1) or permute")
        return ops.transpose(self, 0, 1) if self.ndim == 2 else ops.reshape(self, self.shape)

    def squeeze(self, dim=None):
        return ops.squeeze(self, dim)

    def unsqueeze(self, dim):
        return ops.unsqueeze(self, dim)

    def expand(self, *sizes):
        return ops.expand(self, _sizes(sizes))

    def expand_as(self, other):
        return ops.expand(self, other.shape)

    def repeat(self, *sizes):
        return ops.repeat(self, _sizes(sizes))

    def split(self, split_size, dim=0):
        return ops.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return ops.chunk(self, chunks, dim)

    def narrow(self, dim, start, length):
        """``length`` elements of ``dim`` from ``start`` on: a view, as ``t[..., start:start +
        length]`` along that dim."""
        return ops.narrow(self, dim, start, length)

    def tril(self, diagonal=0):
        return ops.tril(self, diagonal)

    def triu(self, diagonal=0):
        return ops.triu(self, diagonal)




def _sizes(args):
    """Accept both t.reshape(2, 3) and t.reshape((2, 3))."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _to_like(array, like):
    """A NumPy array moved to ``like``'s device with ``like``'s dtype."""
    return backend.to_device(numpy.asarray(array, dtype=like.dtype), like.device)


# ---- creating tensors ----------------------------------------------------------------------------
def get_default_dtype():
    return float32


def _infer_dtype(data):
    """PyTorch's rule: Python floats give float32, ints int64, bools bool; arrays keep theirs."""
    if backend.is_array(data) or isinstance(data, numpy.generic):
        return data.dtype
    probe = numpy.asarray(data)
    if probe.dtype.kind == "f":
        return float32
    if probe.dtype.kind in "iu":
        return int64
    return probe.dtype


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data`` (a number, nested list, array or Tensor).

    Without ``device`` it goes where ``data`` already is when that is the GPU (a CuPy array, a
    'cuda' tensor) and to the default device otherwise ($MINITORCH_DEVICE, as torch's default).
    """
    if isinstance(data, Tensor):
        data = data.array
    on_gpu = backend.is_array(data) and backend.device_of(data) == "cuda"
    device = backend.canonical_device(device) if device is not None else (
        "cuda" if on_gpu else backend.default_device())
    dtype = numpy.dtype(dtype) if dtype is not None else _infer_dtype(data)
    xp = backend.array_module(device)
    if backend.is_array(data):
        array = xp.array(backend.to_device(data, device), dtype=dtype, copy=True)
    elif isinstance(data, (bool, int, float, numpy.generic)):
        array = xp.full((), data, dtype=dtype)  # on the GPU a fill, not a host→device copy
    else:
        array = xp.asarray(numpy.array(data, dtype=dtype))
    return Tensor(array, requires_grad=requires_grad)


def as_tensor(data, like=None, dtype=None):
    """``data`` as a Tensor without copying when it already is one.

    ``like`` is the tensor that ``data`` will be combined with: a Python number takes a dtype
    that combines with it as in PyTorch (a float with an integer tensor gives float32; otherwise
    the tensor's dtype wins) and goes to its device.
    """
    if isinstance(data, Tensor):
        return data if like is None or data.device == like.device else data.to(like.device)
    device = like.device if like is not None else None
    if dtype is None and like is not None and isinstance(data, (int, float,
                                                                bool)):
        if isinstance(data, float) and like.dtype.kind not in "fc":
            dtype = float32
        elif isinstance(data, int) and not isinstance(data, bool) \
                and like.dtype == bool_:
            dtype = int64
        else:
            dtype = like.dtype
    if backend.is_array(data):
        return Tensor(backend.to_device(data, device or backend.device_of(data)))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A tensor that shares memory with the NumPy array (as ``torch.from_numpy``)."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def _filled(size, fill, dtype, device, requires_grad):
    device = backend.canonical_device(device)
    xp = backend.array_module(device)
    array = xp.full(_sizes(size), fill, dtype=numpy.dtype(dtype) if dtype is not None else float32)
    return Tensor(array, requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _filled(size, 0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _filled(size, 1, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _filled(size, 0, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = _infer_dtype(fill_value)
    return _filled((size,) if isinstance(size, int) else size, fill_value, dtype,
                   device, requires_grad)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    return _filled(t.shape, 0, t.dtype if dtype is None else dtype, device or t.device, requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    return _filled(t.shape, 1, t.dtype if dtype is None else dtype, device or t.device, requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    return _filled(t.shape, fill_value, t.dtype if dtype is None else dtype, device or t.device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if dtype is None:
        is_int = all(isinstance(v, int) for v in (start, end, step))
        dtype = int64 if is_int else float32
    return tensor(numpy.arange(start, end, step, dtype=dtype), device=device or
                  backend.default_device(), requires_grad=requires_grad)


def _random(draw, size, dtype, device, requires_grad):
    """A tensor of ``draw(shape)`` from the one seeded generator (see backend.rng)."""
    values = numpy.asarray(draw(_sizes(size)), dtype=numpy.dtype(dtype) if dtype is not None else float32)
    return tensor(values, device=device or backend.default_device(), requires_grad=requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Standard normal samples."""
    return _random(backend.rng().standard_normal, size, dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1)."""
    return _random(backend.rng().random, size, dtype, device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    """Integers drawn uniformly from [low, high); ``randint(high, size)`` means low = 0 (as torch)."""
    if isinstance(high, (tuple, list)):  # randint(10, (3,)): the second argument is the size
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    return _random(lambda shape: backend.rng().integers(low, high, shape), size,
                   int64 if dtype is None else dtype, device, False)


def randperm(n, device=None):
    return tensor(backend.rng().permutation(n), device=device)


def rand_like(t, dtype=None, device=None, requires_grad=False):
    """Uniform samples in [0, 1) of ``t``'s shape, dtype and device (unless told)."""
    return rand(*t.shape, dtype=t.dtype if dtype is None else dtype,
                device=t.device if device is None else device, requires_grad=requires_grad)


def randn_like(t, dtype=None, device=None, requires_grad=False):
    """Standard normal samples of ``t``'s shape, dtype and device (unless told)."""
    return randn(*t.shape, dtype=t.dtype if dtype is None else dtype,
                 device=t.device if device is None else device, requires_grad=requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The n × m identity matrix (ones on the diagonal), n × n without ``m``."""
    array = numpy.eye(n, n if m is None else m, dtype=float32 if dtype is None else dtype)
    return tensor(array, device=device, requires_grad=requires_grad)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    if not isinstance(steps, int) or steps < 0:
        raise RuntimeError(f"linspace: number of steps must be a non-negative integer, got "
                           f"{steps!r}")
    array = numpy.linspace(start, end, steps).astype(float32 if dtype is None else dtype)
    return tensor(array, device=device, requires_grad=requires_grad)


# ---- questions about tensors --------------------------------------------------------------------
def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(t):
    return t.numel()


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every |input − other| ≤ atol + rtol·|other| (broadcasting), as one Python bool."""
    a, b = as_tensor(input), as_tensor(other, like=input)
    return bool(a.xp.allclose(a.array, b.array, rtol=rtol, atol=atol, equal_nan=equal_nan))


def equal(input, other):
    """Whether the two tensors have the same shape and the same values (NaN ≠ NaN)."""
    if tuple(input.shape) != tuple(other.shape):
        return False
    return bool((input.array == as_tensor(other, like=input).array).all())


manual_seed = backend.manual_seed

# Last: the ops build Tensors, so the Tensor class must exist before they are imported.
from minitorch import ops  # noqa: E402
