"""``minitorch.data``: getting data into the training loop, in PyTorch's and fastai v1's words.

Read the files in the order the data flows through them:

1. ``idx.py``          — the IDX format MNIST is published in, parsed with every check.
2. ``download.py``     — find a file on disk, or download it to a temporary name, verify md5 and
                         sha256, rename.
3. ``dataset.py``      — ``Dataset`` and ``ArrayDataset``: samples by index.
4. ``loader.py``       — ``DataLoader``: batches, shuffling with a seed, Tensors on a device.
5. ``transforms.py``   — ``rand_pad`` (random pad-then-crop, vectorised) and ``Normalize``.
6. ``image_folder.py`` — images from folders, with pillow.
7. ``databunch.py``    — the data block API: ``ImageList`` → split → label → transform →
                         ``DataBunch`` → normalize; ``show_batch``, ``plot_multi``.
8. ``mnist.py``        — MNIST and Fashion-MNIST, and the lesson's DataBunch in one call.

The lesson's data, in one line: ``data = mnist_databunch(bs=128)``; what it does step by step is
in ``mnist_databunch``'s docstring.
"""
from minitorch.data.databunch import (  # noqa: F401
    DataBunch, DatasetType, ImageList, ItemLists, LabelList, LabelLists, plot_multi, save_figure,
    show_image)
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
