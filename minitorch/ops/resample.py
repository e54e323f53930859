"""Resampling images: interpolate (nearest, bilinear), pixel_shuffle, pad2d.

Read after ``ops/shape.py`` and ``ops/matmul.py``.  These are the upsampling tools of the
lesson's U-Net and super-resolution decoder.

**Interpolation is a matrix product along each axis.**  Every output row is a weighted sum of
at most two input rows (one for nearest), so resizing H → OH is multiplying by an (OH, H) matrix
R whose rows hold those weights, and resizing both axes is ``y = R_h · x · R_wᵀ``.  Its backward
is then the transposed products, ``dL/dx = R_hᵀ · dL/dy · R_w``: every output's gradient flows
back to the input pixels it was made from, with the same weights, and pixels used by several
outputs add up, with no scatter loop.  The matrices hold PyTorch's exact source positions:

* nearest: output i reads input ⌊i · scale⌋ (clamped), scale = in/out or 1/scale_factor;
* bilinear, align_corners=False: output i sits at source (i + ½)·scale − ½ (clamped at 0),
  pixel *centres* line up; align_corners=True: at i·(in − 1)/(out − 1), the corner pixels line
  up.  The two neighbours get weights 1 − λ and λ, λ the fractional part.

**pixel_shuffle** moves r² channels into an r×r block of pixels: a reshape and a permute, so it
is built from those two ops and autograd differentiates it.

**pad2d** (modes replicate, reflect, circular) fills the border by reading pixels of the image
itself: each padded row reads one source row, each padded column one source column.  Its
backward adds the gradient of every copy back onto the pixel it copied.

Resampling and padding are linear in x, so for ``create_graph=True`` their backward is the same
adjoint made an op (``LinearMap``, ``ops/common.py``), whose backward is the forward again.
"""
import math

import numpy  # host-side index arithmetic on the few resampling positions, not tensor data

from minitorch import backend
from minitorch.autograd import Function
from minitorch.ops.common import LinearMap, require_floating
from minitorch.ops.shape import permute, reshape


# ---- the resampling matrices ----------------------------------------------------------------------
def source_scale(in_size, out_size, scale_factor, align_corners):
    """PyTorch's step between output positions, in input pixels."""
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    if scale_factor is not None and scale_factor > 0:
        return 1.0 / scale_factor
    return in_size / out_size


def nearest_matrix(in_size, out_size, scale_factor, dtype):
    """The (out, in) 0/1 matrix of nearest-neighbour resampling."""
    # PyTorch computes this index in float32: floor(i · scale), then clamps to the last pixel
    scale = numpy.float32(source_scale(in_size, out_size, scale_factor, False))
    source = numpy.floor(numpy.arange(out_size, dtype=numpy.float32) * scale).astype(numpy.int64)
    source = numpy.minimum(source, in_size - 1)
    matrix = numpy.zeros((out_size, in_size), dtype=dtype)
    matrix[numpy.arange(out_size), source] = 1
    return matrix


def linear_matrix(in_size, out_size, scale_factor, align_corners, dtype):
    """The (out, in) matrix of linear resampling: two weights 1 − λ, λ per row."""
    scale = source_scale(in_size, out_size, scale_factor, align_corners)
    positions = numpy.arange(out_size, dtype=numpy.float64)
    source = positions * scale if align_corners else numpy.maximum((positions + 0.5) * scale
                                                                   - 0.5, 0.0)
    left = numpy.floor(source).astype(numpy.int64)
    right = numpy.minimum(left + 1, in_size - 1)
    weight_right = source - left
    matrix = numpy.zeros((out_size, in_size), dtype=numpy.float64)
    rows = numpy.arange(out_size)
    numpy.add.at(matrix, (rows, left), 1 - weight_right)   # left == right at the last pixel
    numpy.add.at(matrix, (rows, right), weight_right)
    return matrix.astype(dtype)


class Resample2d(Function):
    """y = R_h · x · R_wᵀ over the last two axes;   dL/dx = R_hᵀ · dL/dy · R_w.

    Linear in x: ``apply`` and ``adjoint`` in a ``LinearMap`` (``ops/common.py``) for
    create_graph.
    """

    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols  # host (NumPy) matrices, moved to x's device below

    def forward(self, x):
        device = backend.device_of(x)
        self.rows = backend.to_device(self.rows.astype(x.dtype), device)
        self.cols = backend.to_device(self.cols.astype(x.dtype), device)
        return self.apply(x)

    def apply(self, x):
        return self.rows @ x @ self.cols.T

    def adjoint(self, grad):
        return self.rows.T @ grad @ self.cols

    def backward(self, grad):
        return self.adjoint(grad)

    def backward_graph(self, grad):
        return LinearMap(self, transposed=True)(grad)


PAD_MODES = ("replicate", "reflect", "circular")


def source_positions(size, before, after, mode):
    """Which input position each of the before + size + after positions of a padded axis reads.

    replicate: the edge pixel, repeated (… 0 0 | 0 1 2 3 | 3 3 …);  reflect: mirrored about the
    edge pixel, which is not repeated (… 2 1 | 0 1 2 3 | 2 1 …);  circular: the image wrapped
    around (… 2 3 | 0 1 2 3 | 0 1 …).
    """
    positions = numpy.arange(-before, size + after)
    if mode == "replicate":
        return numpy.clip(positions, 0, size - 1)
    if mode == "reflect":
        return (size - 1) - numpy.abs((size - 1) - numpy.abs(positions))
    return positions % size


class EdgePad2d(Function):
    """y = x padded on its last two axes with its own pixels:  y[…, r, c] = x[…, rows[r], cols[c]].

    ``rows`` and ``cols`` are the source positions of :func:`source_positions`.  Backward: the
    interior of dL/dy goes straight back (an interior position reads itself), and the gradient
    of every border copy is added onto the row or column it copied — first along the rows, then
    along the columns, so a corner copy reaches its corner source through both.  Linear in x:
    ``apply`` and ``adjoint`` in a ``LinearMap`` (``ops/common.py``) for create_graph.
    """

    def __init__(self, pad, mode):
        self.pad, self.mode = pad, mode

    def forward(self, x):
        left, right, top, bottom = self.pad
        h, w = x.shape[-2:]
        self.size = (h, w)
        device = backend.device_of(x)
        self.rows = backend.to_device(source_positions(h, top, bottom, self.mode), device)
        self.cols = backend.to_device(source_positions(w, left, right, self.mode), device)
        return self.apply(x)

    def apply(self, x):
        return x[..., self.rows[:, None], self.cols[None, :]]

    def adjoint(self, grad):
        left, _, top, _ = self.pad
        h, w = self.size
        grad_rows = fold_copies(grad, self.rows, top, h, lambda i: (Ellipsis, i, slice(None)))
        return fold_copies(grad_rows, self.cols, left, w, lambda i: (Ellipsis, i))

    def backward(self, grad):
        return self.adjoint(grad)

    def backward_graph(self, grad):
        return LinearMap(self, transposed=True)(grad)


def fold_copies(grad, sources, before, size, on_axis):
    """The gradient of one padded axis summed back onto the ``size`` positions it was copied
    from: the interior reads itself, each border position adds onto its source.  ``on_axis(i)``
    is the index that takes ``i`` along the axis and everything along the others."""
    folded = grad[on_axis(slice(before, before + size))].copy()
    for border in (slice(0, before), slice(before + size, len(sources))):
        backend.scatter_add(folded, on_axis(sources[border]), grad[on_axis(border)])
    return folded


# ---- the functions users call (torch.nn.functional's signatures) ----------------------------------
def _output_sizes(input, size, scale_factor, recompute_scale_factor):
    """The output (height, width), and the scale factors PyTorch uses for the source index."""
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    in_h, in_w = input.shape[-2:]
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        if len(sizes) != 2:
            raise ValueError(f"interpolate: a 4-D input needs size with 2 elements, got {size!r}")
        return (int(sizes[0]), int(sizes[1])), (None, None)
    scales = (tuple(scale_factor) if isinstance(scale_factor, (tuple, list))
              else (scale_factor, scale_factor))
    if len(scales) != 2:
        raise ValueError(f"interpolate: a 4-D input needs scale_factor with 2 elements, got "
                         f"{scale_factor!r}")
    out = (int(math.floor(in_h * float(scales[0]))), int(math.floor(in_w * float(scales[1]))))
    # recompute_scale_factor=True: index with in/out instead of the given factor
    return out, (None, None) if recompute_scale_factor else tuple(float(s) for s in scales)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the height and width of ``input`` (N, C, H, W): 'nearest' or 'bilinear'."""
    if mode not in ("nearest", "bilinear"):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not implemented; minitorch "
                                  f"has 'nearest' and 'bilinear'")
    if input.ndim != 4:
        raise ValueError(f"interpolate: expected a 4-D input (N, C, H, W) for mode {mode!r}, "
                         f"got shape {tuple(input.shape)}")
    require_floating("interpolate", input)
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not implemented")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners can only be set with the interpolating "
                         "modes (bilinear); mode 'nearest' has no corners to align")
    (out_h, out_w), (scale_h, scale_w) = _output_sizes(input, size, scale_factor,
                                                       recompute_scale_factor)
    if out_h <= 0 or out_w <= 0:
        raise ValueError(f"interpolate: the output size ({out_h}, {out_w}) must be positive "
                         f"(input of shape {tuple(input.shape)})")
    in_h, in_w = input.shape[-2:]
    dtype = numpy.dtype(input.dtype)
    if mode == "nearest":
        rows = nearest_matrix(in_h, out_h, scale_h, dtype)
        cols = nearest_matrix(in_w, out_w, scale_w, dtype)
    else:
        corners = bool(align_corners)
        rows = linear_matrix(in_h, out_h, scale_h, corners, dtype)
        cols = linear_matrix(in_w, out_w, scale_w, corners, dtype)
    return Resample2d(rows, cols)(input)


def pixel_shuffle(input, upscale_factor):
    """(N, C·r², H, W) → (N, C, H·r, W·r): channel c·r² + i·r + j becomes pixel (i, j) of each
    r×r block (PyTorch's order)."""
    r = int(upscale_factor)
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle: expected an input with at least 3 dims (C, H, W), "
                           f"got shape {tuple(input.shape)}")
    *batch, channels, h, w = input.shape
    if r <= 0 or channels % (r * r):
        raise RuntimeError(f"pixel_shuffle: expected the channel count to be divisible by "
                           f"upscale_factor² = {r * r}, got {channels} channels")
    nb = len(batch)
    blocks = reshape(input, (*batch, channels // (r * r), r, r, h, w))
    # (…, C, i, j, H, W) → (…, C, H, i, W, j): pixel (y, x) of the result is (H·r + i, W·r + j)
    order = list(range(nb)) + [nb, nb + 3, nb + 1, nb + 4, nb + 2]
    return reshape(permute(blocks, order), (*batch, channels // (r * r), h * r, w * r))


def pad2d(input, pad, mode):
    """Pad the last two dims of a 3-D or 4-D input with its own pixels; pad = (left, right, top,
    bottom), mode 'replicate', 'reflect' or 'circular' (what ``F.pad`` does for those modes)."""
    if mode not in PAD_MODES:
        raise ValueError(f"pad2d: mode must be one of {PAD_MODES}, got {mode!r}")
    pad = (pad,) * 4 if isinstance(pad, int) else tuple(int(p) for p in pad)
    if len(pad) != 4:
        raise ValueError(f"pad2d: pad must be an int or (left, right, top, bottom), got {pad!r}")
    if min(pad) < 0:
        raise ValueError(f"pad2d: negative padding {pad} is not supported in mode {mode!r}")
    if input.ndim not in (3, 4) or min(input.shape[-2:]) == 0:
        raise ValueError(f"pad2d: expected a 3-D or 4-D input with non-empty height and width, "
                         f"got shape {tuple(input.shape)}")
    (left, right, top, bottom), (h, w) = pad, input.shape[-2:]
    # as PyTorch: a reflection cannot reach past the far edge, a wrap cannot go round twice
    limit = {"reflect": (h - 1, w - 1), "circular": (h, w)}.get(mode)
    if limit and (max(top, bottom) > limit[0] or max(left, right) > limit[1]):
        raise ValueError(f"pad2d: mode {mode!r} can pad at most {limit[0]} rows and {limit[1]} "
                         f"columns of an input of height {h} and width {w}, got pad={pad}")
    return EdgePad2d(pad, mode)(input)


def replication_pad2d(input, pad):
    """Pad the last two dims by repeating edge pixels; pad = (left, right, top, bottom)."""
    return pad2d(input, pad, "replicate")
