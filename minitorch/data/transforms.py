"""Transforms: data augmentation and normalisation, on whole batches.  Read after ``loader.py``.

The lesson's only augmentation for MNIST is fastai's ``rand_pad(padding=3, size=28, mode='zeros')``:
surround each 28x28 digit with 3 pixels of zeros (34x34), then cut out a random 28x28 window.  The
digit moves by up to 3 pixels each way — and nothing else: no flips (a flipped 2 is not a 2) and
no zooms (28 pixels leave no detail to zoom into).  It is applied to the training set only; the
validation set must show the model the images as they are.

Transforms here work on a whole batch (N, C, H, W) at once, because the training loop calls them
for every batch.  :func:`pad_crop_loop` is the readable version, one image at a time;
:func:`pad_crop` is the vectorised one that the training uses, and the tests check they agree.

:class:`Normalize` subtracts a per-channel mean and divides by a per-channel std, so every input
channel arrives at the first layer with mean 0 and std 1; :func:`channel_stats` measures those
statistics on a batch.
"""
import numpy
from numpy.lib.stride_tricks import sliding_window_view

from minitorch import backend
from minitorch.ops.common import pair
from minitorch.speed.gpu import to_device_together

# fastai's padding modes, and what numpy.pad calls each of them.
PAD_MODES = {"zeros": "constant", "reflection": "reflect", "border": "edge"}


def _pad(images, padding, mode):
    if mode not in PAD_MODES:
        raise ValueError(f"unknown padding mode {mode!r}: expected one of {sorted(PAD_MODES)}")
    if images.ndim != 4:
        raise ValueError(f"expected a batch of images of shape (N, C, H, W), got shape {images.shape}")
    xp = backend.array_module(backend.device_of(images))
    return xp.pad(images, ((0, 0), (0, 0), (padding, padding), (padding, padding)),
                     mode=PAD_MODES[mode])


def pad_crop_loop(images, padding, size, rows, cols, mode="zeros"):
    """Pad every image of ``images`` (N, C, H, W) by ``padding`` pixels on each side, then crop
    image ``n`` at top-left corner (``rows[n]``, ``cols[n]``) to ``size``.  One image at a time."""
    height, width = pair(size, "size", "pad_crop")
    padded = _pad(images, padding, mode)
    out = numpy.empty(images.shape[:2] + (height, width), dtype=images.dtype)
    for n in range(len(images)):
        out[n] = padded[n, :, rows[n]:rows[n] + height, cols[n]:cols[n] + width]
    return out


def pad_crop(images, padding, size, rows, cols, mode="zeros"):
    """The same as :func:`pad_crop_loop`, for the whole batch in one indexing operation.

    The trick: ``sliding_window_view`` presents the padded batch as an array of *every* possible
    window, shape (N, C, positions down, positions across, height, width), without copying a byte
    (it is a strided view).  Indexing it with one (row, col) per image picks each image's window.
    """
    height, width = pair(size, "size", "pad_crop")
    padded = _pad(images, padding, mode)
    if padded.shape[2] < height or padded.shape[3] < width:
        raise ValueError(f"cannot crop {height}x{width} out of padded images of size "
                         f"{padded.shape[2]}x{padded.shape[3]}")
    if backend.device_of(images) != "cpu":
        return _gather_windows(padded, height, width, rows, cols)
    windows = sliding_window_view(padded, (height, width), axis=(2, 3))
    # The two integer index arrays are separated by a slice, so NumPy puts their common
    # dimension (N) first: the result is (N, C, height, width).
    return windows[numpy.arange(len(images)), :, rows, cols]


def _gather_windows(padded, height, width, rows, cols):
    """The GPU form of :func:`pad_crop`'s last step (CuPy has no ``sliding_window_view``): one
    gather, ``out[n, c, i, j] = padded[n, c, rows[n] + i, cols[n] + j]``, with index arrays
    made on the device and broadcast against each other."""
    xp = backend.array_module(backend.device_of(padded))
    n, c = padded.shape[:2]
    return padded[xp.arange(n)[:, None, None, None], xp.arange(c)[None, :, None, None],
                  rows[:, None, None, None] + xp.arange(height)[None, None, :, None],
                  cols[:, None, None, None] + xp.arange(width)[None, None, None, :]]


def _positions_on_device(n, positions, device):
    """``n`` window positions in ``0 .. positions-1``, each equally likely, drawn on ``device``
    from backend's seeded device generator (nothing is uploaded).  float32 ``u · positions`` can
    round up to ``positions`` for u just below 1, hence the ``minimum``."""
    xp = backend.array_module(device)
    u = backend.random((n,), device)
    return xp.minimum((u * positions).astype(xp.int64), positions - 1)


class RandPadCrop:
    """fastai's ``rand_pad``: pad by ``padding`` (``mode`` 'zeros', 'reflection' or 'border'),
    then crop ``size`` at a random position, drawn independently for each image.

    Called as ``tfm(images, rng)`` on a batch (N, C, H, W), with ``rng`` a NumPy Generator.
    A batch on the GPU is padded and cropped there, its positions drawn by the device's own
    seeded generator (``backend.random``; ``rng`` is not used), so nothing goes up per batch.
    """

    on_device = True  # can run on a batch that lives on the GPU (see loader.py)

    def __init__(self, padding, size, mode="reflection"):
        if not isinstance(padding, int) or padding < 0:
            raise ValueError(f"rand_pad: padding must be a non-negative int, got {padding!r}")
        if mode not in PAD_MODES:
            raise ValueError(f"rand_pad: unknown mode {mode!r}: expected one of {sorted(PAD_MODES)}")
        self.padding = padding
        self.size = pair(size, "size", "rand_pad")
        self.mode = mode

    def __call__(self, images, rng):
        height, width = self.size
        # Every window position is equally likely (fastai draws row_pct, col_pct ~ U(0, 1) and
        # takes int(pct * (positions)): the same uniform choice among the positions).
        row_positions = images.shape[2] + 2 * self.padding - height + 1
        col_positions = images.shape[3] + 2 * self.padding - width + 1
        if row_positions < 1 or col_positions < 1:
            raise ValueError(f"rand_pad: cannot crop {height}x{width} out of "
                             f"{images.shape[2]}x{images.shape[3]} images padded by {self.padding}")
        device = backend.device_of(images)
        if device != "cpu":
            rows = _positions_on_device(len(images), row_positions, device)
            cols = _positions_on_device(len(images), col_positions, device)
            return pad_crop(images, self.padding, self.size, rows, cols, self.mode)
        rows = rng.integers(0, row_positions, size=len(images))
        cols = rng.integers(0, col_positions, size=len(images))
        return pad_crop(images, self.padding, self.size, rows, cols, self.mode)

    def __repr__(self):
        return f"RandPadCrop(padding={self.padding}, size={self.size}, mode={self.mode!r})"


def rand_pad(padding, size, mode="reflection"):
    """fastai's ``rand_pad``: the list of transforms that pads then randomly crops.

    A list, as in fastai, so the lesson's ``tfms = ([*rand_pad(padding=3, size=28, mode='zeros')], [])``
    (training transforms, validation transforms) reads the same here.
    """
    return [RandPadCrop(padding, size, mode)]


def channel_stats(images):
    """Per-channel mean and standard deviation of a batch (N, C, H, W), as float32 arrays (C,).

    The std is the unbiased one (divides by n - 1), as ``torch.std`` — what fastai used."""
    if images.ndim != 4:
        raise ValueError(f"channel_stats: expected a batch of shape (N, C, H, W), got {images.shape}")
    per_channel = numpy.moveaxis(images, 1, 0).reshape(images.shape[1], -1).astype(numpy.float64)
    return (per_channel.mean(axis=1).astype(numpy.float32),
            per_channel.std(axis=1, ddof=1).astype(numpy.float32))


class Normalize:
    """``(x - mean) / std`` channel by channel, for batches (N, C, H, W) as float32 arrays, on
    the host or the GPU (the statistics are uploaded once per device, then kept)."""

    on_device = True

    def __init__(self, mean, std):
        self.mean, self.std = (self._stat(value, name) for value, name in ((mean, "mean"),
                                                                           (std, "std")))
        if self.mean.shape != self.std.shape:
            raise ValueError(f"Normalize: mean has {self.mean.size} channels, std has {self.std.size}")
        if not numpy.all(numpy.isfinite(self.mean)):
            raise ValueError(f"Normalize: every mean must be finite, got {self.mean.tolist()}")
        if not numpy.all((self.std > 0) & numpy.isfinite(self.std)):
            raise ValueError(f"Normalize: every std must be positive and finite, got "
                             f"{self.std.tolist()}")

    @staticmethod
    def _stat(value, name):
        """One number per channel, as float32 (C,); a number or a (C, 1, 1) array is accepted."""
        try:
            array = numpy.asarray(value, dtype=numpy.float32)
        except (TypeError, ValueError) as error:
            raise ValueError(f"Normalize: {name} must be numbers, one per channel, got "
                             f"{value!r}") from error
        if sum(side != 1 for side in array.shape) > 1:  # (C,), (C, 1, 1), (1, C, 1, 1) pass
            raise ValueError(f"Normalize: {name} must be one number per channel, got shape "
                             f"{array.shape}")
        return array.reshape(-1)

    def _check(self, x):
        if x.ndim != 4 or x.shape[1] != self.mean.size:
            raise ValueError(f"Normalize: expected a batch (N, {self.mean.size}, H, W), "
                             f"got shape {x.shape}")

    def _stats_on(self, device):
        """``(mean, std)`` as arrays (C, 1, 1) on ``device``: uploaded at the first batch there."""
        if device == "cpu":
            return self.mean[:, None, None], self.std[:, None, None]
        cache = self.__dict__.setdefault("_on_device", {})
        if device not in cache:
            mean, std = to_device_together([self.mean, self.std], device)
            cache[device] = (mean[:, None, None], std[:, None, None])
        return cache[device]

    def __call__(self, x):
        self._check(x)
        mean, std = self._stats_on(backend.device_of(x))
        normalized = (x - mean) / std
        return normalized.astype(numpy.float32, copy=False)

    def denorm(self, x):
        """The inverse: ``x * std + mean``, back to the pixel scale."""
        self._check(x)
        pixels = x * self.std[:, None, None] + self.mean[:, None, None]
        return pixels.astype(numpy.float32, copy=False)

    def __repr__(self):
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"
