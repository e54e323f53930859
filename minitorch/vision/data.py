"""Image item lists (fastai v1's ``vision/data.py``): ``ImageList`` and ``ImageImageList``.

Read ``minitorch/data/data_block.py`` (item lists, the data block steps), ``image.py`` and
``transform.py`` first.

An :class:`ImageList` is a list of images, held one of three ways:

* **in memory**: one array ``pixels`` (N, C, H, W), uint8 (0-255) or float (0-1) — MNIST, or
  images made by code.  A batch is one fancy index into it, and a batch-wide transform such as
  ``rand_pad`` runs on the whole batch at once (the ResNet-MNIST lesson's fast path);
* **as files** under ``path`` (``from_folder``; the items are the files' full paths, as in
  fastai): each image is opened when a batch needs it, so the images may differ in size;
  ``transform(..., size=64)`` gives them one.  ``il.pixels`` reads them all into memory once,
  when they share a size;
* **as arrays, item by item** (``items`` are the images themselves): what ``label_from_func``
  makes when the function returns an image.

Either way ``il.get(i)`` is image ``i`` as float32 (C, H, W) in [0, 1], C = 1 (grey, 'L') or
3 (colour, 'RGB'), and a collated batch is float32 (N, C, H, W) in [0, 1].  Indexing,
``il[i]``, gives the same image as fastai's ``Image`` (``image_item.py``), to show or predict.

An :class:`ImageImageList` is an ImageList whose targets are images too (super-resolution,
de-noising): labelled with ``label_from_func(lambda p: path_hr / p.name)``, transformed with
``tfm_y=True`` so input and target get the same crop, flip, warp, rotation and zoom, shown as
input beside target (``show_batch``) and input / prediction / target (``show_results``).
"""
from pathlib import Path

import numpy

from minitorch import backend
from minitorch.core import defaults
from minitorch.data.data_block import ItemList, check_size, host_array
from minitorch.data.image_folder import IMAGE_EXTENSIONS, image_files, load_images, open_image
from minitorch.plot import plot_multi
from minitorch.tensor import tensor
from minitorch.vision.image import show_image
from minitorch.vision.image_item import Image
from minitorch.vision.transform import apply_tfms as apply_image_tfms
from minitorch.vision.transform import get_transforms  # noqa: F401  (fastai exports it here)

# The statistics of ImageNet's pixels, per channel: what a model pretrained on it expects its
# inputs normalised with (``data.normalize(imagenet_stats)``).
imagenet_stats = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])


def _to_float(pixels):
    """uint8 0-255 → float32 0-1; floats → float32 as they are (on the host or the GPU)."""
    if backend.device_of(pixels) != "cpu":
        xp = backend.array_module(backend.device_of(pixels))
        if pixels.dtype == numpy.uint8:
            return xp.multiply(pixels, numpy.float32(1 / 255), dtype=numpy.float32)
        return pixels.astype(numpy.float32, copy=False)
    if pixels.dtype == numpy.uint8:
        return numpy.multiply(pixels, 1 / 255, dtype=numpy.float32)
    return pixels.astype(numpy.float32, copy=False)


class ImageList(ItemList):
    """Images: ``items`` name them (paths of files; strings are names relative to ``path``);
    ``pixels`` holds them in memory, or None to open the files when needed (see the module
    docstring)."""

    def __init__(self, items, path=".", convert_mode="RGB", pixels=None, open_size=None):
        super().__init__(items, path)
        if convert_mode not in ("L", "RGB"):
            raise ValueError(f"ImageList: unsupported image mode {convert_mode!r}: expected one of "
                             "['L', 'RGB'] ('L' for grayscale, 'RGB' for colour)")
        check_size(open_size, type(self).__name__)
        self.convert_mode, self.open_size = convert_mode, open_size
        self._pixels = None if pixels is None else self._check_pixels(pixels)

    def _check_pixels(self, pixels):
        if not isinstance(pixels, numpy.ndarray) or not (pixels.dtype == numpy.uint8
                                                         or pixels.dtype.kind == "f"):
            got = pixels.dtype if isinstance(pixels, numpy.ndarray) else type(pixels).__name__
            raise TypeError(f"ImageList: expected pixels as a NumPy array (N, C, H, W) of uint8 "
                            f"(0-255) or floats (0-1), got {got}")
        if pixels.dtype.kind == "f" and pixels.size and not (
                numpy.isfinite(pixels).all() and pixels.min() >= 0 and pixels.max() <= 1):
            raise ValueError(f"ImageList: float pixels must lie in [0, 1], got values in "
                             f"[{pixels.min()}, {pixels.max()}] (for 0-255 values divide by 255 "
                             "or pass uint8)")
        if pixels.ndim != 4 or pixels.shape[1] not in (1, 3):
            raise ValueError(f"ImageList: expected pixels of shape (N, C, H, W) with C = 1 (grey) "
                             f"or 3 (colour), got shape {pixels.shape}")
        if len(pixels) != len(self.items):
            raise ValueError(f"ImageList: {len(pixels)} images but {len(self.items)} items (names)")
        return pixels

    # ---- making image lists --------------------------------------------------------------------
    @classmethod
    def from_folder(cls, path=".", extensions=IMAGE_EXTENSIONS, convert_mode="RGB", size=None,
                    recurse=True, include=None, exclude=None, **kwargs):
        """Every image file under ``path`` — only in its sub-folders named in ``include``, or not
        in those in ``exclude``, when given — opened when needed in ``convert_mode`` ('RGB',
        fastai's default, or 'L' for grayscale) and resized to ``size`` on opening when given.
        The items are the files' paths (``path / 'training/5/0.png'``), as fastai's."""
        path = Path(path)
        files = image_files(path, extensions, recurse, include=include, exclude=exclude)
        if not files:
            raise FileNotFoundError(f"{cls.__name__}.from_folder: no image files "
                                    f"({', '.join(extensions)}) under {path}")
        if convert_mode not in ("L", "RGB"):
            raise ValueError(f"unsupported image mode {convert_mode!r}: expected one of "
                             "['L', 'RGB'] ('L' for grayscale, 'RGB' for colour)")
        return cls(files, path, convert_mode=convert_mode, open_size=size, **kwargs)

    @classmethod
    def from_arrays(cls, images, items=None, path=".", **kwargs):
        """Images already in memory: (N, H, W) for grey, or (N, C, H, W); uint8 (0-255) or
        floats in [0, 1] — any other dtype, and floats outside [0, 1] (0-255 stored as floats)
        or NaN, are refused rather than guessed at.  ``items`` names them (default '0', '1',
        ...)."""
        images = numpy.asarray(images)
        if images.ndim == 3:
            images = images[:, None]
        if items is None:
            items = [str(i) for i in range(len(images))]
        convert_mode = "L" if images.ndim == 4 and images.shape[1] == 1 else "RGB"
        return cls(list(items), path, convert_mode=kwargs.pop("convert_mode", convert_mode),
                   pixels=numpy.ascontiguousarray(images), **kwargs)

    def _new_kwargs(self):
        return {"path": self.path, "convert_mode": self.convert_mode, "open_size": self.open_size}

    def _folder_kwargs(self):
        return {"convert_mode": self.convert_mode, "size": self.open_size}

    def subset(self, indices):
        indices = numpy.asarray(indices, dtype=numpy.int64)
        pixels = None if self._pixels is None else self._pixels[indices]
        return self.new([self.items[i] for i in indices], pixels=pixels)

    def _func_items(self):
        """What ``label_from_func`` passes: paths (a name in memory joined to ``path``)."""
        return [self.path / item if isinstance(item, str) else item for item in self.items]

    # ---- reading images ------------------------------------------------------------------------
    @property
    def in_memory(self):
        return self._pixels is not None

    @property
    def pixels(self):
        """All the images as one array (N, C, H, W); files are read (once) on first use."""
        if self._pixels is None:
            if all(isinstance(item, numpy.ndarray) for item in self.items):
                self._pixels = self.collate(list(self.items)) if len(self) else None
            else:
                self._pixels = load_images(self._func_items(), self.convert_mode, self.open_size)
        return self._pixels

    @property
    def c(self):
        """Channels per image (a target ImageList's ``c`` is a model's output channels)."""
        return 1 if self.convert_mode == "L" else 3

    def open(self, item):
        """The image ``item`` stands for: the file it names, opened as uint8 (C, H, W), or the
        item itself when it is an array (an image made in memory, e.g. by ``label_from_func``).
        A path is used as it is; a string is a name relative to ``path``."""
        if isinstance(item, numpy.ndarray):
            return item
        path = item if isinstance(item, Path) else self.path / item
        return open_image(path, self.convert_mode, self.open_size)

    def get(self, i):
        image = self._pixels[i] if self.in_memory else self.open(self.items[i])
        return _to_float(image)

    def get_batch(self, indices):
        """In memory: the pixels at ``indices`` in one fancy index, as stored.  Files: a list
        of their images, uint8 (C, H, W) each."""
        if self.in_memory:
            return self._pixels[indices]
        return [self.open(self.items[int(i)]) for i in indices]

    def apply_tfms(self, batch, tfms, draws, rng, size=None, is_y=False):
        """Batch functions (``rand_pad``) run on the whole batch (images opened from files are
        stacked for them first); fastai's image transforms (with ``draw``) and a ``size`` run
        image by image (``vision/transform.py``)."""
        if size is None and all(draw is None for draw in draws):
            if isinstance(batch, list):
                batch = self._stack(batch)
            return super().apply_tfms(batch, tfms, draws, rng, size, is_y)
        if any(draw is None for draw in draws):
            plain = [tfm for tfm, draw in zip(tfms, draws) if draw is None]
            raise TypeError(f"transform: batch functions {plain} cannot be mixed with image "
                            "transforms or a size; use minitorch.vision.transform's")
        out = []
        for n, image in enumerate(batch):
            params = [{name: values[n] for name, values in draw.items()} for draw in draws]
            out.append(apply_image_tfms(_to_float(numpy.asarray(image)), tfms, params, size, is_y))
        return out

    def _stack(self, images):
        """A list of images (C, H, W) as one array (N, C, H, W); they must share a shape."""
        shapes = sorted({tuple(image.shape) for image in images})
        if len(shapes) > 1:
            raise ValueError(f"{type(self).__name__}: images of shapes {shapes} cannot be "
                             "stacked into one batch; give them one size with "
                             "transform(..., size=...) or from_folder(..., size=...)")
        return numpy.stack(images)

    def collate(self, batch):
        """float32 (N, C, H, W) in [0, 1]: uint8 pixels are divided by 255 in one operation."""
        if isinstance(batch, list):
            batch = self._stack(batch)
        return _to_float(batch)

    # ---- showing ---------------------------------------------------------------------------------
    def reconstruct(self, t):
        """One image (a Tensor or an array (C, H, W), e.g. of a batch) as an ``Image`` on the
        host, its pixels clipped to [0, 1] (denormalising leaves rounding errors outside)."""
        return Image(tensor(numpy.clip(_to_float(host_array(t)), 0, 1), device="cpu"))

    def show_xys(self, xs, ys, rows=3, figsize=(9, 9), path=None, cmap=None, imgsize=None):
        """A ``rows`` × ``rows`` grid of images titled with their targets; one-channel images in
        ``cmap`` (``defaults.cmap`` unless given); ``imgsize`` inches per image when ``figsize``
        is None."""
        cmap = defaults.cmap if cmap is None else cmap

        def draw(i, j, ax):
            n = i * rows + j
            if n < len(xs):
                show_image(xs[n], ax=ax, cmap=cmap, title=ys[n])
            else:
                ax.set_axis_off()
        return plot_multi(draw, rows, rows, figsize=figsize, path=path, imgsize=imgsize)

    def show_xyzs(self, xs, ys, zs, rows=3, figsize=(6, 6), path=None, cmap=None, imgsize=None):
        """A ``rows`` × ``rows`` grid of images titled ``prediction/actual``, red when wrong."""
        cmap = defaults.cmap if cmap is None else cmap

        def draw(i, j, ax):
            n = i * rows + j
            if n < len(xs):
                show_image(xs[n], ax=ax, cmap=cmap, title=f"{zs[n]}/{ys[n]}",
                           title_color="black" if zs[n] == ys[n] else "red")
            else:
                ax.set_axis_off()
        return plot_multi(draw, rows, rows, figsize=figsize, path=path, title="prediction/actual",
                          imgsize=imgsize)

    def __repr__(self):
        where = "in memory" if self.in_memory else "files"
        shown = ", ".join(f"array{list(item.shape)}" if isinstance(item, numpy.ndarray) else str(item)
                          for item in self.items[:3]) + (", ..." if len(self) > 3 else "")
        shape = f" of {'x'.join(map(str, self._pixels.shape[1:]))}" if self.in_memory else ""
        return (f"{type(self).__name__} ({len(self)} images{shape}, {self.convert_mode}, {where})"
                f"\n{shown}\nPath: {self.path}")


class ImageImageList(ImageList):
    """Images labelled with images (fastai's ``ImageImageList``): the targets are an ImageList,
    shown beside the inputs."""

    _label_cls = ImageList
    _square_show = False
    _square_show_res = False

    def show_xys(self, xs, ys, rows=3, figsize=None, path=None, cmap=None, imgsize=None):
        """``rows`` lines: input, target."""
        rows, cmap = min(rows, len(xs)), defaults.cmap if cmap is None else cmap

        def draw(i, j, ax):
            show_image((xs, ys)[j][i], ax=ax, cmap=cmap, title=("input", "target")[j] if i == 0 else None)
        side = imgsize or 3
        return plot_multi(draw, rows, 2, figsize=figsize or (2 * side, rows * side), path=path)

    def show_xyzs(self, xs, ys, zs, rows=3, figsize=None, path=None, cmap=None, imgsize=None):
        """``rows`` lines: input, prediction, target."""
        rows, cmap = min(rows, len(xs)), defaults.cmap if cmap is None else cmap

        def draw(i, j, ax):
            show_image((xs, zs, ys)[j][i], ax=ax, cmap=cmap,
                       title=("input", "prediction", "target")[j] if i == 0 else None)
        side = imgsize or 3
        return plot_multi(draw, rows, 3, figsize=figsize or (3 * side, rows * side), path=path)


# fastai's name for ImageList until version 1.0.47, which the course's notebooks of that time use.
ImageItemList = ImageList


def resize_to(img, targ_sz, use_min=False):
    """The (width, height) to resize ``img`` to — a PIL image, or an ``Image`` — so that its
    longer side (its shorter one with ``use_min``) becomes ``targ_sz``, the aspect ratio kept:
    pillow's order, for ``img.resize(resize_to(img, 96, use_min=True))`` (fastai's)."""
    width, height = img.size[::-1] if isinstance(img, Image) else img.size
    ratio = targ_sz / (min if use_min else max)(width, height)
    return int(width * ratio), int(height * ratio)
