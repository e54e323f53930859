"""``crappify``: how the super-resolution lessons make their inputs from clean photographs.
Watch lesson 7's "Image Restoration" part first (notebook ``lesson7-superres.ipynb``).

A U-Net learns to *undo* damage.  The data is free: take a good photo (the target) and damage a
copy of it (the input).  fastai's ``crappify.py`` damages it three ways at once:

1. shrink it (bilinear) — detail is lost, the network must invent it back;
2. write a random number q in [10, 70] on it in white (Pillow's default font), somewhere in the
   top-left quarter — the network must learn to paint over text;
3. save it as a JPEG of quality q and read it back — block artefacts and smeared colour.

Here the damaged image is then enlarged back to the target's size (bicubic), so input and
target have the same shape and the input *is* the bicubic baseline the U-Net has to beat.
The enlargement factor is ``scale`` — 2 by default (the lesson's 96 px → 128/256 px stages
enlarge 1.3–2.7×; 2× sits in that range and maps each small pixel onto a 2×2 block).

Everything random comes from ``rng`` (a ``numpy.random.Generator``): the same seed gives the
same bytes, which is what makes a fixed validation set possible.
"""
import io
import math
import numbers

import numpy  # host-side: random draws for the damage
from PIL import Image, ImageDraw, ImageFont

from minitorch.data.image_folder import to_8bit

Q_RANGE = (10, 70)


def crappify(img, scale=2, rng=None, return_info=False):
    """The damaged copy of the PIL image ``img`` (RGB), the same size as ``img``.

    ``return_info=True`` also returns ``{'q': quality, 'xy': (x, y), 'box': (x0, y0, x1, y1)}``:
    the JPEG quality (also the number drawn), where the text was placed and the box around the
    drawn number, in ``img``'s pixels.
    """
    if not isinstance(img, Image.Image):
        raise TypeError(f"crappify: expected a PIL image, got {type(img).__name__}")
    if not (isinstance(scale, numbers.Real) and math.isfinite(scale) and scale >= 1):
        raise ValueError(f"crappify: scale must be a finite number of at least 1, got {scale!r}")
    rng = numpy.random.default_rng() if rng is None else rng
    img = to_8bit(img, "crappify's image").convert("RGB")  # 16-bit and float photos scaled
    w, h = img.size
    small_w, small_h = max(1, round(w / scale)), max(1, round(h / scale))
    small = img.resize((small_w, small_h), Image.BILINEAR)
    q = int(rng.integers(Q_RANGE[0], Q_RANGE[1] + 1))
    x, y = int(rng.integers(0, small_w // 2 + 1)), int(rng.integers(0, small_h // 2 + 1))
    draw = ImageDraw.Draw(small)
    font = ImageFont.load_default()
    draw.text((x, y), str(q), fill=(255, 255, 255), font=font)
    x0, y0, x1, y1 = draw.textbbox((x, y), str(q), font=font)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=q)
    buffer.seek(0)
    damaged = Image.open(buffer).convert("RGB").resize((w, h), Image.BICUBIC)
    if not return_info:
        return damaged
    # The box in the target's pixels, one small pixel wider on each side (JPEG smears the edges).
    sx, sy = w / small_w, h / small_h
    box = (max(0, int((x0 - 1) * sx)), max(0, int((y0 - 1) * sy)),
           min(w, int(numpy.ceil((x1 + 1) * sx))), min(h, int(numpy.ceil((y1 + 1) * sy))))
    return damaged, {"q": q, "xy": (round(x * sx), round(y * sy)), "box": box}


# ---- making the lessons' pairs ---------------------------------------------------------------
def paired_random_crop(pair, size, rng, box=None):
    """The same random ``size``×``size`` crop of every image in ``pair`` (input, target); with
    ``box`` = (x0, y0, x1, y1), a crop that holds the whole box when one fits (so that the drawn
    number is in it and the network has to paint over it)."""
    w, h = pair[-1].size
    if not (isinstance(size, numbers.Integral) and 1 <= size <= min(w, h)):
        raise ValueError(f"paired_random_crop: size must be an integer from 1 to the images' "
                         f"smaller side ({w}x{h} images), got {size!r}")
    if any(im.size != (w, h) for im in pair):
        raise ValueError(f"paired_random_crop: the images differ in size "
                         f"({[im.size for im in pair]}); a paired crop needs one size")
    xs, ys = (0, w - size), (0, h - size)
    if box is not None and box[2] - box[0] <= size and box[3] - box[1] <= size:
        xs = (max(0, box[2] - size), min(box[0], w - size))
        ys = (max(0, box[3] - size), min(box[1], h - size))
    x, y = int(rng.integers(xs[0], xs[1] + 1)), int(rng.integers(ys[0], ys[1] + 1))
    return [im.crop((x, y, x + size, y + size)) for im in pair]


def validation_pairs(photo, index, tile, count):
    """The fixed validation pairs of one photo (the ``index``-th validation photo): up to four
    ``tile``-px corner crops, each crappified with its own seed, so that every run — and both
    super-resolution lessons — measure on the same inputs.  Returns
    ``[(input, target, box of the number), ...]``."""
    w, h = photo.size
    corners = [(0, 0), (w - tile, 0), (0, h - tile), (w - tile, h - tile)][:count]
    pairs = []
    for c, (x, y) in enumerate(corners):
        target = photo.crop((x, y, x + tile, y + tile))
        rng = numpy.random.default_rng(1000 * (index + 1) + c)
        damaged, info = crappify(target, scale=2, rng=rng, return_info=True)
        pairs.append((damaged, target, info["box"]))
    return pairs
