"""What minitorch promises when something fails (README, "When something fails"): each bad input
or fault below raises the named error class with a message that says what was expected, and
leaves memory and disk as they were.

Sections follow issue 11: (1) ``Learner.load`` is all or nothing; (2) a training batch whose
loss, gradients or batchnorm statistics are not finite stops the fit before the step, and the
weights, optimizer state and buffers are those from before it; (3) files get the umask's mode
and a symlink's target is replaced; (4) layers and functional ops follow PyTorch's dtype rules
(each row runs the same call in torch and expects the same outcome); (5) an empty training
loader is refused; (6) clear messages for bad checkpoints, zero-sized layers, metrics returning
floats, gradients of the wrong shape, missing folders; (7) a download says which mirror it tries
and how long it waits.
"""
import copy
import hashlib
import json
import os
import socket
import stat
import warnings
from functools import partial
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.data import download as dl
from minitorch.files import atomic_write
from minitorch.learner import Callback, Learner, accuracy
from minitorch.learner.nan_stop import non_finite
from minitorch.nn import functional as F
from minitorch.optim import SGD, Adam, RMSprop

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
