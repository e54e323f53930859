"""Sync and copy budgets of training on the GPU, counted (not timed) by the CuPy stand-in.

Read after ``tests/test_device.py``.  A GPU runs ahead of Python: kernels are queued and the host
goes on.  Every device→host *sync* (``.item()``, ``float()``, ``if`` on a device value) makes
the host wait until the queue drains, and every host→device *copy* is a driver call.  The
budgets, per training batch of ``Learner.fit``:

* at most ONE device→host sync: the loss, read after backward together with TerminateOnNaN's
  total of the gradients and buffers (are they finite? it must be answered before the step),
  in one transfer (``learner/nan_stop.py``, ``read_batch``); nothing else — cross-entropy's target check and
  the mean's divisor, embedding's index check stay on the device and travel back with that
  read (``speed/gpu.py``, ``check_later``);
* at most ONE host→device copy: the batch (inputs and targets packed together,
  ``speed/gpu.py``, ``to_device_together``) when it is made on the host; the batch's indices when the
  dataset lives on the device (MNIST's uint8 images and labels go up once, together, at the
  first batch, with the normalisation statistics: ``COPIES_ONCE``, and every batch is
  gathered, augmented and normalised there); none for the language-model token stream (it
  goes up once per epoch);
* per validation: the losses and metrics are summed on the device and read ONCE at its end
  (one sync), each validation batch costing at most one copy.

Checked on the lesson's model C (ResNet-ish MNIST), the 2-layer GRU of the human-numbers lesson
(Model5) and a U-Net-sized encoder–decoder conv stack.  The same budgets are stated in
``benchmarks/README.md``.  They run on the stand-in only (its counters), i.e. in the second
run of ``.ci/run``.
"""
import numpy as np
import pytest

import minitorch
from minitorch import nn
from minitorch.data import CategoryList, DataBunch, LabelList, rand_pad
from minitorch.data.on_device import device_batch, makes_batches_on_device
from minitorch.data.transforms import pad_crop
from minitorch.learner import Learner, accuracy
from minitorch.nn import functional as F
from minitorch.text import BatchNorm1dFlat, CrossEntropyFlat, TextLMDataBunch
from minitorch.vision import Flatten, ImageList, conv_layer, res_block

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not minitorch.cuda_is_available(), reason="needs a GPU (CuPy)")]

SYNCS_PER_TRAIN_BATCH = 1  # the loss and TerminateOnNaN's finite-gradients total, together
COPIES_PER_BATCH = 1
SYNCS_PER_VALIDATION = 1
COPIES_ONCE = 3  # a dataset on the device: training and validation arrays, normalisation stats


@pytest.fixture
def counting():
    cupy = pytest.importorskip("cupy")
    if not hasattr(cupy, "_stand_in"):
        pytest.skip("the counts come from the CuPy stand-in")
    return cupy._stand_in.counting


def _images(n, size, classes, rng):
    pixels = rng.integers(0, 256, (n, 1, size, size)).astype(np.uint8)
    return LabelList(ImageList.from_arrays(pixels),
                     CategoryList(rng.integers(0, classes, n), [str(c) for c in range(classes)]))


def _check_budget(counts, n_train, n_valid, copies_per_batch=COPIES_PER_BATCH):
    print(f"{n_train} training, {n_valid} validation batches: {counts}")  # shown with -s
    assert counts.syncs_total() <= n_train * SYNCS_PER_TRAIN_BATCH + SYNCS_PER_VALIDATION, counts
    assert counts.copies_total() <= (n_train + n_valid) * copies_per_batch + COPIES_ONCE, counts


def _model_c():
    def conv_and_res(ni, nf):
        return nn.Sequential(conv_layer(ni, nf, stride=2), res_block(nf))
    return nn.Sequential(conv_and_res(1, 8), conv_and_res(8, 16), conv_and_res(16, 32),
                         conv_and_res(32, 16), conv_layer(16, 10, stride=2), Flatten())


def test_model_c_one_epoch_keeps_the_sync_and_copy_budget(counting):
    rng = np.random.default_rng(0)
    data = DataBunch.create(_images(48, 28, 10, rng), _images(32, 28, 10, rng), bs=16,
                            device="cuda").normalize()
    learn = Learner(data, _model_c(), loss_func=F.cross_entropy, metrics=accuracy, silent=True)
    with counting() as counts:
        learn.fit_one_cycle(1, 1e-2)
    _check_budget(counts, len(data.train_dl), len(data.valid_dl))
    assert counts.syncs_total() == len(data.train_dl) + 1, counts  # exactly the budget


class _Model5(nn.Module):
    """The lesson's 2-layer GRU (lessons/lesson7_human_numbers.py, Model5)."""

    def __init__(self, nv, nh, bs):
        super().__init__()
        self.i_h = nn.Embedding(nv, nh)
        self.rnn = nn.GRU(nh, nh, 2, batch_first=True)
        self.h_o = nn.Linear(nh, nv)
        self.bn = BatchNorm1dFlat(nh)
        self.h = minitorch.zeros(2, bs, nh, device="cuda")

    def forward(self, x):
        res, h = self.rnn(self.i_h(x), self.h)
        self.h = h.detach()
        return self.h_o(self.bn(res))


def test_gru_one_epoch_keeps_the_sync_budget_and_no_copy_per_batch(counting):
    words = "xxbos one two three four five six seven eight nine ten eleven twelve".split()
    rng = np.random.default_rng(0)
    docs = [[words[0]] + list(rng.choice(words[1:], 40)) for _ in range(12)]
    bs, bptt = 4, 8
    data = TextLMDataBunch.from_tokens(docs[:9], docs[9:], bs=bs, bptt=bptt, device="cuda",
                                       min_freq=1)
    learn = Learner(data, _Model5(len(data.vocab), 16, bs), loss_func=CrossEntropyFlat(),
                    metrics=accuracy, silent=True)
    with counting() as counts:
        learn.fit_one_cycle(1, 1e-2)
    n_train, n_valid = len(data.train_dl), len(data.valid_dl)
    _check_budget(counts, n_train, n_valid)
    # The token stream goes up once per epoch per loader, never per batch.
    assert counts.copies_total() <= 2, counts


class _UNetish(nn.Module):
    """An encoder–decoder of U-Net's shape: two downsamplings, a bottleneck, two upsamplings
    with skip connections (concatenated), batchnorm and ReLU throughout."""

    def __init__(self, c=16):
        super().__init__()
        def block(ni, nf):
            return nn.Sequential(nn.Conv2d(ni, nf, 3, padding=1), nn.BatchNorm2d(nf), nn.ReLU(),
                                 nn.Conv2d(nf, nf, 3, padding=1), nn.BatchNorm2d(nf), nn.ReLU())
        self.down1, self.down2, self.mid = block(1, c), block(c, 2 * c), block(2 * c, 4 * c)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
        self.dec2 = block(4 * c, 2 * c)
        self.up1 = nn.ConvTranspose2d(2 * c, c, 2, stride=2)
        self.dec1 = block(2 * c, c)
        self.head = nn.Conv2d(c, 3, 1)

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(self.pool(d1))
        m = self.mid(self.pool(d2))
        u2 = self.dec2(minitorch.cat([self.up2(m), d2], 1))
        u1 = self.dec1(minitorch.cat([self.up1(u2), d1], 1))
        return self.head(u1).mean((2, 3))


def test_unet_sized_conv_stack_keeps_the_sync_and_copy_budget(counting):
    rng = np.random.default_rng(0)
    data = DataBunch.create(_images(8, 32, 3, rng), _images(4, 32, 3, rng), bs=4,
                            device="cuda").normalize()
    learn = Learner(data, _UNetish(), loss_func=F.cross_entropy, metrics=accuracy, silent=True)
    with counting() as counts:
        learn.fit(1, 1e-3)
    _check_budget(counts, len(data.train_dl), len(data.valid_dl))


def test_mnist_databunch_on_the_device_copies_only_the_indices_per_batch(counting):
    """The lesson's data steps (``mnist_databunch``: rand_pad(3, 28, 'zeros'), then normalize)
    on the device: after the first batch has put the dataset there, a training batch makes ONE
    host→device copy (its indices): no pixels go up, no sync is made."""
    rng = np.random.default_rng(0)
    train, valid = _images(48, 28, 10, rng), _images(32, 28, 10, rng)
    train.tfms = [*rand_pad(padding=3, size=28, mode="zeros")]
    data = DataBunch.create(train, valid, bs=16, device="cuda").normalize()
    with counting() as counts:
        first = list(data.train_dl) + list(data.valid_dl)  # the arrays go up here, once
    n_batches = len(data.train_dl) + len(data.valid_dl)
    print(f"first epoch, {n_batches} batches: {counts}")
    # exactly: the batches made on the host would upload no datasets (and fewer copies)
    assert counts.copies_total() == n_batches * COPIES_PER_BATCH + COPIES_ONCE, counts
    assert counts.syncs_total() == 0, counts
    with counting() as counts:
        batches = list(data.train_dl)
    print(f"second epoch, {len(batches)} training batches: {counts}")
    assert counts.copies_total() <= len(batches) * COPIES_PER_BATCH, counts
    assert counts.syncs_total() == 0, counts
    assert all(x.device == "cuda" and y.device == "cuda" for x, y in first + batches)


def test_batches_made_on_the_device_are_the_host_batches():
    """The device path gives what the host path gives: a validation batch (no augmentation) is
    the same numbers; a training batch's image is one of the 7×7 windows of its padded image."""
    rng = np.random.default_rng(1)
    train, valid = _images(8, 28, 10, rng), _images(8, 28, 10, rng)
    train.tfms = [*rand_pad(padding=3, size=28, mode="zeros")]
    data = DataBunch.create(train, valid, bs=4, device="cuda").normalize(([0.5], [0.25]))
    indices = np.array([5, 0, 7, 2])
    for dl, augmented in ((data.valid_dl, False), (data.train_dl, True)):
        assert makes_batches_on_device(dl)
        x, y = (minitorch.backend.to_numpy(a) for a in device_batch(dl, indices))
        hx, hy = dl.dataset.get_batch(indices)  # the host path, before normalisation
        assert y.tolist() == hy.tolist()
        x = x * 0.25 + 0.5
        if not augmented:
            np.testing.assert_allclose(x, hx, atol=1e-6)
            continue
        for n in range(len(indices)):
            windows = [pad_crop(hx[n:n + 1], 3, 28, np.array([r]), np.array([c]))[0]
                       for r in range(7) for c in range(7)]
            assert min(np.abs(w - x[n]).max() for w in windows) < 1e-6, n
