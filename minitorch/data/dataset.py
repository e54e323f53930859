"""Datasets: what a DataLoader draws its samples from.  Read before ``loader.py``.

A dataset is anything with ``len(ds)`` and ``ds[i]`` returning one sample, a tuple such as
``(image, label)`` — PyTorch's map-style ``Dataset`` contract.  Datasets here hold NumPy arrays on
the host; the DataLoader turns a batch of them into minitorch Tensors on the chosen device.

Fetching samples one at a time and stacking them costs a Python call per sample.  A dataset whose
samples are rows of big arrays can do better: it may also define ``get_batch(indices, rng)``,
which returns the whole batch with one fancy-indexing operation per array.  The DataLoader uses it
when it is there.  :class:`ArrayDataset` is that kind of dataset, holding NumPy arrays;
:class:`TensorDataset` is PyTorch's, holding Tensors (``ds[i]`` gives Tensors, on their device).
:class:`Subset` and :func:`random_split` pick some of a dataset's samples, as in PyTorch.
"""
import math

import numpy

from minitorch import backend
from minitorch.tensor import Tensor


class Dataset:
    """The base class of map-style datasets: subclasses define ``__getitem__`` and ``__len__``.

    It exists to name the contract (and for ``isinstance`` checks); it holds no data itself.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(index)")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__()")


def _host_array(data, position):
    """``data`` as a NumPy array (Tensors and CuPy arrays are copied to the host)."""
    if isinstance(data, Tensor):
        data = data.array
    if backend.is_array(data):
        return backend.to_numpy(data)
    if isinstance(data, (list, tuple)):
        return numpy.asarray(data)
    raise TypeError(f"ArrayDataset argument {position}: expected an array, Tensor or list, "
                    f"got {type(data).__name__}")


class ArrayDataset(Dataset):
    """Samples that are rows of arrays: ``ds[i] == (a[i], b[i], ...)``.

    ``ArrayDataset(images, labels)`` with ``images`` of shape (N, ...) and ``labels`` of shape (N,)
    is the usual use; every array must have the same first dimension.
    """

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("ArrayDataset needs at least one array")
        self.arrays = tuple(_host_array(data, position) for position, data in enumerate(arrays))
        lengths = [len(array) for array in self.arrays]
        if len(set(lengths)) != 1:
            raise ValueError(f"ArrayDataset: every array must have the same length (first "
                             f"dimension), got lengths {lengths}")

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return tuple(array[index] for array in self.arrays)

    def get_batch(self, indices, rng=None):
        """The samples at ``indices`` (an integer array), stacked: one fancy index per array.
        ``rng`` is unused (nothing here is random); it is part of the ``get_batch`` contract."""
        return tuple(array[indices] for array in self.arrays)

    def __repr__(self):
        shapes = ", ".join(f"{array.dtype}{list(array.shape)}" for array in self.arrays)
        return f"ArrayDataset({shapes})"


class TensorDataset(Dataset):
    """PyTorch's ``TensorDataset(*tensors)``: ``ds[i] == (t[i] for each tensor)``, Tensors that
    share their first dimension.  ``ds[a:b]`` slices them all, as indexing a tensor does.

    The DataLoader gathers a batch with one index per tensor, on the tensor's device
    (:meth:`get_batch`), rather than one sample at a time.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for position, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset argument {position}: expected a Tensor, got "
                                f"{type(t).__name__} (ArrayDataset holds NumPy arrays)")
            if t.ndim == 0:
                raise ValueError(f"TensorDataset argument {position}: a 0-d tensor has no "
                                 "samples (expected a first dimension to index)")
        lengths = [t.shape[0] for t in tensors]
        if len(set(lengths)) != 1:  # PyTorch asserts it, hence its AssertionError
            raise AssertionError(f"Size mismatch between tensors: first dimensions {lengths}")
        self.tensors = tuple(tensors)

    def __len__(self):
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def get_batch(self, indices, rng=None):
        """The samples at ``indices`` (an integer array), gathered on each tensor's device: a
        list of arrays, the fields of PyTorch's batch.  ``rng`` is unused."""
        return [t.array[backend.to_device(indices, t.device)] for t in self.tensors]

    def __repr__(self):
        shapes = ", ".join(f"{t.dtype}{list(t.shape)}" for t in self.tensors)
        return f"TensorDataset({shapes})"


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(ds, idx)[i] ==
    ds[idx[i]]`` (PyTorch's ``Subset``).  When the parent gathers whole batches (``get_batch``),
    so does the subset, through it."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = [int(i) for i in indices]
        if hasattr(dataset, "get_batch"):
            positions = numpy.asarray(self.indices, dtype=numpy.int64)
            self.get_batch = lambda batch, rng=None: dataset.get_batch(positions[batch], rng)

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, (list, tuple)):
            return [self.dataset[self.indices[i]] for i in index]
        return self.dataset[self.indices[index]]


def random_split(dataset, lengths, generator=None):
    """``dataset`` cut at random into non-overlapping :class:`Subset` s of the given
    ``lengths`` (sample counts that add up to ``len(dataset)``, or fractions that add up to 1,
    the leftover samples going one each to the first subsets, as in PyTorch).

    The permutation comes from minitorch's generator (seed it with ``minitorch.manual_seed``):
    minitorch has no ``Generator`` objects, so ``generator`` must be None.
    """
    if generator is not None:
        raise TypeError("random_split: minitorch has no Generator objects; leave generator=None "
                        "and seed the split with minitorch.manual_seed(seed)")
    lengths = list(lengths)
    n = len(dataset)
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, fraction in enumerate(lengths):
            if not 0 <= fraction <= 1:
                raise ValueError(f"Fraction at index {i} is not between 0 and 1")
        counts = [int(math.floor(n * fraction)) for fraction in lengths]
        for i in range(n - sum(counts)):  # the remainder, round-robin
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset! "
                         f"(lengths {lengths} add up to {sum(lengths)}, the dataset has {n})")
    order = backend.rng().permutation(n)
    subsets, start = [], 0
    for length in lengths:
        subsets.append(Subset(dataset, order[start:start + length]))
        start += length
    return subsets
