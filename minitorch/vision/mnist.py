"""MNIST as images: the lesson's image folders and its DataBunch.  Read after
``minitorch/data/mnist.py`` (the files and their checks), ``data/data_block.py`` and
``vision/data.py`` (``ImageList``).

The lesson reads MNIST as folders of PNG files (``mnist_png``) with
``ImageList.from_folder(path, convert_mode='L')``; here the same items come from the canonical
IDX files, held in memory, named as those folders name them, so the lesson's data block steps
apply word for word:

* :func:`mnist_image_list` — the ImageList (``training/5/0.png``, ``testing/7/0.png``, ...);
* :func:`mnist_databunch` — the lesson's steps, done: the DataBunch the lesson trains on.
"""
import numpy

from minitorch.data.mnist import DATASETS, IMAGE_SIZE, read_split
from minitorch.data.transforms import rand_pad
from minitorch.vision.data import ImageList


def _check_limit(limit, what):
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError(f"{what} must be a positive int or None, got {limit!r}")


def mnist_image_list(name="mnist", root=None, limit=None, valid_limit=None, download=True):
    """MNIST (or Fashion-MNIST) as the lesson's image folders, in memory.

    Item ``i`` of the training split is named ``training/<class>/<i>.png``, of the test split
    ``testing/<class>/<i>.png`` (the layout of the ``mnist_png`` folders), where ``<class>`` is
    the class name ('0'-'9' for MNIST; a '/' in a Fashion-MNIST name becomes '_').  ``limit``
    keeps only the first ``limit`` training images and ``valid_limit`` (default: ``limit``) the
    first test images — the lesson's ``--quick`` mode.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}: expected one of {sorted(DATASETS)}")
    valid_limit = limit if valid_limit is None else valid_limit
    _check_limit(limit, "limit")
    _check_limit(valid_limit, "valid_limit")
    folder_names = [cls_name.replace("/", "_") for cls_name in DATASETS[name].classes]
    pixels, items = [], []
    for train, folder, keep in ((True, "training", limit), (False, "testing", valid_limit)):
        images, labels, path = read_split(name, train, root, download, progress=True)
        images, labels = images[:keep], labels[:keep]
        pixels.append(images)
        items += [f"{folder}/{folder_names[label]}/{i}.png" for i, label in enumerate(labels.tolist())]
    return ImageList.from_arrays(numpy.concatenate(pixels), items, path=path)


def mnist_databunch(name="mnist", bs=128, device=None, limit=None, valid_limit=None, padding=3,
                    stats=None, seed=None, root=None, download=True):
    """The lesson's DataBunch, built with the lesson's own steps::

        il = mnist_image_list(name)  # the lesson: ImageList.from_folder(path, convert_mode='L')
        ll = il.split_by_folder(train='training', valid='testing').label_from_folder()
        ll = ll.transform(([*rand_pad(padding=3, size=28, mode='zeros')], []))
        data = ll.databunch(bs=128).normalize()

    ``padding=0`` turns the augmentation off; ``stats=(mean, std)`` fixes the normalisation
    (default: measured on a random training batch); ``seed`` gives the training loader its own
    shuffling generator; ``limit``/``valid_limit`` keep the first images only (quick runs).
    """
    image_list = mnist_image_list(name, root, limit, valid_limit, download)
    train_tfms = [*rand_pad(padding=padding, size=IMAGE_SIZE, mode="zeros")] if padding else []
    labelled = (image_list.split_by_folder(train="training", valid="testing")
                .label_from_folder()
                .transform((train_tfms, [])))
    return labelled.databunch(bs=bs, device=device, seed=seed).normalize(stats)
