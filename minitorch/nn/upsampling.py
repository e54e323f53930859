"""Upsampling layers: PixelShuffle and Upsample — making images bigger.

Read after ``conv.py``; the math is in ``ops/resample.py``.  Two ways to double an image:

* ``Upsample`` interpolates (nearest copies pixels, bilinear blends neighbours);
* ``PixelShuffle(r)`` rearranges channels into space: (N, C·r², H, W) → (N, C, H·r, W·r), so a
  conv that produces r² times the channels can *learn* the upsampling (fastai's
  PixelShuffle_ICNR, the U-Net decoder).  Output channel c at offset (i, j) comes from input
  channel c·r² + i·r + j, PyTorch's order, so trained weights carry over.
"""
from minitorch.nn import functional as F
from minitorch.nn.module import Module


class PixelShuffle(Module):
    def __init__(self, upscale_factor):
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input):
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self):
        return f"upscale_factor={self.upscale_factor}"


class Upsample(Module):
    """Resize to ``size`` or by ``scale_factor`` with ``mode`` 'nearest' or 'bilinear'
    (see ``F.interpolate`` for ``align_corners``)."""

    def __init__(self, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None):
        super().__init__()
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor is not None else None
        self.mode, self.align_corners = mode, align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self):
        info = (f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None
                else f"size={self.size!r}")
        return info + f", mode={self.mode!r}"
