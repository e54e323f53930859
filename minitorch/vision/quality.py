"""How good is a restored image?  Measures that compare a prediction with its target.  Read
lesson 7's "Image Restoration" and "Perceptual Loss" notes first.

All of them take images as NumPy arrays ``(C, H, W)`` (C = 1 or 3) or ``(H, W)`` with values in
[0, 1] (a model's output is clipped to that range first, as it would be when saved as a PNG);
``psnr`` and ``ssim`` also take uint8 images (0-255) and scale them, or any range given as
``data_range``:

* ``psnr`` — peak signal-to-noise ratio, ``10·log10(1 / MSE)`` dB over every pixel and channel.
  +1 dB is an MSE 21 % lower.  ``psnr_in_box`` / ``psnr_outside_box`` restrict it to a box (the
  place where ``crappify`` wrote its number) or to everything else: if the number is gone, the
  two are close.
* ``ssim`` — the structural similarity of Wang et al. (2004): per 11×11 Gaussian window
  (σ = 1.5), ``(2μxμy + C1)(2σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2))`` with
  C1 = (0.01)², C2 = (0.03)², averaged over the windows that fit inside the image ("valid").
  Computed on the luminance Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601), as super-resolution
  papers report it.  ``ssim_map`` keeps every window's value; ``ssim_outside_box`` averages the
  windows that hold no pixel of a box, ``ssim_in_box`` the others.
* ``FeatureDistance`` — what the feature loss minimises, as a measure: the mean absolute
  difference of VGG16's relu2_2, relu3_3, relu4_3 and relu5_3 activations, averaged over the four
  layers.  Lower means "looks more alike" to the network.
* ``sharpness_ratio`` — the energy (sum of squares) of the Laplacian of the prediction's
  luminance divided by the target's (outside a box, when given): below 1 is blurrier than the
  target, above 1 has more edges (or noise) than it.
* ``checkerboard_ratio`` — the power of the luminance's spectrum around the period-2
  frequencies (``period2_energy``), the prediction's over the target's: a 2× pixel shuffle
  that gives each 2×2 block the same sub-pixel pattern puts its artefact exactly there.
* ``colour_spread`` — mean max(R, G, B) − min(R, G, B) in grey levels: on the prediction for a
  grey input, the colour a model made up.

These are host-side NumPy (evaluation, not training), except ``FeatureDistance``, which runs the
network.
"""
import math

import numpy  # host-side: evaluation of finished images

from minitorch import backend
from minitorch.autograd import no_grad
from minitorch.tensor import tensor

LUMA = (0.299, 0.587, 0.114)


# The range of an integer image's values, by dtype (as scikit-image's peak_signal_noise_ratio
# takes it); floats are in [0, 1].
INTEGER_RANGES = {"uint8": 255, "uint16": 65535}


def _data_range(image, name, data_range):
    """The range an image's values span: ``data_range`` when given, else by its dtype (1 for
    floats, 255 for uint8, 65535 for uint16).  Other integer dtypes are refused."""
    if data_range is not None:
        if not (isinstance(data_range, (int, float)) and math.isfinite(data_range)
                and data_range > 0):
            raise ValueError(f"{name}: data_range must be a positive number, got {data_range!r}")
        return float(data_range)
    kind = image.dtype
    if kind.kind == "f":
        return 1.0
    if kind.name in INTEGER_RANGES:
        return float(INTEGER_RANGES[kind.name])
    raise TypeError(f"{name}: images of dtype {kind} have no known range of values; pass "
                    "floats in [0, 1], uint8 (0-255), uint16, or data_range=...")


def _as_chw(image, name, data_range=None):
    """``image`` as float64 (C, H, W) scaled to [0, 1] by its data range."""
    image = numpy.asarray(image)
    image = image.astype(numpy.float64) / _data_range(image, name, data_range)
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(f"{name}: expected an image (C, H, W) with C = 1 or 3, or (H, W), "
                         f"got shape {image.shape}")
    return image


def _pair(pred, target, name, data_range=None):
    """Both images as float64 (C, H, W) in [0, 1]: an integer image is divided by its range
    (255 for uint8), so that ``psnr`` of two uint8 images is that of the same images as floats.
    Without ``data_range`` the two must have the same range (uint8 against floats is refused:
    one of them is surely on another scale)."""
    if data_range is None:
        ranges = [_data_range(numpy.asarray(image), name, None) for image in (pred, target)]
        if ranges[0] != ranges[1]:
            raise ValueError(f"{name}: the prediction's values span [0, {ranges[0]:g}] and the "
                             f"target's [0, {ranges[1]:g}] (by their dtypes "
                             f"{numpy.asarray(pred).dtype} and {numpy.asarray(target).dtype}); "
                             "give both the same scale, or data_range=...")
    pred, target = _as_chw(pred, name, data_range), _as_chw(target, name, data_range)
    if pred.shape != target.shape:
        raise ValueError(f"{name}: prediction {pred.shape} and target {target.shape} differ")
    return pred, target


def _psnr_of_mse(mse):
    return float("inf") if mse == 0 else float(10 * numpy.log10(1.0 / mse))


def psnr(pred, target, data_range=None):
    """``10·log10(R² / mean((pred − target)²))`` in dB, R the images' data range: 1 for floats
    (images in [0, 1]), 255 for uint8, or ``data_range`` (scikit-image's convention)."""
    pred, target = _pair(pred, target, "psnr", data_range)
    return _psnr_of_mse(numpy.mean((pred - target) ** 2))


def box_mask(shape_hw, box):
    """A boolean (H, W) mask, True inside ``box = (x0, y0, x1, y1)`` (x1, y1 excluded)."""
    x0, y0, x1, y1 = box
    mask = numpy.zeros(shape_hw, dtype=bool)
    mask[y0:y1, x0:x1] = True
    if not mask.any():
        raise ValueError(f"box {box} holds no pixel of an image of size {shape_hw}")
    return mask


def psnr_in_box(pred, target, box, data_range=None):
    """PSNR over the pixels inside ``box = (x0, y0, x1, y1)`` only."""
    pred, target = _pair(pred, target, "psnr_in_box", data_range)
    mask = box_mask(pred.shape[1:], box)
    return _psnr_of_mse(numpy.mean((pred - target)[:, mask] ** 2))


def psnr_outside_box(pred, target, box, data_range=None):
    """PSNR over the pixels outside ``box``."""
    pred, target = _pair(pred, target, "psnr_outside_box", data_range)
    mask = ~box_mask(pred.shape[1:], box)
    return _psnr_of_mse(numpy.mean((pred - target)[:, mask] ** 2))


def luminance(image):
    """Y = 0.299 R + 0.587 G + 0.114 B of a (3, H, W) image; a (1, H, W) image is its own."""
    image = _as_chw(image, "luminance")
    if image.shape[0] == 1:
        return image[0]
    return sum(w * c for w, c in zip(LUMA, image))


def gaussian_window(size=11, sigma=1.5):
    """The normalised 1-D Gaussian; the 2-D window is its outer product with itself."""
    x = numpy.arange(size) - (size - 1) / 2
    g = numpy.exp(-x ** 2 / (2 * sigma ** 2))
    return g / g.sum()


def _filter_valid(image, g):
    """Correlate ``image`` (H, W) with the separable window g⊗g, keeping positions where the
    whole window fits (output (H − k + 1, W − k + 1))."""
    k = len(g)
    rows = sum(g[i] * image[i:image.shape[0] - k + 1 + i] for i in range(k))
    return sum(g[j] * rows[:, j:image.shape[1] - k + 1 + j] for j in range(k))


def ssim_map(pred, target, size=11, sigma=1.5, k1=0.01, k2=0.03, data_range=None):
    """The SSIM of every ``size``×``size`` window that fits, on the luminance of the images
    scaled to [0, 1] by their data range (as ``psnr``): an array (H − size + 1, W − size + 1)
    whose entry (i, j) is the window with top-left pixel (i, j)."""
    pred, target = _pair(pred, target, "ssim", data_range)
    x, y = luminance(pred), luminance(target)
    if min(x.shape) < size:
        raise ValueError(f"ssim: the image ({x.shape}) is smaller than the {size}×{size} window")
    g = gaussian_window(size, sigma)
    c1, c2 = k1 ** 2, k2 ** 2
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    var_x = _filter_valid(x * x, g) - mu_x ** 2
    var_y = _filter_valid(y * y, g) - mu_y ** 2
    cov = _filter_valid(x * y, g) - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)
            / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2)))


def ssim(pred, target, size=11, sigma=1.5, k1=0.01, k2=0.03, data_range=None):
    """Wang et al.'s SSIM on the luminance, images scaled to [0, 1] by their data range (as
    ``psnr``), so that C1 and C2 are those of data range 1."""
    return float(ssim_map(pred, target, size, sigma, k1, k2, data_range).mean())


def _windows_touching(box, map_shape, size):
    """(map) True for the windows of :func:`ssim_map` that hold at least one pixel of ``box``:
    window (i, j) covers rows i … i + size − 1 and columns j … j + size − 1."""
    x0, y0, x1, y1 = box
    touching = numpy.zeros(map_shape, dtype=bool)
    touching[max(0, y0 - size + 1):max(0, y1), max(0, x0 - size + 1):max(0, x1)] = True
    return touching


def ssim_in_box(pred, target, box, size=11, data_range=None):
    """The mean SSIM of the windows that hold at least one pixel of ``box = (x0, y0, x1, y1)``
    (with :func:`ssim_outside_box`, every window is counted once)."""
    values = ssim_map(pred, target, size, data_range=data_range)
    touching = _windows_touching(box, values.shape, size)
    if not touching.any():
        raise ValueError(f"ssim_in_box: no {size}×{size} window touches box {box}")
    return float(values[touching].mean())


def ssim_outside_box(pred, target, box, size=11, data_range=None):
    """The mean SSIM of the windows that hold no pixel of ``box``: outside the number's box
    means untouched by it (a window half over the number would count the number's damage)."""
    values = ssim_map(pred, target, size, data_range=data_range)
    away = ~_windows_touching(box, values.shape, size)
    if not away.any():
        raise ValueError(f"ssim_outside_box: every {size}×{size} window touches box {box}")
    return float(values[away].mean())


def laplacian(image):
    """The 4-neighbour Laplacian ``u(y−1,x) + u(y+1,x) + u(y,x−1) + u(y,x+1) − 4u(y,x)`` of
    (H, W), at the interior pixels (H − 2, W − 2)."""
    return (image[:-2, 1:-1] + image[2:, 1:-1] + image[1:-1, :-2] + image[1:-1, 2:]
            - 4 * image[1:-1, 1:-1])


def sharpness_ratio(pred, target, box=None):
    """Σ laplacian(Y_pred)² / Σ laplacian(Y_target)²; with ``box``, over the pixels outside it
    only (the drawn number's edges are not detail)."""
    pred, target = _pair(pred, target, "sharpness_ratio")  # (a ratio: the scale cancels)
    lap_pred, lap_target = laplacian(luminance(pred)), laplacian(luminance(target))
    if box is not None:  # the Laplacian's pixel (i, j) is the image's (i + 1, j + 1)
        keep = ~box_mask(pred.shape[1:], box)[1:-1, 1:-1]
        lap_pred, lap_target = lap_pred[keep], lap_target[keep]
    energy_target = float(numpy.sum(lap_target ** 2))
    if energy_target == 0:
        raise ValueError("sharpness_ratio: the target is flat (its Laplacian is zero)")
    return float(numpy.sum(lap_pred ** 2)) / energy_target


def period2_energy(image, halfwidth=None):
    """How much of the image's luminance varies with a period of two pixels: the power of its
    spectrum at and around the three period-2 frequencies (½ cycle per pixel down, across,
    and both — the frequencies of a 2× pixel shuffle's checkerboard).

    The luminance, minus its mean, is multiplied by a 2-D Hann window (so that the jump between
    opposite edges of the image, which the FFT sees as joined, adds no power there), then
    ``P = |FFT2|²``; the sum of P over the square of ±``halfwidth`` frequency steps (default
    max(1, n // 16) for a side of n pixels) around (H/2, 0), (0, W/2) and (H/2, W/2).
    An odd side loses its last row or column."""
    y = luminance(image)
    y = y[:y.shape[0] // 2 * 2, :y.shape[1] // 2 * 2]
    h, w = y.shape
    if min(h, w) < 4:
        raise ValueError(f"period2_energy: the image ({h}×{w}) is too small")
    window = numpy.outer(numpy.hanning(h), numpy.hanning(w))
    power = numpy.abs(numpy.fft.fft2((y - y.mean()) * window)) ** 2
    ry = max(1, h // 16) if halfwidth is None else halfwidth
    rx = max(1, w // 16) if halfwidth is None else halfwidth
    rows, cols = numpy.arange(h), numpy.arange(w)
    # distance of each frequency index from 0 and from the middle, on the circle of indices
    near_zero_r = numpy.minimum(rows, h - rows) <= ry
    near_half_r = numpy.abs(rows - h // 2) <= ry
    near_zero_c = numpy.minimum(cols, w - cols) <= rx
    near_half_c = numpy.abs(cols - w // 2) <= rx
    region = ((near_half_r[:, None] & near_zero_c[None, :])
              | (near_zero_r[:, None] & near_half_c[None, :])
              | (near_half_r[:, None] & near_half_c[None, :]))
    return float(power[region].sum())


def checkerboard_ratio(pred, target):
    """``period2_energy(pred) / period2_energy(target)``: above 1, the prediction has more of a
    2-pixel checkerboard than the original photo; a pixel shuffle's artefact shows here."""
    pred, target = _pair(pred, target, "checkerboard_ratio")
    energy_target = period2_energy(target)
    if energy_target == 0:
        raise ValueError("checkerboard_ratio: the target has no period-2 energy")
    return period2_energy(pred) / energy_target


def colour_spread(image):
    """The mean over the pixels of max(R, G, B) − min(R, G, B), in grey levels (0–255): 0 for a
    grey image; on a prediction for a grey input, the colour a model made up."""
    image = _as_chw(image, "colour_spread")
    if image.shape[0] != 3:
        raise ValueError(f"colour_spread: expected an RGB image (3, H, W), got {image.shape}")
    return float(255 * (image.max(axis=0) - image.min(axis=0)).mean())


class FeatureDistance:
    """``FeatureDistance(features, input_map)(pred, target)``: the mean over relu2_2, relu3_3,
    relu4_3, relu5_3 (``features[8, 15, 22, 29]``) of mean |f(pred) − f(target)|.

    ``features`` is VGG16's frozen ``features`` (``vgg16_features()``), ``input_map`` what
    turns a [0, 1] image into its input (``VGGInput(stats=None)``).  Images are NumPy arrays
    (C, H, W) in [0, 1] or batches (N, C, H, W); the sizes must be divisible by 16."""

    layer_ids = (8, 15, 22, 29)

    def __init__(self, features, input_map):
        self.device = next(features.parameters()).device
        self.features, self.input_map = features, input_map.to(self.device)

    def activations(self, images):
        x = numpy.asarray(images, dtype=numpy.float32)
        x = x[None] if x.ndim == 3 else x
        out, h = [], self.input_map(tensor(x, device=self.device))
        with no_grad():
            for i, layer in enumerate(self.features):
                h = layer(h)
                if i in self.layer_ids:
                    out.append(backend.to_numpy(h.array).astype(numpy.float64))
                if i >= max(self.layer_ids):
                    break
        return out

    def per_layer(self, pred, target):
        """mean |f(pred) − f(target)| at each of the four layers, in ``layer_ids`` order."""
        pred, target = numpy.asarray(pred), numpy.asarray(target)
        if pred.dtype.kind != "f" or target.dtype.kind != "f":
            raise TypeError(f"FeatureDistance: expected float images in [0, 1], got "
                            f"{pred.dtype} and {target.dtype} (divide uint8 images by 255)")
        if pred.shape != target.shape:
            raise ValueError(f"FeatureDistance: prediction {pred.shape} and target "
                             f"{target.shape} differ")
        a, b = self.activations(pred), self.activations(target)
        return [float(numpy.mean(numpy.abs(fa - fb))) for fa, fb in zip(a, b)]

    def __call__(self, pred, target):
        return float(numpy.mean(self.per_layer(pred, target)))
