"""Batches made on the GPU from a dataset kept there.  Read after ``loader.py``,
``transforms.py`` and ``data_block.py``, on a second reading: on the CPU none of this runs.

``loader.py`` makes a batch on the host (gather, augment, collate, normalise) and uploads it in
one copy.  On the GPU that copy carries every batch's pixels across the bus.  When the whole
dataset fits on the device as two arrays — images held in memory (MNIST's uint8 array) and
their class labels — and every transform can run there (``rand_pad``, ``Normalize``: they say
so with ``on_device = True``), the loader makes its batches on the device instead:

1. the first batch uploads the dataset, inputs and targets together, in ONE copy
   (:func:`dataset_on_device`; kept for the next epochs);
2. every batch uploads only its indices, gathers the items on the device, and augments,
   collates and normalises them there (:func:`device_batch`).

Counted on the CuPy stand-in (``benchmarks/README.md``, "Sync and copy budgets"): the lesson's
MNIST DataBunch makes 8 host→device copies in its first epoch of 3 training and 2 validation
batches (5 index arrays, the 2 datasets, the normalisation statistics once) and 0 syncs, then
one copy per batch; ``tests/test_sync_budget.py`` holds it to that.

What can be kept is read from the item lists' own data, so that they need to know nothing of
devices: images whose ``in_memory`` is true (``ImageList``, ``minitorch/vision/data.py``) keep
their ``pixels``; targets whose items are one int64 array of class indices (``CategoryList``,
and a test set's ``EmptyLabelList``) keep those.  Anything else — image files, text, a GAN's
noise as inputs — is made on the host.
"""
import weakref

import numpy

from minitorch import backend
from minitorch.speed.gpu import to_device_together

# dataset → {device: (x array, y array) on that device, or None when it cannot be kept there}
_kept = weakref.WeakKeyDictionary()


def makes_batches_on_device(loader):
    """Whether ``loader`` makes its batches on the device: its dataset can be kept there
    (:func:`dataset_on_device`) and every batch transform of the loader runs there; else
    batches are made on the host and uploaded."""
    return (not loader.y_tfms
            and all(getattr(tfm, "on_device", False) for tfm in loader.batch_tfms)
            and dataset_on_device(loader.dataset, loader.device) is not None)


def device_batch(loader, indices):
    """The batch at ``indices`` (a host int64 array) made on the device: the indices go up
    (the batch's one small copy); the items are gathered, transformed and collated as
    ``LabelList.get_batch`` does on the host, then the loader's batch transforms applied."""
    dataset, device = loader.dataset, loader.device
    indices = backend.to_device(indices, device)
    xs, ys = dataset_on_device(dataset, device)
    x = xs[indices]
    for tfm in dataset.tfms:
        x = tfm(x, None)  # device transforms draw from the device's generator
    x = dataset.x.collate(x)
    for tfm in loader.batch_tfms:
        x = tfm(x)
    return x, ys[indices]


def dataset_on_device(dataset, device):
    """``(x array, y array)`` of every item of the LabelList ``dataset``, kept on ``device``
    (uploaded together at the first call, then cached), when a whole batch can be made there:
    both item lists can be kept (see the module docstring), no resizing, no ``tfm_y``, and only
    transforms that run on the device; else None."""
    if device == "cpu" or not _is_label_list(dataset) or dataset.size is not None \
            or dataset.tfm_y or not all(getattr(tfm, "on_device", False) for tfm in dataset.tfms):
        return None
    kept = _kept.setdefault(dataset, {})
    if device not in kept:
        x, y = _array_to_keep(dataset.x), _array_to_keep(dataset.y, target=True)
        # the one copy of the dataset
        kept[device] = None if x is None or y is None else tuple(to_device_together([x, y], device))
    return kept[device]


def _is_label_list(dataset):
    """A dataset of two item lists with their transforms (``data_block.LabelList``)."""
    return all(hasattr(dataset, name) for name in ("x", "y", "tfms", "tfm_y", "size"))


def _array_to_keep(item_list, target=False):
    """The one array that holds every item of ``item_list`` in the form a batch is gathered
    from, or None: the pixels of images in memory; for targets, also class indices."""
    if getattr(item_list, "in_memory", False):
        return item_list.pixels
    items = getattr(item_list, "items", None)
    if target and isinstance(items, numpy.ndarray) and items.dtype == numpy.int64:
        return items
    return None
