"""Optimizers made outside the Learner (``OptimWrapper.create`` / ``new``) and the loss
functions' final activations (``learner/activations.py``).

``new`` is what a GAN trainer uses: a second optimizer, for a second model, with the Learner's
recipe and current settings.  It is checked against PyTorch's AdamW (fastai's true weight decay
is AdamW's decoupled decay) and SGD run from the same weights on the same gradients.
"""
from functools import partial

import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.learner import Learner, OptimWrapper, loss_func2activ
from minitorch.nn import functional as F
from minitorch.optim import SGD, Adam
from minitorch.text.layers import CrossEntropyFlat
from tests.test_learner import quadrant_data, tiny_model
from torch_compare import to_numpy


def critic(lib):
    """A second model, as a GAN's critic: conv, relu, batchnorm, linear."""
    return lib.nn.Sequential(lib.nn.Conv2d(1, 3, 3, padding=1), lib.nn.ReLU(),
                             lib.nn.BatchNorm2d(3), lib.nn.Flatten(), lib.nn.Linear(48, 2))


def twin_critics(seed):
    torch.manual_seed(seed)
    theirs = critic(torch).double()
    ours = critic(minitorch).to(dtype="float64")
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


@pytest.mark.parametrize("opt_func,lr,mom,wd,torch_opt", [
    (partial(Adam, betas=(0.9, 0.99)), 1e-2, 0.8, 0.1,
     lambda ps: torch.optim.AdamW(ps, lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1)),
    (partial(SGD, momentum=0.9), 0.05, 0.7, 0.0,
     lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.7)),
])
def test_new_steps_its_own_params_with_the_learners_settings(opt_func, lr, mom, wd, torch_opt):
    learn = Learner(quadrant_data(), tiny_model(), loss_func=F.cross_entropy, opt_func=opt_func,
                    wd=wd, silent=True)
    learn.create_opt(0.5)
    learn.opt.lr, learn.opt.mom = lr, mom  # as a schedule leaves them
    ours, theirs = twin_critics(0)
    opt = learn.opt.new([ours])
    assert isinstance(opt, OptimWrapper) and opt.opt_func is opt_func
    assert (opt.lr, opt.mom, opt.wd, opt.true_wd, opt.bn_wd) == (lr, mom, wd, True, True)
    mine = {id(p) for group in opt.param_groups for p in group["params"]}
    assert mine == {id(p) for p in ours.parameters()}, "exactly the critic's parameters"
    learners_weights = {k: to_numpy(v).copy() for k, v in learn.model.state_dict().items()}

    topt = torch_opt(theirs.parameters())
    rng = np.random.default_rng(1)
    for _ in range(3):
        x = rng.standard_normal((4, 1, 4, 4))
        upstream = rng.standard_normal((4, 2))
        opt.zero_grad()
        (ours(minitorch.tensor(x)) * minitorch.tensor(upstream)).sum().backward()
        opt.step()
        topt.zero_grad()
        (theirs(torch.from_numpy(x)) * torch.from_numpy(upstream)).sum().backward()
        topt.step()
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(to_numpy(p), dict(theirs.named_parameters())[name].detach().numpy(),
                                   rtol=1e-10, atol=1e-12, err_msg=name)
    for k, v in learn.model.state_dict().items():  # the learner's model was not touched
        np.testing.assert_array_equal(to_numpy(v), learners_weights[k], err_msg=k)


def test_create_splits_weights_from_norm_and_bias_parameters_per_layer_group():
    model = critic(minitorch)
    opt = OptimWrapper.create(SGD, [0.1, 0.2], [[model[0]], [model[2], model[4]]], wd=0.01,
                              bn_wd=False, true_wd=False)
    groups = [[id(p) for p in g["params"]] for g in opt.param_groups]
    assert groups == [[id(model[0].weight)], [id(model[0].bias)],
                      [id(model[4].weight)],
                      [id(model[2].weight), id(model[2].bias), id(model[4].bias)]]
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.1, 0.2, 0.2]
    # L2 decay through the optimizer (true_wd=False), none on norm and bias parameters
    assert [g["weight_decay"] for g in opt.param_groups] == [0.01, 0.0, 0.01, 0.0]
    assert opt.lr == [0.1, 0.2]
    with pytest.raises(ValueError, match="2 values of (lr|wd) for 1 layer groups"):
        opt.new([model])


def test_swapping_learn_opt_trains_with_the_swapped_optimizer():
    learn = Learner(quadrant_data(), tiny_model(), loss_func=F.cross_entropy, silent=True)
    learn.fit(1, 1e-3)
    first = learn.opt
    other = tiny_model()
    second = first.new([other])
    before = {k: to_numpy(v).copy() for k, v in learn.model.state_dict().items()}
    learn.opt = second  # the model's gradients reach no parameter of `second`: nothing moves
    learn.fit(1, 1e-3)
    assert learn.opt is second
    for name, p in learn.model.named_parameters():
        np.testing.assert_array_equal(to_numpy(p), before[name], err_msg=name)


def with_activ(fn, activ):
    fn.activ = activ
    return fn


softmax = partial(torch.softmax, dim=-1)
ident = lambda x: x  # noqa: E731


@pytest.mark.parametrize("loss_func,expected", [
    (F.cross_entropy, softmax),
    (nn.CrossEntropyLoss(), softmax),
    (partial(F.cross_entropy, label_smoothing=0.1), softmax),
    (F.nll_loss, torch.exp),
    (nn.NLLLoss(), torch.exp),
    (F.binary_cross_entropy_with_logits, torch.sigmoid),
    (nn.BCEWithLogitsLoss(), torch.sigmoid),
    (F.binary_cross_entropy, ident),
    (nn.BCELoss(), ident),
    (F.mse_loss, ident),
    (nn.MSELoss(), ident),
    (F.l1_loss, ident),
    (nn.L1Loss(), ident),
    (F.smooth_l1_loss, ident),
    (nn.SmoothL1Loss(), ident),
    (CrossEntropyFlat(), softmax),  # declares its own
    (with_activ(lambda p, t: (p - t).abs().mean(), lambda x: x.sigmoid()), torch.sigmoid),
    (with_activ(lambda p, t: F.cross_entropy(p, t), None), ident),  # declares none
    (lambda p, t: (p - t).abs().mean(), ident),  # unknown: none, as in fastai
])
def test_loss_func2activ(loss_func, expected):
    x = np.random.default_rng(0).standard_normal((3, 5))
    got = loss_func2activ(loss_func)(minitorch.tensor(x))
    np.testing.assert_allclose(got.numpy(), expected(torch.from_numpy(x)).numpy(), rtol=1e-12)

