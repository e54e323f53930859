"""Padding layers: ZeroPad2d, ReplicationPad2d, ReflectionPad2d and CircularPad2d.

Read after ``functional.py`` (``F.pad``).  ``padding`` is an int (all four sides) or PyTorch's
(left, right, top, bottom).  Zero padding adds a frame of zeros; the others fill the frame with
the image's own pixels, which avoids the dark border that zeros leave in generated images:
replication repeats the edge pixels, reflection mirrors the image about its edge, circular
padding wraps it around (as if the image tiled the plane).
"""
from minitorch.nn import functional as F
from minitorch.nn.module import Module


def _four(padding, layer):
    if isinstance(padding, int):
        return (padding,) * 4
    padding = tuple(padding)
    if len(padding) != 4:
        raise ValueError(f"{layer}: padding must be an int or (left, right, top, bottom), got "
                         f"{padding!r}")
    return padding


class ZeroPad2d(Module):
    def __init__(self, padding):
        super().__init__()
        self.padding = _four(padding, "ZeroPad2d")

    def forward(self, input):
        return F.pad(input, self.padding, mode="constant", value=0.0)

    def extra_repr(self):
        return f"{self.padding}"


class _EdgePad2d(Module):
    """Pads with the image's own pixels, in F.pad's ``mode`` (set by each subclass)."""

    mode = None

    def __init__(self, padding):
        super().__init__()
        self.padding = _four(padding, type(self).__name__)

    def forward(self, input):
        if input.ndim not in (3, 4):
            raise ValueError(f"{self!r}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, "
                             f"got shape {tuple(input.shape)}")
        return F.pad(input, self.padding, mode=self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class ReplicationPad2d(_EdgePad2d):
    mode = "replicate"


class ReflectionPad2d(_EdgePad2d):
    mode = "reflect"


class CircularPad2d(_EdgePad2d):
    mode = "circular"
