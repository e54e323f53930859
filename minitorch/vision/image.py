"""Images on the host: sampling an image at moved coordinates, lighting in logit space, drawing.

Read before ``transform.py``, which builds fastai's data augmentation on these three tools.

**Coordinates.**  fastai moves images the way ``F.grid_sample`` does: a point of an image is
written in *normalised* coordinates ``(x, y)`` in [-1, 1] — x across, y down, -1 the centre of
the first pixel and +1 the centre of the last (PyTorch's ``align_corners=True``).  Because they
do not depend on the number of pixels, the same coordinates point at the same place in a 96-pixel
low-resolution photo and in its 384-pixel original: that is how ``tfm_y`` crops, rotates and
zooms an input and its target identically.

A geometric transform (rotation, zoom, perspective warp, crop) is a *map of coordinates*: for
every pixel of the output, where in the input to read.  :func:`grid_sample` reads there, with
bilinear interpolation between the four nearest pixels; a point outside the image is reflected
back into it (``padding_mode='reflection'``, fastai's default for augmentation), clamped to the
border (``'border'``) or read as 0 (``'zeros'``).

**Lighting.**  fastai changes brightness and contrast on the *logits* of the pixels,
``logit(p) = log(p / (1 - p))``: adding to a logit brightens without ever leaving [0, 1], and
multiplying it stretches the contrast around mid-grey.

Everything here is NumPy on the host: it runs in the data loader, on one image at a time.
"""
import numpy

from minitorch import backend
from minitorch.plot import finish_figure, subplots

PADDING_MODES = ("reflection", "border", "zeros")


def normalised_grid(height, width):
    """The coordinates (height, width, 2) of every pixel of a height × width image: ``[..., 0]``
    is x (across), ``[..., 1]`` is y (down), both from -1 to 1."""
    ys = numpy.linspace(-1, 1, height) if height > 1 else numpy.zeros(1)
    xs = numpy.linspace(-1, 1, width) if width > 1 else numpy.zeros(1)
    return numpy.stack(numpy.meshgrid(xs, ys), axis=-1)


def affine_coords(coords, matrix):
    """``matrix`` (3 × 3, or the top 2 × 3) applied to every point of ``coords`` (..., 2):
    ``(x', y') = A (x, y) + t``."""
    matrix = numpy.asarray(matrix, dtype=numpy.float64)
    return coords @ matrix[:2, :2].T + matrix[:2, 2]


def perspective_coords(coords, coeffs):
    """The perspective (homography) map of 8 ``coeffs`` (a, b, c, d, e, f, g, h) applied to
    every point of ``coords`` (..., 2): ``x' = (a x + b y + c) / (g x + h y + 1)``,
    ``y' = (d x + e y + f) / (g x + h y + 1)``."""
    a, b, c, d, e, f, g, h = coeffs
    x, y = coords[..., 0], coords[..., 1]
    w = g * x + h * y + 1
    return numpy.stack([(a * x + b * y + c) / w, (d * x + e * y + f) / w], axis=-1)


def find_perspective_coeffs(from_points, to_points):
    """The 8 coefficients of the perspective map sending each of the 4 ``from_points`` to the
    matching one of ``to_points`` (both 4 × 2): two linear equations per point (fastai's
    ``_find_coeffs``)."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(from_points, to_points):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs += [u, v]
    return numpy.linalg.solve(numpy.array(rows, dtype=numpy.float64), numpy.array(rhs, dtype=numpy.float64))


def _reflect(position, last):
    """Fold ``position`` into [0, last] by reflecting it at 0 and at ``last`` (pixel centres)."""
    if last == 0:
        return numpy.zeros_like(position)
    period = 2 * last
    folded = numpy.mod(numpy.abs(position), period)
    return numpy.where(folded > last, period - folded, folded)


def grid_sample(image, coords, padding_mode="reflection"):
    """Read ``image`` (C, H, W) at ``coords`` (h, w, 2) with bilinear interpolation: the
    (C, h, w) result of ``F.grid_sample(image[None], coords[None], 'bilinear', padding_mode,
    align_corners=True)[0]``."""
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"grid_sample: unknown padding_mode {padding_mode!r}: expected one of "
                         f"{list(PADDING_MODES)}")
    image = numpy.asarray(image)
    if image.ndim != 3:
        raise ValueError(f"grid_sample: expected an image (C, H, W), got shape {image.shape}")
    _, height, width = image.shape
    # Normalised coordinates → pixel positions (column px, row py).
    px = (coords[..., 0] + 1) / 2 * (width - 1)
    py = (coords[..., 1] + 1) / 2 * (height - 1)
    if padding_mode == "reflection":
        px, py = _reflect(px, width - 1), _reflect(py, height - 1)
    if padding_mode in ("reflection", "border"):
        px, py = numpy.clip(px, 0, width - 1), numpy.clip(py, 0, height - 1)
    x0, y0 = numpy.floor(px).astype(numpy.int64), numpy.floor(py).astype(numpy.int64)
    wx, wy = px - x0, py - y0
    out = numpy.zeros(image.shape[:1] + coords.shape[:2], dtype=numpy.float64)
    # The four neighbours, each weighted by how close the point is to it; a neighbour outside
    # the image contributes 0 (only 'zeros' padding ever reads one with a non-zero weight).
    for dy, weight_y in ((0, 1 - wy), (1, wy)):
        for dx, weight_x in ((0, 1 - wx), (1, wx)):
            rows, cols = y0 + dy, x0 + dx
            inside = (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
            values = image[:, numpy.clip(rows, 0, height - 1), numpy.clip(cols, 0, width - 1)]
            out += values * (weight_y * weight_x * inside)
    return out.astype(numpy.float32)


def logit(pixels):
    """``log(p / (1 - p))``, with ``p`` clamped to [1e-7, 1 - 1e-7] as fastai does."""
    p = numpy.clip(pixels, 1e-7, 1 - 1e-7).astype(numpy.float64)
    return numpy.log(p / (1 - p))


def sigmoid(logits):
    """The inverse of :func:`logit`: ``1 / (1 + exp(-x))``."""
    return 1 / (1 + numpy.exp(-logits))


# The colour map for one-channel images: the lesson sets fastai's ``defaults.cmap = 'binary'``,
# which draws MNIST's white-on-black digits as black ink on white paper.
GRAYSCALE_CMAP = "binary"


def image_array(image):
    """An image (C, H, W) — fastai's ``Image``, a Tensor or an array, floats in [0, 1] or uint8 —
    as floats in [0, 1] on the host, checked."""
    image = image.px if hasattr(image, "px") else image  # an Image item: its pixel Tensor
    pixels = backend.to_numpy(image.array if hasattr(image, "requires_grad") else numpy.asarray(image))
    if pixels.ndim != 3 or pixels.shape[0] not in (1, 3):
        raise ValueError(f"show_image: expected an image (C, H, W) with C = 1 or 3, got shape "
                         f"{pixels.shape}")
    if pixels.dtype == numpy.uint8:
        pixels = pixels / 255
    return numpy.clip(pixels, 0, 1)  # denormalising leaves tiny rounding errors outside [0, 1]


def show_image(image, ax=None, figsize=(3, 3), hide_axis=True, cmap=None, alpha=None, title=None,
               title_color=None, **kwargs):
    """Draw one image (C, H, W) — an ``Image``, a Tensor or an array — on ``ax`` (a new figure's
    when None), its axes hidden unless ``hide_axis=False``; returns ``ax``.  One-channel images use
    ``cmap``, by default :data:`GRAYSCALE_CMAP`; ``alpha`` and ``kwargs`` (``interpolation=
    'nearest'``, ...) go to matplotlib's ``imshow``.  Without ``ax`` the image gets a figure of
    its own, shown when running in a notebook (``minitorch/plot.py``)."""
    pixels = image_array(image)
    figure = None
    if ax is None:  # a figure of its own: shown in a notebook (and closed) once drawn
        figure, axes = subplots(1, 1, figsize)
        ax = axes[0, 0]
    if alpha is not None:
        kwargs["alpha"] = alpha
    if pixels.shape[0] == 1:
        ax.imshow(pixels[0], cmap=cmap or GRAYSCALE_CMAP, vmin=0, vmax=1, **kwargs)
    else:
        ax.imshow(pixels.transpose(1, 2, 0), **kwargs)
    if hide_axis:
        ax.set_axis_off()
    if title is not None:
        ax.set_title(str(title), **({} if title_color is None else {"color": title_color}))
    if figure is not None:
        finish_figure(figure)
    return ax
