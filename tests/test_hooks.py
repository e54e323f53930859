"""``nn/hooks.py`` against torch's forward hooks and against the layers run by hand: what a hook
stores is the layer's output (or its gradient), ``detach=False`` keeps the graph so a loss on a
stored activation reaches the parameters below it, hooks are gone after their ``with`` block or
when nobody keeps them, and ``model_sizes``/``num_features_model`` read the shapes a model makes.
"""
import gc

import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.nn.hooks import (
    Hook, Hooks, dummy_batch, dummy_eval, flatten_model, hook_output, hook_outputs, in_channels,
    model_sizes, num_features_model)
from torch_compare import to_numpy


def small_convnet(lib):
    """Conv (3→4, stride 2) · ReLU · Conv (4→6, stride 2) · BatchNorm · AdaptiveAvgPool · Flatten ·
    Linear, in minitorch or torch."""
    return lib.nn.Sequential(
        lib.nn.Conv2d(3, 4, 3, stride=2, padding=1), lib.nn.ReLU(),
        lib.nn.Conv2d(4, 6, 3, stride=2, padding=1), lib.nn.BatchNorm2d(6),
        lib.nn.AdaptiveAvgPool2d(1), lib.nn.Flatten(), lib.nn.Linear(6, 5))


def twins(seed=0):
    torch.manual_seed(seed)
    theirs = small_convnet(torch).double()
    ours = small_convnet(minitorch).to(dtype="float64")
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(seed).standard_normal((2, 3, 8, 8))
    return ours, theirs, x


def no_hooks_left(model):
    return all(not m._forward_hooks for m in model.modules())


HOOKED = [0, 1, 3, 6]  # which children the tests hook: conv, relu, batchnorm, linear


def test_hook_outputs_store_each_layers_output():
    ours, theirs, x = twins()
    seen = {}
    handles = [theirs[i].register_forward_hook(
        lambda m, i_, o, i=i: seen.__setitem__(i, o.detach().numpy())) for i in HOOKED]
    theirs(torch.from_numpy(x))
    for h in handles:
        h.remove()
    with hook_outputs([ours[i] for i in HOOKED]) as hooks:
        ours(minitorch.tensor(x))
        stored = hooks.stored
    # by hand: run the children one by one
    by_hand, a = {}, minitorch.tensor(x)
    for i, layer in enumerate(ours):
        a = layer(a)
        by_hand[i] = to_numpy(a)
    for i, out in zip(HOOKED, stored):
        assert not out.requires_grad, "detach=True stores detached tensors"
        np.testing.assert_array_equal(to_numpy(out), by_hand[i], err_msg=f"layer {i} vs by hand")
        np.testing.assert_allclose(to_numpy(out), seen[i], rtol=1e-12, atol=1e-12,
                                   err_msg=f"layer {i} vs torch")
    assert no_hooks_left(ours)


def test_detach_false_keeps_the_graph_and_gradients_match_torch():
    ours, theirs, x = twins(1)
    upstream = np.random.default_rng(7).standard_normal((2, 6, 2, 2))
    kept = {}
    handle = theirs[3].register_forward_hook(lambda m, i, o: kept.__setitem__("bn", o))
    theirs(torch.from_numpy(x))
    handle.remove()
    (kept["bn"] * torch.from_numpy(upstream)).sum().backward()
    with hook_output(ours[3], detach=False) as hook:
        ours(minitorch.tensor(x))
        assert hook.stored.requires_grad
        (hook.stored * minitorch.tensor(upstream)).sum().backward()
    for (name, p), (tname, tp) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == tname
        if tp.grad is None:  # the Linear after the hooked layer: no gradient reached it
            assert p.grad is None, name
            continue
        np.testing.assert_allclose(to_numpy(p.grad), tp.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_grad_hook_stores_the_gradient_of_the_output():
    ours, theirs, x = twins(2)
    upstream = np.random.default_rng(3).standard_normal((2, 5))
    grads = {}
    handle = theirs[2].register_full_backward_hook(
        lambda m, gi, go: grads.__setitem__("conv", go[0].numpy()))
    (theirs(torch.from_numpy(x)) * torch.from_numpy(upstream)).sum().backward()
    handle.remove()
    with hook_output(ours[2], grad=True) as hook:
        out = ours(minitorch.tensor(x))
        assert hook.stored is None, "a gradient hook stores nothing before backward"
        (out * minitorch.tensor(upstream)).sum().backward()
        grad_output, = hook.stored
    np.testing.assert_allclose(to_numpy(grad_output), grads["conv"], rtol=1e-10, atol=1e-12)
    assert no_hooks_left(ours)
    # the tap is the identity: the parameter gradients are those of an unhooked model
    plain, _, _ = twins(2)
    (plain(minitorch.tensor(x)) * minitorch.tensor(upstream)).sum().backward()
    for (name, p), (_, q) in zip(ours.named_parameters(), plain.named_parameters()):
        np.testing.assert_array_equal(to_numpy(p.grad), to_numpy(q.grad), err_msg=name)


def test_grad_hook_under_create_graph_sees_a_detached_gradient():
    """A gradient penalty through a hooked layer: the hook stores the gradient outside the
    graph, and the second derivatives are those of the unhooked model."""
    def penalty_grads(model, x, hooked):
        x = minitorch.tensor(x, requires_grad=True)
        stored = None
        if hooked:
            with hook_output(model[2], grad=True) as hook:
                g, = minitorch.autograd.grad(model(x).sum(), x, create_graph=True)
                stored = hook.stored
        else:
            g, = minitorch.autograd.grad(model(x).sum(), x, create_graph=True)
        ((g * g).sum()).backward()
        # (the biases of the last conv and the linear layer do not change g: no gradient)
        return [None if p.grad is None else to_numpy(p.grad) for p in model.parameters()], stored

    layers = [nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.Conv2d(3, 2, 3, stride=2), nn.Flatten(),
              nn.Linear(8, 1)]
    model = nn.Sequential(*layers).to(dtype="float64")
    x = np.random.default_rng(5).standard_normal((2, 2, 5, 5))
    hooked, (stored,) = penalty_grads(model, x, hooked=True)
    assert stored is not None and not stored.requires_grad and no_hooks_left(model)
    for p in model.parameters():
        p.grad = None
    plain, _ = penalty_grads(model, x, hooked=False)
    assert [a is None for a in hooked] == [b is None for b in plain] == [
        False, False, False, True, False, True]
    for a, b in zip(hooked, plain):
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_hooks_are_removed_by_remove_by_with_and_when_dropped():
    model, _, x = twins()
    # remove(), twice is harmless
    hook = hook_output(model[0])
    model(minitorch.tensor(x))
    first = hook.stored
    hook.remove()
    hook.remove()
    model(minitorch.tensor(x * 2))
    assert hook.stored is first and no_hooks_left(model)
    # the with block removes them, even when the body raises
    with pytest.raises(ZeroDivisionError):
        with hook_outputs(flatten_model(model)) as hooks:
            assert len(hooks) == len(flatten_model(model)) and not no_hooks_left(model)
            1 / 0
    assert no_hooks_left(model)
    # a Hook (or Hooks) that nobody keeps removes itself
    hook_output(model[1])
    Hooks([model[0], model[3]], lambda m, i, o: None)
    gc.collect()
    assert no_hooks_left(model)


def test_hook_func_results_are_stored():
    model, _, x = twins()
    with Hook(model[0], lambda m, i, o: (type(m).__name__, i[0].shape, o.mean().item())) as hook:
        model(minitorch.tensor(x))
    name, in_shape, mean = hook.stored
    assert name == "Conv2d" and in_shape == (2, 3, 8, 8)
    assert mean == pytest.approx(float(model[0](minitorch.tensor(x)).mean().item()))


@pytest.mark.parametrize("size,expected", [
    ((64, 64), [(1, 4, 32, 32), (1, 4, 32, 32), (1, 6, 16, 16), (1, 6, 16, 16), (1, 6, 1, 1),
                (1, 6), (1, 5)]),
    ((9, 20), [(1, 4, 5, 10), (1, 4, 5, 10), (1, 6, 3, 5), (1, 6, 3, 5), (1, 6, 1, 1),
               (1, 6), (1, 5)]),
])
def test_model_sizes_by_hand(size, expected):
    model = small_convnet(minitorch)
    assert model_sizes(model, size) == expected
    assert no_hooks_left(model)
    assert not model.training, "dummy_eval leaves the model in eval mode, as fastai's"


def test_dummy_batch_and_num_features():
    model = small_convnet(minitorch)
    xb = dummy_batch(model, (5, 7))
    assert xb.shape == (1, 3, 5, 7) and xb.dtype == model[0].weight.dtype
    assert float(xb.array.min()) >= -1 and float(xb.array.max()) < 1
    assert dummy_eval(model, (5, 7)).shape == (1, 5)
    assert in_channels(model) == 3
    assert num_features_model(model[:4]) == 6
    # a body that needs more than 64 pixels: num_features_model tries larger images
    big = nn.Sequential(nn.Conv2d(2, 3, 3), nn.MaxPool2d(100))
    assert num_features_model(big) == 3


def test_in_channels_needs_a_convolution():
    with pytest.raises(ValueError, match="convolution"):
        in_channels(nn.Sequential(nn.Linear(3, 4)))
