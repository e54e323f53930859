"""The lesson's whole training loop against PyTorch, batch for batch.

The op tables hold every forward and backward against torch; the Learner tests hold each knob
(one cycle, true weight decay, the lr finder) against its formula.  This file holds them all
together: the lesson's three MNIST models are trained with ``learn.fit_one_cycle`` on real
MNIST images, and a plain PyTorch loop written from lesson7.md's recipe
(``tests/torch_twins.py``: torch's own modules, ``torch.optim.Adam`` with betas
(0.95…0.85, 0.99), weight decay ``p ← p·(1 − lr·wd)`` before each step, the one-cycle formulas
written out again, not taken from minitorch) trains a twin from the same starting
weights on the same batches (the ones minitorch's loader drew, augmentation included).  Every
step's loss and, at the end, every weight and running statistic must agree.

The twins run in float64, where they agree to about 1e-12 after thirty Adam steps: the
frameworks do the same arithmetic and only the rounding differs.  In float32 the rounding is
large enough to matter within a few steps, in either framework: a pre-activation that is
-9e-7 in exact arithmetic comes out of a float32 conv as +2e-7 in one framework and -4e-8 in
the other, the ReLU lets its gradient through in one and not in the other, and Adam — which
divides each gradient by the root of its own running square — turns the difference into a
full-size step.  (Measured 2026-11-28 on model C, batch 64: one such ReLU flip in the first
backward moved a weight gradient from -2.3e-4 to +2.2e-4.)  From then on the two float32 runs
are two draws of the same training, which is what the lesson's accuracy over seeds measures.
"""
import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.vision import mnist_databunch
from minitorch.learner import Callback, Learner
from minitorch.vision.models import MNIST_MODELS
from tests.torch_twins import WD, fit_one_cycle_torch, torch_model

MAX_LR = 0.1


class KeepBatches(Callback):
    """Casts each batch to the model's dtype; keeps a copy of each training batch for the torch
    twin, and the loss of each step (the recorder keeps the smoothed loss)."""

    order = -100

    def __init__(self, dtype):
        self.dtype, self.batches, self.losses = dtype, [], []

    def begin_batch(self):
        learn = self.learn
        learn.xb = learn.xb.to(self.dtype)
        if learn.training:
            self.batches.append((learn.xb.numpy().copy(), learn.yb.numpy().copy()))

    def after_backward(self):  # the training loss is read after backward (one read a batch)
        self.losses.append(self.learn.last_loss)


# One line per model: batch size, batches per epoch, epochs, and how close (float64).
ROWS = [
    # model,          bs, batches/epoch, epochs, loss rtol, weight rtol, weight atol
    ("A",  32, 15, 2, 1e-10, 1e-9, 1e-11),  # the basic CNN
    ("B",  32, 15, 2, 1e-10, 1e-9, 1e-11),  # the same with conv_layer
    ("C",  32, 15, 2, 1e-10, 1e-9, 1e-11),  # ResNet-ish
]
# Model A's conv biases sit right before a batchnorm, which subtracts them again: their true
# gradient is 0, and what either framework computes is rounding noise (~1e-17) that Adam
# divides by its own tiny running root (+ eps 1e-8), so each bias drifts by its own noise —
# ~3e-7 in thirty steps — and with it the running mean of the batchnorm that follows.
# Nothing else depends on them; they are held to this looser bound.
BIAS_NOISE_ATOL = 1e-5


@pytest.mark.slow
@pytest.mark.parametrize("name,bs,n_batches,epochs,loss_rtol,w_rtol,w_atol", ROWS,
                         ids=[r[0] for r in ROWS])
def test_fit_one_cycle_matches_a_torch_loop(data_dir, name, bs, n_batches, epochs,
                                            loss_rtol, w_rtol, w_atol):
    data = mnist_databunch(bs=bs, limit=bs * n_batches, valid_limit=2 * bs, root=data_dir, seed=0)
    minitorch.manual_seed(0)
    model = MNIST_MODELS[name]()
    tmodel = torch_model(name)
    start = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    assert start.keys() == tmodel.state_dict().keys(), "the twins must name their weights alike"
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in start.items()})
    model, tmodel = model.to(minitorch.float64), tmodel.to(torch.float64)

    keep = KeepBatches(minitorch.float64)
    learn = Learner(data, model, loss_func=nn.CrossEntropyLoss(), wd=WD, silent=True,
                    callbacks=[keep])
    learn.fit_one_cycle(epochs, max_lr=MAX_LR)
    assert len(keep.batches) == epochs * n_batches

    torch_losses = fit_one_cycle_torch(tmodel, keep.batches, len(keep.batches), MAX_LR)
    ours = np.array(keep.losses)
    theirs = np.array(torch_losses)
    worst = np.argsort(-np.abs(ours - theirs))[:3]
    np.testing.assert_allclose(
        ours, theirs, rtol=loss_rtol, atol=0,
        err_msg=f"{name}: per-step losses differ; worst steps {worst.tolist()}: "
                f"ours {ours[worst].tolist()} torch {theirs[worst].tolist()}")

    final = tmodel.state_dict()
    # conv biases right before a batchnorm (model A), and the running means they shift
    bias_noise = {f"{n}.bias" for n, m in model.named_modules()
                  if isinstance(m, nn.Conv2d) and m.bias is not None}
    if bias_noise:
        bias_noise |= {key for key in final if key.endswith("running_mean")}
    for key, value in model.state_dict().items():
        ours_w, theirs_w = value.numpy(), final[key].numpy()
        if key.endswith("num_batches_tracked"):
            assert int(ours_w) == int(theirs_w) == epochs * n_batches, key
            continue
        atol = BIAS_NOISE_ATOL if key in bias_noise else w_atol
        diff = np.abs(ours_w - theirs_w)
        np.testing.assert_allclose(
            ours_w, theirs_w, rtol=w_rtol, atol=atol,
            err_msg=f"{name}: {key} differs after training (largest |difference| "
                    f"{diff.max():.3g} at {np.unravel_index(diff.argmax(), diff.shape)})")
