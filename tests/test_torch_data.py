"""``minitorch.utils.data`` against ``torch.utils.data``: datasets, the default collate, loaders.

The same samples go through both libraries' ``DataLoader`` (or ``default_collate``), and the
batches must have the same structure (a list of fields, a dict, a named tuple, one Tensor),
dtypes and values.  Shuffled loaders cannot match torch's order (another generator), so they
are held to what shuffling promises: every sample once per epoch, a new order each epoch, the
same order after the same ``minitorch.manual_seed``.
"""
import collections

import numpy as np
import pytest
import torch
import torch.utils.data as tdata

import minitorch
import minitorch.utils.data as mdata
from tests.torch_compare import DEVICE, assert_close, to_numpy


def _lib_tensor(lib, array):
    return torch.tensor(array) if lib is torch else minitorch.tensor(array, device=DEVICE)


def _compare_batches(ours, theirs, where="batch"):
    """Same structure, dtypes and values (Tensors compared exactly)."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, minitorch.Tensor), f"{where}: {type(ours).__name__}"
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), f"{where}: dtype"
        assert_close(ours, theirs, rtol=0, atol=0, what=where)
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs), where
        for key in theirs:
            _compare_batches(ours[key], theirs[key], f"{where}[{key!r}]")
    elif isinstance(theirs, (list, tuple)):
        assert type(ours).__name__ == type(theirs).__name__, \
            f"{where}: {type(ours).__name__}, torch's {type(theirs).__name__}"
        assert len(ours) == len(theirs), where
        for i, (o, t) in enumerate(zip(ours, theirs)):
            _compare_batches(o, t, f"{where}[{i}]")
    else:
        assert ours == theirs, where


Pair = collections.namedtuple("Pair", "image label")


def _samples(lib, kind, n=5):
    """A list of ``n`` samples of one structure, for ``lib``."""
    g = np.random.default_rng(0)
    images = g.standard_normal((n, 2, 3)).astype(np.float32)
    if kind == "tensor and int":
        return [(_lib_tensor(lib, images[i]), i % 3) for i in range(n)]
    if kind == "array and float":
        return [(images[i], float(i) / 2) for i in range(n)]
    if kind == "one tensor":
        return [_lib_tensor(lib, images[i]) for i in range(n)]
    if kind == "numbers":
        return [i * 1.5 for i in range(n)]
    if kind == "bools and numpy scalars":
        return [(i % 2 == 0, np.float32(i), np.int32(i)) for i in range(n)]
    if kind == "dict with a string":
        return [{"x": _lib_tensor(lib, images[i]), "y": i, "name": f"item{i}"} for i in range(n)]
    if kind == "named tuple":
        return [Pair(_lib_tensor(lib, images[i]), i) for i in range(n)]
    if kind == "nested":
        return [((images[i], i), [float(i), _lib_tensor(lib, images[i][0])]) for i in range(n)]
    raise ValueError(kind)


KINDS = ["tensor and int", "array and float", "one tensor", "numbers", "bools and numpy scalars",
         "dict with a string", "named tuple", "nested"]


@pytest.mark.parametrize("kind", KINDS)
def test_default_collate_as_torch(kind):
    _compare_batches(mdata.default_collate(_samples(minitorch, kind)),
                     tdata.default_collate(_samples(torch, kind)), kind)


class ListDataset:
    """The plainest map-style dataset: a list, with len and [] (no get_batch)."""

    def __init__(self, samples):
        self.samples = samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("batch_size, drop_last", [(2, False), (2, True), (5, False), (7, True)])
def test_loader_batches_as_torch(kind, batch_size, drop_last):
    ours = mdata.DataLoader(ListDataset(_samples(minitorch, kind)), batch_size=batch_size,
                            drop_last=drop_last)
    theirs = tdata.DataLoader(ListDataset(_samples(torch, kind)), batch_size=batch_size,
                              drop_last=drop_last)
    assert len(ours) == len(theirs)
    batches = list(ours)
    assert len(batches) == len(list(theirs))
    for i, (o, t) in enumerate(zip(batches, theirs)):
        _compare_batches(o, t, f"{kind}, batch {i}")


def _xy(lib, n=10):
    g = np.random.default_rng(1)
    x, y = g.standard_normal((n, 4)), g.integers(0, 3, n)
    return _lib_tensor(lib, x), _lib_tensor(lib, y)


def test_tensor_dataset_as_torch():
    ours, theirs = mdata.TensorDataset(*_xy(minitorch)), tdata.TensorDataset(*_xy(torch))
    assert len(ours) == len(theirs) == 10
    for index in (3, -1, slice(2, 5), slice(None, None, 3)):
        _compare_batches(list(ours[index]), list(theirs[index]), f"ds[{index}]")
    assert ours.tensors[0].device == DEVICE
    for batch_size, shuffle in ((3, False), (4, False), (10, False)):
        loaders = [lib_data.DataLoader(ds, batch_size=batch_size, shuffle=shuffle)
                   for lib_data, ds in ((mdata, ours), (tdata, theirs))]
        for i, (o, t) in enumerate(zip(*loaders)):
            _compare_batches(o, t, f"batch_size={batch_size}, batch {i}")


def test_tensor_dataset_errors_as_torch():
    for lib, data in ((minitorch, mdata), (torch, tdata)):
        with pytest.raises(AssertionError, match="Size mismatch between tensors"):
            data.TensorDataset(lib.zeros(3), lib.zeros(4))
    with pytest.raises(TypeError, match="expected a Tensor, got ndarray"):
        mdata.TensorDataset(np.zeros(3))


def test_shuffled_loader_covers_each_sample_once_and_follows_manual_seed():
    loader = mdata.DataLoader(mdata.TensorDataset(*_xy(minitorch, 23)), batch_size=5,
                              shuffle=True)
    x = to_numpy(loader.dataset.tensors[0])

    def epoch():
        return np.concatenate([to_numpy(xb) for xb, _ in loader])

    minitorch.manual_seed(7)
    first, second = epoch(), epoch()
    for order in (first, second):
        assert sorted(map(tuple, order)) == sorted(map(tuple, x))
    assert not np.array_equal(first, second) and not np.array_equal(first, x)
    minitorch.manual_seed(7)
    assert np.array_equal(epoch(), first)


@pytest.mark.parametrize("options", [
    dict(num_workers=2), dict(num_workers=1, persistent_workers=True, pin_memory=True),
    dict(num_workers=2, prefetch_factor=4, timeout=5.0, worker_init_fn=lambda i: None)],
    ids=["workers", "persistent pinned", "prefetch"])
def test_worker_options_are_accepted_and_change_nothing(options):
    dataset = mdata.TensorDataset(*_xy(minitorch))
    plain = list(mdata.DataLoader(dataset, batch_size=4))
    with_options = list(mdata.DataLoader(dataset, batch_size=4, **options))
    for (a, b), (c, d) in zip(plain, with_options):
        assert np.array_equal(to_numpy(a), to_numpy(c)) and np.array_equal(to_numpy(b), to_numpy(d))
    assert tdata.DataLoader(tdata.TensorDataset(*_xy(torch)), batch_size=4, **options)


WORKER_ERRORS = [(dict(num_workers=-1), "num_workers option should be non-negative"),
                 (dict(prefetch_factor=2), "prefetch_factor option could only be specified"),
                 (dict(persistent_workers=True), "persistent_workers option needs num_workers"),
                 (dict(timeout=-1), "timeout option should be non-negative")]


@pytest.mark.parametrize("options, message", WORKER_ERRORS, ids=[m for _, m in WORKER_ERRORS])
def test_worker_option_errors_as_torch(options, message):
    with pytest.raises(ValueError):
        tdata.DataLoader(tdata.TensorDataset(*_xy(torch)), **options)
    with pytest.raises(ValueError, match=message):
        mdata.DataLoader(mdata.TensorDataset(*_xy(minitorch)), **options)


def test_collate_fn_makes_the_batch_as_given():
    seen = []

    def collate(samples):
        seen.append(len(samples))
        return "batch of " + ",".join(str(int(y.item())) for _, y in samples)

    x, y = _xy(minitorch, 5)
    loader = mdata.DataLoader(mdata.TensorDataset(x, y), batch_size=2, collate_fn=collate)
    labels = [str(v) for v in to_numpy(y).tolist()]
    assert list(loader) == ["batch of " + ",".join(labels[i:i + 2]) for i in (0, 2, 4)]
    assert seen == [2, 2, 1]
    with pytest.raises(TypeError, match="collate_fn must be callable"):
        mdata.DataLoader(loader.dataset, collate_fn="stack")


def test_collate_errors_name_what_came():
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal"):
        mdata.default_collate([(1, 2), (3,)])
    with pytest.raises(TypeError, match="found object"):
        mdata.default_collate([object(), object()])


def test_subset_and_random_split():
    x, y = _xy(minitorch, 10)
    dataset = mdata.TensorDataset(x, y)
    subset = mdata.Subset(dataset, [4, 1, 7])
    assert len(subset) == 3
    assert np.array_equal(to_numpy(subset[1][0]), to_numpy(x[1]))
    (xb, yb), = list(mdata.DataLoader(subset, batch_size=3))
    assert np.array_equal(to_numpy(yb), to_numpy(y)[[4, 1, 7]])
    for lengths in ([3, 7], [0.5, 0.5], [0.3, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25], [10]):
        ours = mdata.random_split(dataset, lengths)
        theirs = tdata.random_split(tdata.TensorDataset(*_xy(torch, 10)), lengths)
        assert [len(s) for s in ours] == [len(s) for s in theirs], lengths
        assert sorted(i for s in ours for i in s.indices) == list(range(10))
    with pytest.raises(ValueError):
        tdata.random_split(tdata.TensorDataset(*_xy(torch, 10)), [3, 3])
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        mdata.random_split(dataset, [3, 3])
    with pytest.raises(TypeError, match="no Generator objects"):
        mdata.random_split(dataset, [5, 5], generator=object())


def test_a_dataset_subclass_as_pytorch_code_writes_it():
    class Squares(mdata.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return minitorch.tensor([float(i)]), i * i

    xb, yb = next(iter(mdata.DataLoader(Squares(), batch_size=4)))
    assert tuple(xb.shape) == (4, 1) and yb.dtype == minitorch.int64
    assert to_numpy(yb).tolist() == [0, 1, 4, 9]
    with pytest.raises(NotImplementedError, match="must define __getitem__"):
        mdata.Dataset()[0]
