"""``minitorch.data``: getting data into the training loop, in PyTorch's and fastai v1's words.

Read the files in the order the data flows through them:

1. ``idx.py``          — the IDX format MNIST is published in, parsed with every check.
2. ``download.py``     — find a file on disk, or download it to a temporary name, verify md5 and
                         sha256, rename.
3. ``dataset.py``      — ``Dataset`` and ``ArrayDataset``: samples by index.
4. ``loader.py``       — ``DataLoader``: batches, shuffling with a seed, Tensors on a device.
5. ``transforms.py``   — ``rand_pad`` (random pad-then-crop, vectorised) and ``Normalize``.
6. ``image_folder.py`` — images from folders, with pillow.
7. ``items.py``        — what indexing an item list gives: fastai's items (``Category``, ...).
8. ``data_block.py``   — fastai's data block API: item lists (``ItemList``, ``CategoryList``)
                         → split → label → transform → ``LabelLists``; the extension points.
9. ``databunch.py``    — ``DataBunch``: the loaders, the contract the Learner relies on
                         (``dl``, ``one_batch``, ``normalize``, ``show_batch``).
10. ``mnist.py``       — MNIST and Fashion-MNIST, and the lesson's DataBunch in one call.

Images as item lists (``ImageList``, ``ImageImageList``, ``get_transforms``) are in
``minitorch/vision/data.py`` and ``vision/transform.py``; ``ImageList`` is re-exported here because
the MNIST lesson reads it from here.  Figures are saved and shown by ``minitorch/plot.py``.

The lesson's data, in one line: ``data = mnist_databunch(bs=128)``; what it does step by step is
in ``mnist_databunch``'s docstring.
"""
from minitorch.data.data_block import (  # noqa: F401
    CategoryList, CategoryProcessor, EmptyLabelList, ItemList, ItemLists, LabelList, LabelLists)
from minitorch.data.databunch import DataBunch, DatasetType  # noqa: F401
from minitorch.data.items import Category, ItemBase  # noqa: F401
from minitorch.plot import plot_multi, save_figure  # noqa: F401
from minitorch.data.dataset import ArrayDataset, Dataset  # noqa: F401
from minitorch.data.download import (  # noqa: F401
    KNOWN_CHECKSUMS, MIRRORS, ChecksumError, DownloadError, cache_dir, download_url, fetch,
    verify_file)
from minitorch.data.idx import IDXError, read_idx, write_idx  # noqa: F401
from minitorch.data.image_folder import image_files, load_images, open_image, save_image  # noqa: F401
from minitorch.data.loader import DataLoader  # noqa: F401
from minitorch.data.mnist import (  # noqa: F401
    MNIST, FashionMNIST, load_mnist, mnist_databunch, mnist_image_list)
from minitorch.data.transforms import (  # noqa: F401
    Normalize, RandPadCrop, channel_stats, pad_crop, rand_pad)


# Images are item lists of ``minitorch/vision`` (which is built on this package); they are
# re-exported here, imported on first use so that either package can be imported first.
_FROM_VISION = {"ImageList": "minitorch.vision.data", "ImageImageList": "minitorch.vision.data",
                "imagenet_stats": "minitorch.vision.data", "show_image": "minitorch.vision.image",
                "Image": "minitorch.vision.image_item"}


# What ``from minitorch.data import *`` gives: the names above (never the submodules, which would
# shadow a notebook's own ``data`` or ``transforms``).  ``open_image`` here reads a file as a uint8
# array; the star import leaves it out for ``minitorch.vision``'s, which gives fastai's ``Image``.
__all__ = [
    "CategoryList", "CategoryProcessor", "EmptyLabelList", "ItemList", "ItemLists", "LabelList",
    "LabelLists", "Category", "ItemBase", "DataBunch", "DatasetType", "plot_multi", "save_figure",
    "ArrayDataset", "Dataset", "KNOWN_CHECKSUMS", "MIRRORS", "ChecksumError", "DownloadError",
    "cache_dir", "download_url", "fetch", "verify_file", "IDXError", "read_idx", "write_idx",
    "image_files", "load_images", "save_image", "DataLoader", "MNIST", "FashionMNIST",
    "load_mnist", "mnist_databunch", "mnist_image_list", "Normalize", "RandPadCrop",
    "channel_stats", "pad_crop", "rand_pad", *_FROM_VISION]


def __getattr__(name):
    if name in _FROM_VISION:
        import importlib
        return getattr(importlib.import_module(_FROM_VISION[name]), name)
    raise AttributeError(f"module 'minitorch.data' has no attribute {name!r}")
