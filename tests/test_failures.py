"""What minitorch promises when something fails (README, "When something fails"): each bad input
or fault below raises the named error class with a message that says what was expected, and
leaves memory and disk as they were.

Sections: (1) ``Learner.load`` is all or nothing; (2) a training batch whose loss, gradients or
batchnorm statistics are not finite stops the fit before the step, and the weights, optimizer
state and buffers are those from before it; (3) files get the umask's mode and a symlink's
target is replaced; (4) layers and functional ops follow PyTorch's dtype rules (each row runs
the same call in torch and expects the same outcome); (5) an empty training loader is refused;
(6) clear messages for bad checkpoints, zero-sized layers, metrics returning floats, gradients
of the wrong shape, missing folders; (7) a download says which mirror it tries and how long it
waits; (8) one table of bad input to the image, U-Net, GAN, file and training surfaces, each
refused when given, by name, with memory and every file as they were (and the archive size
limit's default); (9) 16-bit and float images scaled to 8 bits, integer images measured by
their data range; (10) a killed writer's temporary file removed by the next write, a live
writer's kept; (11) GAN checkpoints with both optimizers, loaded in a new session from either
turn; (12) what a callback raises at the start of a fit reaches the caller, and a fit without
a validation set trains every epoch.
"""
import copy
import hashlib
import io
import json
import math
import os
import pickle
import signal
import socket
import stat
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import minitorch
from minitorch import nn
from minitorch.data import ArrayDataset, DataBunch, DataLoader
from minitorch.data import download as dl
from minitorch.data.image_folder import open_image
from minitorch.files import atomic_write
from minitorch.learner import (
    Callback, Learner, LossMetrics, LRFinder, OneCycleScheduler, accuracy)
from minitorch.learner.nan_stop import non_finite
from minitorch.nn import functional as F
from minitorch.optim import SGD, Adam, RMSprop
from minitorch.vision import (
    AdaptiveGANSwitcher, DynamicUnet, FixedGANSwitcher, GANDiscriminativeLR, GANLearner,
    ImageImageList, ImageList, get_transforms, small_encoder, unet_learner)
from minitorch.vision.crappify import crappify, paired_random_crop
from minitorch.vision.feature_loss import FeatureLoss, gram_matrix
from minitorch.vision.models import VGGInput, basic_critic, basic_generator
from minitorch.vision.models import pretrained
from minitorch.vision.models.vgg import vgg16_features
from minitorch.vision.quality import psnr, ssim
from minitorch.vision.save_preds import save_preds

from test_gan import tiny_data
from test_learner import quadrant_data, tiny_model, weights
from torch_compare import to_numpy


def make_learner(tmp_path=None, model=None, data=None, **kwargs):
    kwargs.setdefault("silent", True)
    return Learner(data or quadrant_data(), model or tiny_model(), loss_func=F.cross_entropy,
                   metrics=accuracy, path=tmp_path, **kwargs)


def opt_snapshot(learn):
    """Everything the optimizer holds, as plain copies (None when there is no optimizer)."""
    if learn.opt is None:
        return None
    opt = learn.opt.opt
    groups = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
    state = [{k: (v.array.copy() if hasattr(v, "array") else v) for k, v in s.items()}
             for s in opt.state.values()]
    return copy.deepcopy(groups), state, [[id(p) for p in g["params"]] for g in opt.param_groups]


def assert_same(a, b, what):
    """Equal nested structures of arrays and plain values (NaN never appears here)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), what
        for k in a:
            assert_same(a[k], b[k], f"{what}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{what}[{i}]")
    elif minitorch.backend.is_array(a) or minitorch.backend.is_array(b):  # NumPy or CuPy
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=what)
    else:
        assert a == b, what


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---- 1. Learner.load: all or nothing -------------------------------------------------------------
def _other_layer_groups(learn):
    learn.split(lambda m: [m[3]])  # two layer groups: four param groups instead of two
    learn.fit(1, 1e-2)


LOAD_ROWS = [
    # (name, how the receiving learner differs, error class, words of the message)
    ("adam checkpoint into an SGD learner",
     lambda tmp: make_learner(tmp, opt_func=partial(SGD, momentum=0.9)), ValueError,
     "lacks SGD's hyper-parameter"),
    ("other layer groups", lambda tmp: make_learner(tmp), ValueError, "param group"),
    ("another model shape", lambda tmp: make_learner(tmp, model=nn.Sequential(
        nn.Flatten(), nn.Linear(16, 5), nn.ReLU(), nn.BatchNorm1d(5), nn.Linear(5, 4))),
     RuntimeError, "shape mismatches"),
]


@pytest.mark.parametrize("name,receiver,error,words", LOAD_ROWS, ids=[r[0] for r in LOAD_ROWS])
@pytest.mark.parametrize("had_opt", [True, False], ids=["with optimizer", "before any fit"])
def test_learner_load_changes_nothing_when_it_fails(tmp_path, name, receiver, error, words,
                                                    had_opt):
    source = make_learner(tmp_path)
    source.fit(1, 1e-2)
    file = source.save("stage-1")
    minitorch.manual_seed(1)
    learn = receiver(tmp_path)
    if name == "other layer groups":
        _other_layer_groups(learn)
    elif had_opt:
        learn.fit(1, 1e-2)
    if not had_opt:
        learn.opt = None
    before_weights, before_opt, before_file = weights(learn.model), opt_snapshot(learn), \
        digest(file)
    with pytest.raises(error, match=words):
        learn.load("stage-1")
    assert_same(weights(learn.model), before_weights, "model")
    assert_same(opt_snapshot(learn), before_opt, "optimizer")
    assert digest(file) == before_file


def test_learner_load_of_a_file_without_a_model_entry(tmp_path):
    learn = make_learner(tmp_path)
    (tmp_path / "models").mkdir()
    minitorch.save({"weights": {}}, tmp_path / "models" / "odd.npz")
    before = weights(learn.model)
    with pytest.raises(ValueError, match="no 'model' entry"):
        learn.load("odd")
    assert_same(weights(learn.model), before, "model")


# ---- 2. honest NaN stops ---------------------------------------------------------------------------
class Poison(nn.Module):
    """Identity, except on training call number ``at``: ``mode`` 'huge' adds 1e38 to one value
    (the batch variance overflows, so batchnorm's running_var becomes inf while the output,
    divided by √inf, stays finite)."""

    def __init__(self, at):
        super().__init__()
        self.at, self.calls = at, 0

    def forward(self, x):
        if not self.training:
            return x
        self.calls += 1
        if self.calls != self.at:
            return x
        bump = np.zeros(x.shape, dtype=x.dtype)
        bump[0, 0] = 1e38
        return x + minitorch.tensor(bump)


def _sqrt_at_zero_loss(at):
    """Cross-entropy plus Σ sqrt(relu(pred − 1e9)) on call ``at``: that term is 0 (the loss is
    finite) but its gradient is 0 · ∞ = NaN in every weight behind ``pred``."""
    calls = []

    def loss_func(pred, target):
        loss = F.cross_entropy(pred, target)
        if pred.requires_grad:
            calls.append(1)
            if len(calls) == at:
                loss = loss + F.relu(pred - 1e9).sqrt().sum()
        return loss
    return loss_func


class StateBeforeEachBatch(Callback):
    order = -100  # before TerminateOnNaN's copy, before anything of the batch runs

    def __init__(self):
        self.seen = []

    def begin_batch(self):
        if self.learn.training:
            self.seen.append((weights(self.learn.model), opt_snapshot(self.learn)))


NAN_ROWS = [
    # (name, model, loss function (both made fresh for each test), words of the message)
    ("a finite loss with NaN gradients", lambda: tiny_model(), lambda: _sqrt_at_zero_loss(4),
     "the gradient of"),
    ("batchnorm's running_var poisoned in forward",
     lambda: nn.Sequential(nn.Flatten(), nn.Linear(16, 8), Poison(at=4), nn.BatchNorm1d(8),
                           nn.Linear(8, 4)), lambda: F.cross_entropy, "running_var"),
    ("a NaN loss", lambda: tiny_model(),
     lambda: lambda pred, target: F.cross_entropy(pred, target) * float("nan"),
     "the training loss is nan"),
]


@pytest.mark.parametrize("name,model,loss_func,words", NAN_ROWS, ids=[r[0] for r in NAN_ROWS])
@pytest.mark.parametrize("opt_func", [partial(Adam, betas=(0.9, 0.99)),
                                      partial(SGD, momentum=0.9)], ids=["Adam", "SGD"])
def test_a_failing_batch_stops_before_the_step_and_changes_nothing(capsys, name, model,
                                                                    loss_func, words, opt_func):
    learn = Learner(quadrant_data(), model(), loss_func=loss_func(), opt_func=opt_func,
                    silent=True)
    before = StateBeforeEachBatch()
    learn.fit(2, 1e-2, callbacks=[before])
    out = capsys.readouterr().out
    assert learn.stopped_on_nan
    assert words in out and "before the optimizer's step" in out
    last_weights, last_opt = before.seen[-1]  # the state when the failing batch began
    assert_same(weights(learn.model), last_weights, "model and buffers")
    after_opt = opt_snapshot(learn)
    if last_opt is not None:
        assert_same(after_opt, last_opt, "optimizer")
    else:  # the optimizer was made at begin_fit: still no state for any parameter
        assert after_opt[1] == []
    assert all(np.isfinite(v).all() for v in weights(learn.model).values())


@pytest.mark.parametrize("arrays,bad", [
    ([("a", np.ones(3, np.float32))], []),
    ([("a", np.ones(3)), ("b", np.array([1.0, np.nan]))], ["b"]),
    ([("a", np.array([np.inf, 1.0], np.float32)), ("b", np.array([-np.inf]))], ["a", "b"]),
    ([("a", np.array([np.inf, -np.inf]))], ["a"]),  # the sum is NaN, as it must be
    # finite values whose float32 sum overflows: confirmed finite, not a false alarm
    ([("a", np.full(4, 3e38, np.float32)), ("b", np.full(2, 3e38, np.float32))], []),
    ([("ints", np.array([1, 2])), ("a", np.zeros(0))], []),
])
def test_non_finite_names_exactly_the_bad_arrays(arrays, bad):
    with np.errstate(over="ignore", invalid="ignore"):
        assert non_finite(arrays) == bad


# ---- 3. file modes and symlinks ------------------------------------------------------------------
@pytest.fixture
def umask():
    """Set the process's umask for a test and put the old one back after."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def mode_of(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


@pytest.mark.parametrize("mask,expected", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664),
                                           (0o000, 0o666)])
@pytest.mark.parametrize("writer", ["atomic_write", "minitorch.save"])
def test_new_files_get_the_umask_mode(tmp_path, umask, mask, expected, writer):
    umask(mask)
    path = tmp_path / "f.npz"
    if writer == "atomic_write":
        with atomic_write(path) as file:
            file.write(b"x")
    else:
        minitorch.save({"w": minitorch.ones(2)}, path)
    assert mode_of(path) == expected
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.npz"]


@pytest.mark.parametrize("existing_mode", [0o640, 0o604, 0o755])
def test_an_existing_file_keeps_its_mode(tmp_path, umask, existing_mode):
    umask(0o077)
    path = tmp_path / "f.bin"
    path.write_bytes(b"old")
    path.chmod(existing_mode)
    with atomic_write(path) as file:
        file.write(b"new")
    assert path.read_bytes() == b"new" and mode_of(path) == existing_mode


@pytest.mark.parametrize("target_exists", [True, False])
def test_writing_through_a_symlink_replaces_its_target(tmp_path, umask, target_exists):
    umask(0o022)
    shared = tmp_path / "shared"
    shared.mkdir()
    (tmp_path / "mine").mkdir()
    target, link = shared / "model.npz", tmp_path / "mine" / "model.npz"
    if target_exists:
        target.write_bytes(b"old")
        target.chmod(0o664)
    link.symlink_to(target)
    with atomic_write(link) as file:
        file.write(b"new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new" and not target.is_symlink()
    assert mode_of(target) == (0o664 if target_exists else 0o644)
    assert sorted(p.name for p in shared.iterdir()) == ["model.npz"]  # no temporary left
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["model.npz"]


def test_a_failed_write_through_a_symlink_changes_nothing(tmp_path):
    target, link = tmp_path / "target", tmp_path / "link"
    target.write_bytes(b"old")
    link.symlink_to(target)
    with pytest.raises(KeyError):
        with atomic_write(link) as file:
            file.write(b"half")
            raise KeyError("interrupted")
    assert link.is_symlink() and target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "target"]


# ---- 4. PyTorch's dtype rules ----------------------------------------------------------------------
def _libs(lib):
    """The same small vocabulary in torch and in minitorch, so one row serves both."""
    if lib == "torch":
        return SimpleNamespace(nn=torch.nn, F=torch.nn.functional, lib=torch,
                               t=lambda a: torch.from_numpy(np.array(a)))
    return SimpleNamespace(nn=nn, F=F, lib=minitorch, t=lambda a: minitorch.tensor(np.array(a)))


R = np.random.default_rng(0)
F32 = R.standard_normal((4, 3)).astype(np.float32)
F64 = F32.astype(np.float64)
I64 = R.integers(0, 3, (4, 3)).astype(np.int64)
IMG32 = R.standard_normal((2, 3, 5, 5)).astype(np.float32)
SEQ32 = R.standard_normal((5, 2, 3)).astype(np.float32)
TARGET = np.array([0, 2, 1, 1])

DTYPE_ROWS = [
    # Linear: no promotion between input and weights
    ("Linear int64 input", lambda m: m.nn.Linear(3, 2)(m.t(I64))),
    ("Linear float64 input", lambda m: m.nn.Linear(3, 2)(m.t(F64))),
    ("Linear float32 input", lambda m: m.nn.Linear(3, 2)(m.t(F32))),
    ("F.linear float64 bias", lambda m: m.F.linear(m.t(F32), m.t(F32[:2]), m.t(F64[0, :2]))),
    # Conv2d / ConvTranspose2d
    ("Conv2d float64 input", lambda m: m.nn.Conv2d(3, 2, 3)(m.t(IMG32.astype(np.float64)))),
    ("Conv2d int64 input", lambda m: m.nn.Conv2d(3, 2, 3)(m.t(IMG32.astype(np.int64)))),
    ("F.conv2d float64 bias", lambda m: m.F.conv2d(m.t(IMG32), m.t(IMG32[:2, :, :3, :3]),
                                                   m.t(F64[0, :2]))),
    ("ConvTranspose2d float64 input",
     lambda m: m.nn.ConvTranspose2d(3, 2, 3)(m.t(IMG32.astype(np.float64)))),
    ("ConvTranspose2d int64 input",
     lambda m: m.nn.ConvTranspose2d(3, 2, 3)(m.t(IMG32.astype(np.int64)))),
    # BatchNorm1d / BatchNorm2d: float32 stats and weights with another input dtype
    ("BatchNorm1d float64 input", lambda m: m.nn.BatchNorm1d(3)(m.t(F64))),
    ("BatchNorm1d float64 input, eval", lambda m: m.nn.BatchNorm1d(3).eval()(m.t(F64))),
    ("BatchNorm1d int64 input", lambda m: m.nn.BatchNorm1d(3)(m.t(I64))),
    ("BatchNorm2d float64 input", lambda m: m.nn.BatchNorm2d(3)(m.t(IMG32.astype(np.float64)))),
    ("BatchNorm2d float64, no affine",
     lambda m: m.nn.BatchNorm2d(3, affine=False)(m.t(IMG32.astype(np.float64)))),
    ("BatchNorm2d float64, nothing float32",
     lambda m: m.nn.BatchNorm2d(3, affine=False, track_running_stats=False)(
         m.t(IMG32.astype(np.float64)))),
    ("F.batch_norm int64, no stats", lambda m: m.F.batch_norm(m.t(I64), None, None,
                                                              training=True)),
    # LayerNorm (the functional form; the layer calls it)
    ("F.layer_norm float64 input, float32 weight",
     lambda m: m.F.layer_norm(m.t(F64), (3,), m.t(np.ones(3, np.float32)))),
    ("F.layer_norm int64 input, float32 weight",
     lambda m: m.F.layer_norm(m.t(I64), (3,), m.t(np.ones(3, np.float32)))),
    ("F.layer_norm int64 input, no weight", lambda m: m.F.layer_norm(m.t(I64), (3,))),
    ("F.layer_norm float64, no weight", lambda m: m.F.layer_norm(m.t(F64), (3,))),
    # Embedding: index dtypes
    ("Embedding int64 indices", lambda m: m.nn.Embedding(5, 2)(m.t(TARGET))),
    ("Embedding int32 indices", lambda m: m.nn.Embedding(5, 2)(m.t(TARGET.astype(np.int32)))),
    ("Embedding uint8 indices", lambda m: m.nn.Embedding(5, 2)(m.t(TARGET.astype(np.uint8)))),
    ("Embedding bool indices", lambda m: m.nn.Embedding(5, 2)(m.t(TARGET.astype(bool)))),
    ("Embedding float indices", lambda m: m.nn.Embedding(5, 2)(m.t(TARGET.astype(np.float32)))),
    # RNN / LSTM / GRU and their cells
    ("RNN float64 input", lambda m: m.nn.RNN(3, 4)(m.t(SEQ32.astype(np.float64)))[0]),
    ("RNN int64 input", lambda m: m.nn.RNN(3, 4)(m.t(SEQ32.astype(np.int64)))[0]),
    ("RNN float64 h0", lambda m: m.nn.RNN(3, 4)(m.t(SEQ32), m.t(np.zeros((1, 2, 4))))[0]),
    ("LSTM float64 input", lambda m: m.nn.LSTM(3, 4)(m.t(SEQ32.astype(np.float64)))[0]),
    ("LSTM int64 input", lambda m: m.nn.LSTM(3, 4)(m.t(SEQ32.astype(np.int64)))[0]),
    ("LSTM float64 state", lambda m: m.nn.LSTM(3, 4)(
        m.t(SEQ32), (m.t(np.zeros((1, 2, 4))), m.t(np.zeros((1, 2, 4)))))[0]),
    ("GRU float64 input", lambda m: m.nn.GRU(3, 4)(m.t(SEQ32.astype(np.float64)))[0]),
    ("GRU int64 input", lambda m: m.nn.GRU(3, 4)(m.t(SEQ32.astype(np.int64)))[0]),
    ("GRU float64 h0", lambda m: m.nn.GRU(3, 4)(m.t(SEQ32), m.t(np.zeros((1, 2, 4))))[0]),
    ("GRU float32", lambda m: m.nn.GRU(3, 4)(m.t(SEQ32))[0]),
    ("RNNCell float64 input", lambda m: m.nn.RNNCell(3, 4)(m.t(F64))),
    ("LSTMCell int64 input", lambda m: m.nn.LSTMCell(3, 4)(m.t(I64))[0]),
    ("GRUCell float64 input", lambda m: m.nn.GRUCell(3, 4)(m.t(F64))),
    # softmax / log_softmax
    ("F.softmax int64", lambda m: m.F.softmax(m.t(I64), -1)),
    ("F.log_softmax int64", lambda m: m.F.log_softmax(m.t(I64), -1)),
    ("F.softmax int64 with dtype", lambda m: m.F.softmax(m.t(I64), -1, dtype=m.lib.float32)),
    ("F.softmax float64", lambda m: m.F.softmax(m.t(F64), 0)),
    # cross-entropy and nll targets
    ("F.cross_entropy int64 target", lambda m: m.F.cross_entropy(m.t(F32), m.t(TARGET))),
    ("F.cross_entropy int32 target",
     lambda m: m.F.cross_entropy(m.t(F32), m.t(TARGET.astype(np.int32)))),
    ("F.cross_entropy uint8 target",
     lambda m: m.F.cross_entropy(m.t(F32), m.t(TARGET.astype(np.uint8)))),
    ("F.cross_entropy float class-index target",
     lambda m: m.F.cross_entropy(m.t(F32), m.t(TARGET.astype(np.float32)))),
    ("F.cross_entropy float probabilities", lambda m: m.F.cross_entropy(
        m.t(F32), m.t(np.full((4, 3), 1 / 3, np.float32)))),
    ("F.cross_entropy float64 probabilities", lambda m: m.F.cross_entropy(
        m.t(F32), m.t(np.full((4, 3), 1 / 3)))),
    ("F.cross_entropy int64 input", lambda m: m.F.cross_entropy(m.t(I64), m.t(TARGET))),
    ("F.nll_loss int32 target", lambda m: m.F.nll_loss(m.t(F32), m.t(TARGET.astype(np.int32)))),
    ("F.nll_loss float target", lambda m: m.F.nll_loss(m.t(F32), m.t(TARGET.astype(np.float32)))),
    # regression losses: mixed dtypes promote as arithmetic does; two integer tensors do not run
    ("F.mse_loss float32, float64", lambda m: m.F.mse_loss(m.t(F32), m.t(F64))),
    ("F.mse_loss float64, float32", lambda m: m.F.mse_loss(m.t(F64), m.t(F32))),
    ("F.mse_loss float32, int64", lambda m: m.F.mse_loss(m.t(F32), m.t(I64))),
    ("F.mse_loss int64, float32", lambda m: m.F.mse_loss(m.t(I64), m.t(F32))),
    ("F.mse_loss int64, int64", lambda m: m.F.mse_loss(m.t(I64), m.t(I64))),
    ("F.l1_loss float32, float64", lambda m: m.F.l1_loss(m.t(F32), m.t(F64))),
    ("F.l1_loss float32, int64", lambda m: m.F.l1_loss(m.t(F32), m.t(I64))),
    ("F.l1_loss int64, int64", lambda m: m.F.l1_loss(m.t(I64), m.t(I64))),
    ("F.smooth_l1_loss float32, float64", lambda m: m.F.smooth_l1_loss(m.t(F32), m.t(F64))),
    ("F.smooth_l1_loss int64, int64", lambda m: m.F.smooth_l1_loss(m.t(I64), m.t(I64))),
    # binary cross-entropy
    ("F.binary_cross_entropy float32, float64", lambda m: m.F.binary_cross_entropy(
        m.t(np.full(3, 0.5, np.float32)), m.t(np.ones(3)))),
    ("F.binary_cross_entropy float32, int64", lambda m: m.F.binary_cross_entropy(
        m.t(np.full(3, 0.5, np.float32)), m.t(np.ones(3, np.int64)))),
    ("F.binary_cross_entropy_with_logits int64 target",
     lambda m: m.F.binary_cross_entropy_with_logits(m.t(F32), m.t(I64))),
    ("F.binary_cross_entropy_with_logits float32, float64",
     lambda m: m.F.binary_cross_entropy_with_logits(m.t(F32), m.t(F64))),
    # matmul does not promote
    ("matmul int64 @ float32", lambda m: m.lib.matmul(m.t(I64), m.t(F32.T))),
    ("matmul float32 @ float64", lambda m: m.lib.matmul(m.t(F32), m.t(F64.T))),
    ("matmul int64 @ int64", lambda m: m.lib.matmul(m.t(I64), m.t(I64.T))),
    ("@ float64 @ float32", lambda m: m.t(F64) @ m.t(F32.T)),
    # others
    ("F.adaptive_avg_pool2d int64",
     lambda m: m.F.adaptive_avg_pool2d(m.t(IMG32.astype(np.int64)), 2)),
    ("F.adaptive_max_pool2d int64",
     lambda m: m.F.adaptive_max_pool2d(m.t(IMG32.astype(np.int64)), 2)),
    ("F.max_pool2d int64", lambda m: m.F.max_pool2d(m.t(IMG32.astype(np.int64)), 2)),
    ("F.avg_pool2d int64", lambda m: m.F.avg_pool2d(m.t(IMG32.astype(np.int64)), 2)),
    ("F.avg_pool2d int32, padded", lambda m: m.F.avg_pool2d(m.t(IMG32.astype(np.int32)), 3, 2, 1)),
    ("F.interpolate int64", lambda m: m.F.interpolate(m.t(IMG32.astype(np.int64)),
                                                      scale_factor=2)),
    ("F.unfold int64", lambda m: m.F.unfold(m.t(IMG32.astype(np.int64)), 2)),
    ("F.leaky_relu int64", lambda m: m.F.leaky_relu(m.t(I64))),
    ("F.relu int64", lambda m: m.F.relu(m.t(I64))),
    ("F.sigmoid int64", lambda m: m.lib.sigmoid(m.t(I64))),
    ("F.dropout int64", lambda m: m.F.dropout(m.t(I64), 0.5)),
    ("F.dropout2d int64", lambda m: m.F.dropout2d(m.t(IMG32.astype(np.int64)), 0.5)),
    ("F.one_hot float", lambda m: m.F.one_hot(m.t(TARGET.astype(np.float32)), 4)),
    ("F.one_hot int32", lambda m: m.F.one_hot(m.t(TARGET.astype(np.int32)), 4)),
    ("F.one_hot int64", lambda m: m.F.one_hot(m.t(TARGET), 4)),
]


def _outcome(lib, row):
    """('ok', result dtype) or ('raises', error class) for one row run in ``lib``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = row(_libs(lib))
        except Exception as error:  # the class is what is compared
            # A torch "not implemented for 'Long'" is a NotImplementedError; keep the closest
            # built-in class, since torch defines none of its own for these.
            for cls in (NotImplementedError, IndexError, TypeError, ValueError, RuntimeError):
                if isinstance(error, cls):
                    return "raises", cls.__name__, str(error)
            return "raises", type(error).__name__, str(error)
    return "ok", str(result.dtype).replace("torch.", ""), ""


@pytest.mark.parametrize("name,row", DTYPE_ROWS, ids=[r[0] for r in DTYPE_ROWS])
def test_dtype_rules_follow_pytorch(name, row):
    expected, got = _outcome("torch", row), _outcome("minitorch", row)
    assert got[:2] == expected[:2], (f"{name}: torch gives {expected[:2]} ({expected[2][:120]}), "
                                     f"minitorch {got[:2]} ({got[2][:200]})")
    if got[0] == "raises":  # minitorch's message names the op and the dtypes
        assert any(word in got[2] for word in ("dtype", "int64", "float", "Long")), got[2]


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_of_integers_divides_as_pytorch(count_include_pad):
    """An integer image pooled stays integer: the sum divided in integer arithmetic, truncated
    toward zero (negative sums included), as PyTorch's CPU kernel does."""
    x = np.random.default_rng(0).integers(-50, 50, (2, 3, 7, 6))
    got = minitorch.nn.functional.avg_pool2d(minitorch.tensor(x), 3, 2, 1,
                                             count_include_pad=count_include_pad)
    want = torch.nn.functional.avg_pool2d(torch.tensor(x), 3, 2, 1,
                                          count_include_pad=count_include_pad)
    assert str(got.dtype).endswith("int64")
    np.testing.assert_array_equal(to_numpy(got), want.numpy())


# ---- 5. an empty training loader ------------------------------------------------------------------
@pytest.mark.parametrize("call", ["fit", "fit_one_cycle", "lr_find"])
def test_an_empty_training_loader_is_refused(call):
    learn = make_learner(data=quadrant_data(n_train=48, bs=8))
    learn.data.batch_size = 64
    assert len(learn.data.train_dl) == 0  # 48 items, batches of 64, the last partial one dropped
    before = weights(learn.model)
    with pytest.raises(ValueError, match=r"no batches \(48 items, batch_size=64"):
        getattr(learn, call)(1) if call != "lr_find" else learn.lr_find()
    assert_same(weights(learn.model), before, "model")
    assert learn.opt is None


# ---- 6. clear messages ---------------------------------------------------------------------------
def _structure_file(path, structure):
    text = json.dumps(structure).encode("utf-8")
    np.savez(path, __structure__=np.frombuffer(text, dtype=np.uint8))


def _deep_file(path):
    deep = '{"list": [' * 3000 + '{"value": 1}' + "]}" * 3000
    text = '{"format": 1, "root": ' + deep + "}"
    np.savez(path, __structure__=np.frombuffer(text.encode("utf-8"), dtype=np.uint8))


BAD_FILES = [
    ("random bytes", lambda p: p.write_bytes(os.urandom(200)),
     "not a readable minitorch checkpoint: an .npz file is a zip"),
    ("a .npy file", lambda p: np.save(p, np.zeros(3)) or os.replace(str(p) + ".npy", p),
     "not a readable minitorch checkpoint: it is a single .npy array"),
    ("a deeply nested structure", _deep_file, "nested too deeply"),
    ("an unknown format version",
     lambda p: _structure_file(p, {"format": 99, "root": {"value": 1}}),
     "format version 99, this minitorch reads"),
    ("no format version", lambda p: _structure_file(p, {"root": {"value": 1}}),
     "format version None"),
    ("a truncated archive", lambda p: (minitorch.save({"w": minitorch.ones(100)}, p),
                                       p.write_bytes(p.read_bytes()[:300])), "truncated"),
]


@pytest.mark.parametrize("name,make,words", BAD_FILES, ids=[r[0] for r in BAD_FILES])
def test_loading_a_bad_file_names_it_and_says_what_it_is(tmp_path, name, make, words):
    path = tmp_path / "checkpoint.npz"
    make(path)
    before = digest(path)
    with pytest.raises(RuntimeError, match=words) as info:
        minitorch.load(path)
    message = str(info.value)
    assert str(path) in message and "allow_pickle" not in message
    assert digest(path) == before


def test_saving_into_a_missing_folder_raises_as_torch_does(tmp_path):
    missing = tmp_path / "no" / "such" / "folder"
    with pytest.raises(RuntimeError, match="does not exist") as torch_error:
        torch.save({}, missing / "a.pt")
    with pytest.raises(type(torch_error.value), match="parent directory .* does not exist"):
        minitorch.save({"w": minitorch.ones(2)}, missing / "a.npz")
    assert not (tmp_path / "no").exists()


def test_saving_a_too_deeply_nested_structure_writes_nothing(tmp_path):
    value = {}
    for _ in range(5000):
        value = {"a": value}
    with pytest.raises(ValueError, match="nested too deeply"):
        minitorch.save(value, tmp_path / "deep.npz")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("build,x_shape,forward_error", [
    (lambda m: m.nn.Linear(0, 3), (2, 0), None),
    (lambda m: m.nn.Linear(3, 0), (2, 3), None),
    (lambda m: m.nn.Conv2d(1, 2, 0), (1, 1, 4, 4), RuntimeError),
    (lambda m: m.nn.Conv2d(0, 2, 3), None, None),  # (minitorch cannot run it on 0 channels)
    (lambda m: m.nn.ConvTranspose2d(1, 2, 0), (1, 1, 4, 4), RuntimeError),
], ids=["Linear(0, 3)", "Linear(3, 0)", "Conv2d(1, 2, 0)", "Conv2d(0, 2, 3)",
        "ConvTranspose2d(1, 2, 0)"])
def test_zero_sized_layers_behave_as_in_torch(build, x_shape, forward_error):
    layers = {}
    for lib in ("torch", "minitorch"):
        with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
            layers[lib] = build(_libs(lib))
    if x_shape is None:
        return
    x = np.zeros(x_shape, np.float32)
    if forward_error is None:
        expected = layers["torch"](torch.from_numpy(x))
        got = layers["minitorch"](minitorch.tensor(x))
        assert tuple(got.shape) == tuple(expected.shape)
    else:
        with pytest.raises(forward_error):
            layers["torch"](torch.from_numpy(x))
        with pytest.raises(forward_error, match="kernel size should be greater than zero"):
            layers["minitorch"](minitorch.tensor(x))


def test_a_metric_returning_a_python_float_works():
    def fraction_right(pred, target):
        return float((pred.argmax(-1) == target).float().mean().item())

    learn = make_learner()
    learn.metrics = [accuracy, fraction_right]
    learn.fit(1, 1e-2)
    accuracy_value, float_value = learn.recorder.metrics[-1]
    assert float_value == pytest.approx(accuracy_value)
    assert learn.validate()[2] == pytest.approx(accuracy_value)


def test_a_metric_returning_something_else_is_named():
    learn = make_learner()
    learn.metrics = [lambda pred, target: "good"]
    with pytest.raises(TypeError, match="metric <lambda> returned a str"):
        learn.validate()


GRAD_ROWS = [
    ("SGD", partial(SGD, lr=0.1, momentum=0.9)),
    ("Adam", partial(Adam, lr=0.1)),
    ("RMSprop", partial(RMSprop, lr=0.1, momentum=0.9)),
]


@pytest.mark.parametrize("name,opt_func", GRAD_ROWS, ids=[r[0] for r in GRAD_ROWS])
@pytest.mark.parametrize("bad_grad,words", [
    (np.ones(1, np.float32), r"gradient of size \[1\] but the tensor has size \[3\]"),
    (np.ones((3, 1), np.float32), r"size \[3, 1\]"),
    (np.ones(3, np.float64), "dtype float64 but the tensor has dtype float32"),
], ids=["(1,) for (3,)", "(3, 1) for (3,)", "float64 for float32"])
def test_a_gradient_that_does_not_fit_is_refused_at_the_step(name, opt_func, bad_grad, words):
    good, bad = (minitorch.tensor(np.arange(3, dtype=np.float32), requires_grad=True)
                 for _ in range(2))
    opt = opt_func([good, bad])
    good.grad, bad.grad = minitorch.ones(3), minitorch.ones(3)
    opt.step()  # some state to keep
    before = [good.array.copy(), bad.array.copy()], copy.deepcopy(
        [{k: getattr(v, "data", v) for k, v in s.items()} for s in opt.state.values()])
    bad.grad = minitorch.tensor(bad_grad)
    with pytest.raises(RuntimeError, match=words):
        opt.step()
    after = [good.array, bad.array], [{k: getattr(v, "array", v) for k, v in s.items()}
                                    for s in opt.state.values()]
    assert_same(after, before, "parameters and state")
    # PyTorch refuses the same gradient (when it is assigned) with the same error class.
    p = torch.nn.Parameter(torch.zeros(3))
    with pytest.raises(RuntimeError):
        p.grad = torch.from_numpy(bad_grad)


def test_the_learner_refuses_a_misfit_gradient_before_weight_decay():
    learn = make_learner()
    learn.fit(1, 1e-2)
    before = weights(learn.model)
    first = next(learn.model.parameters())
    first.grad = minitorch.ones(1)
    with pytest.raises(RuntimeError, match="same size"):
        learn.opt.step()  # true weight decay would have shrunk the weights first
    assert_same(weights(learn.model), before, "model")


# ---- 7. a silent mirror --------------------------------------------------------------------------
def test_a_mirror_that_never_answers_is_announced_and_times_out(tmp_path, capsys):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)  # the kernel accepts connections; nobody ever reads or answers
    url = f"http://127.0.0.1:{silent.getsockname()[1]}/"
    table = {"fake/labels-idx1-ubyte.gz": ("0" * 32, "0" * 64)}
    try:
        with pytest.raises(dl.DownloadError, match="timed out"):
            dl.fetch("fake", "labels-idx1-ubyte.gz", root=tmp_path, mirrors=[url],
                     checksums=table, timeout=0.3)
    finally:
        silent.close()
    out = capsys.readouterr().out
    assert f"Downloading {url}labels-idx1-ubyte.gz (waiting up to 0.3 s" in out
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


# ---- 8. the image, U-Net, GAN, file and training surfaces: bad input named when given -----------
# Each row builds what it needs under tmp_path, then makes one bad call, which must raise the
# error class given with a message matching the words, and leave memory (what the row's
# ``watch`` returns) and every file under tmp_path (hidden temporary files included) as they
# were.
def files_under(folder):
    """``{relative path: sha256}`` of every file under ``folder``, hidden ones too."""
    return {p.relative_to(folder).as_posix(): digest(p) for p in folder.rglob("*") if p.is_file()}


def _png(path, pixels):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def _png_header(path, width, height):
    """A PNG of ``width`` × ``height`` grey pixels, header only (Pillow reads the size from it
    when it opens the file, before any pixel)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IEND", b""))
    return path


def _save_preds_collision(tmp):
    rng = np.random.default_rng(0)
    for name in ("a.jpg", "a.png", "b.png", "c.png"):
        _png(tmp / "lr" / name, rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    data = (ImageImageList.from_folder(tmp / "lr").split_none().label_from_func(lambda p: p)
            .databunch(bs=2))
    learn = Learner(data, nn.Conv2d(3, 3, 1), loss_func=F.mse_loss, silent=True)
    return lambda: save_preds(data.fix_dl, learn, tmp / "gen"), lambda: weights(learn.model)


def _small_image_data(channels=3, size=8, n=8):
    pixels = np.random.default_rng(0).integers(0, 256, (n, channels, size, size), np.uint8)
    return (ImageImageList.from_arrays(pixels).split_by_idx([0, 1])
            .label_from_func(lambda p: pixels[int(p.name)]).databunch(bs=2))


def _loader_state(data):
    return [data.norm, [(dl.batch_size, list(dl.batch_tfms), list(dl.y_tfms)) for dl in data.dls]]


def _normalize(stats):
    def build(tmp):
        data = _small_image_data()
        return lambda: data.normalize(stats), lambda: _loader_state(data)
    return build


def _transform_size(size):
    def build(tmp):
        lists = ImageList.from_arrays(np.zeros((4, 3, 8, 8), np.uint8)).split_by_idx([0]) \
            .label_from_list(["a", "b", "a"], ["b"])
        return (lambda: lists.transform(get_transforms(), size=size),
                lambda: [(ds.tfms, ds.size) for ds in lists.lists])
    return build


def _batch_size_zero(tmp):
    data = _small_image_data()
    return lambda: setattr(data, "batch_size", 0), lambda: _loader_state(data)


def _npz_member(tmp, header, payload=b"", compress=zipfile.ZIP_STORED):
    """An .npz whose one member 'w.npy' has ``header`` (a .npy header dict) and ``payload``."""
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, header)
    path = tmp / "w.npz"
    with zipfile.ZipFile(path, "w", compress) as archive:
        archive.writestr("w.npy", member.getvalue() + payload)
    return path


class _Evil:
    """Unpickling this creates a file (as a malicious checkpoint could do anything)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _load(make, **kwargs):
    def build(tmp):
        path = make(tmp)
        return lambda: minitorch.load(path, **kwargs), None
    return build


def _torch_file(legacy=False, evil=False):
    def make(tmp):
        path = tmp / "model.pt"
        obj = _Evil(tmp / "was_unpickled") if evil else {"w": torch.zeros(3)}
        torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
        return path
    return make


def _gan_learner(tmp, gen_size=8, crit_size=8, data_size=8, **kwargs):
    """A tiny WGAN (test_gan's) with a generator, a critic and data of the sizes given."""
    minitorch.manual_seed(0)
    if data_size == 8:
        data = tiny_data()[0]
    else:
        rng = np.random.default_rng(0)
        ds = ArrayDataset(rng.standard_normal((8, 4, 1, 1)).astype(np.float32),
                          rng.uniform(-1, 1, (8, 1, data_size, data_size)).astype(np.float32))
        data = DataBunch(DataLoader(ds, 2, drop_last=True), DataLoader(ds, 2))
    return GANLearner.wgan(data, basic_generator(gen_size, 1, noise_sz=4, n_features=4),
                           basic_critic(crit_size, 1, n_features=4), wd=0., path=tmp,
                           silent=True, **kwargs)


def _gan(**kwargs):
    def build(tmp):
        learn = _gan_learner(tmp, **kwargs)
        return lambda: learn.fit(1, 1e-3), lambda: weights(learn.model)
    return build


def _gan_construction(**kwargs):
    def build(tmp):
        return partial(_gan_learner, tmp, **kwargs), None
    return build


def _set_gan_clip(value):
    def build(tmp):
        learn = _gan_learner(tmp)
        return (lambda: setattr(learn.gan_trainer, "clip", value),
                lambda: learn.gan_trainer.clip)
    return build


def _unet(**kwargs):
    def build(tmp):
        encoder = small_encoder()
        return lambda: DynamicUnet(encoder, img_size=16, **kwargs), lambda: weights(encoder)
    return build


def _after_remove_hooks(tmp):
    model = DynamicUnet(small_encoder(), 3, img_size=16)
    model.remove_hooks()
    return lambda: model(minitorch.randn(2, 3, 16, 16)), lambda: weights(model)


def _vgg_like(pretrained=False):
    """A VGG-shaped stand-in (VGGInput, then 3×3 convs and max pools) small enough for a test."""
    return nn.Sequential(VGGInput(), nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))


def _grey_into_vgg_unet(tmp):
    data = _small_image_data(channels=1, size=16)
    return (lambda: unet_learner(data, _vgg_like, pretrained=False, cut=lambda m: m,
                                 loss_func=F.mse_loss), None)


def _models_is_a_file(tmp):
    (tmp / "models").write_text("not a folder")

    def call():
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MINITORCH_MODELS", str(tmp / "models"))
            patch.setattr(pretrained, "PIP_DOWNLOAD", ["false"])  # never the network
            vgg16_features(pretrained=True)
    return call, None


def _float_tiff(path, values):
    Image.fromarray(np.asarray(values, np.float32).reshape(8, -1)).save(path)
    return path


def _feature_loss_grey(tmp):
    m_feat = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()).eval().requires_grad_(False)
    loss = FeatureLoss(m_feat, [1], [1.0], input_map=VGGInput(stats=None))
    grey = minitorch.rand(2, 1, 8, 8)
    return lambda: loss(grey, grey), lambda: weights(m_feat)


def _after_a_fit(call, groups=1):
    """A learner trained for one epoch (``groups`` layer groups), then ``call(learn)``."""
    def build(tmp):
        learn = make_learner(tmp)
        if groups == 2:
            learn.split(lambda m: [m[3]])
        learn.fit(1, 1e-2)
        return partial(call, learn), lambda: (weights(learn.model), opt_snapshot(learn))
    return build


class FailsToBegin(Callback):
    order = -100  # before every other callback's begin_fit

    def __init__(self, error):
        self.error = error

    def begin_fit(self):
        raise self.error


def _first_fit(*callbacks):
    """The first fit of a new learner, with ``callbacks``."""
    def build(tmp):
        learn = make_learner(tmp)
        return (lambda: learn.fit(1, 1e-3, callbacks=list(callbacks)),
                lambda: weights(learn.model))
    return build


BAD_INPUT = [
    # (id, build(tmp_path) -> (call, watch), error class, words)
    # -- files
    ("save_preds of a.jpg and a.png", _save_preds_collision, ValueError,
     r"items 'a.jpg' and 'a.png' would both be written to 'a.png'"),
    ("minitorch.load of torch.save's zip", _load(_torch_file()), RuntimeError,
     r"PyTorch checkpoint \(torch.save's zip format.*weights_only=True"),
    ("minitorch.load of torch.save's legacy pickle", _load(_torch_file(legacy=True)),
     RuntimeError, r"torch.save's legacy format.*never unpickles"),
    ("minitorch.load of a malicious torch.save", _load(_torch_file(evil=True)), RuntimeError,
     r"PyTorch checkpoint.*never unpickles"),
    ("minitorch.load of a malicious pickle", _load(
        lambda tmp: (tmp / "m.pkl").write_bytes(pickle.dumps(_Evil(tmp / "was_unpickled")))
        and tmp / "m.pkl"), RuntimeError, r"a Python pickle.*never unpickles"),
    ("minitorch.load of an .npz with a pickled member", _load(
        lambda tmp: np.savez(tmp / "o.npz", w=np.array([{"a": 1}], dtype=object))
        or tmp / "o.npz"), RuntimeError, r"member 'w.npy' holds Python objects.*never unpickles"),
    ("minitorch.load of a header claiming 1e13 elements", _load(lambda tmp: _npz_member(
        tmp, {"descr": "<f4", "fortran_order": False, "shape": (10 ** 13,)}, bytes(16))),
     RuntimeError, r"claims shape \(10000000000000,\) of float32 \(40,000,000,000,000 bytes\) "
                   r"but holds 16 bytes"),
    ("minitorch.load expanding past max_bytes", _load(lambda tmp: _npz_member(
        tmp, {"descr": "<f4", "fortran_order": False, "shape": (2 ** 20,)}, bytes(2 ** 22),
        zipfile.ZIP_DEFLATED), max_bytes=2 ** 20), RuntimeError,
     r"would expand to 4,194,[0-9,]+ bytes.*more than the limit of 1,048,576 bytes.*max_bytes"),
    ("MINITORCH_MODELS set to a regular file", _models_is_a_file, pretrained.WeightsError,
     r"MINITORCH_MODELS is .*models, which is a file, not a folder"),
    # -- images
    ("a 20000x20000 PNG header", lambda tmp: (
        partial(open_image, _png_header(tmp / "bomb.png", 20000, 20000)), None),
     Image.DecompressionBombError, r"bomb.png: Image size \(400000000 pixels\).*MAX_IMAGE_PIXELS"),
    ("a float TIFF outside [0, 1]", lambda tmp: (partial(open_image, _float_tiff(
        tmp / "f.tif", np.linspace(0, 3, 64))), None), ValueError,
     r"f.tif: a 32-bit float image \('F'\), read as values in \[0, 1\], but its values span "
     r"\[0.0, 3.0\]"),
    ("normalize with a NaN mean", _normalize(([float("nan")] * 3, [0.2] * 3)), ValueError,
     "every mean must be finite"),
    ("normalize with an infinite std", _normalize(([0.5] * 3, [0.2, float("inf"), 0.2])),
     ValueError, "every std must be positive and finite"),
    ("normalize with one list", _normalize([0.5, 0.5, 0.5]), ValueError,
     r"expected stats = \(mean, std\)"),
    ("normalize with (3, 3) stats", _normalize((np.ones((3, 3)), [0.2] * 3)), ValueError,
     r"mean must be one number per channel, got shape \(3, 3\)"),
    ("from_arrays of floats 0-255", lambda tmp: (partial(
        ImageList.from_arrays, np.full((2, 3, 4, 4), 200.0, np.float32)), None), ValueError,
     r"float pixels must lie in \[0, 1\], got values in \[200.0, 200.0\]"),
    ("from_arrays of NaN floats", lambda tmp: (partial(
        ImageList.from_arrays, np.full((2, 1, 4, 4), np.nan)), None), ValueError,
     r"float pixels must lie in \[0, 1\]"),
    ("from_arrays of uint16", lambda tmp: (partial(
        ImageList.from_arrays, np.zeros((2, 1, 4, 4), np.uint16)), None), TypeError,
     r"uint8 \(0-255\) or floats \(0-1\), got uint16"),
    ("psnr of uint8 against floats", lambda tmp: (partial(
        psnr, np.zeros((3, 4, 4), np.uint8), np.zeros((3, 4, 4))), None), ValueError,
     r"prediction's values span \[0, 255\] and the target's \[0, 1\]"),
    ("psnr of int64 images", lambda tmp: (partial(
        psnr, np.zeros((3, 4, 4), np.int64), np.zeros((3, 4, 4), np.int64)), None), TypeError,
     r"dtype int64 have no known range.*data_range"),
    ("FeatureLoss through VGGInput on a grey batch", _feature_loss_grey, ValueError,
     r"VGGInput: the pretrained VGG16 takes RGB images \(N, 3, H, W\), got shape \(2, 1, 8, 8\)"),
    ("gram_matrix of a 3-D tensor", lambda tmp: (partial(gram_matrix, minitorch.rand(3, 4, 4)),
                                                 None),
     ValueError, r"gram_matrix: expected a batch of activations \(n, c, h, w\), got shape "
                 r"\(3, 4, 4\)"),
    # -- transforms and data
    ("get_transforms(max_lighting=1.0)", lambda tmp: (partial(get_transforms, max_lighting=1.0),
                                                      None),
     ValueError, r"max_lighting must be a number in \[0, 1\), got 1.0"),
    ("get_transforms(max_lighting=1.5)", lambda tmp: (partial(get_transforms, max_lighting=1.5),
                                                      None),
     ValueError, r"max_lighting must be a number in \[0, 1\), got 1.5"),
    ("get_transforms(max_lighting=-0.5)", lambda tmp: (partial(get_transforms,
                                                               max_lighting=-0.5), None),
     ValueError, r"max_lighting must be a number in \[0, 1\), got -0.5"),
    ("get_transforms(max_rotate=nan)", lambda tmp: (partial(get_transforms,
                                                            max_rotate=float("nan")), None),
     ValueError, r"max_rotate must be a finite number ≥ 0, got nan"),
    ("get_transforms(max_warp=-0.2)", lambda tmp: (partial(get_transforms, max_warp=-0.2), None),
     ValueError, r"max_warp must be a finite number ≥ 0, got -0.2"),
    ("transform(size=0)", _transform_size(0), ValueError,
     r"transform: size must be a positive int or \(height, width\) of positive ints, got 0"),
    ("transform(size=-3)", _transform_size(-3), ValueError, r"size must be a positive int.*-3"),
    ("from_folder(size=(8, 0))", lambda tmp: (partial(
        ImageList.from_folder, _png(tmp / "i" / "a.png", np.zeros((4, 4), np.uint8)).parent,
        size=(8, 0)), None), ValueError, r"ImageList: size must be a positive int"),
    ("data.batch_size = 0", _batch_size_zero, ValueError,
     r"DataBunch: batch_size must be a positive integer, got 0"),
    ("crappify(scale=nan)", lambda tmp: (partial(
        crappify, Image.new("RGB", (16, 16)), scale=float("nan")), None), ValueError,
     r"crappify: scale must be a finite number of at least 1, got nan"),
    ("paired_random_crop of 64 px from 32 px", lambda tmp: (partial(
        paired_random_crop, [Image.new("RGB", (32, 32))] * 2, 64, np.random.default_rng(0)),
        None), ValueError, r"size must be an integer from 1 to the images' smaller side \(32x32"),
    # -- U-Net
    ("DynamicUnet(n_classes=0)", _unet(n_classes=0), ValueError,
     r"n_classes \(the output channels\) must be a positive integer, got 0"),
    ("DynamicUnet(n_classes=-1)", _unet(n_classes=-1), ValueError, r"n_classes.*got -1"),
    ("DynamicUnet(n_classes=2.5)", _unet(n_classes=2.5), ValueError, r"n_classes.*got 2.5"),
    ("grey data into a VGG U-Net", _grey_into_vgg_unet, ValueError,
     r"_vgg_like's body takes images of 3 channels, the data's batches have shape "
     r"\(2, 1, 16, 16\)"),
    ("a U-Net called after remove_hooks()", _after_remove_hooks, RuntimeError,
     r"hooks were removed \(remove_hooks\(\)\).*cannot run any more"),
    # -- GAN
    ("a 16 px generator for an 8 px critic", _gan(gen_size=16), ValueError,
     r"generator makes images of shape \(1, 16, 16\) from inputs of shape \(4, 1, 1\), but the "
     r"real images the critic also scores have shape \(1, 8, 8\)"),
    ("an 8 px generator for 16 px data", _gan(crit_size=16, data_size=16), ValueError,
     r"generator makes images of shape \(1, 8, 8\).*real images.*\(1, 16, 16\)"),
    ("an 8 px critic for 16 px data", _gan(gen_size=16, data_size=16), ValueError,
     r"the critic cannot score images of shape \(1, 16, 16\)"),
    ("switcher=5", _gan_construction(switcher=5), TypeError,
     r"switcher must be a Callback .* or a function that makes one .* got 5"),
    ("GANLearner.wgan(clip=nan)", _gan_construction(clip=float("nan")), ValueError,
     r"clip must be None or a positive finite number .* got nan"),
    ("GANLearner.wgan(clip=-0.01)", _gan_construction(clip=-0.01), ValueError, r"clip.*got -0.01"),
    ("GANLearner.wgan(clip=0)", _gan_construction(clip=0), ValueError, r"clip.*got 0"),
    ("GANLearner.wgan(clip='0.01')", _gan_construction(clip="0.01"), ValueError,
     r"clip.*got '0.01'"),
    ("learn.gan_trainer.clip = nan", _set_gan_clip(float("nan")), ValueError,
     r"clip must be None or a positive finite number"),
    # -- learning rates, on every fit and schedule, checked before anything changes
    ("fit(1, nan) after a fit", _after_a_fit(lambda learn: learn.fit(1, float("nan"))),
     ValueError, r"fit: the learning rate must be a finite number ≥ 0 .* got nan"),
    ("fit(1, inf) after a fit", _after_a_fit(lambda learn: learn.fit(1, float("inf"))),
     ValueError, r"fit: the learning rate must be .* got inf"),
    ("fit(1, -0.1) after a fit", _after_a_fit(lambda learn: learn.fit(1, -0.1)), ValueError,
     r"fit: the learning rate must be a finite number ≥ 0 .* got -0.1"),
    ("fit(1, wd=nan) after a fit", _after_a_fit(lambda learn: learn.fit(1, 1e-3, wd=float("nan"))),
     ValueError, r"fit: the weight decay must be a finite number ≥ 0"),
    ("fit_one_cycle(1, nan) after a fit", _after_a_fit(
        lambda learn: learn.fit_one_cycle(1, float("nan"))), ValueError,
     r"max_lr must be a finite number ≥ 0 .* got nan"),
    ("fit(1, [1e-3, nan]) for two layer groups", _after_a_fit(
        lambda learn: learn.fit(1, [1e-3, float("nan")]), groups=2), ValueError,
     r"fit: the learning rate must be .* got \[0.001, nan\]"),
    ("fit(1, slice(1e-5, inf))", _after_a_fit(lambda learn: learn.fit(1, slice(1e-5, math.inf)),
                                              groups=2), ValueError,
     r"learning rates as a slice: .* got slice\(1e-05, inf, None\)"),
    ("fit_one_cycle(2, slice(None))", _after_a_fit(
        lambda learn: learn.fit_one_cycle(2, slice(None))), ValueError,
     r"learning rates as a slice: slice\(stop\) or slice\(start, stop\).* got "
     r"slice\(None, None, None\)"),
    ("fit_one_cycle(2, 1e-2, final_div=0)", _after_a_fit(
        lambda learn: learn.fit_one_cycle(2, 1e-2, final_div=0)), ValueError,
     r"OneCycleScheduler: final_div must be a finite number > 0 .* got 0"),
    ("learn.opt.lr = nan", _after_a_fit(lambda learn: setattr(learn.opt, "lr", float("nan"))),
     ValueError, r"OptimWrapper.lr: the learning rate must be a finite number ≥ 0"),
    ("GANDiscriminativeLR(mult_lr=nan)", lambda tmp: (partial(
        GANDiscriminativeLR, mult_lr=float("nan")), None), ValueError,
     r"mult_lr must be a finite number > 0, got nan"),
    ("GANDiscriminativeLR(mult_lr=-5)", lambda tmp: (partial(GANDiscriminativeLR, mult_lr=-5),
                                                     None),
     ValueError, r"mult_lr must be a finite number > 0, got -5"),
    # -- callbacks: what begin_fit raises reaches the caller
    ("a ValueError in begin_fit of a first fit", _first_fit(FailsToBegin(ValueError("mine"))),
     ValueError, "^mine$"),
    ("Ctrl-C in begin_fit of a first fit", _first_fit(FailsToBegin(KeyboardInterrupt("mine"))),
     KeyboardInterrupt, "^mine$"),
    ("n_crit returning None", _gan(switcher=FixedGANSwitcher(n_crit=lambda n: None)),
     TypeError, r"n_crit\(0\) returned None; expected a positive integer"),
    ("AdaptiveGANSwitcher in a plain Learner", _first_fit(AdaptiveGANSwitcher()), TypeError,
     r"AdaptiveGANSwitcher acts on the turns of a GANLearner's .* Learner has no gan_trainer"),
    ("GANDiscriminativeLR in a plain Learner", _first_fit(GANDiscriminativeLR()), TypeError,
     r"GANDiscriminativeLR .* has no gan_trainer"),
    # -- recurrent layers
    ("LSTM on a sequence of length 0", lambda tmp: (partial(
        nn.LSTM(3, 4), minitorch.zeros(0, 2, 3)), None), RuntimeError,
     r"LSTM: Expected sequence length to be larger than 0 in RNN"),
    ("GRU on a batch-first sequence of length 0", lambda tmp: (partial(
        nn.GRU(3, 4, batch_first=True), minitorch.zeros(2, 0, 3)), None), RuntimeError,
     r"GRU: Expected sequence length to be larger than 0"),
]


@pytest.mark.parametrize("name,build,error,words", BAD_INPUT, ids=[r[0] for r in BAD_INPUT])
def test_bad_input_is_named_and_changes_nothing(tmp_path, name, build, error, words):
    call, watch = build(tmp_path)
    memory, disk = (watch() if watch else None), files_under(tmp_path)
    with pytest.raises(error, match=words):
        call()
    if watch is not None:
        assert_same(watch(), memory, "memory")
    assert files_under(tmp_path) == disk


def test_the_default_archive_limit_is_16_times_the_stored_size(tmp_path, monkeypatch):
    """max_bytes by default: 16 × the members' stored size, at least MIN_LIMIT (256 MiB; made
    small here so that a small archive shows the rule)."""
    monkeypatch.setattr(minitorch.serialization, "MIN_LIMIT", 2 ** 16)
    header = {"descr": "<f4", "fortran_order": False, "shape": (2 ** 20,)}
    path = _npz_member(tmp_path, header, bytes(2 ** 22), zipfile.ZIP_DEFLATED)  # 4 MiB → ~4 kB
    with pytest.raises(RuntimeError, match=r"16 times the stored size.*larger max_bytes"):
        minitorch.load(path)
    assert minitorch.load(path, max_bytes=2 ** 23)["w"].shape == (2 ** 20,)
    np.savez(tmp_path / "plain.npz", w=np.ones(2 ** 18, np.float32))  # stored: 1 MiB, fits
    assert minitorch.load(tmp_path / "plain.npz")["w"].shape == (2 ** 18,)


# ---- 9. images of more than 8 bits, integer images: scaled, not clipped -------------------------
RAMP16 = np.linspace(0, 65535, 64).round().astype(np.uint16).reshape(8, 8)
RAMP_FLOAT = np.linspace(0, 1, 64, dtype=np.float32).reshape(8, 8)

HIGH_DEPTH = [
    # (id, write the file, its expected 8-bit grey pixels)
    ("16-bit PNG (I;16)", lambda p: Image.fromarray(RAMP16).save(p.with_suffix(".png")),
     np.round(RAMP16 / 257)),
    ("16-bit big-endian TIFF (I;16B)", lambda p: Image.fromarray(RAMP16.astype(">u2")).save(
        p.with_suffix(".tif")), np.round(RAMP16 / 257)),
    ("float TIFF in [0, 1] (F)", lambda p: Image.fromarray(RAMP_FLOAT).save(
        p.with_suffix(".tif")), np.round(RAMP_FLOAT.astype(np.float64) * 255)),
]


@pytest.mark.parametrize("name,write,expected", HIGH_DEPTH, ids=[r[0] for r in HIGH_DEPTH])
@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_high_depth_images_open_scaled_to_8_bits(tmp_path, name, write, expected, mode):
    write(tmp_path / "image")
    path = next(tmp_path.iterdir())
    expected = np.broadcast_to(expected.astype(np.uint8), (1 if mode == "L" else 3, 8, 8))
    np.testing.assert_array_equal(open_image(path, mode), expected)
    items = ImageList.from_folder(tmp_path, convert_mode=mode)  # as the data block reads it
    np.testing.assert_array_equal(items.pixels[0], expected)


def test_crappify_of_a_16_bit_photo_is_that_of_its_8_bit_twin():
    rng = np.random.default_rng(0)
    pixels16 = rng.integers(0, 65536, (32, 32), dtype=np.uint16)
    twin = Image.fromarray(np.round(pixels16 / 257).astype(np.uint8))
    got = crappify(Image.fromarray(pixels16), rng=np.random.default_rng(3))
    want = crappify(twin, rng=np.random.default_rng(3))
    assert got.tobytes() == want.tobytes()
    assert 100 < np.asarray(got).mean() < 155  # the photo's mean is 127.5, not white


def test_psnr_and_ssim_of_integer_images_use_their_data_range():
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 256, (3, 16, 16), dtype=np.uint8) for _ in range(2))
    assert psnr(a, b) == pytest.approx(psnr(a / 255, b / 255), rel=1e-12)
    assert psnr(a, b) > 0  # (−13.9 dB when 255 was taken for a data range of 1)
    assert psnr(a.astype(np.int64), b.astype(np.int64), data_range=255) == pytest.approx(
        psnr(a, b), rel=1e-12)
    assert ssim(a, b) == pytest.approx(ssim(a / 255, b / 255), rel=1e-12)


# ---- 10. temporary files left by a killed writer ------------------------------------------------
WRITER = """
import sys, time
from minitorch.files import atomic_write
with atomic_write(sys.argv[1]) as file:
    file.write(b"half of a checkpoint")
    file.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def _parts(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_a_killed_writers_part_is_removed_by_the_next_write_and_a_live_ones_kept(tmp_path):
    """A writer killed with SIGKILL cannot remove its temporary file; the next write of the same
    target does — but not while that writer still runs (it holds a lock on its part), and never
    the parts of another target."""
    target = tmp_path / "model.npz"
    other = tmp_path / ".model.npz.b.abcd1234.part"  # the part of 'model.npz.b'
    other.write_bytes(b"another target's")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(target)],
                              stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.pathsep
                                                           .join(sys.path)})
    try:
        assert writer.stdout.readline() == b"writing\n"
        (live,) = [p for p in _parts(tmp_path) if p != other.name]
        minitorch.save({"w": minitorch.ones(2)}, target)  # the writer is alive: its part stays
        assert _parts(tmp_path) == sorted([live, other.name])
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
    assert _parts(tmp_path) == sorted([live, other.name])  # SIGKILL: nothing cleaned up
    minitorch.save({"w": minitorch.zeros(2)}, target)
    assert _parts(tmp_path) == [other.name]
    assert to_numpy(minitorch.load(target)["w"]).tolist() == [0.0, 0.0]


# ---- 11. GAN checkpoints: both models and both optimizers, from either turn ---------------------
class SaveDuringACriticBatch(Callback):
    def after_step(self):
        if not self.learn.gan_trainer.gen_mode and not hasattr(self, "saved"):
            self.saved = self.learn.save("critic-turn")
            self.state = (weights(self.learn.model), _gan_opt_states(self.learn))


def _gan_opt_states(learn):
    """Both optimizers' groups and state (not the parameters' ids: a new session has others)."""
    trainer = learn.gan_trainer
    return [opt_snapshot(SimpleNamespace(opt=opt))[:2]
            for opt in (trainer.opt_gen, trainer.opt_critic)]


@pytest.mark.parametrize("turn", ["generator", "critic"])
def test_a_gan_checkpoint_loads_in_a_new_session_and_training_goes_on(tmp_path, turn):
    learn = _gan_learner(tmp_path)
    saver = SaveDuringACriticBatch()
    learn.fit(2, 1e-3, callbacks=[saver])
    if turn == "generator":  # a fit ends in the generator's turn
        learn.save("after-fit")
        expected = weights(learn.model), _gan_opt_states(learn)
    else:
        expected = saver.state
    fresh = _gan_learner(tmp_path)  # a new session: no optimizer yet
    fresh.load("after-fit" if turn == "generator" else "critic-turn")
    assert_same(weights(fresh.model), expected[0], "models")
    assert_same(_gan_opt_states(fresh), expected[1], "both optimizers")
    fresh.fit(1, 1e-3)  # and training goes on from there
    assert all(np.isfinite(v).all() for v in weights(fresh.model).values())


def test_a_gan_checkpoint_that_does_not_fit_changes_nothing(tmp_path):
    learn = _gan_learner(tmp_path)
    learn.fit(1, 1e-3)
    state = minitorch.load(learn.save("good"))
    state["opt_critic"]["param_groups"][0]["params"] = [0]  # one parameter missing
    minitorch.save(state, tmp_path / "models" / "bad.npz")
    before = weights(learn.model), _gan_opt_states(learn), files_under(tmp_path)
    with pytest.raises(ValueError, match="param group 0 of the state dict has 1 parameters"):
        learn.load("bad")
    assert_same((weights(learn.model), _gan_opt_states(learn), files_under(tmp_path)), before,
                "model, both optimizers and the files")


# ---- 12. fits that stop at their start, fits without a validation set ---------------------------
def test_every_callbacks_after_fit_copes_with_a_fit_that_never_began(tmp_path):
    """A callback before all others fails in begin_fit; every other callback's after_fit runs
    without its begin_fit (the Learner's own, the schedules', the GAN's), and the error that
    reaches the caller is the first one, with no note of a second failure."""
    learn = _gan_learner(tmp_path)
    extra = [FailsToBegin(ValueError("the first failure")), OneCycleScheduler(1e-3),
             LRFinder(), FixedGANSwitcher(), AdaptiveGANSwitcher(), GANDiscriminativeLR(),
             LossMetrics()]
    before = weights(learn.model), [p.requires_grad for p in learn.model.parameters()]
    with pytest.raises(ValueError, match="^the first failure$") as info:
        learn.fit(1, 1e-3, callbacks=extra)
    assert getattr(info.value, "__notes__", []) == []
    assert_same((weights(learn.model), [p.requires_grad for p in learn.model.parameters()]),
                before, "models")


def test_a_failing_after_fit_is_noted_on_the_error_that_stopped_the_fit():
    class FailsToEnd(Callback):
        def after_fit(self):
            raise RuntimeError("cannot clean up")

    learn = make_learner()
    with pytest.raises(ValueError, match="^the first failure\n") as info:
        learn.fit(1, 1e-3, callbacks=[FailsToBegin(ValueError("the first failure")),
                                      FailsToEnd()])
    assert "FailsToEnd.after_fit also failed: RuntimeError: cannot clean up" in \
        info.value.__notes__[0]
    with pytest.raises(RuntimeError, match="cannot clean up"):  # alone, it is the error
        learn.fit(1, 1e-3, callbacks=[FailsToEnd()])


def test_split_none_trains_every_epoch_and_skips_validation(capsys):
    """fastai's fit skips validation when the validation set is empty (``data.empty_val``)."""
    pixels = np.random.default_rng(0).integers(0, 256, (16, 1, 4, 4), np.uint8)
    data = (ImageList.from_arrays(pixels).split_none()
            .label_from_list([str(i % 4) for i in range(16)], []).databunch(bs=4))
    learn = make_learner(data=data, silent=False)
    learn.callbacks[2].show_bar = False
    learn.fit(3, 1e-3)
    assert learn.recorder.nb_batches == [4, 4, 4] and learn.recorder.val_losses == [None] * 3
    rows = capsys.readouterr().out.splitlines()[-3:]
    assert [row.split()[:1] + row.split()[2:4] for row in rows] == [
        [str(epoch), "#na#", "#na#"] for epoch in range(3)]
