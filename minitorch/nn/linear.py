"""The simplest layers: Identity, Flatten and Linear (a fully connected layer).

Read after ``module.py`` and ``functional.py``.  ``Linear`` shows the pattern every layer with
weights follows:

* ``__init__`` creates the Parameters with PyTorch's names and layout (``weight`` is
  (out_features, in_features), ``bias`` is (out_features,)), so a PyTorch state_dict loads;
* ``reset_parameters`` gives them PyTorch's default initialisation (``init.py``);
* ``forward`` checks the input and calls the function in ``F`` that does the math;
* ``extra_repr`` prints the constructor arguments, as PyTorch's repr does.
"""
from minitorch.tensor import zeros
from minitorch.nn import functional as F
from minitorch.nn import init
from minitorch.nn.module import Module, Parameter


def new_parameter(*shape, device=None, dtype=None):
    """An uninitialised (zero) Parameter; ``reset_parameters`` fills it."""
    return Parameter(zeros(*shape, device=device, dtype=dtype))


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. for a removed head).  Any constructor
    arguments are accepted and ignored, as in PyTorch."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    """Flattens dims ``start_dim`` … ``end_dim`` into one: (N, C, H, W) → (N, C·H·W) by default."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Linear(Module):
    """y = x Wᵀ + b for x of shape (..., in_features); y has shape (..., out_features).

    Default init (PyTorch's): W and b uniform in ±1/√in_features (``kaiming_uniform_`` with
    a = √5 works out to exactly that bound).
    """

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = new_parameter(out_features, in_features, device=device, dtype=dtype)
        if bias:
            self.bias = new_parameter(out_features, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_init_(self.weight, self.bias)

    def forward(self, input):
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise RuntimeError(
                f"{self!r}: expected input of shape (..., {self.in_features}) (last dimension "
                f"in_features={self.in_features}), got shape {tuple(input.shape)}")
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
