"""Dropout layers: random zeroing during training, a regulariser.

Read after ``functional.py`` (``F.dropout`` explains the 1/(1 − p) scaling).  The module only
adds the switch: it drops in training mode and passes the input through in evaluation mode.
"""
from minitorch.nn import functional as F
from minitorch.nn.module import Module


class _DropoutNd(Module):
    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 "
                             f"and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes each element with probability p in training, scaling the rest by 1/(1 − p)."""

    def forward(self, input):
        return F.dropout(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of an (N, C, H, W) input with probability p in training."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training)
