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
10. ``mnist.py``       — MNIST and Fashion-MNIST from their IDX files, as arrays and datasets.
11. ``on_device.py``   — on a second reading: batches made on the GPU from a dataset kept there.

This package knows nothing of images as such: ``ImageList``, ``ImageImageList``,
``get_transforms`` and MNIST as the lesson's image folders (``mnist_image_list``,
``mnist_databunch``) are in ``minitorch/vision/``, which is built on this package (``from
minitorch.vision import *`` has them all).  Figures are saved and shown by ``minitorch/plot.py``.
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
from minitorch.data.mnist import MNIST, FashionMNIST, load_mnist  # noqa: F401
from minitorch.data.transforms import (  # noqa: F401
    Normalize, RandPadCrop, channel_stats, pad_crop, rand_pad)


# What ``from minitorch.data import *`` gives: the names above (never the submodules, which would
# shadow a notebook's own ``data`` or ``transforms``).  ``open_image`` here reads a file as a uint8
# array; the star import leaves it out for ``minitorch.vision``'s, which gives fastai's ``Image``.
__all__ = [
    "CategoryList", "CategoryProcessor", "EmptyLabelList", "ItemList", "ItemLists", "LabelList",
    "LabelLists", "Category", "ItemBase", "DataBunch", "DatasetType", "plot_multi", "save_figure",
    "ArrayDataset", "Dataset", "KNOWN_CHECKSUMS", "MIRRORS", "ChecksumError", "DownloadError",
    "cache_dir", "download_url", "fetch", "verify_file", "IDXError", "read_idx", "write_idx",
    "image_files", "load_images", "save_image", "DataLoader", "MNIST", "FashionMNIST",
    "load_mnist", "Normalize", "RandPadCrop", "channel_stats", "pad_crop", "rand_pad"]
