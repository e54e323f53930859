"""Reading images from folders with pillow.  Read before ``minitorch/vision/data.py``.

The lesson's data is a folder tree whose folder names say what each image is::

    mnist_png/training/0/1.png    mnist_png/training/1/3.png    ...
    mnist_png/testing/0/3.png     ...

:func:`image_files` lists the image files under a folder, :func:`open_image` reads one as a uint8
array (C, H, W) in the colour mode asked for ('L': one grey channel, 'RGB': three), and
:func:`load_images` reads many into one array (N, C, H, W) — which needs them all to be the same
size, or a ``size`` to resize them to.  ``vision/data.py`` builds fastai's ``ImageList.from_folder``
on these.
"""
from pathlib import Path

import numpy
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from minitorch.files import atomic_write

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# The pillow modes an image can be converted to, and how many channels each gives.
CONVERT_MODES = {"L": 1, "RGB": 3}


def image_files(folder, extensions=IMAGE_EXTENSIONS, recurse=True, include=None, exclude=None):
    """The image files under ``folder`` (in sub-folders too when ``recurse``), sorted by path.

    ``include`` (names of ``folder``'s sub-folders) looks only inside those; ``exclude`` skips
    those (fastai's ``get_files``: both apply to the top level only, and files lying directly in
    ``folder`` are always listed)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {folder} does not exist (or is not a folder)")
    extensions = {extension.lower() for extension in extensions}
    pattern = "**/*" if recurse else "*"
    files = (path for path in folder.glob(pattern)
             if path.is_file() and path.suffix.lower() in extensions)
    for name, folders in (("include", include), ("exclude", exclude)):
        if isinstance(folders, (str, Path)):
            raise TypeError(f"image_files: {name} must be a list of folder names, got "
                            f"{folders!r} (write [{str(folders)!r}])")
    if include is not None or exclude is not None:
        def wanted(path):
            parts = path.relative_to(folder).parts
            if len(parts) == 1:
                return True
            return parts[0] in include if include is not None else parts[0] not in exclude
        files = filter(wanted, files)
    return sorted(files)


def _check_mode(convert_mode):
    if convert_mode not in CONVERT_MODES:
        raise ValueError(f"unsupported image mode {convert_mode!r}: expected one of "
                         f"{sorted(CONVERT_MODES)} ('L' for grayscale, 'RGB' for colour)")


# Pillow's modes of more than 8 bits per sample, which its convert() clips to 0-255 instead of
# scaling (a 16-bit grey PNG opens as 'I;16' with values up to 65535: converted, almost white).
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")


def to_8bit(image, name="image"):
    """A PIL ``image`` of more than 8 bits per sample as an 8-bit grey ('L') one, scaled, not
    clipped; other images as they are.  ``name`` (the file) goes into the error.

    * 16-bit grey ('I;16…', and 'I', how older Pillow opens a 16-bit PNG): 0-65535 → 0-255,
      ``round(v / 257)`` (65535 = 255 · 257, so white stays white);
    * 32-bit float ('F', a float TIFF): taken as 0-1 (the range minitorch's float images have)
      → ``round(255 · v)``.

    Values that do not fit that range (a negative or huge 'I', a float image outside [0, 1] or
    NaN) are refused by name rather than guessed at.  fastai and Pillow's ``convert`` clip
    instead: a 16-bit photo opens almost white, a float one black.
    """
    if image.mode not in SIXTEEN_BIT_MODES + ("I", "F"):
        return image
    values = numpy.asarray(image)
    if image.mode == "F":
        low, high, scale = 0.0, 1.0, 255.0
        what = "a 32-bit float image ('F'), read as values in [0, 1]"
    else:
        low, high, scale = 0, 65535, 1 / 257
        what = f"a 16-bit image ({image.mode!r}), read as values in [0, 65535]"
    if values.size and not (numpy.isfinite(values).all() and low <= values.min()
                            and values.max() <= high):
        raise ValueError(f"{name}: {what}, but its values span [{values.min()}, {values.max()}] "
                         "(convert it to 8-bit RGB or L yourself, choosing how to scale it)")
    return Image.fromarray(numpy.round(values.astype(numpy.float64) * scale).astype(numpy.uint8))


def open_image(path, convert_mode="RGB", size=None):
    """The image at ``path`` as a uint8 array (C, H, W), converted to ``convert_mode``.

    ``size`` (an int or (height, width)) resizes it with bilinear interpolation; None keeps it.
    Pillow converts between modes the standard way (colour to grey by ITU-R 601 luma, grey to
    colour by repeating the channel, transparency dropped); 16-bit and float images are scaled
    to 8 bits first (:func:`to_8bit`).  An image larger than Pillow's limit
    (``PIL.Image.MAX_IMAGE_PIXELS``: a "decompression bomb", a small file that would expand to
    gigabytes) raises Pillow's ``DecompressionBombError``, naming the file.
    """
    _check_mode(convert_mode)
    try:
        with Image.open(path) as image:
            image = to_8bit(image, path).convert(convert_mode)
            if size is not None:
                height, width = (size, size) if isinstance(size, int) else size
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            pixels = numpy.asarray(image, dtype=numpy.uint8)
    except Image.DecompressionBombError as error:
        raise Image.DecompressionBombError(
            f"{path}: {error} Raise PIL.Image.MAX_IMAGE_PIXELS to open it if you trust the "
            "file.") from error
    except UnidentifiedImageError as error:
        raise ValueError(f"{path}: not an image pillow can read (corrupt, or not an image "
                         f"format)") from error
    except OSError as error:  # a truncated file fails while pillow decodes it
        raise ValueError(f"{path}: the image could not be decoded ({error})") from error
    if pixels.ndim == 2:  # 'L' gives (H, W); give it its channel axis
        pixels = pixels[None]
    else:  # 'RGB' gives (H, W, C); PyTorch's layout is channels first
        pixels = pixels.transpose(2, 0, 1)
    return numpy.ascontiguousarray(pixels)


def load_images(paths, convert_mode="RGB", size=None, progress=True):
    """The images at ``paths`` as one uint8 array (N, C, H, W).

    Without ``size`` every image must already have the size of the first; the error names the
    first one that does not.  A progress bar shows when there are many files.
    """
    _check_mode(convert_mode)
    paths = list(paths)
    if not paths:
        raise ValueError("load_images: no image files were given")
    first = open_image(paths[0], convert_mode, size)
    images = numpy.empty((len(paths),) + first.shape, dtype=numpy.uint8)
    images[0] = first
    bar = tqdm(paths[1:], desc="loading images", unit="img",
               disable=not progress or len(paths) < 1000, leave=False)
    for n, path in enumerate(bar, start=1):
        pixels = open_image(path, convert_mode, size)
        if pixels.shape != first.shape:
            raise ValueError(
                f"{path}: image of size {pixels.shape[1]}x{pixels.shape[2]}, but {paths[0]} is "
                f"{first.shape[1]}x{first.shape[2]}; images stacked into one batch must share a "
                "size: pass size=... to resize them on loading")
        images[n] = pixels
    return images


def save_image(path, pixels):
    """Write a uint8 array (C, H, W) with 1 or 3 channels (or (H, W)) as an image file, through a
    temporary name; the format comes from the file name's extension."""
    path = Path(path)
    pixels = numpy.asarray(pixels)
    if pixels.dtype != numpy.uint8:
        raise ValueError(f"save_image: expected uint8 pixels, got {pixels.dtype}")
    if pixels.ndim == 3 and pixels.shape[0] in (1, 3):
        pixels = pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0)
    elif pixels.ndim != 2:
        raise ValueError(f"save_image: expected (H, W) or (C, H, W) with C 1 or 3, got shape "
                         f"{pixels.shape}")
    image_format = Image.registered_extensions().get(path.suffix.lower())
    if image_format is None:
        raise ValueError(f"save_image: {path}: unknown image extension {path.suffix!r} "
                         "(expected e.g. .png or .jpg)")
    with atomic_write(path) as file:
        Image.fromarray(pixels).save(file, format=image_format)
    return path
