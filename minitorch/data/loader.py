"""DataLoader: a dataset, cut into batches of minitorch Tensors.  Read after ``dataset.py``.

One epoch of a DataLoader is:

1. an order of the sample indices — ``0, 1, 2, ...``, or a random permutation when ``shuffle``;
2. that order cut into slices of ``batch_size`` (the last, shorter slice dropped when
   ``drop_last``);
3. for each slice, the samples as NumPy arrays on the host — one ``dataset.get_batch(indices, rng)``
   call when the dataset has it, else ``dataset[i]`` for each index, stacked field by field;
4. the batch transforms (``batch_tfms``, e.g. normalisation), applied to the inputs ``x``, and
   ``y_tfms`` to the targets ``y`` (normalising image targets);
5. every field turned into a Tensor on ``device`` (``minitorch.tensor(array, device=...)``).

On the GPU, when the dataset can live there (``LabelList.on_device``: MNIST's uint8 images and
labels, uploaded once at the first batch) and every transform runs there (``rand_pad``,
``Normalize``), steps 3-5 happen on the device instead (:meth:`DataLoader.device_batch`): the
batch's indices are the one host→device copy, and the pixels never cross the bus again.  Other
datasets (files, image targets) are made on the host and uploaded as one packed copy.

The training loop runs hundreds of batches an epoch, so each step is a few whole-array NumPy
operations: no per-sample Python work on the fast path.

Randomness: with ``seed=None`` the order is drawn from minitorch's generator (so
``minitorch.manual_seed`` makes a run repeatable); with an explicit ``seed`` the loader owns a
generator of its own, made once, so two loaders built with the same seed give the same sequence of
epochs while each epoch is still a new permutation.
"""
import math

import numpy

from minitorch import backend
from minitorch.tensor import tensor


def check_batch_size(size, caller):
    """``size`` when it is a positive int; else a ValueError naming ``caller``."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"{caller}: batch_size must be a positive integer, got {size!r}")
    return size


def stack_samples(samples):
    """A list of samples (tuples of arrays or numbers) as one tuple of stacked arrays.

    ``[(x0, y0), (x1, y1)]`` becomes ``(stack([x0, x1]), array([y0, y1]))``.
    """
    first = samples[0]
    if not isinstance(first, (tuple, list)):
        return (numpy.stack([numpy.asarray(sample) for sample in samples]),)
    if any(len(sample) != len(first) for sample in samples):
        raise ValueError(f"samples in one batch have different numbers of fields: expected "
                         f"{len(first)} like the first, got {sorted({len(s) for s in samples})}")
    return tuple(numpy.stack([numpy.asarray(sample[field]) for sample in samples])
                 for field in range(len(first)))


class DataLoader:
    """Batches of ``dataset`` as tuples of Tensors on ``device``.

    ``DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, device=None,
    batch_tfms=None, y_tfms=None)``: ``len(loader)`` is the number of batches an epoch yields;
    ``batch_tfms`` are callables applied, in order, to the stacked inputs (the first field) as a
    NumPy array, ``y_tfms`` to the targets (the second).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 device=None, batch_tfms=None, y_tfms=None):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.generator = numpy.random.default_rng(seed) if seed is not None else None
        self.device = backend.canonical_device(device)
        self.batch_tfms = list(batch_tfms or [])
        self.y_tfms = list(y_tfms or [])

    @property
    def batch_size(self):
        return self._batch_size

    @batch_size.setter
    def batch_size(self, size):
        """Checked whenever it is set (``data.batch_size = 0`` too), not at the first batch."""
        self._batch_size = check_batch_size(size, "DataLoader")

    @property
    def rng(self):
        """The generator for shuffling and augmentation: the loader's own, else minitorch's."""
        return self.generator if self.generator is not None else backend.rng()

    def __len__(self):
        if self.drop_last:
            return len(self.dataset) // self.batch_size
        return math.ceil(len(self.dataset) / self.batch_size)

    def batch_indices(self):
        """The index arrays of one epoch's batches, in the order they will be yielded."""
        n = len(self.dataset)
        order = self.rng.permutation(n) if self.shuffle else numpy.arange(n)
        return [order[start:start + self.batch_size]
                for start in range(0, len(self) * self.batch_size, self.batch_size)]

    def host_batch(self, indices):
        """The samples at ``indices`` as a tuple of NumPy arrays, batch transforms applied."""
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is not None:
            arrays = tuple(get_batch(indices, self.rng))
        else:
            arrays = stack_samples([self.dataset[int(i)] for i in indices])
        if self.batch_tfms:
            x = arrays[0]
            for tfm in self.batch_tfms:
                x = tfm(x)
            arrays = (x,) + arrays[1:]
        if self.y_tfms:
            y = arrays[1]
            for tfm in self.y_tfms:
                y = tfm(y)
            arrays = (arrays[0], y) + arrays[2:]
        return arrays

    def _on_device(self):
        """Whether batches are made on the device: the dataset keeps its arrays there
        (``LabelList.on_device``: MNIST's images and labels) and every batch transform runs
        there (``Normalize``); else they are made on the host and uploaded."""
        on_device = getattr(self.dataset, "on_device", None)
        return (on_device is not None and not self.y_tfms
                and all(getattr(tfm, "on_device", False) for tfm in self.batch_tfms)
                and on_device(self.device) is not None)

    def device_batch(self, indices):
        """The batch at ``indices`` made on the device: the indices go up (the batch's one
        small copy), the dataset is gathered, augmented and normalised there."""
        x, y = self.dataset.device_batch(backend.to_device(indices, self.device), self.device)
        for tfm in self.batch_tfms:
            x = tfm(x)
        return x, y

    def __iter__(self):
        on_device = self._on_device()
        for indices in self.batch_indices():
            if on_device:
                arrays = self.device_batch(indices)  # 1 copy: the indices
            else:
                arrays = backend.to_device_together(self.host_batch(indices), self.device)  # 1 copy
            yield tuple(tensor(array, device=self.device) for array in arrays)

    def add_tfm(self, tfm):
        """Append a batch transform (applied to the inputs of every later batch)."""
        self.batch_tfms.append(tfm)

    def add_y_tfm(self, tfm):
        """Append a batch transform for the targets."""
        self.y_tfms.append(tfm)

    def remove_tfm(self, tfm):
        """Remove a batch transform added earlier (no error when it is absent)."""
        if tfm in self.batch_tfms:
            self.batch_tfms.remove(tfm)
        if tfm in self.y_tfms:
            self.y_tfms.remove(tfm)

    def new(self, **changes):
        """A copy of this loader with some constructor arguments changed (fastai's ``dl.new``)."""
        arguments = dict(dataset=self.dataset, batch_size=self.batch_size, shuffle=self.shuffle,
                         drop_last=self.drop_last, seed=self.seed, device=self.device,
                         batch_tfms=list(self.batch_tfms), y_tfms=list(self.y_tfms))
        arguments.update(changes)
        return DataLoader(**arguments)

    def __repr__(self):
        return (f"DataLoader({len(self.dataset)} samples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, device={self.device!r}, "
                f"{len(self)} batches)")
