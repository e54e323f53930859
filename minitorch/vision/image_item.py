"""fastai v1's ``Image``: one image as an item — what ``il[0]``, ``open_image(fn)`` and
``learn.predict`` give.  Read ``minitorch/data/items.py``, ``image.py`` and ``transform.py``
first.

An ``Image`` wraps a Tensor ``px`` of shape (C, H, W), floats in [0, 1]: ``img.data`` (the same
Tensor) is what a model is fed, ``img.shape`` its shape, ``img.size`` its (height, width).  It
shows itself (``img.show(ax=..., figsize=..., title=..., cmap=...)``), saves itself, and goes
through the same augmentation as a batch (``img.apply_tfms(get_transforms()[0], size=64)``)
or is resized (``img.resize(64)``).

Batches are never made of these objects: the item lists collate NumPy arrays directly (the fast
path), and wrap a single image as an ``Image`` only when someone looks at one.
"""
import io

import numpy
from PIL import Image as PILImage

from minitorch import backend
from minitorch.core import defaults
from minitorch.data.image_folder import open_image as read_image_array
from minitorch.data.image_folder import save_image
from minitorch.data.items import ItemBase
from minitorch.plot import finish_figure, subplots
from minitorch.tensor import Tensor, tensor
from minitorch.vision.image import grid_sample, image_array, normalised_grid, show_image
from minitorch.vision.transform import apply_tfms as apply_image_tfms

__all__ = ["Image", "open_image", "show_image"]


def _as_pixels(px):
    """A Tensor, an array or an Image → a float32 Tensor (C, H, W), checked."""
    if isinstance(px, Image):
        return px.px
    if not isinstance(px, Tensor):
        px = tensor(numpy.asarray(px))
    if px.ndim != 3:
        raise ValueError(f"Image: expected pixels of shape (C, H, W), got shape {tuple(px.shape)}")
    return px if px.dtype == numpy.float32 else px.float()


class Image(ItemBase):
    """One image (see the module docstring): ``Image(t)`` for a Tensor or array (C, H, W)."""

    def __init__(self, px):
        self._px = _as_pixels(px)

    # ---- what it holds -------------------------------------------------------------------------
    @property
    def px(self):
        """The pixels, a Tensor (C, H, W)."""
        return self._px

    @px.setter
    def px(self, value):
        self._px = _as_pixels(value)

    @property
    def data(self):
        """The pixels as the model sees them: the Tensor (C, H, W)."""
        return self._px

    @property
    def obj(self):
        return self

    @property
    def shape(self):
        return tuple(self._px.shape)

    @property
    def size(self):
        """(height, width)."""
        return self.shape[-2:]

    @property
    def device(self):
        return self._px.device

    def clone(self):
        return Image(self._px.clone())

    def __repr__(self):
        return f"Image {self.shape}"

    __str__ = __repr__  # (ItemBase prints its obj, which for an image is itself)

    # ---- changing it ---------------------------------------------------------------------------
    def apply_tfms(self, tfms, size=None, padding_mode="reflection", rng=None, is_y=False,
                   **kwargs):
        """A new Image: ``tfms`` (fastai's image transforms, ``vision/transform.py``, with their
        random choices drawn now from ``rng``, minitorch's generator by default) and ``size``
        (an int or (height, width): the output size, by fastai's crop resize).  Batch functions
        such as ``rand_pad`` apply to the image as a batch of one."""
        if kwargs:
            raise TypeError(f"Image.apply_tfms: unexpected arguments {sorted(kwargs)}")
        tfms = [] if tfms is None else list(tfms) if isinstance(tfms, (list, tuple)) else [tfms]
        if not tfms and size is None:
            return self
        rng = backend.rng() if rng is None else rng
        pixels = image_array(self._px)
        batch_fns = [tfm for tfm in tfms if not hasattr(tfm, "draw")]
        image_tfms = [tfm for tfm in tfms if hasattr(tfm, "draw")]
        for tfm in batch_fns:
            pixels = numpy.asarray(tfm(pixels[None], rng)[0])
        if image_tfms or size is not None:
            params = [{name: values[0] for name, values in tfm.draw(1, rng).items()}
                      for tfm in image_tfms]
            pixels = apply_image_tfms(pixels, image_tfms, params, size, is_y, padding_mode)
        return Image(tensor(numpy.ascontiguousarray(pixels, dtype=numpy.float32),
                            device=self.device))

    def resize(self, size):
        """Resize to ``size`` — an int (square), (height, width) or (channels, height, width) —
        by bilinear sampling of the whole image (fastai's squish); in place, returns self."""
        if isinstance(size, int) and not isinstance(size, bool):
            size = (size, size)
        size = tuple(size)[-2:]
        if size == self.size:
            return self
        if len(size) != 2 or not all(isinstance(s, int) and s > 0 for s in size):
            raise ValueError(f"Image.resize: expected a positive int or (height, width), "
                             f"got {size!r}")
        pixels = grid_sample(image_array(self._px), normalised_grid(*size), "border")
        self._px = tensor(pixels, device=self.device)
        return self

    # ---- looking at it -------------------------------------------------------------------------
    def show(self, ax=None, figsize=(3, 3), title=None, hide_axis=True, cmap=None, y=None,
             **kwargs):
        """Draw the image on ``ax`` (a new figure's when None) with ``title``; one-channel images
        in ``cmap`` (``defaults.cmap`` unless given).  ``y`` (a target item) draws itself on the
        same axes.  ``kwargs`` go to matplotlib's ``imshow`` (``interpolation='nearest'``).
        Returns the axes."""
        figure = None
        if ax is None:  # a figure of its own, shown (in a notebook) once everything is drawn
            figure, axes = subplots(1, 1, figsize)
            ax = axes[0, 0]
        show_image(self, ax=ax, hide_axis=hide_axis, cmap=defaults.cmap if cmap is None else cmap,
                   title=title, **kwargs)
        if y is not None:
            y.show(ax=ax)
        if figure is not None:
            finish_figure(figure)
        return ax

    def save(self, fn):
        """Write the image as a file (the format from the name), through a temporary name."""
        pixels = numpy.round(image_array(self._px) * 255).astype(numpy.uint8)
        return save_image(fn, pixels)

    def _repr_png_(self):
        """What a notebook shows for an Image at the end of a cell: the picture."""
        pixels = numpy.round(image_array(self._px) * 255).astype(numpy.uint8)
        pixels = pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)
        buffer = io.BytesIO()
        PILImage.fromarray(pixels).save(buffer, format="PNG")
        return buffer.getvalue()


def open_image(fn, div=True, convert_mode="RGB", cls=Image):
    """The image file ``fn`` as an :class:`Image` (``cls``): converted to ``convert_mode`` ('RGB'
    or 'L'), pixels divided by 255 into [0, 1] (``div=False`` keeps 0-255)."""
    pixels = read_image_array(fn, convert_mode).astype(numpy.float32)
    return cls(tensor(pixels / 255 if div else pixels))
