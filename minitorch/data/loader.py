"""DataLoader: a dataset, cut into batches of minitorch Tensors.  Read after ``dataset.py``.

One epoch of a DataLoader is:

1. an order of the sample indices — ``0, 1, 2, ...``, or a random permutation when ``shuffle``;
2. that order cut into slices of ``batch_size`` (the last, shorter slice dropped when
   ``drop_last``);
3. for each slice, the samples as arrays — one ``dataset.get_batch(indices, rng)`` call when the
   dataset has it, else ``dataset[i]`` for each index, collated by PyTorch's rules
   (:func:`collate_arrays`: a batch has the structure of one sample, each Tensor, array or number
   stacked along a new first dim; a ``collate_fn`` replaces this step and the next two);
4. the batch transforms (``batch_tfms``, e.g. normalisation), applied to the inputs ``x``, and
   ``y_tfms`` to the targets ``y`` (normalising image targets);
5. every array turned into a Tensor on ``device`` (``minitorch.tensor(array, device=...)``).

On the GPU, when the dataset can live there (MNIST's uint8 images and labels, uploaded once at
the first batch) and every transform runs there (``rand_pad``, ``Normalize``), steps 3-5 happen
on the device instead (``on_device.py``): the batch's indices are the one host→device copy, and
the pixels never cross the bus again.  Other datasets (files, image targets) are made on the
host and uploaded as one packed copy (``speed/gpu.py``, ``to_device_together``).

The training loop runs hundreds of batches an epoch, so each step is a few whole-array NumPy
operations: no per-sample Python work on the fast path.

PyTorch's arguments work as in ``torch.utils.data.DataLoader``: ``batch_size``, ``shuffle``,
``drop_last``, ``collate_fn``; ``num_workers``, ``pin_memory``, ``persistent_workers``,
``prefetch_factor``, ``timeout`` and ``worker_init_fn`` are accepted (and checked as PyTorch checks
them), but every batch is made in the main process, whatever ``num_workers`` says: the fast paths
above are a few whole-array operations per batch, which worker processes would only add copies
to.  (Making batches ahead of time would go around the loop of ``__iter__``, which asks
:meth:`DataLoader.make_batch` for one batch at a time.)

Randomness: with ``seed=None`` the order is drawn from minitorch's generator (so
``minitorch.manual_seed`` makes a run repeatable); with an explicit ``seed`` the loader owns a
generator of its own, made once, so two loaders built with the same seed give the same sequence of
epochs while each epoch is still a new permutation.
"""
import collections.abc
import math
import numbers

import numpy

from minitorch import backend
from minitorch.data.on_device import device_batch, makes_batches_on_device
from minitorch.speed.gpu import to_device_together
from minitorch.tensor import Tensor, tensor


def check_batch_size(size, caller):
    """``size`` when it is a positive int; else a ValueError naming ``caller``."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"{caller}: batch_size must be a positive integer, got {size!r}")
    return size


def collate_arrays(samples, where="default_collate"):
    """A list of samples as one batch of the same structure, every Tensor, array or number
    stacked along a new first dim into one array (PyTorch's ``default_collate``, before the
    arrays become Tensors):

    * Tensors → their arrays stacked on their device; arrays and numbers → a NumPy array (a
      Python float gives float64, an int int64, a bool bool, as in PyTorch);
    * a tuple or list → a list of the fields, each collated (a named tuple stays one);
    * a dict → a dict with each value collated;  a string → the list of strings.

    ``[(x0, y0), (x1, y1)]`` becomes ``[stack([x0, x1]), array([y0, y1])]``.
    """
    first = samples[0]
    if isinstance(first, Tensor):
        if any(not isinstance(s, Tensor) or s.device != first.device for s in samples):
            raise TypeError(f"{where}: expected every sample to be a Tensor on {first.device}, "
                            f"like the first; got {sorted({type(s).__name__ for s in samples})}")
        return first.xp.stack([s.array for s in samples])
    if backend.is_array(first) or isinstance(first, (numbers.Number, numpy.generic)):
        return numpy.stack([numpy.asarray(s) for s in samples])
    if isinstance(first, str):
        return list(samples)
    if isinstance(first, collections.abc.Mapping):
        return {key: collate_arrays([s[key] for s in samples], where) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise RuntimeError(f"{where}: each element in list of batch should be of equal size; "
                               f"got samples of {sorted({len(s) for s in samples})} fields")
        fields = [collate_arrays([s[i] for s in samples], where) for i in range(len(first))]
        return type(first)(*fields) if hasattr(first, "_fields") else fields
    raise TypeError(f"{where}: a batch must contain Tensors, NumPy arrays, numbers, dicts or "
                    f"lists; found {type(first).__name__}")


def _map_arrays(batch, function):
    """``batch`` (a structure from :func:`collate_arrays` or ``get_batch``) with every array
    replaced by ``function(list of all arrays)``'s results, in order (one call for all)."""
    arrays = []

    def collect(node):
        if backend.is_array(node):
            arrays.append(node)
        elif isinstance(node, collections.abc.Mapping):
            for value in node.values():
                collect(value)
        elif isinstance(node, (tuple, list)):
            for value in node:
                collect(value)
    collect(batch)
    replaced = iter(function(arrays))

    def rebuild(node):
        if backend.is_array(node):
            return next(replaced)
        if isinstance(node, collections.abc.Mapping):
            return {key: rebuild(value) for key, value in node.items()}
        if isinstance(node, tuple) and hasattr(node, "_fields"):
            return type(node)(*(rebuild(value) for value in node))
        if isinstance(node, (tuple, list)):
            return type(node)(rebuild(value) for value in node)
        return node
    return rebuild(batch)


def as_tensors(batch, device):
    """A collated batch with its arrays made Tensors on ``device``: the host arrays go up in one
    host→device copy together; arrays already there (stacked device Tensors) stay."""
    def upload(arrays):
        elsewhere = [a for a in arrays if backend.device_of(a) != device]
        moved = iter(to_device_together(elsewhere, device))
        return [tensor(a if backend.device_of(a) == device else next(moved), device=device)
                for a in arrays]
    return _map_arrays(batch, upload)


def default_collate(batch):
    """PyTorch's ``default_collate``: a list of samples as one batch of Tensors (see
    :func:`collate_arrays`).  For a ``collate_fn`` that builds on the default one."""
    return _map_arrays(collate_arrays(batch), lambda arrays: [
        tensor(array, device=backend.device_of(array)) for array in arrays])


def _check_worker_options(num_workers, prefetch_factor, persistent_workers, timeout):
    """PyTorch's checks of the multiprocessing options, which are accepted here (see the
    module docstring) so that code written for PyTorch runs unchanged."""
    if not isinstance(num_workers, int) or isinstance(num_workers, bool) or num_workers < 0:
        raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                         f"disable multiprocessing (got {num_workers!r})")
    if timeout < 0:
        raise ValueError(f"timeout option should be non-negative, got {timeout!r}")
    if num_workers == 0 and prefetch_factor is not None:
        raise ValueError("prefetch_factor option could only be specified in multiprocessing. "
                         "let num_workers > 0 to enable multiprocessing, otherwise set "
                         "prefetch_factor to None.")
    if prefetch_factor is not None and prefetch_factor < 0:
        raise ValueError(f"prefetch_factor option should be non-negative, got {prefetch_factor!r}")
    if persistent_workers and num_workers == 0:
        raise ValueError("persistent_workers option needs num_workers > 0")


class DataLoader:
    """Batches of ``dataset`` as Tensors on ``device``: a list of fields for samples that are
    tuples (PyTorch's layout; a tuple from a dataset's ``get_batch``), a Tensor for samples that
    are one Tensor or array.

    ``DataLoader(dataset, batch_size=1, shuffle=False, drop_last=False, seed=None, device=None,
    batch_tfms=None, y_tfms=None, *, collate_fn=None, num_workers=0, ...)``: ``len(loader)`` is
    the number of batches an epoch yields; ``batch_tfms`` are callables applied, in order, to the
    stacked inputs (the first field) as an array, ``y_tfms`` to the targets (the second);
    ``collate_fn(list of samples)``, when given, makes each batch itself (yielded as it returns
    it, as in PyTorch).  The worker options are accepted and checked; see the module docstring.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, seed=None,
                 device=None, batch_tfms=None, y_tfms=None, *, collate_fn=None, num_workers=0,
                 pin_memory=False, timeout=0, worker_init_fn=None, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device=""):
        _check_worker_options(num_workers, prefetch_factor, persistent_workers, timeout)
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got "
                            f"{type(collate_fn).__name__}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)  # PyTorch's default is None, which means False
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        self.num_workers, self.pin_memory, self.timeout = num_workers, bool(pin_memory), timeout
        self.worker_init_fn, self.prefetch_factor = worker_init_fn, prefetch_factor
        self.persistent_workers = bool(persistent_workers)
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
        """The samples at ``indices`` as arrays (a tuple from ``get_batch``, else the collated
        structure, see :func:`collate_arrays`), batch transforms applied to fields 0 and 1."""
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is not None:
            arrays = get_batch(indices, self.rng)
            arrays = arrays if isinstance(arrays, list) else tuple(arrays)
        else:
            arrays = collate_arrays([self.dataset[int(i)] for i in indices], "DataLoader")
        for field, tfms in ((0, self.batch_tfms), (1, self.y_tfms)):
            if not tfms:
                continue
            if not isinstance(arrays, (tuple, list)) or len(arrays) <= field:
                raise TypeError(f"DataLoader: a batch transform applies to field {field} of a "
                                f"batch, but the batches here are {type(arrays).__name__}s")
            value = arrays[field]
            for tfm in tfms:
                value = tfm(value)
            arrays = type(arrays)([*arrays[:field], value, *arrays[field + 1:]])
        return arrays

    def make_batch(self, indices, on_device=False):
        """The batch of the samples at ``indices``, ready to yield."""
        if self.collate_fn is not None:
            return self.collate_fn([self.dataset[int(i)] for i in indices])
        if on_device:
            arrays = device_batch(self, indices)  # 1 copy: the indices
            return tuple(tensor(array, device=self.device) for array in arrays)
        return as_tensors(self.host_batch(indices), self.device)  # 1 copy

    def __iter__(self):
        # on the GPU, MNIST's batches are made there (on_device.py)
        on_device = self.collate_fn is None and makes_batches_on_device(self)
        for indices in self.batch_indices():
            yield self.make_batch(indices, on_device)

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
                         batch_tfms=list(self.batch_tfms), y_tfms=list(self.y_tfms),
                         collate_fn=self.collate_fn, num_workers=self.num_workers,
                         pin_memory=self.pin_memory, timeout=self.timeout,
                         worker_init_fn=self.worker_init_fn,
                         prefetch_factor=self.prefetch_factor,
                         persistent_workers=self.persistent_workers)
        arguments.update(changes)
        return DataLoader(**arguments)

    def __repr__(self):
        return (f"DataLoader({len(self.dataset)} samples, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, drop_last={self.drop_last}, device={self.device!r}, "
                f"{len(self)} batches)")
