"""Smooth ReLUs: GELU, the activation of transformers, and SiLU, softplus and ELU.  Read after
``ops/elementwise.py`` (ReLU, sigmoid, tanh).

ReLU keeps x where x > 0 and drops it elsewhere.  GELU (Hendrycks & Gimpel, 2016) keeps x *in
proportion to how likely a standard normal variable is to be below it*: GELU(x) = x · Φ(x),
where Φ is the normal distribution's CDF.  Large positive x pass almost unchanged, large
negative ones are dropped, and in between the curve is smooth (it even dips slightly below 0).

Φ needs the error function, Φ(x) = (1 + erf(x/√2)) / 2, which NumPy lacks (see
``backend.erf``); the ``'tanh'`` approximation replaces it by a tanh of a cubic, as GPT-2 did.

The others are the same idea with other curves: SiLU (or swish) keeps x in proportion σ(x),
softplus is a smooth max(x, 0) (the log of 1 + eˣ), ELU bends the negative side into
α(eˣ − 1), which levels off at −α instead of at 0.
"""
import math

from minitorch import backend
from minitorch.autograd import Function
from minitorch.ops.common import require_floating
from minitorch.ops.elementwise import exp, sigmoid, sigmoid_array, softplus_array, tanh

SQRT_HALF = math.sqrt(0.5)                    # 1/√2
INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)     # the normal density's factor 1/√(2π)
SQRT_2_OVER_PI = math.sqrt(2 / math.pi)       # √(2/π), the tanh approximation's slope
KAPPA = 0.044715                              # the tanh approximation's cubic coefficient


def normal_cdf_array(x):
    """Φ(x) = (1 + erf(x/√2)) / 2 of an array."""
    return 0.5 * (1 + backend.erf(x * x.dtype.type(SQRT_HALF)))


class NormalCDF(Function):
    """y = Φ(x), the standard normal CDF;   dL/dx = dL/dy · φ(x).  (GELU's derivative needs Φ
    as an op of its own when it is differentiated again.)"""

    def forward(self, x):
        self.save_for_backward(x)
        return normal_cdf_array(x)

    def backward(self, grad):
        x, = self.saved_tensors
        return grad * self.xp.exp(-0.5 * x * x) * x.dtype.type(INV_SQRT_2PI)

    def backward_graph(self, grad):
        x, = self.inputs
        return grad * exp(-0.5 * x * x) * INV_SQRT_2PI


class GELU(Function):
    r"""y = x Φ(x), Φ(x) = (1 + erf(x/√2)) / 2;   dL/dx = dL/dy · (Φ(x) + x φ(x)),
    where φ(x) = e^(−x²/2) / √(2π) is the normal density (the derivative of Φ).
    """

    def forward(self, x):
        cdf = normal_cdf_array(x)
        self.save_for_backward(x, cdf)
        return x * cdf

    def backward(self, grad):
        x, cdf = self.saved_tensors
        pdf = self.xp.exp(-0.5 * x * x) * x.dtype.type(INV_SQRT_2PI)
        return grad * (cdf + x * pdf)

    def backward_graph(self, grad):
        x, = self.inputs
        return grad * (NormalCDF()(x) + x * exp(-0.5 * x * x) * INV_SQRT_2PI)


class GELUTanh(Function):
    r"""The tanh approximation: y = x (1 + tanh u) / 2, u = √(2/π) (x + κ x³), κ = 0.044715;
    dL/dx = dL/dy · ((1 + tanh u) / 2 + x (1 − tanh² u) / 2 · √(2/π) (1 + 3κ x²)).
    """

    def forward(self, x):
        slope, kappa = x.dtype.type(SQRT_2_OVER_PI), x.dtype.type(KAPPA)
        t = self.xp.tanh(slope * (x + kappa * x * x * x))
        self.save_for_backward(x, t)
        return 0.5 * x * (1 + t)

    def backward(self, grad):
        x, t = self.saved_tensors
        slope, kappa = x.dtype.type(SQRT_2_OVER_PI), x.dtype.type(KAPPA)
        du_dx = slope * (1 + 3 * kappa * x * x)
        return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du_dx)

    def backward_graph(self, grad):
        x, = self.inputs
        t = tanh(SQRT_2_OVER_PI * (x + KAPPA * x * x * x))
        du_dx = SQRT_2_OVER_PI * (1 + 3 * KAPPA * x * x)
        return grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du_dx)


def gelu(input, *, approximate="none"):
    """x Φ(x), exactly (``approximate='none'``) or with PyTorch's ``'tanh'`` approximation."""
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got "
                           f"{approximate!r}")
    require_floating("gelu", input)
    return GELU()(input) if approximate == "none" else GELUTanh()(input)


class SiLU(Function):
    """y = x σ(x);   dL/dx = dL/dy · (σ(x) + x σ(x)(1 − σ(x)))
                           = dL/dy · σ(x)(1 + x(1 − σ(x)))."""

    def forward(self, x):
        s = sigmoid_array(self.xp, x)
        self.save_for_backward(x, s)
        return x * s

    def backward(self, grad):
        x, s = self.saved_tensors
        return grad * s * (1 + x * (1 - s))

    def backward_graph(self, grad):
        x, = self.inputs
        s = sigmoid(x)
        return grad * s * (1 + x * (1 - s))


class Softplus(Function):
    """y = log(1 + e^(βx)) / β, and y = x where βx > threshold (there the two agree to float
    precision);   dL/dx = dL/dy · σ(βx), or dL/dy past the threshold.  (log(1 + eᶻ) is
    ``softplus_array``'s, which cannot overflow.)
    """

    def __init__(self, beta, threshold):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        xp, z = self.xp, x * self.beta
        self.save_for_backward(x)
        soft = softplus_array(xp, z) / x.dtype.type(self.beta)
        return xp.where(z > self.threshold, x, soft)

    def backward(self, grad):
        x, = self.saved_tensors
        z = x * self.beta
        return grad * self.xp.where(z > self.threshold, 1, sigmoid_array(self.xp, z))

    def backward_graph(self, grad):
        # dy/dx = m + (1 − m) σ(βx), with m the constant mask of βx > threshold
        x, (saved,) = self.inputs[0], self.saved_tensors
        m = self.constant((saved * self.beta > self.threshold).astype(saved.dtype))
        return grad * (m + (1 - m) * sigmoid(x * self.beta))


class ELU(Function):
    """y = x where x > 0, else α(eˣ − 1);   dL/dx = dL/dy where x > 0, else dL/dy · α eˣ.

    eˣ − 1 is ``expm1`` (exact for small x, where 1 + tiny − 1 loses digits), taken of min(x, 0)
    so that the branch ``where`` drops cannot overflow.
    """

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, x):
        xp = self.xp
        self.save_for_backward(x)
        return xp.where(x > 0, x, x.dtype.type(self.alpha) * xp.expm1(xp.minimum(x, 0)))

    def backward(self, grad):
        x, = self.saved_tensors
        xp = self.xp
        return grad * xp.where(x > 0, 1, x.dtype.type(self.alpha) * xp.exp(xp.minimum(x, 0)))

    def backward_graph(self, grad):
        # dy/dx = m + (1 − m) α e^min(x, 0), with m the constant mask of x > 0
        x, (saved,) = self.inputs[0], self.saved_tensors
        m = self.constant((saved > 0).astype(saved.dtype))
        return grad * (m + (1 - m) * self.alpha * exp(x.clamp(max=0)))


def silu(input, inplace=False):
    """x σ(x) (``inplace`` accepted; the result is a new tensor, as ``F.relu``)."""
    require_floating("silu", input)
    return SiLU()(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + e^(βx)) / β, linear past βx > threshold."""
    require_floating("softplus", input)
    return Softplus(beta, threshold)(input)


def elu(input, alpha=1.0, inplace=False):
    """x for x > 0, α(eˣ − 1) otherwise (``inplace`` accepted, as ``F.relu``)."""
    require_floating("elu", input)
    return ELU(alpha)(input)
