"""Elementwise ops: arithmetic, the smooth functions, activations and comparisons.

Read after ``ops/common.py``.  Each class is one op: ``forward`` computes y from x, and
``backward`` gets dL/dy and returns dL/dx by the chain rule, dL/dx = dL/dy · dy/dx.  The
docstring of each op gives its derivative as you would write it on paper.

``backward_graph`` is the same derivative written with these ops on Tensors, for
``create_graph=True`` (``autograd.py`` explains it): it recomputes from the inputs
(``self.inputs``) what ``backward`` read from saved arrays, so that the gradient it returns is
itself differentiable; a mask (ReLU's, clamp's) is a constant there, read from the saved
arrays.  Where the derivative of the derivative is not obvious, the docstring gives it.

Binary ops broadcast their inputs as NumPy does; their backward sums the gradient back to each
input's shape (``sum_to_shape``).  Their dtypes combine as in PyTorch: float32 with float64 gives
float64, a float with an integer gives the float, a Python number takes the tensor's dtype, and a
0-d tensor counts like a number (float32 [3] × float64 [] gives float32).
"""
import numpy  # dtypes only: the result dtype of a binary op

from minitorch import backend
from minitorch.autograd import Function
from minitorch.ops.common import broadcast_shape, sum_to_shape
from minitorch.tensor import Tensor, as_tensor, tensor

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}  # bool < integer < floating < complex


def promote_types(a, b):
    """PyTorch's promotion for two dtypes: the higher category (bool < integer < float) wins, so
    int64 with float32 gives float32 (NumPy would say float64); within one category the wider
    dtype wins: float32 with float64 gives float64."""
    category_a, category_b = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if category_a != category_b:
        return a if category_a > category_b else b
    return numpy.promote_types(a, b)


def result_dtype(a, b):
    """The dtype of an op between tensors ``a`` and ``b``: ``promote_types``, except that a 0-d
    tensor, like a Python number, does not widen a tensor with dims of its own category:
    float32 [3] with float64 [] stays float32 (but int64 [3] with float64 [] gives float64)."""
    if (a.ndim == 0) != (b.ndim == 0) and _CATEGORY[a.dtype.kind] == _CATEGORY[b.dtype.kind]:
        return b.dtype if a.ndim == 0 else a.dtype
    return promote_types(a.dtype, b.dtype)


def _floating(x):
    """``x`` itself when it holds floats; integers and bools become float32, as PyTorch does for
    exp, log, sqrt, sin, cos, tanh and sigmoid."""
    return x if x.dtype.kind in "fc" else cast(x, numpy.dtype("float32"))


def _operands(a, b):
    """Turn numbers into tensors and give both operands the dtype of the result."""
    if not isinstance(a, Tensor):
        a = as_tensor(a, like=b)
    if not isinstance(b, Tensor):
        b = as_tensor(b, like=a)
    dtype = result_dtype(a, b)
    return (a if a.dtype == dtype else cast(a, dtype)), (b if b.dtype == dtype else cast(b, dtype))


def _broadcast_operands(a, b, op):
    """``_operands``, plus an error naming ``op`` when the two shapes do not broadcast."""
    a, b = _operands(a, b)
    broadcast_shape(op, a.shape, b.shape)
    return a, b


# ---- arithmetic -----------------------------------------------------------------------------------
class Add(Function):
    """y = a + b;   dL/da = dL/dy,  dL/db = dL/dy  (each summed back over broadcast axes)."""

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return a + b

    def backward(self, grad):
        return sum_to_shape(grad, self.a_shape), sum_to_shape(grad, self.b_shape)

    def backward_graph(self, grad):  # linear in grad: the same code, on Tensors
        return sum_to_shape(grad, self.a_shape), sum_to_shape(grad, self.b_shape)


class Sub(Function):
    """y = a − b;   dL/da = dL/dy,  dL/db = −dL/dy."""

    def forward(self, a, b):
        self.a_shape, self.b_shape = a.shape, b.shape
        return a - b

    def backward(self, grad):
        return sum_to_shape(grad, self.a_shape), sum_to_shape(-grad, self.b_shape)

    def backward_graph(self, grad):
        return sum_to_shape(grad, self.a_shape), sum_to_shape(-grad, self.b_shape)


class Mul(Function):
    """y = a · b;   dL/da = dL/dy · b,  dL/db = dL/dy · a."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, grad):
        a, b = self.saved_tensors
        grad_a = sum_to_shape(grad * b, a.shape) if self.needs_input_grad[0] else None
        grad_b = sum_to_shape(grad * a, b.shape) if self.needs_input_grad[1] else None
        return grad_a, grad_b

    def backward_graph(self, grad):
        a, b = self.inputs
        grad_a = sum_to_shape(grad * b, a.shape) if self.needs_input_grad[0] else None
        grad_b = sum_to_shape(grad * a, b.shape) if self.needs_input_grad[1] else None
        return grad_a, grad_b


class Div(Function):
    """y = a / b;   dL/da = dL/dy / b,  dL/db = −dL/dy · a / b².

    Second derivatives (what differentiating ``backward_graph`` gives): ∂²y/∂a² = 0,
    ∂²y/∂a∂b = −1/b², ∂²y/∂b² = 2a/b³.
    """

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a / b

    def backward(self, grad):
        a, b = self.saved_tensors
        grad_a = sum_to_shape(grad / b, a.shape) if self.needs_input_grad[0] else None
        # b is constant along the dims that sum_to_shape sums (those it was broadcast over), so
        # −Σ grad·a/b² = −(Σ grad·a)/b²: dividing after the sum reads the gradient twice, not
        # four times (weight / σ in spectral norm divides a whole weight by one number).
        grad_b = (-sum_to_shape(grad * a, b.shape) / (b * b)
                  if self.needs_input_grad[1] else None)
        return grad_a, grad_b

    def backward_graph(self, grad):
        a, b = self.inputs
        grad_a = sum_to_shape(grad / b, a.shape) if self.needs_input_grad[0] else None
        grad_b = (-sum_to_shape(grad * a, b.shape) / (b * b)
                  if self.needs_input_grad[1] else None)
        return grad_a, grad_b


class PowScalar(Function):
    """y = xᵖ for a number p;   dL/dx = dL/dy · p · xᵖ⁻¹."""

    def __init__(self, exponent):
        self.exponent = exponent

    def forward(self, x):
        self.save_for_backward(x)
        return x ** self.exponent

    def backward(self, grad):
        x, = self.saved_tensors
        if self.exponent == 0:
            return self.xp.zeros_like(x)
        return grad * self.exponent * x ** (self.exponent - 1)

    def backward_graph(self, grad):  # xᵖ⁻¹ is this op again: every order comes out by itself
        x, = self.inputs
        if self.exponent == 0:
            return self.constant(self.xp.zeros_like(x.array))
        return grad * self.exponent * x ** (self.exponent - 1)


class Pow(Function):
    """y = aᵇ;   dL/da = dL/dy · b · aᵇ⁻¹,  dL/db = dL/dy · aᵇ · ln a  (taken as 0 where a = 0
    and b ≥ 0, as PyTorch does, since aᵇ is flat in b there)."""

    def forward(self, a, b):
        y = a ** b
        self.save_for_backward(a, b, y)
        return y

    def backward(self, grad):
        a, b, y = self.saved_tensors
        xp = self.xp
        zero = grad.dtype.type(0)
        grad_a = grad_b = None
        if self.needs_input_grad[0]:
            grad_a = sum_to_shape(xp.where(b == 0, zero, grad * b * a ** (b - 1)), a.shape)
        if self.needs_input_grad[1]:
            with numpy.errstate(divide="ignore", invalid="ignore"):
                grad_b = grad * y * xp.log(a)
            grad_b = sum_to_shape(xp.where((a == 0) & (b >= 0), zero, grad_b), b.shape)
        return grad_a, grad_b

    def backward_graph(self, grad):  # the same formulas (as PyTorch's), y recomputed as aᵇ
        a, b = self.inputs
        grad_a = grad_b = None
        with numpy.errstate(divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:
                grad_a = sum_to_shape(where(b == 0, 0.0, grad * b * a ** (b - 1)), a.shape)
            if self.needs_input_grad[1]:
                grad_b = grad * a ** b * log(a)
                grad_b = sum_to_shape(where((a == 0) & (b >= 0), 0.0, grad_b), b.shape)
        return grad_a, grad_b


class Neg(Function):
    """y = −x;   dL/dx = −dL/dy."""

    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad

    def backward_graph(self, grad):
        return -grad


class Abs(Function):
    """y = |x|;   dL/dx = dL/dy · sign(x)   (sign(0) = 0; a constant: ∂²y/∂x² = 0)."""

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.abs(x)

    def backward(self, grad):
        x, = self.saved_tensors
        return grad * self.xp.sign(x)

    def backward_graph(self, grad):
        x, = self.saved_tensors
        return grad * self.constant(self.xp.sign(x))


# ---- smooth functions ------------------------------------------------------------------------------
class Exp(Function):
    """y = eˣ;   dL/dx = dL/dy · eˣ = dL/dy · y   (so we keep y, not x)."""

    def forward(self, x):
        y = self.xp.exp(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        y, = self.saved_tensors
        return grad * y

    def backward_graph(self, grad):
        x, = self.inputs
        return grad * exp(x)


class Log(Function):
    """y = ln x;   dL/dx = dL/dy / x."""

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.log(x)

    def backward(self, grad):
        x, = self.saved_tensors
        return grad / x

    def backward_graph(self, grad):
        x, = self.inputs
        return grad / x


class Sqrt(Function):
    """y = √x;   dL/dx = dL/dy / (2√x) = dL/dy / (2y)."""

    def forward(self, x):
        y = self.xp.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        y, = self.saved_tensors
        return grad / (2 * y)

    def backward_graph(self, grad):
        x, = self.inputs
        return grad / (2 * sqrt(x))


class Sin(Function):
    """y = sin x;   dL/dx = dL/dy · cos x."""

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.sin(x)

    def backward(self, grad):
        x, = self.saved_tensors
        return grad * self.xp.cos(x)

    def backward_graph(self, grad):
        x, = self.inputs
        return grad * cos(x)


class Cos(Function):
    """y = cos x;   dL/dx = −dL/dy · sin x."""

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.cos(x)

    def backward(self, grad):
        x, = self.saved_tensors
        return -grad * self.xp.sin(x)

    def backward_graph(self, grad):
        x, = self.inputs
        return -grad * sin(x)


class Tanh(Function):
    """y = tanh x;   dL/dx = dL/dy · (1 − y²);   ∂²y/∂x² = −2y(1 − y²)."""

    def forward(self, x):
        y = self.xp.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        y, = self.saved_tensors
        return grad * (1 - y * y)

    def backward_graph(self, grad):
        y = tanh(self.inputs[0])
        return grad * (1 - y * y)


def sigmoid_array(xp, x):
    """σ(x) of an array, without overflow (see :class:`Sigmoid`)."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


def softplus_array(xp, x):
    """log(1 + eˣ) of an array, as max(x, 0) + log(1 + e^(−|x|)): the exponential is never
    above 1, so it cannot overflow (softplus, the logistic losses)."""
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class Sigmoid(Function):
    """y = σ(x) = 1 / (1 + e⁻ˣ);   dL/dx = dL/dy · y · (1 − y);   ∂²y/∂x² = y(1 − y)(1 − 2y).

    e⁻ˣ overflows for x ≪ 0, so with e = e^{−|x|} (always in (0, 1]) we use the two equal forms
    σ(x) = 1 / (1 + e) for x ≥ 0 and σ(x) = e / (1 + e) for x < 0.  (The shortcut
    ½(1 + tanh(x/2)) also never overflows, but rounds σ(−40) ≈ 4e−18 to 0, and log σ to −inf.)
    """

    def forward(self, x):
        y = sigmoid_array(self.xp, x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        y, = self.saved_tensors
        return grad * y * (1 - y)

    def backward_graph(self, grad):
        y = sigmoid(self.inputs[0])
        return grad * y * (1 - y)


# ---- activations -------------------------------------------------------------------------------------
class ReLU(Function):
    """y = max(x, 0);   dL/dx = dL/dy where x > 0, else 0   (a constant mask: ∂²y/∂x² = 0)."""

    def forward(self, x):
        y = self.xp.maximum(x, 0)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        y, = self.saved_tensors
        return grad * (y > 0)

    def backward_graph(self, grad):
        y, = self.saved_tensors
        return grad * self.constant(y > 0)


class LeakyReLU(Function):
    """y = x where x > 0, else slope · x;   dL/dx = dL/dy where x > 0, else slope · dL/dy."""

    def __init__(self, negative_slope):
        self.negative_slope = negative_slope

    def forward(self, x):
        self.save_for_backward(x)
        if 0 < self.negative_slope <= 1:  # then y = max(x, slope·x): one pass fewer than where
            return self.xp.maximum(x, x * self.negative_slope)
        return self.xp.where(x > 0, x, x * self.negative_slope)

    def backward(self, grad):
        x, = self.saved_tensors
        return self.xp.where(x > 0, grad, grad * self.negative_slope)

    def backward_graph(self, grad):
        # dy/dx as a constant array (1 or the slope): one product to differentiate again,
        # where a `where` of grad and slope · grad would be three ops.  For a slope in [0, 1]
        # it is max(x > 0, slope), exactly, and ~8× faster than where() with two scalars.
        x, = self.saved_tensors
        slope = x.dtype.type(self.negative_slope)
        slopes = (self.xp.maximum(x > 0, slope) if 0 <= self.negative_slope <= 1 else
                  self.xp.where(x > 0, x.dtype.type(1), slope))
        return grad * self.constant(slopes)


class Clamp(Function):
    """y = min(max(x, lo), hi);   dL/dx = dL/dy where lo ≤ x ≤ hi, else 0."""

    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def forward(self, x):
        self.save_for_backward(x)
        return self.xp.clip(x, self.lo, self.hi)

    def backward(self, grad):
        return grad * self.inside()

    def backward_graph(self, grad):
        return grad * self.constant(self.inside())

    def inside(self):
        """Where lo ≤ x ≤ hi: the mask that passes the gradient (a constant)."""
        x, = self.saved_tensors
        inside = self.xp.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return inside


class Maximum(Function):
    """y = max(a, b);   the gradient goes to the larger input; on a tie each gets half (the
    shares are constants: all second derivatives are 0)."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.maximum(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        half = grad.dtype.type(0.5)  # (a NumPy scalar of grad's dtype: no drift to float64)
        share_a = (a > b) + half * (a == b)
        return sum_to_shape(grad * share_a, a.shape), sum_to_shape(grad * (1 - share_a), b.shape)

    def backward_graph(self, grad):
        a, b = self.saved_tensors
        share_a = self.constant((a > b) + grad.dtype.type(0.5) * (a == b))
        return sum_to_shape(grad * share_a, a.shape), sum_to_shape(grad * (1 - share_a), b.shape)


class Minimum(Function):
    """y = min(a, b);   the gradient goes to the smaller input; on a tie each gets half (the
    shares are constants: all second derivatives are 0)."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.minimum(a, b)

    def backward(self, grad):
        a, b = self.saved_tensors
        half = grad.dtype.type(0.5)
        share_a = (a < b) + half * (a == b)
        return sum_to_shape(grad * share_a, a.shape), sum_to_shape(grad * (1 - share_a), b.shape)

    def backward_graph(self, grad):
        a, b = self.saved_tensors
        share_a = self.constant((a < b) + grad.dtype.type(0.5) * (a == b))
        return sum_to_shape(grad * share_a, a.shape), sum_to_shape(grad * (1 - share_a), b.shape)


class Where(Function):
    """y = a where cond, else b;   dL/da = dL/dy where cond,  dL/db = dL/dy elsewhere."""

    def forward(self, cond, a, b):
        self.save_for_backward(cond)
        self.a_shape, self.b_shape = a.shape, b.shape
        return self.xp.where(cond, a, b)

    def backward(self, grad):
        cond, = self.saved_tensors
        zero = grad.dtype.type(0)
        return (None, sum_to_shape(self.xp.where(cond, grad, zero), self.a_shape),
                sum_to_shape(self.xp.where(cond, zero, grad), self.b_shape))

    def backward_graph(self, grad):
        cond = self.inputs[0]
        return (None, sum_to_shape(where(cond, grad, 0.0), self.a_shape),
                sum_to_shape(where(cond, 0.0, grad), self.b_shape))


# ---- dtype and device ------------------------------------------------------------------------------
class Cast(Function):
    """y = x as another dtype;   dL/dx = dL/dy as x's dtype."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, x):
        self.x_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, grad):
        return grad.astype(self.x_dtype)

    def backward_graph(self, grad):
        return cast(grad, self.x_dtype)


class ToDevice(Function):
    """y = x copied to another device;   dL/dx = dL/dy copied back."""

    def __init__(self, device):
        self.device = device

    def forward(self, x):
        self.x_device = backend.device_of(x)
        return backend.to_device(x, self.device)

    def backward(self, grad):
        return backend.to_device(grad, self.x_device)

    def backward_graph(self, grad):
        return to_device(grad, self.x_device)


class Clone(Function):
    """y = a copy of x;   dL/dx = dL/dy."""

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad

    def backward_graph(self, grad):
        return grad


# ---- comparisons and logic: no gradient (a step function is flat almost everywhere) ---------------
class Compare(Function):
    """y = (a ∘ b) for ∘ one of ==, !=, <, <=, >, >=, and, or: a bool tensor, no gradient."""

    differentiable = False
    operators = {
        "eq": lambda a, b: a == b, "ne": lambda a, b: a != b,
        "lt": lambda a, b: a < b, "le": lambda a, b: a <= b,
        "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
        "and": lambda a, b: a & b, "or": lambda a, b: a | b,
    }

    def __init__(self, name):
        self.compare = self.operators[name]

    def forward(self, a, b):
        return self.compare(a, b)


class LogicalNot(Function):
    """y = not x (bool), no gradient."""

    differentiable = False

    def forward(self, x):
        return self.xp.logical_not(x)


# ---- the functions users call ---------------------------------------------------------------------
def add(a, b):
    return Add()(*_broadcast_operands(a, b, "add"))


def sub(a, b):
    return Sub()(*_broadcast_operands(a, b, "sub"))


def mul(a, b):
    return Mul()(*_broadcast_operands(a, b, "mul"))


def div(a, b):
    a, b = _broadcast_operands(a, b, "div")
    if a.dtype.kind != "f":  # true division of integers gives floats, as in PyTorch
        a, b = cast(a, numpy.dtype("float32")), cast(b, numpy.dtype("float32"))
    return Div()(a, b)


def pow(x, exponent):
    if isinstance(x, Tensor) and isinstance(exponent, (int, float)) \
            and not isinstance(exponent, bool):
        if isinstance(exponent, float) and x.dtype.kind not in "fc":
            x = cast(x, numpy.dtype("float32"))  # int ** 0.5 is a float, float32 as in PyTorch
        return PowScalar(exponent)(x)
    return Pow()(*_broadcast_operands(x, exponent, "pow"))


def neg(x):
    return Neg()(x)


def abs(x):
    return Abs()(x)


def exp(x):
    return Exp()(_floating(x))


def log(x):
    return Log()(_floating(x))


def sqrt(x):
    return Sqrt()(_floating(x))


def sin(x):
    return Sin()(_floating(x))


def cos(x):
    return Cos()(_floating(x))


def tanh(x):
    return Tanh()(_floating(x))


def sigmoid(x):
    return Sigmoid()(_floating(x))


def relu(x):
    return ReLU()(x)


def leaky_relu(x, negative_slope=0.01):
    return LeakyReLU(negative_slope)(x)


def clamp(x, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    return Clamp(min, max)(x)


def maximum(a, b):
    return Maximum()(*_broadcast_operands(a, b, "maximum"))


def minimum(a, b):
    return Minimum()(*_broadcast_operands(a, b, "minimum"))


def where(condition, a, b):
    condition = as_tensor(condition)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        # two numbers: a takes the dtype PyTorch infers (1.0 → float32, 1 → int64) and the
        # condition's device; b then follows a
        a = tensor(a, device=condition.device)
    a, b = _operands(a, b)
    if condition.dtype != numpy.dtype(bool):
        raise TypeError(f"where: condition must be a bool tensor, got dtype {condition.dtype}")
    broadcast_shape("where", condition.shape, a.shape, b.shape)
    return Where()(condition, a, b)


def cast(x, dtype):
    return Cast(numpy.dtype(dtype))(x)


def to_device(x, device):
    return ToDevice(device)(x)


def clone(x):
    return Clone()(x)


def eq(a, b):
    return Compare("eq")(*_broadcast_operands(a, b, "eq"))


def ne(a, b):
    return Compare("ne")(*_broadcast_operands(a, b, "ne"))


def lt(a, b):
    return Compare("lt")(*_broadcast_operands(a, b, "lt"))


def le(a, b):
    return Compare("le")(*_broadcast_operands(a, b, "le"))


def gt(a, b):
    return Compare("gt")(*_broadcast_operands(a, b, "gt"))


def ge(a, b):
    return Compare("ge")(*_broadcast_operands(a, b, "ge"))


def logical_and(a, b):
    return Compare("and")(*_broadcast_operands(a, b, "logical_and"))


def logical_or(a, b):
    return Compare("or")(*_broadcast_operands(a, b, "logical_or"))


def logical_not(x):
    return LogicalNot()(x)
