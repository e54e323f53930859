"""Activation layers: the nonlinearities between linear layers, as modules.

Read after ``functional.py``.  Each is a thin module around the function in ``F`` (whose op,
with its derivative, is in ``ops/elementwise.py``, ``ops/activation.py`` or ``ops/reduce.py``),
so it can sit in a
``Sequential``.  ``inplace=True`` is accepted, as fastai passes it, and shows in the repr; the
result is still a new tensor (see ``F.relu``).
"""
from minitorch.nn import functional as F
from minitorch.nn.module import Module


class ReLU(Module):
    """max(x, 0)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.relu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, negative_slope · x otherwise (a small gradient where ReLU has none)."""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """x Φ(x), Φ the standard normal CDF: a smooth ReLU (``approximate='tanh'``: its tanh form)."""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x σ(x) (also called swish): x let through in proportion to σ(x)."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return F.silu(input)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Softplus(Module):
    """log(1 + e^(βx)) / β, a smooth max(x, 0); linear where βx > threshold."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(Module):
    """x for x > 0, α(eˣ − 1) otherwise: negative outputs that level off at −α."""

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return F.elu(input, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    """1 / (1 + e⁻ˣ), squashing to (0, 1)."""

    def forward(self, input):
        return F.sigmoid(input)


class Tanh(Module):
    """tanh x, squashing to (−1, 1)."""

    def forward(self, input):
        return F.tanh(input)


class Softmax(Module):
    """e^{xᵢ} / Σⱼ e^{xⱼ} along ``dim``: turns scores into probabilities."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        if self.dim is None:
            raise ValueError("Softmax(dim=None): give the dimension to normalise over, "
                             "e.g. Softmax(dim=1)")
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log of Softmax, computed stably (see ``ops/reduce.py``)."""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        if self.dim is None:
            raise ValueError("LogSoftmax(dim=None): give the dimension to normalise over, "
                             "e.g. LogSoftmax(dim=1)")
        return F.log_softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"
