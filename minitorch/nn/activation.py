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
