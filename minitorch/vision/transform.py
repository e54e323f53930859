"""fastai v1's data augmentation for images: ``get_transforms`` and the transforms it lists.

Read ``image.py`` first (normalised coordinates, ``grid_sample``, lighting in logit space), and
``minitorch/data/data_block.py`` for where transforms are applied.

``get_transforms()`` returns ``(train_tfms, valid_tfms)`` with fastai's defaults::

    train: rand_crop, flip_lr (p 0.5), symmetric_warp (±0.2, p 0.75), rotate (±10°, p 0.75),
           rand_zoom (1 to 1.1, p 0.75), brightness (0.4 to 0.6, p 0.75),
           contrast (0.8 to 1.25, p 0.75)
    valid: crop_pad (the centre)

Each transform is a :class:`RandTransform`: a probability ``p``, the ranges its parameters are
drawn from (a number is a fixed value, a pair ``(low, high)`` a uniform range), and
``draw(n, rng)``, which makes the random choices for a batch of ``n`` images at once — whether
to apply it (``do``) and its parameters.  The draws are made once per batch and then applied to
the input *and*, with ``tfm_y=True``, to the target: the same crop, flip, warp, rotation and
zoom land on both.  ``use_on_y=False`` (the lighting transforms) keeps a transform off the
target.

How one image goes through the list (:func:`apply_tfms`), for an output of ``size``:

1. **Where to read** (the geometric transforms, combined into one map of coordinates).  The
   output grid covers a ``size`` window of the image scaled so that it just covers ``size``
   (fastai's crop resize: the shorter side becomes ``size``), placed at ``row_pct``/``col_pct``
   (``crop_pad``: the centre; ``rand_crop``: anywhere).  Then, in fastai's order, the
   perspective warp, the rotation and the zoom each move those coordinates on.
2. **Read** the image there (``grid_sample``, reflection padding) — once, whatever the number
   of geometric transforms.  Without any (and at the image's own size) nothing is resampled.
3. **Pixel transforms** on the result: ``flip_lr`` (mirror left-right), ``dihedral`` (one of
   the 8 flips and quarter turns).
4. **Lighting** (inputs only): ``brightness`` adds ``logit(change)`` to the pixels' logits,
   ``contrast`` multiplies them by ``scale``.
"""
import math
import numbers

import numpy

from minitorch.vision.image import (
    affine_coords, find_perspective_coeffs, grid_sample, logit, normalised_grid,
    perspective_coords, sigmoid)


def _check_range(caller, name, value, low, high, high_open=False):
    """Refuse ``value`` unless it is a finite real number in [low, high] (or [low, high))."""
    inside = (isinstance(value, numbers.Real) and not isinstance(value, bool)
              and math.isfinite(value) and low <= value and (value < high if high_open
                                                             else value <= high))
    if not inside:
        bounds = ("any finite number" if low == -math.inf else
                  f"a finite number ≥ {low}" if high == math.inf else
                  f"a number in [{low}, {high}{')' if high_open else ']'}")
        raise ValueError(f"{caller}: {name} must be {bounds}, got {value!r}")


class RandTransform:
    """A random transform: applied with probability ``p``; each keyword argument a parameter,
    fixed (a number) or drawn uniformly from ``(low, high)`` for every image.

    Subclasses set ``kind`` ('crop', 'coord', 'affine', 'pixel' or 'lighting'), ``order`` (the
    kinds run in this order, as in fastai) and define the method of their kind."""

    kind, order, use_on_y = None, 0, True
    integer_params = ()  # parameters drawn as integers in [low, high] (dihedral's k)

    def __init__(self, p=1.0, **params):
        _check_range(type(self).__name__, "p", p, 0, 1)
        self.p, self.params = float(p), params

    def draw(self, n, rng):
        """The random choices for ``n`` images: ``{'do': bool (n,), name: values (n,), ...}``."""
        draws = {"do": rng.random(n) < self.p}
        for name, value in self.params.items():
            if isinstance(value, (tuple, list)):
                low, high = value
                draws[name] = (rng.integers(low, high + 1, n) if name in self.integer_params
                               else rng.uniform(low, high, n))
            else:
                draws[name] = numpy.full(n, value)
        return draws

    def __repr__(self):
        settings = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{type(self).__name__}({settings}{', ' if settings else ''}p={self.p})"


# ---- crop ----------------------------------------------------------------------------------------
class crop_pad(RandTransform):
    """Which ``size`` window of the (scaled) image to keep: ``row_pct``/``col_pct`` in [0, 1]
    place it from the top/left edge to the bottom/right one (0.5: the centre).  ``size`` (an int
    or (height, width)) is the output size when ``transform(..., size=...)`` gives none; as in
    fastai, the transform's size wins when both are given."""

    kind, order = "crop", 99

    def __init__(self, size=None, row_pct=0.5, col_pct=0.5, p=1.0):
        super().__init__(p, row_pct=row_pct, col_pct=col_pct)
        self.size = None if size is None else _size_pair(size, None, None)


def rand_crop(p=1.0):
    """fastai's ``rand_crop``: the window anywhere in the image."""
    return crop_pad(row_pct=(0, 1), col_pct=(0, 1), p=p)


# ---- coordinates: warp, rotate, zoom -------------------------------------------------------------
class symmetric_warp(RandTransform):
    """A perspective warp: the corners of the output read from corners moved by ``magnitude``
    (four values, one per pair of coordinates, each drawn from ``magnitude`` when a range)."""

    kind, order = "coord", 4

    def __init__(self, magnitude=(-0.2, 0.2), p=1.0):
        super().__init__(p, m0=magnitude, m1=magnitude, m2=magnitude, m3=magnitude)

    @staticmethod
    def target_points(m0, m1, m2, m3):
        """Where the corners (-1,-1), (-1,1), (1,-1), (1,1) of the output read from (fastai's
        ``_symmetric_warp``)."""
        return [[-1 - m3, -1 - m1], [-1 - m2, 1 + m1], [1 + m3, -1 - m0], [1 + m2, 1 + m0]]

    def coords(self, coords, m0, m1, m2, m3):
        corners = [[-1, -1], [-1, 1], [1, -1], [1, 1]]
        coeffs = find_perspective_coeffs(corners, self.target_points(m0, m1, m2, m3))
        return perspective_coords(coords, coeffs)


class rotate(RandTransform):
    """Rotate by ``degrees`` (counter-clockwise on screen for a positive angle): the output at
    ``(x, y)`` reads the input at ``R (x, y)``, R = [[cos, -sin], [sin, cos]]."""

    kind, order = "affine", 5

    def __init__(self, degrees=(-10.0, 10.0), p=1.0):
        super().__init__(p, degrees=degrees)

    @staticmethod
    def matrix(degrees):
        angle = degrees * math.pi / 180
        return [[math.cos(angle), -math.sin(angle), 0.0],
                [math.sin(angle), math.cos(angle), 0.0],
                [0.0, 0.0, 1.0]]


class zoom(RandTransform):
    """Zoom in by ``scale`` ≥ 1 towards the point at ``row_pct``/``col_pct`` of the image: the
    output at ``(x, y)`` reads the input at ``(x / scale + col_c, y / scale + row_c)`` with
    ``col_c = (1 - 1/scale)(2 col_pct - 1)`` (fastai's ``_zoom``)."""

    kind, order = "affine", 5

    def __init__(self, scale=1.0, row_pct=0.5, col_pct=0.5, p=1.0):
        super().__init__(p, scale=scale, row_pct=row_pct, col_pct=col_pct)

    @staticmethod
    def matrix(scale, row_pct, col_pct):
        shift = 1 - 1 / scale
        return [[1 / scale, 0.0, shift * (2 * col_pct - 1)],
                [0.0, 1 / scale, shift * (2 * row_pct - 1)],
                [0.0, 0.0, 1.0]]


def rand_zoom(scale=(1.0, 1.1), p=1.0):
    """fastai's ``rand_zoom``: a zoom by a random scale towards a random point."""
    return zoom(scale=scale, row_pct=(0, 1), col_pct=(0, 1), p=p)


# ---- pixels: flips -------------------------------------------------------------------------------
class flip_lr(RandTransform):
    """Mirror the image left-right: ``image[..., ::-1]``."""

    kind, order = "pixel", 10

    def __init__(self, p=0.5):
        super().__init__(p)

    def pixels(self, image):
        return image[..., ::-1]


class dihedral(RandTransform):
    """One of the 8 symmetries of the square, ``k`` in 0..7 (fastai's ``dihedral``): flip the
    rows when k is 1, 3, 4 or 7, flip the columns when k is 2, 4, 5 or 7, then swap rows and
    columns (transpose) when k is 3, 5, 6 or 7."""

    kind, order = "pixel", 10
    integer_params = ("k",)

    def __init__(self, k=(0, 7), p=1.0):
        super().__init__(p, k=k)

    def pixels(self, image, k):
        k = int(k)
        if k in (1, 3, 4, 7):
            image = image[:, ::-1, :]
        if k in (2, 4, 5, 7):
            image = image[:, :, ::-1]
        if k in (3, 5, 6, 7):
            image = image.transpose(0, 2, 1)
        return image


# ---- lighting ------------------------------------------------------------------------------------
class brightness(RandTransform):
    """Brighten (``change`` > 0.5) or darken (< 0.5): add ``logit(change)`` to the logits."""

    kind, order, use_on_y = "lighting", 8, False

    def __init__(self, change=(0.4, 0.6), p=1.0):
        super().__init__(p, change=change)

    def logits(self, x, change):
        return x + logit(numpy.float64(change))


class contrast(RandTransform):
    """More (``scale`` > 1) or less (< 1) contrast: multiply the logits by ``scale``."""

    kind, order, use_on_y = "lighting", 8, False

    def __init__(self, scale=(0.8, 1.25), p=1.0):
        super().__init__(p, scale=scale)

    def logits(self, x, scale):
        return x * scale


# ---- the list the lessons use --------------------------------------------------------------------
def get_transforms(do_flip=True, flip_vert=False, max_rotate=10., max_zoom=1.1, max_lighting=0.2,
                   max_warp=0.2, p_affine=0.75, p_lighting=0.75, xtra_tfms=None):
    """fastai's ``get_transforms``: ``(train_tfms, valid_tfms)`` — random crop, flip (every
    dihedral symmetry with ``flip_vert``), warp, rotation, zoom and lighting for training; the
    centre crop for validation.

    The arguments are checked here, not at the first batch: ``max_lighting`` in [0, 1) (the
    contrast range is ``1 − max_lighting`` to its inverse), ``max_rotate`` (degrees) and
    ``max_warp`` finite and ≥ 0 (0 turns the transform off), ``max_zoom`` finite (≤ 1 means
    no zoom, as in fastai), the probabilities in [0, 1]."""
    for name, value, low, high in (("max_lighting", max_lighting, 0, 1),
                                   ("max_rotate", max_rotate, 0, math.inf),
                                   ("max_warp", max_warp, 0, math.inf),
                                   ("max_zoom", max_zoom, -math.inf, math.inf)):
        _check_range("get_transforms", name, value, low, high, high_open=name == "max_lighting")
    train = [rand_crop()]
    if do_flip:
        train.append(dihedral() if flip_vert else flip_lr(p=0.5))
    if max_warp:
        train.append(symmetric_warp(magnitude=(-max_warp, max_warp), p=p_affine))
    if max_rotate:
        train.append(rotate(degrees=(-max_rotate, max_rotate), p=p_affine))
    if max_zoom > 1:
        train.append(rand_zoom(scale=(1., max_zoom), p=p_affine))
    if max_lighting:
        train.append(brightness(change=(0.5 * (1 - max_lighting), 0.5 * (1 + max_lighting)),
                                p=p_lighting))
        train.append(contrast(scale=(1 - max_lighting, 1 / (1 - max_lighting)), p=p_lighting))
    return train + list(xtra_tfms or []), [crop_pad()]


# ---- applying them to one image ------------------------------------------------------------------
def _size_pair(size, height, width):
    if size is None:
        return height, width
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        return size, size
    if (isinstance(size, (tuple, list)) and len(size) == 2
            and all(isinstance(s, int) and s > 0 for s in size)):
        return tuple(size)
    raise ValueError(f"transform size: expected a positive int or (height, width), got {size!r}")


def crop_coords(height, width, size, row_pct=0.5, col_pct=0.5):
    """The normalised coordinates (size_h, size_w, 2) of a ``size`` window of a height × width
    image scaled so that it just covers ``size`` (both sides at least as large, the aspect
    ratio kept), the window placed at ``row_pct``/``col_pct``."""
    out_h, out_w = size
    scale = max(out_h / height, out_w / width)
    scaled_h, scaled_w = max(round(height * scale), out_h), max(round(width * scale), out_w)
    top = int((scaled_h - out_h) * row_pct)
    left = int((scaled_w - out_w) * col_pct)
    rows = (top + numpy.arange(out_h)) * 2 / max(scaled_h - 1, 1) - 1
    cols = (left + numpy.arange(out_w)) * 2 / max(scaled_w - 1, 1) - 1
    return numpy.stack(numpy.meshgrid(cols, rows), axis=-1)


def apply_tfms(image, tfms, params, size=None, is_y=False, padding_mode="reflection"):
    """One image (C, H, W), float in [0, 1], through ``tfms`` with their parameters for it:
    ``params[t]`` is the dict of values drawn for transform ``t`` (``do`` among them).  Returns
    float32 (C, *size).  See the module docstring for the steps."""
    _, height, width = image.shape
    if size is None:  # a crop_pad(size=...) gives the size when the call gives none
        size = next((tfm.size for tfm in tfms if getattr(tfm, "size", None) is not None), None)
    out_size = _size_pair(size, height, width)
    chosen = sorted(((tfm, p) for tfm, p in zip(tfms, params) if p.pop("do")),
                    key=lambda pair: pair[0].order)
    if is_y:
        chosen = [(tfm, p) for tfm, p in chosen if tfm.use_on_y]
    by_kind = {kind: [(tfm, p) for tfm, p in chosen if tfm.kind == kind]
               for kind in ("crop", "coord", "affine", "pixel", "lighting")}
    moves = by_kind["coord"] + by_kind["affine"]
    if moves or out_size != (height, width):
        crop = by_kind["crop"][0][1] if by_kind["crop"] else {}
        coords = crop_coords(height, width, out_size, **crop)
        for tfm, p in moves:
            coords = (tfm.coords(coords, **p) if tfm.kind == "coord"
                      else affine_coords(coords, tfm.matrix(**p)))
        image = grid_sample(image, coords, padding_mode)
    for tfm, p in by_kind["pixel"]:
        image = tfm.pixels(image, **p)
    if by_kind["lighting"]:
        x = logit(image)
        for tfm, p in by_kind["lighting"]:
            x = tfm.logits(x, **p)
        image = sigmoid(x)
    return numpy.ascontiguousarray(image, dtype=numpy.float32)
