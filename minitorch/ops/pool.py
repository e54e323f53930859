"""Pooling: max_pool2d, avg_pool2d, adaptive_avg_pool2d, adaptive_max_pool2d.

Read after ``ops/conv.py``: pooling slides the same windows over the image as a convolution,
so it reuses the machinery of ``ops/windows.py`` (the batch-innermost (C, H, W, N) layout, the
padded copy, the strided window view and col2im).  The difference is what happens inside a window: a convolution
takes a dot product with weights, pooling takes the max or the mean of the window.

* max:  y = max over the window;   dL/dx = dL/dy at the window's argmax, 0 elsewhere (only the
  winner influenced y).  Ties go to the first maximum in the window (row by row), and a window
  holding NaNs has its last NaN as the winner, as in PyTorch.
* mean: y = (1/d) Σ window;   dL/dx = dL/dy / d for every pixel of the window.

Both loop over the kh·kw kernel offsets, never over pixels: for one offset (i, j), the pixel it
sees in every window is one strided slice of the image, so each step is one vectorised
operation over all C·OH·OW·N windows at once.

Adaptive pooling chooses the windows from the output size: bin i of ``out`` bins over ``size``
pixels spans [⌊i·size/out⌋, ⌈(i+1)·size/out⌉).  When out divides size the bins are a regular
pooling (kernel = stride = size/out) and go through the fast path; otherwise the bins differ in
size and we loop over the (few) output bins.

For ``create_graph=True`` (``autograd.py``) each backward becomes an op, so that the gradient
can be differentiated again.  The mean is linear in x: its backward, the adjoint, is made an op
by ``LinearMap`` (``ops/common.py``), whose own backward is the mean again.  The max scatters
dL/dy to the winners, which are constants: ``ScatterIntoZeros`` (``ops/index.py``) at the
winners' positions, whose own backward gathers from them.
"""
import math

from minitorch import backend
from minitorch.autograd import Function
from minitorch.ops.common import LinearMap, pair, positive_pair, require_floating
from minitorch.ops.conv import _rebatched as drop_batch_dim
from minitorch.ops.conv import _unbatched as add_batch_dim
from minitorch.ops.index import ScatterIntoZeros
from minitorch.ops.windows import batch_first, batch_last, col2im, pad_batch_last, window_view
from minitorch.speed.gpu import reads_are_cheap


def pooling_output_size(size, kernel, stride, padding, dilation, ceil_mode):
    """PyTorch's pooled size.  With ceil_mode a last, partial window counts, unless it would
    start inside the right padding only."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _pool_geometry(x, kernel, stride, padding, dilation, ceil_mode, op):
    """Output size and the (top, bottom, left, right) padding that covers every window."""
    _, _, h, w = x.shape
    out_size, pads = [], []
    for size, k, s, p, d in zip((h, w), kernel, stride, padding, dilation):
        if p > k // 2:
            raise RuntimeError(f"{op}: pad should be smaller than or equal to half of kernel "
                               f"size, but got padding={padding} and kernel_size={kernel}")
        out = pooling_output_size(size, k, s, p, d, ceil_mode)
        if out <= 0:
            raise RuntimeError(f"{op}: output size is too small: input of shape "
                               f"{tuple(x.shape)} with kernel_size={kernel}, stride={stride}, "
                               f"padding={padding}, dilation={dilation} gives {out}")
        # ceil_mode's last window may reach past the padding: pad the end that far
        needed = (out - 1) * s + d * (k - 1) + 1
        out_size.append(out)
        pads += [p, max(p, needed - size - p)]
    return tuple(out_size), tuple(pads)


# ---- max pooling ----------------------------------------------------------------------------------
class MaxPool2d(Function):
    """y = max of each window (padding counts as −∞);   dL/dx = dL/dy at the window's argmax.

    Forward walks the kh·kw kernel offsets with a running maximum and remembers, per window,
    which offset won (a small integer); ``candidate > best`` (not ≥) keeps the first maximum on
    ties, as in PyTorch.  Backward is then a single scatter: each window's gradient is added
    at its winner's position (added, because overlapping windows can share a winner), on
    arrays or, for create_graph, as an op.  The value of a window holding a NaN is NaN, as in
    PyTorch, but its gradient may go to another pixel than PyTorch's (which picks the NaN).
    """

    def __init__(self, kernel, stride, padding, dilation, ceil_mode, return_indices):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.dilation, self.ceil_mode, self.return_indices = dilation, ceil_mode, return_indices

    def forward(self, x):
        xp = self.xp
        n, c, h, w = x.shape
        out_size, pads = _pool_geometry(x, self.kernel, self.stride, self.padding, self.dilation,
                                        self.ceil_mode, "max_pool2d")
        kh, kw = self.kernel
        lowest = -math.inf if x.dtype.kind == "f" else xp.iinfo(x.dtype).min  # never wins
        padded = pad_batch_last(xp, batch_last(x), pads, value=lowest)
        windows = window_view(xp, padded, self.kernel, self.stride, self.dilation, out_size)
        best = windows[:, 0, 0].copy()                           # (C, OH, OW, N)
        winner = xp.zeros(best.shape, dtype=xp.int16)            # the offset i·kw + j that won
        better = xp.empty(best.shape, dtype=bool)
        claim = xp.empty(best.shape, dtype=xp.int16)
        for offset in range(1, kh * kw):
            candidate = windows[:, offset // kw, offset % kw]
            xp.greater(candidate, best, out=better)
            # winner = offset where better: offsets only grow, so that is max(winner, better·offset)
            # (two branch-free passes; a masked copy was measured 30× slower on random masks)
            xp.multiply(better, offset, out=claim)
            xp.maximum(winner, claim, out=winner)
            xp.maximum(best, candidate, out=best)                # maximum, so a NaN stays NaN
        if not reads_are_cheap(best) or xp.isnan(best).any():
            # a window holding a NaN has NaN as its maximum, and PyTorch hands that window's
            # gradient to its last NaN (in window order): offsets grow, so the last write wins.
            # (On the GPU asking "any NaN?" is a sync: the fix-up runs always, branch-free.)
            for offset in range(kh * kw):
                winner = xp.where(xp.isnan(windows[:, offset // kw, offset % kw]),
                                  xp.int16(offset), winner)
        self.padded_shape, self.pads, self.out_size = padded.shape, pads, out_size
        self.save_for_backward(winner)
        out = batch_first(best)
        if not self.return_indices:
            return out
        # PyTorch's indices: the winner's position in the flattened H·W plane of its channel
        rows = xp.arange(out_size[0]).reshape(-1, 1, 1) * self.stride[0] - pads[0]
        cols = xp.arange(out_size[1]).reshape(1, -1, 1) * self.stride[1] - pads[2]
        rows = rows + (winner // kw) * self.dilation[0]
        cols = cols + (winner % kw) * self.dilation[1]
        return out, batch_first(rows * w + cols)

    def backward(self, grad, *grad_indices):
        grad_padded = self.xp.zeros(self.padded_shape, dtype=grad.dtype)
        backend.scatter_add(grad_padded.reshape(-1), self.winner_positions().reshape(-1),
                            batch_last(grad).reshape(-1))
        return batch_first(self.unpadded(grad_padded))

    def backward_graph(self, grad, *grad_indices):
        """The same scatter as an op (``ScatterIntoZeros``), at the same winners: a constant, so
        the second derivative with respect to x is 0, and the derivative with respect to dL/dy
        gathers from the winners — the forward, with the winners fixed."""
        grad_x = self.unpadded(scatter_to(self.winner_positions(), self.padded_shape, grad))
        return grad_x.permute(3, 0, 1, 2)

    def winner_positions(self):
        """Where each window's winner sits in the flattened padded (C, Hp, Wp, N) image, as an
        array (C, OH, OW, N): the window's first pixel, plus the step to the winning offset."""
        xp = self.xp
        winner, = self.saved_tensors
        kh, kw = self.kernel
        c, height, width, n = self.padded_shape
        (sh, sw), (dh, dw), (oh, ow) = self.stride, self.dilation, self.out_size
        start = ((xp.arange(c).reshape(-1, 1, 1, 1) * height
                  + xp.arange(oh).reshape(1, -1, 1, 1) * sh) * width
                 + xp.arange(ow).reshape(1, 1, -1, 1) * sw) * n + xp.arange(n)
        offsets = xp.arange(kh * kw)  # made on the device: no host→device copy
        steps = ((offsets // kw) * dh * width + (offsets % kw) * dw) * n
        return start + steps[winner]

    def unpadded(self, padded):
        """The image (C, H, W, N) inside a padded (C, Hp, Wp, N) one (an array or a Tensor)."""
        top, bottom, left, right = self.pads
        height, width = self.padded_shape[1:3]
        return padded[:, top:height - bottom, left:width - right]


def scatter_to(positions, image_shape, grad):
    """dL/dy (N, C, OH, OW) added at the flat ``positions`` (C, OH, OW, N) of a zero image
    (C, H, W, N): max pooling's backward as an op (its own backward gathers from the positions)."""
    size = 1
    for n in image_shape:
        size *= n
    return ScatterIntoZeros(positions, (size,))(grad.permute(1, 2, 3, 0)).reshape(image_shape)


# ---- average pooling ------------------------------------------------------------------------------
def _divisors(xp, size, kernel, stride, padding, out, count_include_pad):
    """How many pixels PyTorch divides each window's sum by, along one axis.

    A window counts the padding it covers when count_include_pad is set, but never the part
    of a ceil_mode window that hangs past the padding; without count_include_pad only real
    pixels count.
    """
    start = xp.arange(out) * stride - padding
    end = xp.minimum(start + kernel, size + padding)
    if count_include_pad:
        return end - start
    return xp.minimum(end, size) - xp.maximum(start, 0)


class AvgPool2d(Function):
    """y = (1/d) Σ window;   dL/dx = Σ over the windows containing x of dL/dy / d.

    d is the window's pixel count (see ``_divisors``) or ``divisor_override``.  Linear in x:
    ``apply`` is y = A·x and ``adjoint`` (the backward) Aᵀ·dL/dy, and for create_graph
    ``LinearMap`` makes Aᵀ an op (``ops/common.py``).
    """

    def __init__(self, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        xp = self.xp
        n, c, h, w = x.shape
        out_size, pads = _pool_geometry(x, self.kernel, self.stride, self.padding, (1, 1),
                                        self.ceil_mode, "avg_pool2d")
        if self.divisor_override:
            divisor = xp.asarray(self.divisor_override, dtype=x.dtype)
        else:
            rows = _divisors(xp, h, self.kernel[0], self.stride[0], self.padding[0], out_size[0],
                             self.count_include_pad)
            cols = _divisors(xp, w, self.kernel[1], self.stride[1], self.padding[1], out_size[1],
                             self.count_include_pad)
            divisor = (rows[:, None] * cols[None, :]).astype(x.dtype)[:, :, None]  # (OH, OW, 1)
        self.divisor, self.pads, self.out_size, self.x_shape = divisor, pads, out_size, (c, h, w, n)
        if x.dtype.kind in "iu":
            # An int64 image stays int64, as in PyTorch: the sum divided in integer
            # arithmetic, truncated toward zero (C's division, not Python's floor).
            total = self.window_sums(x)
            quotient = xp.abs(total) // divisor
            return batch_first(xp.where(total < 0, -quotient, quotient))
        return self.apply(x)

    def window_sums(self, x):
        """Σ window for every window: (C, OH, OW, N)."""
        kh, kw = self.kernel
        padded = pad_batch_last(self.xp, batch_last(x), self.pads)
        windows = window_view(self.xp, padded, self.kernel, self.stride, (1, 1), self.out_size)
        total = windows[:, 0, 0].copy()
        for offset in range(1, kh * kw):
            total += windows[:, offset // kw, offset % kw]
        return total

    def apply(self, x):
        """y = A·x: each window's mean."""
        total = self.window_sums(x)
        total /= self.divisor
        return batch_first(total)

    def adjoint(self, grad):
        """Aᵀ·g: each window's g / d added onto every pixel of the window."""
        xp = self.xp
        kh, kw = self.kernel
        c, h, w, n = self.x_shape
        share = batch_last(grad) / self.divisor                # each pixel's part of dL/dy
        # every kernel offset receives the same share: col2im of the broadcast columns
        cols = xp.broadcast_to(share[:, None, None], (c, kh, kw) + share.shape[1:])
        grad_x = col2im(xp, cols, (c, h, w, n), self.kernel, self.stride, self.pads, (1, 1),
                        self.out_size)
        return batch_first(grad_x)

    def backward(self, grad):
        return self.adjoint(grad)

    def backward_graph(self, grad):
        return LinearMap(self, transposed=True)(grad)


# ---- adaptive pooling -----------------------------------------------------------------------------
def adaptive_bins(size, out):
    """PyTorch's bins: [⌊i·size/out⌋, ⌈(i+1)·size/out⌉) for i < out."""
    return [((i * size) // out, -(-((i + 1) * size) // out)) for i in range(out)]


class AdaptivePool2d(Function):
    """Max or mean over PyTorch's adaptive bins, for bins of unequal sizes (a loop over bins).

    mean: y = (1/|bin|) Σ bin, dL/dx = dL/dy / |bin| on the bin;  max: y = max bin,
    dL/dx = dL/dy at the bin's first argmax.  Bins may overlap, so backward adds.  For
    create_graph, the mean is linear (``apply`` and ``adjoint`` in a ``LinearMap``) and the max
    scatters to its winners with an op, as ``MaxPool2d``.
    """

    def __init__(self, out_size, mode, return_indices):
        self.out_size, self.mode, self.return_indices = out_size, mode, return_indices

    def forward(self, x):
        xp = self.xp
        n, c, h, w = x.shape
        self.x_shape = x.shape
        self.row_bins = adaptive_bins(h, self.out_size[0])
        self.col_bins = adaptive_bins(w, self.out_size[1])
        if self.mode == "mean":
            return self.apply(x)
        image = batch_last(x)                                  # (C, H, W, N)
        out = xp.empty((c,) + tuple(self.out_size) + (n,), dtype=x.dtype)
        winners = xp.empty(out.shape, dtype=xp.int64)
        for a, (r0, r1) in enumerate(self.row_bins):
            for b, (c0, c1) in enumerate(self.col_bins):
                block = image[:, r0:r1, c0:c1].reshape(c, -1, n)   # (C, bin pixels, N)
                where = xp.argmax(block, axis=1)  # the first maximum (or first NaN)
                holds_nan = xp.isnan(block)
                if holds_nan.any():   # PyTorch picks the last NaN of a bin
                    last_nan = block.shape[1] - 1 - xp.argmax(holds_nan[:, ::-1], axis=1)
                    where = xp.where(holds_nan.any(axis=1), last_nan, where)
                out[:, a, b] = xp.take_along_axis(block, where[:, None], axis=1)[:, 0]
                # flat index into the H·W plane
                winners[:, a, b] = (r0 + where // (c1 - c0)) * w + c0 + where % (c1 - c0)
        self.save_for_backward(winners)
        if self.return_indices:
            return batch_first(out), batch_first(winners)
        return batch_first(out)

    def apply(self, x):
        """y = A·x for the mean: each bin's mean."""
        n, c = x.shape[:2]
        image = batch_last(x)                                  # (C, H, W, N)
        out = self.xp.empty((c,) + tuple(self.out_size) + (n,), dtype=x.dtype)
        for a, (r0, r1) in enumerate(self.row_bins):
            for b, (c0, c1) in enumerate(self.col_bins):
                out[:, a, b] = image[:, r0:r1, c0:c1].reshape(c, -1, n).mean(axis=1)
        return batch_first(out)

    def adjoint(self, grad):
        """Aᵀ·g for the mean: each bin's g / |bin| added onto every pixel of the bin."""
        n, c, h, w = self.x_shape
        grad = batch_last(grad)
        grad_x = self.xp.zeros((c, h, w, n), dtype=grad.dtype)
        for a, (r0, r1) in enumerate(self.row_bins):
            for b, (c0, c1) in enumerate(self.col_bins):
                share = grad[:, a, b] / ((r1 - r0) * (c1 - c0))      # (C, N)
                grad_x[:, r0:r1, c0:c1] += share[:, None, None]
        return batch_first(grad_x)

    def backward(self, grad, *grad_indices):
        if self.mode == "mean":
            return self.adjoint(grad)
        # every output sends its gradient to its winner's pixel; bins overlap, so two outputs
        # may share a winner: a scatter-add
        n, c, h, w = self.x_shape
        grad_x = self.xp.zeros((c, h, w, n), dtype=grad.dtype)
        backend.scatter_add(grad_x.reshape(-1), self.winner_positions().reshape(-1),
                            batch_last(grad).reshape(-1))
        return batch_first(grad_x)

    def backward_graph(self, grad, *grad_indices):
        if self.mode == "mean":
            return LinearMap(self, transposed=True)(grad)
        n, c, h, w = self.x_shape
        return scatter_to(self.winner_positions(), (c, h, w, n), grad).permute(3, 0, 1, 2)

    def winner_positions(self):
        """Each output's winner as a flat index of the (C, H, W, N) image: (C, OH, OW, N)."""
        xp = self.xp
        winners, = self.saved_tensors                          # flat indices of the H·W plane
        n, c, h, w = self.x_shape
        channel = xp.arange(c).reshape(-1, 1, 1, 1)
        return (channel * (h * w) + winners) * n + xp.arange(n)


# ---- the functions users call (torch.nn.functional's signatures) ----------------------------------
def _unbatched(input, op):
    return add_batch_dim(input, op, 4)


def _rebatched(output, added):
    if isinstance(output, tuple):
        return tuple(drop_batch_dim(o, added) for o in output)
    return drop_batch_dim(output, added)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over each kh×kw window; with return_indices also each max's flat H·W index."""
    input, added = _unbatched(input, "max_pool2d")
    kernel = positive_pair(kernel_size, "kernel_size", "max_pool2d")
    stride = kernel if stride is None or stride == [] else positive_pair(stride, "stride",
                                                                        "max_pool2d")
    padding = pair(padding, "padding", "max_pool2d")
    dilation = positive_pair(dilation, "dilation", "max_pool2d")
    op = MaxPool2d(kernel, stride, padding, dilation, bool(ceil_mode), bool(return_indices))
    return _rebatched(op(input), added)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """Mean over each kh×kw window (see AvgPool2d for what it divides by)."""
    input, added = _unbatched(input, "avg_pool2d")
    if str(input.dtype) != "int64":  # PyTorch's CPU kernel: floats, and int64 (integer mean)
        require_floating("avg_pool2d", input)
    kernel = positive_pair(kernel_size, "kernel_size", "avg_pool2d")
    stride = kernel if stride is None or stride == [] else positive_pair(stride, "stride",
                                                                        "avg_pool2d")
    padding = pair(padding, "padding", "avg_pool2d")
    if divisor_override is not None and divisor_override <= 0:
        raise ValueError(f"avg_pool2d: divisor_override must be positive, got "
                         f"{divisor_override}")
    op = AvgPool2d(kernel, stride, padding, bool(ceil_mode), bool(count_include_pad),
                   divisor_override)
    return _rebatched(op(input), added)


def _adaptive_size(input, output_size, op):
    size = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(size) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    # None keeps the input's size along that axis, as in PyTorch
    size = tuple(int(input.shape[-2 + i]) if s is None else int(s) for i, s in enumerate(size))
    if min(size) <= 0:
        raise ValueError(f"{op}: output_size must be positive, got {output_size!r}")
    if min(input.shape[-2:]) <= 0:
        raise RuntimeError(f"{op}: expected an input with non-empty height and width, got "
                           f"shape {tuple(input.shape)}")
    return size


def adaptive_avg_pool2d(input, output_size):
    """Mean over PyTorch's adaptive bins, giving an output of ``output_size``."""
    input, added = _unbatched(input, "adaptive_avg_pool2d")
    require_floating("adaptive_avg_pool2d", input)
    out = _adaptive_size(input, output_size, "adaptive_avg_pool2d")
    h, w = input.shape[2:]
    if h % out[0] == 0 and w % out[1] == 0:  # equal bins: a regular pooling, the fast path
        kernel = (h // out[0], w // out[1])
        result = AvgPool2d(kernel, kernel, (0, 0), False, True, None)(input)
    else:
        result = AdaptivePool2d(out, "mean", False)(input)
    return _rebatched(result, added)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over PyTorch's adaptive bins; with return_indices also each max's flat H·W index."""
    input, added = _unbatched(input, "adaptive_max_pool2d")
    require_floating("adaptive_max_pool2d", input)
    out = _adaptive_size(input, output_size, "adaptive_max_pool2d")
    h, w = input.shape[2:]
    if h % out[0] == 0 and w % out[1] == 0:  # equal bins: a regular pooling, the fast path
        kernel = (h // out[0], w // out[1])
        result = MaxPool2d(kernel, kernel, (0, 0), (1, 1), False, bool(return_indices))(input)
    else:
        result = AdaptivePool2d(out, "max", bool(return_indices))(input)
    return _rebatched(result, added)
