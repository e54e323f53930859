"""The windows a convolution or a pooling slides over an image, laid out for speed: the
batch-innermost layout, the padded copy, the strided window view, im2col and its adjoint col2im.

Read after ``ops/matmul.py``; ``ops/conv.py`` (which tells why a convolution is im2col and one
matrix product, with a readable im2col first) and ``ops/pool.py`` (which reduces the same
windows with max or mean) build on this file.

Two ideas make it fast:

* **batch-innermost layout**: images are kept as (C, H, W, N), the batch the fastest-moving
  index, and the columns are laid out as (C·kh·kw, OH·OW·N).  Every run that a copy moves is
  then N (=128) contiguous floats, not the 8-float runs of channels-last or the 14-float rows
  of (N, C, H, W); NumPy pays a fixed cost per run, so this layout made im2col several times
  faster (see ``benchmarks/README.md``).  A (N, C, H, W) array and its (C, H, W, N) view are
  one transpose apart, free (:func:`batch_last`, :func:`batch_first`).
* **strided window view**: ``as_strided`` gives a (C, kh, kw, OH, OW, N) *view* of the padded
  input without copying a byte (:func:`window_view`); im2col is then one copy of that view, no
  Python loop at all.

col2im, the adjoint (each column entry added back onto its pixel), loops over the kh·kw kernel
offsets, never over pixels: one offset's entries land on one strided slice of the image.
"""
from minitorch.speed import threads


# ---- geometry ------------------------------------------------------------------------------------
def conv_output_size(size, kernel, stride, pad_before, pad_after, dilation):
    """How many windows fit: ⌊(size + padding − dilation·(kernel − 1) − 1) / stride⌋ + 1."""
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


def same_padding(kernel, dilation):
    """The padding that keeps a stride-1 window's output the size of its input, as
    ``((top, bottom), (left, right))``: dilation·(kernel − 1) in total per dimension, the odd one
    extra at the bottom/right, as PyTorch's ``padding='same'`` does."""
    pads = []
    for k, d in zip(kernel, dilation):
        total = d * (k - 1)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


# ---- the batch-innermost layout ------------------------------------------------------------------
# Here (and in conv.py and pool.py) images are kept batch-innermost: (C, H, W, N).  A (N, C, H, W)
# array becomes one by the free view x.transpose(1, 2, 3, 0), and back by .transpose(3, 0, 1, 2).
def batch_last(x):
    """The (C, H, W, N) view of an (N, C, H, W) array (no copy)."""
    return x.transpose(1, 2, 3, 0)


def batch_first(x):
    """The (N, C, H, W) view of a (C, H, W, N) array (no copy)."""
    return x.transpose(3, 0, 1, 2)


def pad_batch_last(xp, x, padding, value=0.0):
    """A (C, H+top+bottom, W+left+right, N) C-contiguous copy of ``x`` (C, H, W, N), padded.

    It always copies, so that the windows read afterwards are (C, H, W, N)-contiguous whatever
    the layout of the input was; an input that is already contiguous and needs no padding is
    returned as is.
    """
    top, bottom, left, right = padding
    if not (top or bottom or left or right) and x.flags.c_contiguous:
        return x
    c, h, w, n = x.shape
    padded = xp.empty((c, h + top + bottom, w + left + right, n), dtype=x.dtype)
    padded[:, top:top + h, left:left + w] = x
    # fill only the border strips: one pass over the image, not a fill and then a copy
    padded[:, :top] = value
    padded[:, top + h:] = value
    padded[:, top:top + h, :left] = value
    padded[:, top:top + h, left + w:] = value
    return padded


# ---- the windows ---------------------------------------------------------------------------------
def window_view(xp, padded, kernel, stride, dilation, out_size):
    """The (C, kh, kw, OH, OW, N) strided view of every window of ``padded`` (C, Hp, Wp, N).

    Element [c, i, j, y, x, n] is padded[c, y·sh + i·dh, x·sw + j·dw, n]: stepping the kernel
    offset i moves dh rows, stepping the output row y moves sh rows.  Nothing is copied; the
    view's strides say how to walk the original memory.  Windows overlap when the stride is
    smaller than the kernel, so several view elements share one memory location: only read it.
    """
    kh, kw = kernel
    (sh, sw), (dh, dw), (oh, ow) = stride, dilation, out_size
    c, height, width, n = padded.shape
    # as_strided trusts us: a window reaching past the array would read foreign memory
    if (oh - 1) * sh + (kh - 1) * dh >= height or (ow - 1) * sw + (kw - 1) * dw >= width:
        raise RuntimeError(f"window_view: {oh}×{ow} windows of {kh}×{kw} (stride {stride}, "
                           f"dilation {dilation}) do not fit in a {height}×{width} image")
    s_c, s_h, s_w, s_n = padded.strides
    return xp.lib.stride_tricks.as_strided(
        padded, shape=(c, kh, kw, oh, ow, n),
        strides=(s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw, s_n))


def im2col(xp, x, kernel, stride, padding, dilation, out_size):
    """The column matrix (C·kh·kw, OH·OW·N) of ``x`` (C, H, W, N): one copy of the window view."""
    c, kh, kw = x.shape[0], kernel[0], kernel[1]
    windows = window_view(xp, pad_batch_last(xp, x, padding), kernel, stride, dilation, out_size)
    return threads.contiguous(xp, windows).reshape(c * kh * kw, -1)


def offset_slices(offset, stride, dilation, out_size):
    """The (C, rows, columns, N) index of the pixels that kernel offset (i, j) sees in every
    window: one strided slice of the padded image per axis."""
    (i, j), (sh, sw), (dh, dw), (oh, ow) = offset, stride, dilation, out_size
    return (slice(None), slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
            slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))


def windows_overlap(kernel, stride, dilation):
    """Whether two windows can share a pixel (the stride is shorter than the dilated kernel)."""
    return any(s < d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


def col2im(xp, cols, image_shape, kernel, stride, padding, dilation, out_size):
    """The adjoint of im2col: add every column entry back onto its pixel.  Returns (C, H, W, N).

    ``cols`` is (C·kh·kw, OH·OW·N).  We loop over the kh·kw kernel offsets (not over pixels):
    for one offset, its entries of all windows land on one strided slice of the padded image,
    so each step is a single vectorised add of OH·OW·N-element slabs.  Overlapping windows need
    the add; when windows do not overlap (stride ≥ dilated kernel) one strided assignment does.
    """
    c, h, w, n = image_shape
    (kh, kw), (oh, ow) = kernel, out_size
    top, bottom, left, right = padding
    cols = cols.reshape(c, kh, kw, oh, ow, n)
    (sh, sw), shape = stride, (c, h + top + bottom, w + left + right, n)
    if not windows_overlap(kernel, stride, dilation):
        # no two windows share a pixel: the window view is a one-to-one map, write through it
        padded = xp.zeros(shape, dtype=cols.dtype)
        window_view(xp, padded, kernel, stride, dilation, out_size)[...] = cols
    elif dilation == (1, 1) and kh >= sh and kw >= sw:
        # The first sh × sw offsets (i < sh, j < sw) land on disjoint pixels that tile the
        # top-left sh·OH × sw·OW block, and each is the first to reach its pixel in the loop
        # below: write them instead of adding them to zeros, and zero only what lies outside
        # that block.  The same sums in the same order, with 4 of the 9 slabs of a k3 s2 conv
        # written instead of read-added: col2im took 0.15 instead of 0.26 ms at 128×8×14².
        padded = xp.empty(shape, dtype=cols.dtype)
        padded[:, sh * oh:] = 0
        padded[:, :sh * oh, sw * ow:] = 0
        for i in range(kh):
            for j in range(kw):
                pixels = offset_slices((i, j), stride, dilation, out_size)
                if i < sh and j < sw:
                    padded[pixels] = cols[:, i, j]
                else:
                    padded[pixels] += cols[:, i, j]
    else:
        padded = xp.zeros(shape, dtype=cols.dtype)
        for i in range(kh):
            for j in range(kw):
                padded[offset_slices((i, j), stride, dilation, out_size)] += cols[:, i, j]
    return padded[:, top:top + h, left:left + w]
