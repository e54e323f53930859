"""minitorch.optim and gradient clipping against torch.optim and torch.nn.utils.

Every optimizer configuration is one row of ``CONFIGS``.  Each row runs ten steps in minitorch
and in PyTorch on the same parameters with the same random gradients (no model needed), and
half-way through changes the hyper-parameters in the param groups the way a scheduler does
(lr, and momentum or beta1).  The parameters must agree after every step, and the optimizer
state (momentum buffers, moment estimates, step counts) at the end.  The same rows drive the
state_dict tests: a save/load in the middle of a run must not change where it ends, and a
PyTorch state dict must load.
"""
import copy
import math
import warnings

import numpy as np
import pytest
import torch

import minitorch
import minitorch.optim as optim
from minitorch.nn import Parameter
from minitorch.nn.clip_grad import clip_grad_norm_, clip_grad_value_
from tests.torch_compare import DEVICE, assert_close, noncontiguous, to_numpy, tolerance

SHAPES = [(4, 3), (5,), (2, 3, 2)]
STEPS = 10
CHANGE_AFTER = 5  # the "scheduler" changes the groups after this many steps
NO_GRAD_STEP = 3  # at this step the last parameter has no gradient (it must be left alone)

OPTIMIZERS = {
    "SGD": (optim.SGD, torch.optim.SGD),
    "Adam": (optim.Adam, torch.optim.Adam),
    "AdamW": (optim.AdamW, torch.optim.AdamW),
    "RMSprop": (optim.RMSprop, torch.optim.RMSprop),
    "Adadelta": (optim.Adadelta, torch.optim.Adadelta),
    "Adagrad": (optim.Adagrad, torch.optim.Adagrad),
}

# (label, optimizer, constructor options, per-group overrides or None for one group).
# With two groups, the first holds the first two parameters and the second the last one.
CONFIGS = [
    ("sgd default lr", "SGD", {}, None),
    ("sgd", "SGD", dict(lr=0.1), None),
    ("sgd momentum", "SGD", dict(lr=0.1, momentum=0.9), None),
    ("sgd dampening", "SGD", dict(lr=0.1, momentum=0.9, dampening=0.5), None),
    ("sgd nesterov", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True), None),
    ("sgd weight decay", "SGD", dict(lr=0.1, weight_decay=0.01), None),
    ("sgd momentum weight decay", "SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1), None),
    ("sgd maximize", "SGD", dict(lr=0.1, momentum=0.9, maximize=True), None),
    ("sgd everything", "SGD",
     dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.1, maximize=True), None),
    ("sgd two groups", "SGD", dict(lr=0.1, momentum=0.9), [{}, dict(lr=0.01, momentum=0.5)]),
    ("sgd momentum in one group", "SGD", dict(lr=0.1), [dict(momentum=0.9), {}]),
    ("adam default", "Adam", {}, None),
    ("adam fastai betas", "Adam", dict(lr=0.01, betas=(0.9, 0.99)), None),
    ("adam beta1 zero", "Adam", dict(lr=0.01, betas=(0.0, 0.99)), None),
    ("adam eps", "Adam", dict(lr=0.01, eps=1e-3), None),
    ("adam weight decay", "Adam", dict(lr=0.01, weight_decay=0.1), None),
    ("adam amsgrad", "Adam", dict(lr=0.01, amsgrad=True), None),
    ("adam maximize", "Adam", dict(lr=0.01, maximize=True), None),
    ("adam decoupled", "Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
     None),
    ("adam everything", "Adam",
     dict(lr=0.02, betas=(0.8, 0.9), eps=1e-6, weight_decay=0.05, amsgrad=True, maximize=True),
     None),
    ("adam two groups", "Adam", dict(lr=0.01), [{}, dict(lr=0.001, betas=(0.8, 0.9))]),
    ("adamw default", "AdamW", {}, None),
    ("adamw weight decay", "AdamW", dict(lr=0.01, weight_decay=0.1), None),
    ("adamw amsgrad", "AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True), None),
    ("adamw two groups", "AdamW", dict(lr=0.01),
     [dict(weight_decay=0.0), dict(weight_decay=0.5, amsgrad=True)]),
    ("rmsprop default", "RMSprop", {}, None),
    ("rmsprop alpha", "RMSprop", dict(lr=0.01, alpha=0.9), None),
    ("rmsprop eps", "RMSprop", dict(eps=1e-2), None),
    ("rmsprop weight decay", "RMSprop", dict(weight_decay=0.1), None),
    ("rmsprop momentum", "RMSprop", dict(momentum=0.9), None),
    ("rmsprop centered", "RMSprop", dict(centered=True), None),
    ("rmsprop centered momentum", "RMSprop",
     dict(lr=0.005, centered=True, momentum=0.5, weight_decay=0.05), None),
    ("rmsprop maximize", "RMSprop", dict(momentum=0.5, maximize=True), None),
    ("rmsprop two groups", "RMSprop", dict(lr=0.01),
     [dict(momentum=0.9), dict(lr=0.001, alpha=0.9, centered=True)]),
    ("adadelta default", "Adadelta", {}, None),
    ("adadelta mnist example", "Adadelta", dict(lr=1.0), None),
    ("adadelta rho eps", "Adadelta", dict(lr=0.5, rho=0.5, eps=1e-3), None),
    ("adadelta rho one", "Adadelta", dict(rho=1.0), None),
    ("adadelta weight decay", "Adadelta", dict(weight_decay=0.1), None),
    ("adadelta maximize", "Adadelta", dict(lr=2.0, maximize=True, weight_decay=0.05), None),
    ("adadelta two groups", "Adadelta", dict(lr=1.0),
     [dict(rho=0.95), dict(lr=0.1, eps=1e-4, weight_decay=0.01)]),
    ("adagrad default", "Adagrad", {}, None),
    ("adagrad lr decay", "Adagrad", dict(lr=0.1, lr_decay=0.05), None),
    ("adagrad initial accumulator eps", "Adagrad",
     dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-3), None),
    ("adagrad weight decay maximize", "Adagrad", dict(weight_decay=0.1, maximize=True), None),
    ("adagrad two groups", "Adagrad", dict(lr=0.1),
     [dict(lr_decay=0.1), dict(lr=0.01, weight_decay=0.05, initial_accumulator_value=1.0)]),
]
CONFIG_IDS = [row[0] for row in CONFIGS]
DTYPES = [np.float64, np.float32]


# ---- building the same run in both frameworks ----------------------------------------------------
def initial_values(dtype, seed=0):
    generator = np.random.default_rng(seed)
    return [generator.standard_normal(shape).astype(dtype) for shape in SHAPES]


def random_gradients(dtype, steps=STEPS, seed=1):
    """One list of gradients per step; the last parameter gets none at NO_GRAD_STEP."""
    generator = np.random.default_rng(seed)
    per_step = []
    for step in range(steps):
        grads = [generator.standard_normal(shape).astype(dtype) for shape in SHAPES]
        if step == NO_GRAD_STEP:
            grads[-1] = None
        per_step.append(grads)
    return per_step


def minitorch_params(values):
    return [Parameter(minitorch.tensor(v, device=DEVICE)) for v in values]


def torch_params(values):
    return [torch.tensor(v, requires_grad=True) for v in values]


def param_groups(params, groups):
    if groups is None:
        return params
    return [dict(groups[0], params=params[:2]), dict(groups[1], params=params[2:])]


def make_minitorch(name, params, options, groups):
    return OPTIMIZERS[name][0](param_groups(params, groups), **options)


def make_torch(name, params, options, groups):
    # foreach=False: PyTorch's plain per-tensor loop, the code path our step() mirrors.
    return OPTIMIZERS[name][1](param_groups(params, groups), foreach=False, **options)


def set_gradients(params, grads, framework):
    for p, g in zip(params, grads):
        if g is None:
            p.grad = None
        elif framework == "minitorch":
            p.grad = minitorch.tensor(g, device=DEVICE)
        else:
            p.grad = torch.tensor(g)


def scheduler_change(optimizer):
    """What fastai's one-cycle does between steps: new lr, new momentum (or beta1)."""
    for group in optimizer.param_groups:
        group["lr"] *= 0.5
        if "betas" in group:
            group["betas"] = (0.85, group["betas"][1])
        elif group.get("momentum", 0) > 0:
            group["momentum"] = 0.7


def run(optimizer, params, grads, framework, steps, change_after=None):
    """Steps ``steps`` (indices into ``grads``), the scheduler acting before ``change_after``."""
    for step in steps:
        if step == change_after:
            scheduler_change(optimizer)
        set_gradients(params, grads[step], framework)
        optimizer.step()


def compare_state(mt_opt, mt_params, torch_opt, t_params, tol):
    for i, (mp, tp) in enumerate(zip(mt_params, t_params)):
        ours, theirs = mt_opt.state[mp], torch_opt.state[tp]
        assert set(ours) == set(theirs), f"parameter {i}: state keys {sorted(ours)} != " \
            f"torch's {sorted(theirs)}"
        for key in theirs:
            if key == "step":
                assert ours["step"] == int(theirs["step"].item()), f"parameter {i}: step"
            else:
                assert_close(ours[key], theirs[key], what=f"state[{i}][{key!r}]", **tol)


# ---- ten steps against torch.optim ---------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("label, name, options, groups", CONFIGS, ids=CONFIG_IDS)
def test_ten_steps_match_torch(label, name, options, groups, dtype):
    values, grads = initial_values(dtype), random_gradients(dtype)
    mt_params, t_params = minitorch_params(values), torch_params(values)
    mt_opt = make_minitorch(name, mt_params, options, groups)
    torch_opt = make_torch(name, t_params, options, groups)
    tol = tolerance(dtype)

    for step in range(STEPS):  # the two runs advance in lockstep, so a mismatch names its step
        run(mt_opt, mt_params, grads, "minitorch", [step], CHANGE_AFTER)
        run(torch_opt, t_params, grads, "torch", [step], CHANGE_AFTER)
        for i, (mp, tp) in enumerate(zip(mt_params, t_params)):
            assert_close(mp, tp, what=f"{label}: parameter {i} after step {step + 1}", **tol)
    compare_state(mt_opt, mt_params, torch_opt, t_params, tol)
    assert all(mp.dtype == np.dtype(dtype) for mp in mt_params), "an update changed the dtype"


@pytest.mark.parametrize("name, options", [
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
], ids=["SGD", "Adam", "RMSprop"])
def test_add_param_group_mid_training_matches_torch(name, options):
    """Fine-tuning unfreezes layers by adding their parameters as a new group, with its own lr."""
    values, grads = initial_values(np.float64), random_gradients(np.float64)
    mt_params, t_params = minitorch_params(values), torch_params(values)
    mt_opt = OPTIMIZERS[name][0](mt_params[:2], **options)
    torch_opt = OPTIMIZERS[name][1](t_params[:2], foreach=False, **options)
    for step in range(STEPS):
        if step == CHANGE_AFTER:
            mt_opt.add_param_group({"params": mt_params[2:], "lr": 0.003})
            torch_opt.add_param_group({"params": t_params[2:], "lr": 0.003})
        run(mt_opt, mt_params, grads, "minitorch", [step])
        run(torch_opt, t_params, grads, "torch", [step])
    assert mt_opt.param_groups[1]["lr"] == 0.003
    for key in set(options) - {"lr"}:  # the other hyper-parameters came from the constructor
        assert mt_opt.param_groups[1][key] == options[key]
    for i, (mp, tp) in enumerate(zip(mt_params, t_params)):
        assert_close(mp, tp, what=f"parameter {i}", **tolerance(np.float64))


@pytest.mark.parametrize("name, options", [
    ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
], ids=["SGD", "AdamW", "RMSprop"])
def test_non_contiguous_parameters_and_gradients(name, options):
    """Updates in place through strided views (a parameter that is a slice of a wider array)."""
    def strided(array):  # from_numpy keeps the layout; on the GPU, tensor() makes a copy
        if DEVICE == "cpu":
            return minitorch.from_numpy(noncontiguous(array))
        return minitorch.tensor(array, device=DEVICE)

    values, grads = initial_values(np.float64), random_gradients(np.float64)
    mt_params, t_params = [Parameter(strided(v)) for v in values], torch_params(values)
    assert DEVICE != "cpu" or not mt_params[0].array.flags.c_contiguous
    mt_opt = OPTIMIZERS[name][0](mt_params, **options)
    torch_opt = OPTIMIZERS[name][1](t_params, foreach=False, **options)
    for step in range(STEPS):
        for p, g in zip(mt_params, grads[step]):
            p.grad = None if g is None else strided(g)
        mt_opt.step()
        run(torch_opt, t_params, grads, "torch", [step])
    for i, (mp, tp) in enumerate(zip(mt_params, t_params)):
        assert_close(mp, tp, what=f"parameter {i}", **tolerance(np.float64))


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    values = initial_values(np.float32)
    mt_params, t_params = minitorch_params(values), torch_params(values)
    mt_opt, torch_opt = optim.SGD(mt_params, lr=0.1), torch.optim.SGD(t_params, lr=0.1)
    grads = random_gradients(np.float32)[0]
    set_gradients(mt_params, grads, "minitorch")
    set_gradients(t_params, grads, "torch")
    mt_opt.zero_grad(set_to_none=set_to_none)
    torch_opt.zero_grad(set_to_none=set_to_none)
    for mp, tp in zip(mt_params, t_params):
        assert (mp.grad is None) == (tp.grad is None)
        if tp.grad is not None:
            assert_close(mp.grad, tp.grad, rtol=0, atol=0, what="zeroed gradient")


def test_step_with_closure_returns_the_loss():
    """``step(closure)`` evaluates the loss (with gradients recorded, even under no_grad)."""
    values = initial_values(np.float64)
    mt_params, t_params = minitorch_params(values), torch_params(values)
    mt_opt, torch_opt = optim.SGD(mt_params, lr=0.1), torch.optim.SGD(t_params, lr=0.1)

    def closure(params, opt):
        def evaluate():
            opt.zero_grad()
            loss = sum((p * p).sum() for p in params)
            loss.backward()
            return loss
        return evaluate

    with minitorch.no_grad():
        mt_loss = mt_opt.step(closure(mt_params, mt_opt))
    torch_loss = torch_opt.step(closure(t_params, torch_opt))
    assert_close(mt_loss, torch_loss, what="loss", **tolerance(np.float64))
    for mp, tp in zip(mt_params, t_params):
        assert_close(mp, tp, what="parameter", **tolerance(np.float64))


def test_step_invalidates_graphs_that_saved_the_old_parameter():
    """The update is in place, so it bumps the version counter as in-place tensor ops do."""
    p = Parameter(minitorch.tensor([1.0, 2.0], device=DEVICE))
    loss = (p * p).sum()
    version = p._version
    p.grad = minitorch.tensor([1.0, 1.0], device=DEVICE)
    optim.SGD([p], lr=0.1).step()
    assert p._version > version
    with pytest.raises(RuntimeError):
        loss.backward()


# ---- state_dict ----------------------------------------------------------------------------------
@pytest.mark.parametrize("label, name, options, groups", CONFIGS, ids=CONFIG_IDS)
def test_state_dict_round_trip_continues_the_run(label, name, options, groups):
    """Save after 5 steps, load into a fresh optimizer (built with default hyper-parameters,
    which the state dict replaces), continue: the same numbers as an uninterrupted run, bit for
    bit.  The saved run also goes on, so the loaded optimizer must own copies of the state."""
    values, grads = initial_values(np.float64), random_gradients(np.float64)
    first, second = range(CHANGE_AFTER), range(CHANGE_AFTER, STEPS)

    whole_params = minitorch_params(values)
    whole = make_minitorch(name, whole_params, options, groups)
    run(whole, whole_params, grads, "minitorch", range(STEPS))

    saved_params = minitorch_params(values)
    saved = make_minitorch(name, saved_params, options, groups)
    run(saved, saved_params, grads, "minitorch", first)
    state = saved.state_dict()

    loaded_params = minitorch_params([to_numpy(p) for p in saved_params])
    loaded = make_minitorch(name, loaded_params, {}, None if groups is None else [{}, {}])
    loaded.load_state_dict(state)
    assert [{k: v for k, v in g.items() if k != "params"} for g in loaded.param_groups] == \
        [{k: v for k, v in g.items() if k != "params"} for g in saved.param_groups]
    run(loaded, loaded_params, grads, "minitorch", second)
    run(saved, saved_params, grads, "minitorch", second)

    for i, (w, s, r) in enumerate(zip(whole_params, saved_params, loaded_params)):
        np.testing.assert_array_equal(to_numpy(r), to_numpy(w), err_msg=f"loaded, parameter {i}")
        np.testing.assert_array_equal(to_numpy(s), to_numpy(w), err_msg=f"saved, parameter {i}")


@pytest.mark.parametrize("label, name, options, groups", CONFIGS, ids=CONFIG_IDS)
def test_state_dict_layout_is_torch_layout(label, name, options, groups):
    """Integer ids in place of parameters, the same group entries and state keys as PyTorch."""
    values, grads = initial_values(np.float64), random_gradients(np.float64)
    mt_params, t_params = minitorch_params(values), torch_params(values)
    mt_opt = make_minitorch(name, mt_params, options, groups)
    torch_opt = make_torch(name, t_params, options, groups)
    run(mt_opt, mt_params, grads, "minitorch", range(3))
    run(torch_opt, t_params, grads, "torch", range(3))
    ours, theirs = mt_opt.state_dict(), torch_opt.state_dict()

    implementation_only = set(optim.optimizer.TORCH_IMPLEMENTATION_OPTIONS)
    for i, (group, torch_group) in enumerate(zip(ours["param_groups"], theirs["param_groups"])):
        expected = {k: v for k, v in torch_group.items() if k not in implementation_only}
        assert group == expected, f"param group {i}: {group} != torch's {expected}"
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for key in theirs["state"]:
        assert set(ours["state"][key]) == set(theirs["state"][key]), f"state of id {key}"


@pytest.mark.parametrize("label, name, options, groups", CONFIGS, ids=CONFIG_IDS)
def test_torch_state_dict_loads(label, name, options, groups):
    """A PyTorch optimizer's state dict, tensors turned into arrays, carries on in minitorch."""
    values, grads = initial_values(np.float64), random_gradients(np.float64)
    t_params = torch_params(values)
    torch_opt = make_torch(name, t_params, options, groups)
    run(torch_opt, t_params, grads, "torch", range(CHANGE_AFTER))
    state = torch_opt.state_dict()
    state["state"] = {k: {key: v.numpy() for key, v in s.items()}
                      for k, s in state["state"].items()}

    mt_params = minitorch_params([p.detach().numpy() for p in t_params])
    mt_opt = make_minitorch(name, mt_params, {}, None if groups is None else [{}, {}])
    mt_opt.load_state_dict(state)
    run(mt_opt, mt_params, grads, "minitorch", range(CHANGE_AFTER, STEPS))
    run(torch_opt, t_params, grads, "torch", range(CHANGE_AFTER, STEPS))
    for i, (mp, tp) in enumerate(zip(mt_params, t_params)):
        assert_close(mp, tp, what=f"parameter {i}", **tolerance(np.float64))


def test_loaded_state_takes_the_parameters_dtype():
    values, grads = initial_values(np.float64), random_gradients(np.float64)
    params = minitorch_params(values)
    opt = optim.Adam(params, lr=0.01)
    run(opt, params, grads, "minitorch", range(2))
    params32 = minitorch_params(initial_values(np.float32))
    opt32 = optim.Adam(params32)
    opt32.load_state_dict(opt.state_dict())
    for p in params32:
        assert opt32.state[p]["exp_avg"].dtype == np.float32
        assert opt32.state[p]["exp_avg_sq"].device == p.device


# ---- bad input -----------------------------------------------------------------------------------
def _param(shape=(2,)):
    return Parameter(minitorch.zeros(*shape, device=DEVICE))


def _same_parameter_twice():
    p = _param()
    return optim.SGD([p, p])


def _parameter_in_two_groups():
    p = _param()
    return optim.SGD([{"params": [p]}, {"params": [p]}])


# (label, call, exception, the message must match)
CONSTRUCTION_ERRORS = [
    ("negative lr", lambda: optim.SGD([_param()], lr=-0.1),
     ValueError, r"SGD: lr must be .*>= 0.*-0\.1"),
    ("NaN lr", lambda: optim.Adam([_param()], lr=float("nan")),
     ValueError, r"Adam: lr .* got nan"),
    ("lr not a number", lambda: optim.SGD([_param()], lr="0.1"),
     TypeError, r"SGD: lr .* got str"),
    ("negative momentum", lambda: optim.SGD([_param()], momentum=-0.9),
     ValueError, r"momentum .* -0\.9"),
    ("negative dampening", lambda: optim.SGD([_param()], momentum=0.9, dampening=-1),
     ValueError, r"dampening"),
    ("negative weight decay", lambda: optim.Adam([_param()], weight_decay=-1e-2),
     ValueError, r"weight_decay .* -0\.01"),
    ("nesterov without momentum", lambda: optim.SGD([_param()], nesterov=True),
     ValueError, r"Nesterov .* momentum=0"),
    ("nesterov with dampening",
     lambda: optim.SGD([_param()], momentum=0.9, dampening=0.1, nesterov=True),
     ValueError, r"zero dampening.*dampening=0\.1"),
    ("beta1 = 1", lambda: optim.Adam([_param()], betas=(1.0, 0.999)),
     ValueError, r"betas\[0\] must be .*< 1.*got 1\.0"),
    ("negative beta2", lambda: optim.AdamW([_param()], betas=(0.9, -0.1)),
     ValueError, r"AdamW: betas\[1\].*-0\.1"),
    ("betas not a pair", lambda: optim.Adam([_param()], betas=0.9),
     ValueError, r"betas must be a pair"),
    ("negative eps", lambda: optim.Adam([_param()], eps=-1e-8),
     ValueError, r"eps"),
    ("negative alpha", lambda: optim.RMSprop([_param()], alpha=-0.5),
     ValueError, r"RMSprop: alpha .* -0\.5"),
    ("negative rmsprop momentum", lambda: optim.RMSprop([_param()], momentum=-1),
     ValueError, r"RMSprop: momentum"),
    ("negative adadelta rho", lambda: optim.Adadelta([_param()], rho=-0.1),
     ValueError, r"Adadelta: rho must be .*-0\.1"),
    ("adadelta rho above one", lambda: optim.Adadelta([_param()], rho=1.5),
     ValueError, r"Adadelta: rho must be .*<= 1\.0, got 1\.5"),
    ("negative adadelta lr", lambda: optim.Adadelta([_param()], lr=-1.0),
     ValueError, r"Adadelta: lr"),
    ("AdamW coupled",
     lambda: optim.AdamW([{"params": [_param()], "decoupled_weight_decay": False}]),
     ValueError, r"always decoupled.*param group 0"),
    ("bad value in a group",
     lambda: optim.SGD([{"params": [_param()]}, {"params": [_param()], "lr": -1}], lr=0.1),
     ValueError, r"lr .* got -1 \(param group 1\)"),
    ("misspelt option in a group",
     lambda: optim.SGD([{"params": [_param()], "momentun": 0.9}]),
     ValueError, r"unknown hyper-parameter.*momentun"),
    ("a single tensor", lambda: optim.SGD(_param(), lr=0.1),
     TypeError, r"single Tensor"),
    ("no parameters", lambda: optim.Adam([]),
     ValueError, r"empty parameter list"),
    ("used-up generator", lambda: optim.Adam(iter([])),
     ValueError, r"empty parameter list"),
    ("a set of parameters", lambda: optim.SGD([{"params": {_param()}}]),
     TypeError, r"not a set"),
    ("not a tensor", lambda: optim.SGD([np.zeros(2)]),
     TypeError, r"only optimize Tensors.*ndarray"),
    ("named parameters", lambda: optim.SGD([("weight", _param())]),
     TypeError, r"is a tuple \(from named_parameters\(\)\? pass parameters\(\)\)"),
    ("non-leaf tensor", lambda: optim.SGD([_param() * 2]),
     ValueError, r"non-leaf Tensor"),
    ("integer tensor", lambda: optim.SGD([minitorch.zeros(2, dtype=minitorch.int64)]),
     TypeError, r"floating-point.*int64"),
    ("the same parameter twice", _same_parameter_twice,
     ValueError, r"more than once"),
    ("a parameter in two groups", _parameter_in_two_groups,
     ValueError, r"more than one param group"),
    ("group without params", lambda: optim.SGD([_param()]).add_param_group({"lr": 0.1}),
     ValueError, r"no 'params' entry"),
    ("group not a dict", lambda: optim.SGD([_param()]).add_param_group([_param()]),
     TypeError, r"a dict .* got list"),
]


@pytest.mark.parametrize("label, call, exception, message", CONSTRUCTION_ERRORS,
                         ids=[row[0] for row in CONSTRUCTION_ERRORS])
def test_bad_input_is_named(label, call, exception, message):
    with pytest.raises(exception, match=message):
        call()


def _two_group_adam():
    params = [_param((2, 3)), _param((4,)), _param((5,))]
    opt = optim.Adam([{"params": params[:2]}, {"params": params[2:], "lr": 0.1}], lr=0.01)
    for p in params:
        p.grad = minitorch.ones(*p.shape, device=DEVICE)
    opt.step()
    return opt


def _edit(change):
    """A state dict from a two-group Adam after one step, passed through ``change``."""
    def make():
        state = copy.deepcopy(_two_group_adam().state_dict())
        change(state)
        return state
    return make


def _sgd_state_dict_of_the_same_shape():
    params = [_param((2, 3)), _param((4,)), _param((5,))]
    return optim.SGD([{"params": params[:2]}, {"params": params[2:]}]).state_dict()


# (label, state dict maker, the message must match); each is loaded into a fresh two-group Adam.
LOAD_ERRORS = [
    ("not a state dict", lambda: {"weights": 1},
     r"keys 'state' and 'param_groups'"),
    ("one group missing", _edit(lambda s: s["param_groups"].pop()),
     r"1 param group\(s\), this optimizer 2"),
    ("group of another size", _edit(lambda s: s["param_groups"][0]["params"].pop()),
     r"param group 0 .* 1 parameters, this optimizer's 2"),
    ("state of another shape", _edit(lambda s: s["state"][1].update(exp_avg=np.zeros(3))),
     r"state\[1\]\['exp_avg'\] has shape \(3,\).*shape \(4,\)"),
    ("state for an unknown id", _edit(lambda s: s["state"].update({7: {}})),
     r"parameter id 7"),
    ("from another optimizer", _sgd_state_dict_of_the_same_shape,
     r"lacks Adam's hyper-parameter.*'betas'"),
    ("bad saved value", _edit(lambda s: s["param_groups"][1].update(betas=(0.9, 1.5))),
     r"betas\[1\].*1\.5 \(param group 1 of the state dict\)"),
]


@pytest.mark.parametrize("label, make_state, message", LOAD_ERRORS,
                         ids=[row[0] for row in LOAD_ERRORS])
def test_mismatched_state_dict_is_refused_and_changes_nothing(label, make_state, message):
    opt = _two_group_adam()
    before = copy.deepcopy(opt.state_dict())
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(make_state())
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert sorted(after["state"]) == sorted(before["state"])
    for key, entries in before["state"].items():
        assert after["state"][key]["step"] == entries["step"]
        for name in ("exp_avg", "exp_avg_sq"):
            assert_close(after["state"][key][name], entries[name], rtol=0, atol=0,
                         what=f"state[{key}][{name!r}]")


# ---- gradient clipping ---------------------------------------------------------------------------
def _grads_for_clipping(dtype, scale=1.0, special=None):
    generator = np.random.default_rng(2)
    grads = [scale * generator.standard_normal(shape).astype(dtype) for shape in SHAPES]
    if special is not None:
        grads[0][0, 1] = special
    grads[1] = None  # a parameter without a gradient is skipped
    return grads


def _clipping_pair(dtype, grads):
    values = initial_values(dtype)
    mt_params, t_params = minitorch_params(values), torch_params(values)
    set_gradients(mt_params, grads, "minitorch")
    set_gradients(t_params, grads, "torch")
    return mt_params, t_params


# (label, max_norm, norm_type, gradient scale, a special value put in one gradient)
CLIP_NORM_ROWS = [
    ("l2 clips", 1.0, 2.0, 1.0, None),
    ("l2 below max", 100.0, 2.0, 1.0, None),
    ("l2 tiny grads", 1.0, 2, 1e-3, None),
    ("l1", 2.0, 1.0, 1.0, None),
    ("l3", 0.5, 3.0, 1.0, None),
    ("half norm", 5.0, 0.5, 1.0, None),
    ("inf norm", 0.5, math.inf, 1.0, None),
    ("inf norm as string", 0.5, "inf", 1.0, None),
    ("-inf norm", 0.01, -math.inf, 1.0, None),
    ("zero norm (count)", 3.0, 0.0, 1.0, None),
    ("zero max_norm", 0.0, 2.0, 1.0, None),
    ("infinite gradient", 1.0, 2.0, 1.0, math.inf),
    ("NaN gradient", 1.0, 2.0, 1.0, math.nan),
]


# An infinite gradient times the factor 0 gives NaN, in torch as here; NumPy says so, rightly.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("label, max_norm, norm_type, scale, special", CLIP_NORM_ROWS,
                         ids=[r[0] for r in CLIP_NORM_ROWS])
def test_clip_grad_norm_matches_torch(label, max_norm, norm_type, scale, special, dtype):
    mt_params, t_params = _clipping_pair(dtype, _grads_for_clipping(dtype, scale, special))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's own warnings are not under test here
        expected = torch.nn.utils.clip_grad_norm_(t_params, max_norm, norm_type, foreach=False)
    total = clip_grad_norm_(mt_params, max_norm, norm_type)
    tol = tolerance(dtype)
    assert isinstance(total, minitorch.Tensor) and total.shape == ()
    assert total.dtype == np.dtype(dtype)
    assert_close(total, expected, what="total norm", **tol)
    for i, (mp, tp) in enumerate(zip(mt_params, t_params)):
        assert (mp.grad is None) == (tp.grad is None)
        if tp.grad is not None:
            assert_close(mp.grad, tp.grad, what=f"clipped gradient {i}", **tol)


@pytest.mark.parametrize("special", [math.inf, -math.inf, math.nan], ids=["inf", "-inf", "nan"])
def test_clip_grad_norm_error_if_nonfinite(special):
    mt_params, _ = _clipping_pair(np.float32, _grads_for_clipping(np.float32, special=special))
    before = [None if p.grad is None else to_numpy(p.grad).copy() for p in mt_params]
    with pytest.raises(RuntimeError, match=r"total norm of order 2\.0 .* (inf|nan)"):
        clip_grad_norm_(mt_params, 1.0, error_if_nonfinite=True)
    for p, b in zip(mt_params, before):  # nothing was scaled
        if b is not None:
            np.testing.assert_array_equal(to_numpy(p.grad), b)


@pytest.mark.parametrize("form", ["single tensor", "generator", "list"])
def test_clip_grad_norm_accepts_what_torch_accepts(form):
    mt_params, t_params = _clipping_pair(np.float64, _grads_for_clipping(np.float64))
    arguments = {"single tensor": lambda ps: ps[0], "generator": lambda ps: (p for p in ps),
                 "list": lambda ps: ps}[form]
    total = clip_grad_norm_(arguments(mt_params), 0.5)
    expected = torch.nn.utils.clip_grad_norm_(arguments(t_params), 0.5, foreach=False)
    assert_close(total, expected, what="total norm", **tolerance(np.float64))
    for mp, tp in zip(mt_params, t_params):
        if tp.grad is not None:
            assert_close(mp.grad, tp.grad, what="clipped gradient", **tolerance(np.float64))


def test_clip_grad_norm_without_gradients_is_zero():
    total = clip_grad_norm_([_param(), _param()], 1.0)
    expected = torch.nn.utils.clip_grad_norm_([torch.zeros(2, requires_grad=True)], 1.0)
    assert total.dtype == np.float32 and total.item() == expected.item() == 0.0
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_(iter([]), 1.0)


CLIP_VALUE_ROWS = [("tight", 0.1), ("loose", 1.0), ("nothing clipped", 10.0), ("zero", 0.0)]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("label, clip_value", CLIP_VALUE_ROWS, ids=[r[0] for r in CLIP_VALUE_ROWS])
def test_clip_grad_value_matches_torch(label, clip_value, dtype):
    mt_params, t_params = _clipping_pair(dtype, _grads_for_clipping(dtype, special=math.inf))
    assert clip_grad_value_(mt_params, clip_value) is None
    torch.nn.utils.clip_grad_value_(t_params, clip_value, foreach=False)
    for i, (mp, tp) in enumerate(zip(mt_params, t_params)):
        assert (mp.grad is None) == (tp.grad is None)
        if tp.grad is not None:
            assert_close(mp.grad, tp.grad, rtol=0, atol=0, what=f"clipped gradient {i}")


CLIP_ERRORS = [
    ("negative max_norm", lambda: clip_grad_norm_([_param()], -1.0),
     ValueError, r"max_norm must be >= 0, got -1\.0"),
    ("NaN max_norm", lambda: clip_grad_norm_([_param()], math.nan),
     ValueError, r"max_norm .* got nan"),
    ("negative clip_value", lambda: clip_grad_value_([_param()], -0.5),
     ValueError, r"clip_value must be >= 0, got -0\.5"),
    ("not tensors", lambda: clip_grad_norm_([np.zeros(3)], 1.0),
     TypeError, r"item 0 is a ndarray"),
    ("not tensors, by value", lambda: clip_grad_value_([_param(), 3.0], 1.0),
     TypeError, r"item 1 is a float"),
]


@pytest.mark.parametrize("label, call, exception, message", CLIP_ERRORS,
                         ids=[row[0] for row in CLIP_ERRORS])
def test_clipping_bad_input_is_named(label, call, exception, message):
    with pytest.raises(exception, match=message):
        call()
