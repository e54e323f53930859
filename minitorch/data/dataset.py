"""Datasets: what a DataLoader draws its samples from.  Read before ``loader.py``.

A dataset is anything with ``len(ds)`` and ``ds[i]`` returning one sample, a tuple such as
``(image, label)`` — PyTorch's map-style ``Dataset`` contract.  Datasets here hold NumPy arrays on
the host; the DataLoader turns a batch of them into minitorch Tensors on the chosen device.

Fetching samples one at a time and stacking them costs a Python call per sample.  A dataset whose
samples are rows of big arrays can do better: it may also define ``get_batch(indices, rng)``,
which returns the whole batch with one fancy-indexing operation per array.  The DataLoader uses it
when it is there.  :class:`ArrayDataset` is that kind of dataset (PyTorch's ``TensorDataset``).
"""
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
