"""minitorch.optim.lr_scheduler against torch.optim.lr_scheduler, step by step.

Each row of ``SCHEDULES`` builds the same optimizer (its kind, its param groups) and the same
scheduler(s) in both libraries, then runs a whole schedule the way a training loop does —
``optimizer.step()``, then ``scheduler.step()`` — and after every step compares what the two
schedulers report (``get_last_lr()``, ``last_epoch``) and what they wrote into every param
group: the lr, and the momentum or Adam's β₁ that OneCycleLR moves too.  The parameters get a
gradient at every step, so the optimizer's own update runs under the scheduled lr and the
parameters are compared at the end.  Then: saving and resuming mid-schedule, and bad input.
"""
import copy
import warnings

import numpy as np
import pytest
import torch

import minitorch
from minitorch import optim
from minitorch.nn import Parameter
from tests.torch_compare import DEVICE, assert_close, tolerance

SHAPES = [(3, 2), (4,)]


def _schedulers(lib, optimizer, make):
    made = make(lib.optim.lr_scheduler, optimizer)
    return list(made) if isinstance(made, (list, tuple)) else [made]


def _build(lib, optimizer_name, options, groups, make):
    """Parameters, optimizer and scheduler(s) in ``lib`` (minitorch or torch)."""
    generator = np.random.default_rng(0)
    values = [generator.standard_normal(shape) for shape in SHAPES]
    if lib is torch:
        params = [torch.tensor(v, requires_grad=True) for v in values]
        extra = {"foreach": False}
    else:
        params = [Parameter(minitorch.tensor(v, device=DEVICE)) for v in values]
        extra = {}
    given = params if groups is None else [dict(groups[0], params=params[:1]),
                                           dict(groups[1], params=params[1:])]
    optimizer = getattr(lib.optim, optimizer_name)(given, **options, **extra)
    return params, optimizer, _schedulers(lib, optimizer, make)


def _gradient(step, shape):
    return np.random.default_rng(100 + step).standard_normal(shape)


def _train_step(lib, params, optimizer, schedulers, step):
    for p, shape in zip(params, SHAPES):
        g = _gradient(step, shape)
        p.grad = torch.tensor(g) if lib is torch else minitorch.tensor(g, device=DEVICE)
    optimizer.step()
    for scheduler in schedulers:
        scheduler.step()


def _group_values(optimizer):
    """What a scheduler may write into each group: lr, momentum, β₁."""
    values = []
    for group in optimizer.param_groups:
        entry = {"lr": group["lr"]}
        if "momentum" in group:
            entry["momentum"] = group["momentum"]
        if "betas" in group:
            entry["beta1"] = group["betas"][0]
        values.append(entry)
    return values


def _same(ours, theirs, what):
    assert np.allclose(ours, theirs, rtol=1e-13, atol=0), \
        f"{what}: minitorch {ours}, torch {theirs}"


def _compare(mt, th, what):
    (mt_params, mt_opt, mt_scheds), (t_params, t_opt, t_scheds) = mt, th
    for k, (ms, ts) in enumerate(zip(mt_scheds, t_scheds)):
        _same(ms.get_last_lr(), ts.get_last_lr(), f"{what}: get_last_lr() of scheduler {k}")
        assert ms.last_epoch == ts.last_epoch, f"{what}: last_epoch"
    for g, (mine, theirs) in enumerate(zip(_group_values(mt_opt), _group_values(t_opt))):
        assert set(mine) == set(theirs), f"{what}: group {g} has {sorted(mine)}"
        for key in theirs:
            _same(mine[key], theirs[key], f"{what}: group {g} {key}")


# (label, optimizer, its options, per-group overrides or None, schedulers maker, steps)
SCHEDULES = [
    ("step", "SGD", dict(lr=0.1), None, lambda s, o: s.StepLR(o, step_size=3, gamma=0.5), 10),
    ("step as the mnist example", "Adadelta", dict(lr=1.0), None,
     lambda s, o: s.StepLR(o, step_size=1, gamma=0.7), 8),
    ("step, two groups", "SGD", dict(lr=0.1, momentum=0.9), [{}, dict(lr=0.03)],
     lambda s, o: s.StepLR(o, 2), 7),
    ("multistep", "SGD", dict(lr=0.2), None,
     lambda s, o: s.MultiStepLR(o, milestones=[2, 5, 5, 8], gamma=0.3), 10),
    ("exponential", "Adam", dict(lr=0.01), None, lambda s, o: s.ExponentialLR(o, gamma=0.9), 12),
    ("cosine past T_max", "SGD", dict(lr=0.1, momentum=0.9), None,
     lambda s, o: s.CosineAnnealingLR(o, T_max=5, eta_min=0.01), 17),
    ("cosine, two groups", "SGD", dict(lr=0.5), [{}, dict(lr=0.05)],
     lambda s, o: s.CosineAnnealingLR(o, T_max=4), 9),
    ("lambda", "SGD", dict(lr=0.1), None, lambda s, o: s.LambdaLR(o, lambda e: 0.95 ** e), 8),
    ("lambda per group", "Adam", dict(lr=0.01), [{}, dict(lr=0.1)],
     lambda s, o: s.LambdaLR(o, [lambda e: 1 / (e + 1), lambda e: min(1.0, (e + 1) / 4)]), 8),
    ("one cycle, SGD momentum", "SGD", dict(lr=0.1, momentum=0.9), None,
     lambda s, o: s.OneCycleLR(o, max_lr=0.1, total_steps=20), 20),
    ("one cycle, Adam betas", "Adam", dict(lr=0.01), None,
     lambda s, o: s.OneCycleLR(o, max_lr=0.01, epochs=3, steps_per_epoch=5), 15),
    ("one cycle, three phases, linear", "SGD", dict(lr=0.1), None,
     lambda s, o: s.OneCycleLR(o, max_lr=1.0, total_steps=16, pct_start=0.25,
                               anneal_strategy="linear", three_phase=True,
                               div_factor=10.0, final_div_factor=100.0), 16),
    ("one cycle, per-group max_lr, no momentum cycling", "RMSprop", dict(lr=0.01),
     [{}, dict(lr=0.001)],
     lambda s, o: s.OneCycleLR(o, max_lr=[0.05, 0.005], total_steps=10, cycle_momentum=False), 10),
    ("one cycle, per-group momenta", "SGD", dict(lr=0.1, momentum=0.9), [{}, {}],
     lambda s, o: s.OneCycleLR(o, max_lr=0.2, total_steps=12, base_momentum=[0.8, 0.7],
                               max_momentum=[0.9, 0.99]), 12),
    ("step then exponential, chained", "SGD", dict(lr=0.1), None,
     lambda s, o: [s.StepLR(o, step_size=2, gamma=0.5), s.ExponentialLR(o, gamma=0.9)], 9),
]
IDS = [row[0] for row in SCHEDULES]


@pytest.mark.parametrize("label, optimizer, options, groups, make, steps", SCHEDULES, ids=IDS)
def test_schedule_matches_torch_step_by_step(label, optimizer, options, groups, make, steps):
    mt = _build(minitorch, optimizer, options, groups, make)
    th = _build(torch, optimizer, options, groups, make)
    _compare(mt, th, f"{label}, after construction")
    for step in range(steps):
        _train_step(minitorch, *mt, step)
        _train_step(torch, *th, step)
        _compare(mt, th, f"{label}, after step {step + 1}")
    for i, (mp, tp) in enumerate(zip(mt[0], th[0])):
        assert_close(mp, tp, what=f"{label}: parameter {i} at the end", **tolerance(np.float64))
    for g, (mine, theirs) in enumerate(zip(mt[1].param_groups, th[1].param_groups)):
        for key in ("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"):
            assert (key in mine) == (key in theirs), f"group {g}: {key}"
            if key in theirs:
                _same(mine[key], theirs[key], f"group {g} {key}")


@pytest.mark.parametrize("label, optimizer, options, groups, make, steps",
                         [r for r in SCHEDULES if not r[0].startswith("lambda")],
                         ids=[i for i in IDS if not i.startswith("lambda")])
def test_resuming_from_state_dicts_continues_the_schedule(label, optimizer, options, groups,
                                                          make, steps):
    """Save the optimizer's and the schedulers' state dicts half-way, build everything afresh,
    load them, go on: the same learning rates as torch's uninterrupted run."""
    th = _build(torch, optimizer, options, groups, make)
    mt = _build(minitorch, optimizer, options, groups, make)
    half = steps // 2
    for step in range(half):
        _train_step(minitorch, *mt, step)
        _train_step(torch, *th, step)
    saved_opt = copy.deepcopy(mt[1].state_dict())
    saved_scheds = [copy.deepcopy(s.state_dict()) for s in mt[2]]

    params, opt, scheds = _build(minitorch, optimizer, options, groups, make)
    for p, old in zip(params, mt[0]):
        with minitorch.no_grad():
            p.copy_(old)
    opt.load_state_dict(saved_opt)
    for scheduler, state in zip(scheds, saved_scheds):
        scheduler.load_state_dict(state)
    resumed = (params, opt, scheds)
    for step in range(half, steps):
        _train_step(minitorch, *resumed, step)
        _train_step(torch, *th, step)
        _compare(resumed, th, f"{label}: resumed, after step {step + 1}")


def test_lambda_state_dict_keeps_callable_objects_not_functions():
    """A function cannot be saved (None in its place); a callable object's attributes are."""
    class Warmup:
        def __init__(self, steps):
            self.steps = steps

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    for lib in (minitorch, torch):
        params, opt, (sched,) = _build(lib, "SGD", dict(lr=0.1), [{}, {}],
                                       lambda s, o: s.LambdaLR(o, [lambda e: 0.5, Warmup(4)]))
        state = sched.state_dict()
        assert state["lr_lambdas"] == [None, {"steps": 4}], lib.__name__
        state["lr_lambdas"] = [None, {"steps": 8}]
        sched.load_state_dict(state)
        assert sched.lr_lambdas[1].steps == 8


def test_scheduler_state_dict_saves_and_loads_with_minitorch_save(tmp_path):
    params, opt, (sched,) = _build(minitorch, "SGD", dict(lr=0.1), None,
                                   lambda s, o: s.MultiStepLR(o, [2, 4]))
    for step in range(3):
        _train_step(minitorch, params, opt, [sched], step)
    minitorch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()},
                   tmp_path / "checkpoint.npz")
    loaded = minitorch.load(tmp_path / "checkpoint.npz")
    params2, opt2, (sched2,) = _build(minitorch, "SGD", dict(lr=0.1), None,
                                      lambda s, o: s.MultiStepLR(o, [2, 4]))
    opt2.load_state_dict(loaded["optimizer"])
    sched2.load_state_dict(loaded["scheduler"])
    for step in range(3, 6):
        _train_step(minitorch, params, opt, [sched], step)
        _train_step(minitorch, params2, opt2, [sched2], step)
        assert sched2.get_last_lr() == sched.get_last_lr()


def test_last_epoch_resumes_from_initial_lr():
    """last_epoch ≥ 0 continues a schedule whose groups carry 'initial_lr' (as a loaded
    optimizer's do), in both libraries; without it, both raise KeyError."""
    for lib in (minitorch, torch):
        params, opt, _ = _build(lib, "SGD", dict(lr=0.1), None, lambda s, o: [])
        with pytest.raises(KeyError, match="initial_lr"):
            lib.optim.lr_scheduler.StepLR(opt, step_size=2, last_epoch=3)
    results = []
    for lib in (minitorch, torch):
        params, opt, _ = _build(lib, "SGD", dict(lr=0.1), None, lambda s, o: [])
        opt.param_groups[0]["initial_lr"] = 0.4
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's "step before optimizer.step" warning
            scheduler = lib.optim.lr_scheduler.ExponentialLR(opt, gamma=0.5, last_epoch=3)
            lrs = [scheduler.get_last_lr()[0]]
            for _ in range(3):
                scheduler.step()
                lrs.append(scheduler.get_last_lr()[0])
        results.append((scheduler.base_lrs, scheduler.last_epoch, lrs))
    assert results[0] == results[1]


def _sgd():
    return optim.SGD([Parameter(minitorch.zeros(2, device=DEVICE))], lr=0.1, momentum=0.9)


def _overstepped():
    scheduler = optim.lr_scheduler.OneCycleLR(_sgd(), max_lr=0.1, total_steps=3)
    for _ in range(4):  # steps 1, 2, 3 are the schedule's (0 was taken when it was made)
        scheduler.step()


# (label, call, exception, message): the same exception class as torch's
ERRORS = [
    ("not an optimizer", lambda: optim.lr_scheduler.StepLR([1, 2], step_size=1),
     TypeError, r"list is not an Optimizer"),
    ("one cycle without a length", lambda: optim.lr_scheduler.OneCycleLR(_sgd(), max_lr=0.1),
     ValueError, r"either total_steps OR \(epochs AND steps_per_epoch\)"),
    ("one cycle, zero steps", lambda: optim.lr_scheduler.OneCycleLR(_sgd(), 0.1, total_steps=0),
     ValueError, r"positive integer total_steps, but got 0"),
    ("one cycle, pct_start an int", lambda: optim.lr_scheduler.OneCycleLR(
        _sgd(), 0.1, total_steps=5, pct_start=1), ValueError, r"pct_start, but got 1"),
    ("one cycle, bad anneal", lambda: optim.lr_scheduler.OneCycleLR(
        _sgd(), 0.1, total_steps=5, anneal_strategy="exp"), ValueError, r"'cos' or 'linear'"),
    ("one cycle, stepped too far", _overstepped,
     ValueError, r"Tried to step 4 times. The specified number of total steps is 3"),
    ("one cycle, no momentum to cycle", lambda: optim.lr_scheduler.OneCycleLR(
        optim.Adadelta([Parameter(minitorch.zeros(2))]), 0.1, total_steps=5),
     ValueError, r"momentum or beta1"),
    ("one cycle, max_lr list of the wrong length", lambda: optim.lr_scheduler.OneCycleLR(
        _sgd(), [0.1, 0.2], total_steps=5), ValueError, r"expected 1 values for max_lr, got 2"),
    ("lambda list of the wrong length", lambda: optim.lr_scheduler.LambdaLR(
        _sgd(), [lambda e: 1.0] * 2), ValueError, r"expected 1 values for lr_lambda, got 2"),
]


@pytest.mark.parametrize("label, call, exception, message", ERRORS, ids=[r[0] for r in ERRORS])
def test_bad_input_is_named(label, call, exception, message):
    with pytest.raises(exception, match=message):
        call()


def test_torch_raises_the_same_classes():
    """The error classes above are torch's (one torch call per class of mistake)."""
    t_opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1, momentum=0.9)
    with pytest.raises(TypeError):
        torch.optim.lr_scheduler.StepLR([1, 2], step_size=1)
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.OneCycleLR(t_opt, max_lr=0.1)
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.OneCycleLR(t_opt, 0.1, total_steps=5, pct_start=1)
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.LambdaLR(t_opt, [lambda e: 1.0] * 2)
    with pytest.raises(ValueError):
        torch.optim.lr_scheduler.OneCycleLR(
            torch.optim.Adadelta([torch.zeros(2, requires_grad=True)]), 0.1, total_steps=5)
