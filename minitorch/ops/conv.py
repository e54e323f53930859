"""Convolution as one matrix product: conv2d, conv_transpose2d, unfold, fold.

Read after ``ops/matmul.py`` (a convolution *is* a matrix product once the data is laid out
right); then ``ops/windows.py`` (the window machinery of the fast version) and ``ops/pool.py``
(pooling slides the same windows).

The idea.  A 3×3 convolution computes, at every output pixel, a dot product between the weights
of an output channel and the 3×3 window of every input channel under that pixel.  Copy each
window into a column ("im2col": image to columns) and all those dot products become one matrix
product::

    weight, reshaped (OC, C·kh·kw)  @  columns (C·kh·kw, positions)  =  output (OC, positions)

The backward is the transpose of the same product, twice:

    dL/dweight  = dL/doutput @ columnsᵀ         (OC, positions) @ (positions, C·kh·kw)
    dL/dcolumns = weightᵀ @ dL/doutput           (C·kh·kw, OC) @ (OC, positions)

and "col2im" adds every column's gradient back onto the input pixels it was copied from (a
pixel sits in up to kh·kw windows, so its gradient is the sum of those kh·kw contributions).

The file has two versions:

1. :func:`im2col_simple` / :func:`conv2d_simple` — the readable one, in PyTorch's (N, C, H, W)
   layout, with a loop over the kh·kw kernel offsets.  Obviously correct; the tests check the
   fast version against it.
2. The ops (:class:`Conv2d`, ...) — the same computation, fast.  The window machinery they share
   with pooling is in ``ops/windows.py``: the batch-innermost (C, H, W, N) layout, the strided
   window view that makes im2col one copy, col2im, columns made a block of rows at a time.  Read
   it before the ops.  What is particular to convolution is here:

   * **the output is born in the next layer's layout**: weight @ columns gives (OC, OH·OW·N) =
     (C, H, W, N) for the next layer, which we hand out as a (N, C, H, W)-shaped *transposed
     view*.  Elementwise ops (batchnorm, ReLU) keep that memory order, so the next conv's im2col
     reads a (C, H, W, N)-contiguous array and the whole network stays batch-innermost without
     a single layout copy.
   * **the input gradient of a stride-1 conv is itself a convolution** (of dL/doutput with the
     kernel flipped), so it reuses im2col, one copy, instead of col2im's kh·kw strided adds.
   * **a stride-1 conv takes its weight gradient from the gradient's columns too** (x times
     their transpose, see :class:`Conv2d`), so forward keeps x, not the kh·kw-times-larger
     columns of x, and backward builds one column matrix for both of its products.
   * **stride-1 columns of a large layer are made a block of rows at a time**
     (:func:`column_blocks`) and multiplied block by block, so the column matrix never exists
     whole; see ``COLUMN_BLOCK_BYTES`` for the block size and why it is not smaller.
   * **the products are oriented and cut for BLAS** (:func:`grouped_matmul_bt`); the bias
     gradient is a BLAS row sum (``ops/blas.py``).

conv_transpose2d is conv2d run backwards: its forward is exactly conv2d's input gradient
(:func:`input_gradient`), and its backward needs conv2d's forward.  unfold is im2col, fold is
col2im, and pooling (pool.py) reduces the same window view with max or mean.

For ``create_graph=True`` (``autograd.py``), conv2d's ``backward_graph`` writes the same three
formulas with ops on Tensors — ``unfold`` for cols(X), ``fold`` for col2im, ``matmul`` for the
products — each of them differentiable again (unfold and fold are each other's backward), so
gradients of any order go through a convolution.  conv_transpose2d's is conv2d run forwards:
``conv2d`` of the gradient, and ``unfold`` of it for the weight.
"""
from minitorch import backend
from minitorch.autograd import Function
from minitorch.ops.blas import row_sums
from minitorch.ops.common import pair, positive_pair, require_floating
from minitorch.ops.shape import pad, squeeze, unsqueeze
from minitorch.ops.windows import (
    batch_first, batch_last, col2im, conv_output_size, im2col, pad_batch_last, same_padding,
    window_view)
from minitorch.speed import threads
from minitorch.speed.cpu import tuned_for_cpu


def check_4d(x, op, what="input"):
    if x.ndim != 4:
        raise RuntimeError(f"{op}: expected a 4-D {what} (batch, channels, height, width), "
                           f"got shape {tuple(x.shape)}")


# ---- 1. the readable version ----------------------------------------------------------------------
def im2col_simple(x, kernel_size, stride=1, padding=0, dilation=1):
    """Columns of every kh×kw window of ``x`` (N, C, H, W): an array (N, C·kh·kw, OH·OW).

    This is exactly ``F.unfold``.  Row c·kh·kw + i·kw + j of a column holds input channel c at
    kernel offset (i, j).  We loop over the kh·kw offsets: for a fixed offset (i, j), the pixel
    that offset sees in every window is one strided slice of the padded image.
    """
    xp = backend.array_module(backend.device_of(x))
    (kh, kw), (sh, sw) = pair(kernel_size, "kernel_size", "im2col"), pair(stride, "stride", "im2col")
    (ph, pw), (dh, dw) = pair(padding, "padding", "im2col"), pair(dilation, "dilation", "im2col")
    n, c, h, w = x.shape
    oh = conv_output_size(h, kh, sh, ph, ph, dh)
    ow = conv_output_size(w, kw, sw, pw, pw, dw)
    padded = xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    cols = xp.zeros((n, c, kh, kw, oh, ow), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            top, left = i * dh, j * dw  # where offset (i, j) of the first window lands
            cols[:, :, i, j] = padded[:, :, top:top + sh * oh:sh, left:left + sw * ow:sw]
    return cols.reshape(n, c * kh * kw, oh * ow)


def conv2d_simple(x, weight, bias=None, stride=1, padding=0, dilation=1):
    """conv2d on arrays in three lines: im2col, one matrix product, add the bias (groups = 1)."""
    n, _, h, w = x.shape
    out_channels, _, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = (pair(stride, "stride", "conv2d"),
                                    pair(padding, "padding", "conv2d"),
                                    pair(dilation, "dilation", "conv2d"))
    cols = im2col_simple(x, (kh, kw), stride, padding, dilation)     # (N, C·kh·kw, OH·OW)
    out = weight.reshape(out_channels, -1) @ cols                     # (N, OC, OH·OW)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1)
    return out.reshape(n, out_channels, conv_output_size(h, kh, sh, ph, ph, dh),
                       conv_output_size(w, kw, sw, pw, pw, dw))


# ---- 2. the fast version: windows.py's im2col and these products ---------------------------------
# Blocks of columns of at most 64 MiB: only large layers are split (which bounds their memory).
# Smaller blocks (1 MiB, one core's L2 cache) made one thread faster at 128×8×14² (below), but
# every block is a separate small matrix product, and with two BLAS threads each one pays the
# threads' start-up: the two-thread training step of the lesson's ResNet-ish model took 40.4 ms
# with 1 MiB blocks against 25.3 ms without (2026-11-27, bench_train_step.py --models C).
COLUMN_BLOCK_BYTES = 64 << 20


def column_blocks(xp, x, kernel, stride, padding, dilation, out_size, block_per_thread=False):
    """im2col a few output rows at a time: returns (the blocks of output rows, as slices, and
    ``columns(rows)``, which makes a block's columns).

    The same numbers as :func:`im2col`, in blocks of about ``COLUMN_BLOCK_BYTES``.  A matrix
    product that reads a block right after the copy wrote it finds it in the cache, while the
    whole column matrix (kh·kw times the image: 7 MiB at 128×8×14²) is written out to memory
    and read back.  With 8 channels the products wait on memory, not on arithmetic.  Measured
    (forward + backward of 128×8×14² → 8, one thread, CPU time, one run): 5.7 ms with the whole
    matrix, 4.2 ms with 1 MiB blocks, 4.9 ms with 2 MiB and 5.3 ms with 4 MiB blocks — but see
    ``COLUMN_BLOCK_BYTES`` for why two threads want large blocks.

    ``block_per_thread``: cut a large layer into at least one block per thread of
    ``speed/threads.py``, for a caller that hands the blocks to the threads, each making its own
    columns and product (conv2d's forward: every output entry is still one whole sum).  Not for
    a caller that sums over the blocks (the weight gradient): more blocks would change the order
    of its sums, and results would differ with the threads on and off.
    """
    windows = window_view(xp, pad_batch_last(xp, x, padding), kernel, stride, dilation, out_size)
    c, kh, kw, oh = windows.shape[:4]
    row_bytes = windows[:, :, :, :1].size * windows.itemsize          # the columns of one row
    step = max(1, COLUMN_BLOCK_BYTES // max(1, row_bytes))
    if block_per_thread:
        step = min(step, -(-oh // threads.pieces_for(x, oh * row_bytes)))

    def columns(rows):
        return threads.contiguous(xp, windows[:, :, :, rows]).reshape(c * kh * kw, -1)
    return [slice(top, min(top + step, oh)) for top in range(0, oh, step)], columns


def grouped_matmul(a, b, groups):
    """a @ b where the rows of ``a`` and of ``b`` split into ``groups`` independent blocks.

    ``a`` (G·M, K) and ``b`` (G·K, P): block g of the result is a[g] @ b[g].  With one group
    this is a plain matrix product.
    """
    if groups == 1:
        return threads.matmul(a, b)       # cut across the cores when large (speed/threads.py)
    out = a.reshape(groups, a.shape[0] // groups, -1) @ b.reshape(groups, b.shape[0] // groups, -1)
    return out.reshape(-1, out.shape[-1])


def grouped_matmul_at(a, b, groups):
    """aᵀ @ b blockwise: a (G·K, M), b (G·K, P)  →  (G·M, P), block g = a[g]ᵀ @ b[g]."""
    if groups == 1:
        return threads.matmul(a.T, b)
    a = a.reshape(groups, a.shape[0] // groups, -1)
    out = a.transpose(0, 2, 1) @ b.reshape(groups, b.shape[0] // groups, -1)
    return out.reshape(-1, out.shape[-1])


# A weight gradient multiplies two short, very long matrices: (M, P) · (N, P)ᵀ, P the output
# positions (25,088 at 128×14²), M·N the size of the kernel.  When M·N is small, OpenBLAS was
# measured 3-4× slower on the whole product than on pieces of 512 positions summed afterwards
# (0.22 vs 0.05 ms for 9 × 25,088 · (8 × 25,088)ᵀ, the first conv of the lesson's CNN; 1.1 vs
# 0.4 ms for 8 × 25,088 · (72 × 25,088)ᵀ, its ResNet's first res-block; no gain, or a loss,
# for kernels of 1,152 entries and more): those products are cut into pieces.
POSITIONS_PER_PIECE = 512
SMALL_PRODUCT = 1024


def grouped_matmul_bt(a, b, groups):
    """a @ bᵀ blockwise: a (G·M, P), b (G·N, P)  →  (G·M, N), block g = a[g] @ b[g]ᵀ.

    Computed as (b[g] @ a[g]ᵀ)ᵀ: with P (all positions) as the long shared dimension, this
    orientation was measured up to 2× faster in OpenBLAS than a[g] @ b[g]ᵀ.  A small result
    (M·N ≤ SMALL_PRODUCT) is summed over pieces of the positions instead (see above).
    """
    a = a.reshape(groups, a.shape[0] // groups, -1)
    b = b.reshape(groups, b.shape[0] // groups, -1)
    (_, m, positions), n = a.shape, b.shape[1]
    if m * n > SMALL_PRODUCT or positions < 2 * POSITIONS_PER_PIECE \
            or not tuned_for_cpu(a):  # the GPU: one product (see speed/cpu.py)
        if groups == 1:
            return threads.matmul(b[0], a[0].T).T
        return (b @ a.transpose(0, 2, 1)).transpose(0, 2, 1).reshape(-1, n)
    pieces = positions // POSITIONS_PER_PIECE
    whole = pieces * POSITIONS_PER_PIECE
    # (G, pieces, M, 512) @ (G, pieces, 512, N): one product per piece, then their sum
    a_pieces = a[..., :whole].reshape(groups, m, pieces, -1).transpose(0, 2, 1, 3)
    b_pieces = b[..., :whole].reshape(groups, n, pieces, -1).transpose(0, 2, 3, 1)
    out = (a_pieces @ b_pieces).sum(axis=1)
    if whole < positions:                                     # the positions left over
        out += a[..., whole:] @ b[..., whole:].transpose(0, 2, 1)
    return out.reshape(-1, n)


def as_matrix(x):
    """The (C, H·W·N) matrix of an (N, C, H, W) array, batch innermost (copies only if needed)."""
    return batch_last(x).reshape(x.shape[1], -1)


def conv_padding(padding, kernel, dilation, stride, op):
    """PyTorch's padding argument as (top, bottom, left, right).

    'valid' is no padding.  'same' pads so that the output has the input's size: a total of
    dilation·(kernel − 1), the odd one extra at the bottom/right, as PyTorch does.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (got stride={stride})")
            (top, bottom), (left, right) = same_padding(kernel, dilation)
            return (top, bottom, left, right)
        raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', "
                         f"got {padding!r}")
    ph, pw = pair(padding, "padding", op)
    if ph < 0 or pw < 0:
        raise ValueError(f"{op}: padding must be non-negative, got {padding!r}")
    return (ph, ph, pw, pw)


def flipped_padding(geometry, image_size):
    """The padding of the full convolution that gives a stride-1 conv's input gradient.

    dL/dx[h] = Σᵢ w[i] · dL/dy[h + top − i·d]: a convolution of the gradient with the kernel
    flipped (i → k − 1 − i), padded by (k − 1)·d − top before and by whatever brings the result
    to the image's size after.  Returns None when that is impossible (stride > 1, or padding
    wider than the kernel).
    """
    (kh, kw), stride, (top, _, left, _), (dh, dw), (oh, ow) = geometry
    if stride != (1, 1):
        return None
    (h, w), reach_h, reach_w = image_size, dh * (kh - 1), dw * (kw - 1)
    # after the padding, (k − 1)·d + image size rows: the (OH) gradient rows, padded
    pads = (reach_h - top, h - oh + top, reach_w - left, w - ow + left)
    return pads if min(pads) >= 0 else None


def flipped_kernel(xp, weight, groups):
    """The kernel flipped (i → k − 1 − i) with in and out channels swapped, as a matrix:
    one (C_in of the group, OC of the group · kh · kw) block per group, stacked."""
    out_channels, per_group, kh, kw = weight.shape
    flipped = weight[:, :, ::-1, ::-1].reshape(groups, out_channels // groups, per_group, kh, kw)
    return xp.ascontiguousarray(flipped.transpose(0, 2, 1, 3, 4)).reshape(groups * per_group, -1)


def input_gradient(xp, grad, weight, groups, geometry, image_shape):
    """dL/dx (C, H, W, N) of conv2d from dL/dy (OC, OH, OW, N): conv2d's backward to its input,
    and the forward of conv_transpose2d.

    The general way is the transposed product and col2im: col2im(Wᵀ · dL/dy).  For stride 1 the
    same numbers come out of a plain convolution of the gradient with the flipped kernel, and
    that is faster: its im2col is one copy, where col2im adds kh·kw slabs into the image.
    """
    out_channels = weight.shape[0]
    pads = flipped_padding(geometry, image_shape[1:3])
    if pads is None:
        grad_cols = grouped_matmul_at(weight.reshape(out_channels, -1),
                                      grad.reshape(out_channels, -1), groups)
        return col2im(xp, grad_cols, image_shape, *geometry)
    kernel, _, _, dilation, _ = geometry
    c, h, w, n = image_shape
    cols = im2col(xp, grad, kernel, (1, 1), pads, dilation, (h, w))   # (OC·kh·kw, H·W·N)
    return grouped_matmul(flipped_kernel(xp, weight, groups), cols, groups).reshape(c, h, w, n)


# ---- the ops --------------------------------------------------------------------------------------
class Conv2d(Function):
    """y = weight ⋆ x + bias, computed as Y = W·cols(X) + b.

    With W the weight reshaped to (OC, C·kh·kw), cols(X) the im2col matrix (C·kh·kw, P) over the
    P = OH·OW·N output positions and Y (OC, P)::

        dL/dW    = dL/dY · cols(X)ᵀ
        dL/db    = Σ_positions dL/dY                (a row sum)
        dL/dX    = col2im(Wᵀ · dL/dY)               (for stride 1: dL/dY ⋆ flipped W, the same
                                                     numbers; see input_gradient)

    With groups G, channels split into G blocks and each block is its own convolution: W and
    cols are block-diagonal, so each product is G independent products.

    Stride 1 takes a shortcut for dL/dW too.  There dL/dX is a convolution of the gradient, so
    backward builds the gradient's columns G = cols(dL/dY) (OC·kh·kw, H·W·N), and in one
    dimension (dilation 1, top = the padding before)::

        dL/dW[o, c, i] = Σ_y dL/dy[o, y] · x[c, y + i − top]
                       = Σ_h x[c, h] · dL/dy[o, h − i + top]      (h = y + i − top)
                       = Σ_h x[c, h] · G[(o, k − 1 − i), h]

    so X · Gᵀ is dL/dW with in and out channels swapped and the kernel flipped.  Both products
    of backward then read the same columns, and forward keeps x instead of the kh·kw times
    larger cols(X): it can build its columns a block at a time (see column_blocks).  Measured
    against reading the saved cols(X) (forward + backward, one thread, CPU time): 3.8 vs 4.5 ms
    at 128×8×14² → 8, 2.2 vs 2.7 ms at 128×16×7² → 16, 2.0 vs 2.3 ms at 128×32×4² → 32.
    """

    def __init__(self, stride, padding, dilation, groups):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups

    def forward(self, x, weight, bias=None):
        xp = self.xp
        out_channels, _, kh, kw = weight.shape
        n, c, h, w = x.shape
        top, bottom, left, right = self.padding
        oh = conv_output_size(h, kh, self.stride[0], top, bottom, self.dilation[0])
        ow = conv_output_size(w, kw, self.stride[1], left, right, self.dilation[1])
        self.geometry = ((kh, kw), self.stride, self.padding, self.dilation, (oh, ow))
        self.image_shape = (c, h, w, n)
        self.flipped_pads = flipped_padding(self.geometry, (h, w))    # None: not stride 1
        if n == 0:   # an empty batch: nothing to convolve, and nothing for backward to add up
            self.weight_shape = weight.shape
            return xp.zeros((0, out_channels, oh, ow), dtype=x.dtype)
        weight_matrix = weight.reshape(out_channels, -1)
        if self.flipped_pads is None:                 # backward needs cols(X): make it whole
            cols = im2col(xp, batch_last(x), *self.geometry)          # (C·kh·kw, OH·OW·N)
            out = grouped_matmul(weight_matrix, cols, self.groups)
            out = out.reshape(out_channels, oh, ow, n)
            self.save_for_backward(cols, weight)
        else:                                         # nothing keeps cols(X): blocks of rows
            out = xp.empty((out_channels, oh, ow, n), dtype=x.dtype)
            blocks, columns = column_blocks(xp, batch_last(x), *self.geometry,
                                            block_per_thread=True)

            def block(rows):   # on the threads of speed/threads.py, a block each
                out[:, rows] = grouped_matmul(weight_matrix, columns(rows), self.groups).reshape(
                    out_channels, -1, ow, n)
            threads.each(block, blocks, x)
            self.save_for_backward(x, weight)
        if bias is not None:
            out += bias[:, None, None, None]
        # (OC, OH, OW, N) in memory: hand it out as an (N, OC, OH, OW) view, no copy
        return batch_first(out)

    def backward(self, grad):
        xp = self.xp
        if self.image_shape[3] == 0:                              # an empty batch
            c, h, w, _ = self.image_shape
            grads = (xp.zeros((0, c, h, w), dtype=grad.dtype),
                     xp.zeros(self.weight_shape, dtype=grad.dtype),
                     xp.zeros(self.weight_shape[0], dtype=grad.dtype))
            return grads[:len(self.needs_input_grad)]
        saved, weight = self.saved_tensors
        grad = as_matrix(grad)                                    # (OC, OH·OW·N)
        (oh, ow), n = self.geometry[4], self.image_shape[3]
        needs_x, needs_w = self.needs_input_grad[0], self.needs_input_grad[1]
        grad_x = grad_w = grad_b = None
        if self.flipped_pads is not None and (needs_x or needs_w):    # saved is x
            grad_x, grad_w = self.stride1_backward(grad.reshape(-1, oh, ow, n), saved, weight)
        else:                                                         # saved is cols(X)
            if needs_x:
                grad_x = batch_first(input_gradient(xp, grad.reshape(-1, oh, ow, n), weight,
                                                    self.groups, self.geometry, self.image_shape))
            if needs_w:
                grad_w = grouped_matmul_bt(grad, saved, self.groups).reshape(weight.shape)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            grad_b = row_sums(xp, grad)
        return (grad_x, grad_w) if len(self.needs_input_grad) == 2 else (grad_x, grad_w, grad_b)

    def backward_graph(self, grad):
        """The three formulas above with ops on Tensors: cols(X) is ``unfold`` of the padded
        input, col2im is ``fold`` (then the padding is cut off) and the products are ``matmul``,
        in the fast version's layout: dL/dY as (OC, OH·OW·N), the batch innermost, and with G
        groups a stack of G blocks.  Everything here is linear in dL/dY and in each of x and W,
        so the second derivatives are these products again with the roles swapped.
        """
        x, weight = self.inputs[:2]
        kernel, stride, padding, dilation, (oh, ow) = self.geometry
        (top, bottom, left, right), (c, h, w, n) = padding, self.image_shape
        groups, out_channels = self.groups, weight.shape[0]
        positions, rows = oh * ow * n, c * kernel[0] * kernel[1]
        grad_y = grad.permute(1, 2, 3, 0).reshape(groups, out_channels // groups, positions)
        # fold and unfold pad the same amount on both sides; a conv padded unevenly ('same'
        # with an even kernel) is folded to the padded size and cut.  (Padding inside fold and
        # unfold keeps the batch-innermost layout; a separate pad op would copy it out.)
        even = top == bottom and left == right
        inner = (top, left) if even else 0
        grad_x = grad_w = grad_b = None
        if self.needs_input_grad[0]:                                  # col2im(Wᵀ · dL/dY)
            weights = weight.reshape(groups, out_channels // groups, rows // groups)
            cols = (weights.transpose(1, 2) @ grad_y).reshape(rows, oh * ow, n).permute(2, 0, 1)
            size = (h, w) if even else (top + h + bottom, left + w + right)
            grad_x = fold(cols, size, kernel, dilation, inner, stride)
            if not even:
                grad_x = pad(grad_x, (-left, -right, -top, -bottom))   # cut the padding off
        if self.needs_input_grad[1]:                                  # dL/dY · cols(X)ᵀ
            padded = x if even else pad(x, (left, right, top, bottom))
            cols = unfold(padded, kernel, dilation, inner, stride)    # (N, C·kh·kw, OH·OW)
            cols = cols.permute(1, 2, 0).reshape(groups, rows // groups, positions)
            grad_w = (grad_y @ cols.transpose(1, 2)).reshape(weight.shape)
        if len(self.inputs) == 2:
            return grad_x, grad_w
        if self.needs_input_grad[2]:
            grad_b = grad.sum(dim=(0, 2, 3))
        return grad_x, grad_w, grad_b

    def stride1_backward(self, grad, x, weight):
        """dL/dx and dL/dW of a stride-1 conv from dL/dy (OC, OH, OW, N) and x (N, C, H, W).

        One pass over blocks of the gradient's columns G: each block feeds the input gradient's
        rows (flipped kernel · G) and adds its share of X · Gᵀ while it is still in the cache.
        """
        xp, groups = self.xp, self.groups
        (kernel, _, _, dilation, _), (c, h, w, n) = self.geometry, self.image_shape
        out_channels, per_group, kh, kw = weight.shape
        needs_x, needs_w = self.needs_input_grad[0], self.needs_input_grad[1]
        x = batch_last(x)                                             # (C, H, W, N)
        flipped = flipped_kernel(xp, weight, groups)                  # (C, OC/G·kh·kw)
        grad_x = xp.empty((c, h, w, n), dtype=grad.dtype) if needs_x else None
        blocks, columns = column_blocks(xp, grad, kernel, (1, 1), self.flipped_pads, dilation,
                                        (h, w))

        swapped = xp.zeros(flipped.shape, dtype=grad.dtype)           # X · Gᵀ, summed by block
        for rows in blocks:   # (the copies and products inside are cut over the threads)
            cols = columns(rows)
            if needs_x:
                grad_x[:, rows] = grouped_matmul(flipped, cols, groups).reshape(c, -1, w, n)
            if needs_w:
                swapped += grouped_matmul_bt(x[:, rows].reshape(c, -1), cols, groups)
        grad_w = None
        if needs_w:   # swap the channels back and unflip the kernel
            swapped = swapped.reshape(groups, per_group, out_channels // groups, kh, kw)
            grad_w = swapped.transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1].reshape(weight.shape)
        return (batch_first(grad_x) if needs_x else None), grad_w


class ConvTranspose2d(Function):
    """The adjoint of conv2d: its forward is conv2d's input gradient, its backward conv2d.

    With W the weight (C_in, OC·kh·kw) and X (C_in, P) the input over its P = H·W·N pixels::

        y        = col2im(Wᵀ · X) + b               (each input pixel paints a kh×kw patch)
        dL/dX    = W · cols(dL/dy)                  (a conv2d of the gradient)
        dL/dW    = X · cols(dL/dy)ᵀ
        dL/db    = Σ_positions dL/dy

    The output size is (H − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1.
    """

    def __init__(self, stride, padding, output_padding, dilation, groups):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.output_padding = output_padding

    def forward(self, x, weight, bias=None):
        xp = self.xp
        in_channels, out_per_group, kh, kw = weight.shape
        n, _, h, w = x.shape
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        out_h = (h - 1) * sh - 2 * ph + dh * (kh - 1) + self.output_padding[0] + 1
        out_w = (w - 1) * sw - 2 * pw + dw * (kw - 1) + self.output_padding[1] + 1
        out_channels = out_per_group * self.groups
        # the conv2d whose input gradient we are: from (OC, out_h, out_w) to our input's (h, w)
        self.geometry = ((kh, kw), self.stride, (ph, ph, pw, pw), self.dilation, (h, w))
        self.out_shape = (out_channels, out_h, out_w, n)
        x_matrix = as_matrix(x)                                   # (C_in, H·W·N)
        out = input_gradient(xp, x_matrix.reshape(in_channels, h, w, n), weight, self.groups,
                             self.geometry, self.out_shape)           # (OC, out_h, out_w, N)
        if bias is not None:
            out += bias[:, None, None, None]
        self.save_for_backward(x_matrix, weight)
        return batch_first(out)

    def backward(self, grad):
        x_matrix, weight = self.saved_tensors
        xp = self.xp
        in_channels = weight.shape[0]
        grad_x = grad_w = grad_b = None
        grad = batch_last(grad)                                       # (OC, out_h, out_w, N)
        if self.needs_input_grad[0] or self.needs_input_grad[1]:
            grad_cols = im2col(xp, grad, *self.geometry)              # (OC·kh·kw, H·W·N)
            if self.needs_input_grad[0]:
                grad_x = grouped_matmul(weight.reshape(in_channels, -1), grad_cols, self.groups)
                (h, w), n = self.geometry[4], self.out_shape[3]
                grad_x = batch_first(grad_x.reshape(in_channels, h, w, n))
            if self.needs_input_grad[1]:
                grad_w = grouped_matmul_bt(x_matrix, grad_cols, self.groups).reshape(weight.shape)
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            grad_b = row_sums(xp, grad.reshape(grad.shape[0], -1))   # (OC, out_h·out_w·N)
        return (grad_x, grad_w) if len(self.needs_input_grad) == 2 else (grad_x, grad_w, grad_b)

    def backward_graph(self, grad):
        """The formulas above with ops on Tensors: dL/dX is ``conv2d`` of the gradient with the
        same weight and settings, and cols(dL/dy) is ``unfold``; both are differentiable again
        (conv2d's graph backward is fold and matmul), and everything is linear in dL/dy and in
        each of x and W.  When output_padding ≥ stride (possible with dilation) the conv2d sees
        a row or column more than x has: only the first H × W positions belong to x.
        """
        x, weight = self.inputs[:2]
        kernel, stride, (ph, _, pw, _), dilation, (h, w) = self.geometry
        groups, in_channels, n = self.groups, weight.shape[0], x.shape[0]
        grad_x = grad_w = grad_b = None
        if self.needs_input_grad[0]:                                  # W · cols(dL/dy)
            grad_x = conv2d(grad, weight, None, stride, (ph, pw), dilation, groups)
            if grad_x.shape[2:] != (h, w):
                grad_x = grad_x[:, :, :h, :w]
        if self.needs_input_grad[1]:                                  # X · cols(dL/dy)ᵀ
            cols = unfold(grad, kernel, dilation, (ph, pw), stride)   # (N, OC·kh·kw, L)
            rows = cols.shape[1]
            windows = [conv_output_size(size, k, s, p, p, d) for size, k, s, p, d in
                       zip(grad.shape[2:], kernel, stride, (ph, pw), dilation)]
            cols = cols.reshape(n, rows, *windows)                    # (N, OC·kh·kw, ≥H, ≥W)
            if tuple(windows) != (h, w):
                cols = cols[:, :, :h, :w]
            cols = cols.permute(1, 0, 2, 3).reshape(groups, rows // groups, -1)
            x_rows = x.permute(1, 0, 2, 3).reshape(groups, in_channels // groups, -1)
            grad_w = (x_rows @ cols.transpose(1, 2)).reshape(weight.shape)
        if len(self.inputs) == 2:
            return grad_x, grad_w
        if self.needs_input_grad[2]:
            grad_b = grad.sum(dim=(0, 2, 3))
        return grad_x, grad_w, grad_b


class Unfold(Function):
    """F.unfold: y[n, c·kh·kw + i·kw + j, l] = x_padded[n, c, window l's pixel at offset (i, j)].

    It is im2col itself, so its backward is col2im: dL/dx = col2im(dL/dy).
    """

    def __init__(self, kernel, dilation, padding, stride):
        self.kernel, self.dilation, self.padding, self.stride = kernel, dilation, padding, stride

    def forward(self, x):
        n, c, h, w = x.shape
        (kh, kw), (ph, pw) = self.kernel, self.padding
        oh = conv_output_size(h, kh, self.stride[0], ph, ph, self.dilation[0])
        ow = conv_output_size(w, kw, self.stride[1], pw, pw, self.dilation[1])
        if oh <= 0 or ow <= 0:
            raise RuntimeError(f"unfold: kernel {self.kernel} with dilation {self.dilation} "
                               f"does not fit in the padded input of shape {tuple(x.shape)}")
        self.geometry = (self.kernel, self.stride, (ph, ph, pw, pw), self.dilation, (oh, ow))
        self.image_shape = (c, h, w, n)
        cols = im2col(self.xp, batch_last(x), *self.geometry)         # (C·kh·kw, L·N)
        return cols.reshape(c * kh * kw, oh * ow, n).transpose(2, 0, 1)

    def backward(self, grad):
        cols = grad.transpose(1, 2, 0).reshape(grad.shape[1], -1)
        return batch_first(col2im(self.xp, cols, self.image_shape, *self.geometry))

    def backward_graph(self, grad):
        (c, h, w, n), (ph, _, pw, _) = self.image_shape, self.geometry[2]
        return fold(grad, (h, w), self.kernel, self.dilation, (ph, pw), self.stride)


class Fold(Function):
    """F.fold, the adjoint of unfold: sum each column entry into its pixel of the output image.

    y = col2im(x);   dL/dx = im2col(dL/dy).
    """

    def __init__(self, output_size, kernel, dilation, padding, stride):
        self.output_size, self.kernel = output_size, kernel
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x):
        if x.ndim != 3:
            raise RuntimeError(f"fold: expected a 3-D input (batch, C·kh·kw, L), got shape "
                               f"{tuple(x.shape)}")
        n, rows, length = x.shape
        (kh, kw), (ph, pw), (h, w) = self.kernel, self.padding, self.output_size
        if rows % (kh * kw):
            raise RuntimeError(f"fold: expected size of input's dimension 1 to be divisible by "
                               f"the product of kernel_size {self.kernel}, got {rows}")
        oh = conv_output_size(h, kh, self.stride[0], ph, ph, self.dilation[0])
        ow = conv_output_size(w, kw, self.stride[1], pw, pw, self.dilation[1])
        if oh * ow != length:
            raise RuntimeError(f"fold: expected input's dimension 2 to match the {oh}×{ow} = "
                               f"{oh * ow} sliding blocks of output_size {self.output_size}, "
                               f"got {length}")
        c = rows // (kh * kw)
        self.geometry = (self.kernel, self.stride, (ph, ph, pw, pw), self.dilation, (oh, ow))
        cols = x.transpose(1, 2, 0).reshape(rows, -1)                 # (C·kh·kw, L·N)
        return batch_first(col2im(self.xp, cols, (c, h, w, n), *self.geometry))

    def backward(self, grad):
        cols = im2col(self.xp, batch_last(grad), *self.geometry)
        (oh, ow), rows = self.geometry[4], cols.shape[0]
        return cols.reshape(rows, oh * ow, grad.shape[0]).transpose(2, 0, 1)  # (an empty batch too)

    def backward_graph(self, grad):
        return unfold(grad, self.kernel, self.dilation, self.padding, self.stride)


# ---- the functions users call (torch.nn.functional's signatures) ----------------------------------
def _unbatched(input, op, expected_ndim):
    """PyTorch accepts a (C, H, W) image without a batch dim: add one (and say if we did)."""
    if input.ndim == expected_ndim - 1:
        return unsqueeze(input, 0), True
    if input.ndim != expected_ndim:
        raise RuntimeError(f"{op}: expected a {expected_ndim - 1}-D (unbatched) or "
                           f"{expected_ndim}-D (batched) input, got shape {tuple(input.shape)}")
    return input, False


def _rebatched(output, added):
    return squeeze(output, 0) if added else output


def _check_conv_args(input, weight, bias, groups, op, in_channels_of_weight, out_channels):
    if weight.ndim != 4:
        raise RuntimeError(f"{op}: expected a 4-D weight, got shape {tuple(weight.shape)}")
    if groups <= 0 or int(groups) != groups:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"{op}: input ({input.dtype}) and weight ({weight.dtype}) must have "
                           f"the same dtype")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"{op}: input ({input.dtype}) and bias ({bias.dtype}) must have "
                           f"the same dtype")
    if min(weight.shape[2:]) <= 0:
        raise RuntimeError(f"{op}: kernel size should be greater than zero, got a weight of "
                           f"shape {tuple(weight.shape)}")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != out_channels):
        raise RuntimeError(f"{op}: expected a bias of shape ({out_channels},) for "
                           f"{out_channels} output channels, got shape {tuple(bias.shape)}")
    if input.shape[1] != in_channels_of_weight:
        raise RuntimeError(
            f"{op}: given groups={groups} and weight of shape {tuple(weight.shape)}, expected "
            f"input of shape {tuple(input.shape)} to have {in_channels_of_weight} channels, "
            f"but got {input.shape[1]} channels instead")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as PyTorch), input (N, C, H, W) or (C, H, W)."""
    input, added = _unbatched(input, "conv2d", 4)
    out_channels, per_group, kh, kw = (tuple(weight.shape) + (0,) * 4)[:4]
    _check_conv_args(input, weight, bias, groups, "conv2d", per_group * groups, out_channels)
    if out_channels % groups:
        raise RuntimeError(f"conv2d: out_channels ({out_channels}) must be divisible by groups "
                           f"({groups})")
    stride = positive_pair(stride, "stride", "conv2d")
    dilation = positive_pair(dilation, "dilation", "conv2d")
    padding = conv_padding(padding, (kh, kw), dilation, stride, "conv2d")
    h, w = input.shape[2:]
    if (h + padding[0] + padding[1] < dilation[0] * (kh - 1) + 1
            or w + padding[2] + padding[3] < dilation[1] * (kw - 1) + 1):
        raise RuntimeError(
            f"conv2d: the padded input ({h + padding[0] + padding[1]} × "
            f"{w + padding[2] + padding[3]}) is smaller than the dilated kernel "
            f"({dilation[0] * (kh - 1) + 1} × {dilation[1] * (kw - 1) + 1})")
    op = Conv2d(stride, padding, dilation, int(groups))
    out = op(input, weight) if bias is None else op(input, weight, bias)
    return _rebatched(out, added)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """Transposed 2-D convolution ("deconvolution"): the gradient of conv2d w.r.t. its input."""
    input, added = _unbatched(input, "conv_transpose2d", 4)
    in_channels, per_group = (tuple(weight.shape) + (0,) * 2)[:2]
    _check_conv_args(input, weight, bias, groups, "conv_transpose2d", in_channels,
                     per_group * groups)
    if in_channels % groups:
        raise RuntimeError(f"conv_transpose2d: in_channels ({in_channels}) must be divisible "
                           f"by groups ({groups})")
    stride = positive_pair(stride, "stride", "conv_transpose2d")
    dilation = positive_pair(dilation, "dilation", "conv_transpose2d")
    padding = pair(padding, "padding", "conv_transpose2d")
    output_padding = pair(output_padding, "output_padding", "conv_transpose2d")
    for o, s, d in zip(output_padding, stride, dilation):
        if not 0 <= o < max(s, d):
            raise ValueError(f"conv_transpose2d: output_padding must be smaller than either "
                             f"stride or dilation, got output_padding={output_padding}, "
                             f"stride={stride}, dilation={dilation}")
    h, w = input.shape[2:]
    kh, kw = weight.shape[2:]
    out_h = (h - 1) * stride[0] - 2 * padding[0] + dilation[0] * (kh - 1) + output_padding[0] + 1
    out_w = (w - 1) * stride[1] - 2 * padding[1] + dilation[1] * (kw - 1) + output_padding[1] + 1
    if out_h <= 0 or out_w <= 0 or min(padding) < 0:
        raise RuntimeError(f"conv_transpose2d: padding {padding} leaves an output of size "
                           f"{out_h} × {out_w} for an input of shape {tuple(input.shape)}")
    op = ConvTranspose2d(stride, padding, output_padding, dilation, int(groups))
    out = op(input, weight) if bias is None else op(input, weight, bias)
    return _rebatched(out, added)


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Every sliding block of ``input`` (N, C, H, W) as a column: (N, C·kh·kw, L)."""
    check_4d(input, "unfold")
    require_floating("unfold", input)
    op = Unfold(positive_pair(kernel_size, "kernel_size", "unfold"),
                positive_pair(dilation, "dilation", "unfold"), pair(padding, "padding", "unfold"),
                positive_pair(stride, "stride", "unfold"))
    return op(input)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Sum columns (N, C·kh·kw, L) back into an image (N, C, *output_size): unfold's adjoint."""
    require_floating("fold", input)
    op = Fold(positive_pair(output_size, "output_size", "fold"),
              positive_pair(kernel_size, "kernel_size", "fold"),
              positive_pair(dilation, "dilation", "fold"), pair(padding, "padding", "fold"),
              positive_pair(stride, "stride", "fold"))
    return op(input)
