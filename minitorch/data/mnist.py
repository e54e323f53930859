"""MNIST and Fashion-MNIST, from their canonical IDX files.  Read after ``idx.py``, ``download.py``
and ``dataset.py``.

Both datasets are four gzip-compressed IDX files: 60,000 training and 10,000 test images of 28x28
uint8 pixels, and their labels 0-9.  :func:`load_mnist` finds (or downloads) and verifies the files
(``download.py``), parses them (``idx.py``) and checks that they describe a sane dataset.  On top of
it sit :class:`MNIST` and :class:`FashionMNIST` — datasets in torchvision's shape (``.data`` uint8
(N, 28, 28), ``.targets`` int64 (N,)).

The same data as the lesson's image folders (an ``ImageList``) and the lesson's DataBunch are
images, so they are in ``minitorch/vision/mnist.py``.
"""
import numpy

from minitorch.data.dataset import Dataset
from minitorch.data.download import fetch
from minitorch.data.idx import read_idx

# train=True / False -> (images file, labels file): the names every mirror uses.
SPLIT_FILES = {
    True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
IMAGE_SIZE = 28
NUM_CLASSES = 10


def read_split(name, train, root, download, progress):
    """``(images, labels, folder)``: :func:`load_mnist`'s arrays and the folder the files are in
    (``vision/mnist.py`` names its images after it)."""
    images_file, labels_file = SPLIT_FILES[bool(train)]
    images_path = fetch(name, images_file, root, download, progress=progress)
    labels_path = fetch(name, labels_file, root, download, progress=progress)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != numpy.uint8 or images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise ValueError(f"{images_path}: expected uint8 images of shape (N, {IMAGE_SIZE}, "
                         f"{IMAGE_SIZE}), got {images.dtype} of shape {images.shape}")
    if labels.dtype != numpy.uint8 or labels.ndim != 1:
        raise ValueError(f"{labels_path}: expected uint8 labels of shape (N,), got {labels.dtype} "
                         f"of shape {labels.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{images_path} holds {len(images)} images but {labels_path} holds "
                         f"{len(labels)} labels")
    if len(labels) and labels.max() >= NUM_CLASSES:
        raise ValueError(f"{labels_path}: labels must be 0-{NUM_CLASSES - 1}, found {labels.max()}")
    return images, labels.astype(numpy.int64), images_path.parent


def load_mnist(name="mnist", train=True, root=None, download=True, progress=True):
    """``(images, labels)`` of a split of MNIST (``name='mnist'``) or Fashion-MNIST
    (``'fashion_mnist'``): uint8 (N, 28, 28) and int64 (N,) with values 0-9.

    The files come from ``root/<name>/`` when given, else ``$MINITORCH_DATA/<name>/`` or the cache,
    else a download (see ``download.fetch``); their checksums are verified before they are read,
    and the arrays are checked to be a sane dataset (shapes, counts, labels 0-9).
    """
    images, labels, _ = read_split(name, train, root, download, progress)
    return images, labels


class MNIST(Dataset):
    """MNIST's training (``train=True``) or test split: ``ds[i] == (uint8 image (28, 28), label)``."""

    name = "mnist"
    classes = [str(digit) for digit in range(NUM_CLASSES)]

    def __init__(self, root=None, train=True, download=True):
        self.train = bool(train)
        self.data, self.targets = load_mnist(self.name, self.train, root, download)

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return self.data[index], int(self.targets[index])

    def get_batch(self, indices, rng=None):
        """Images and labels at ``indices`` in one fancy index each (``rng`` unused)."""
        return self.data[indices], self.targets[indices]

    def __repr__(self):
        split = "train" if self.train else "test"
        return f"{type(self).__name__}({split}: {len(self)} images of 28x28)"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's format, pictures of ten kinds of clothing."""

    name = "fashion_mnist"
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
               "Bag", "Ankle boot"]


DATASETS = {"mnist": MNIST, "fashion_mnist": FashionMNIST}
