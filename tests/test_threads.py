"""The work cut across cores (minitorch/speed/threads.py): the same numbers as one thread, and
the pool's contract (results in order, pieces really on two threads, errors raised in the
caller, no job within a job, the MINITORCH_THREADS switch).

Which comparisons are exact: a copy cut in pieces is the copy, bit for bit.  A product cut in
pieces computes whole entries of the result, each one sum over the same terms, but OpenBLAS
chooses its kernel by the size of each call (on AVX-512 machines, a "direct" or "small matrix"
kernel for small products), and two kernels may add the terms in another order: so products,
and training that uses them, are compared within float32 (float64) rounding, not for equality.
(At the lesson's sizes, batch 128, the trained parameters came out bit for bit equal on the
machine this was written on; with these tests' lowered thresholds they differ by up to 5e-7.)
To make the small arrays of a fast test take the parallel path, the size thresholds are lowered
(``cut_everything``) and the test counts the jobs that were cut.
"""
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import minitorch
from minitorch.nn import functional as F
from minitorch.optim import SGD
from minitorch.speed import threads
from minitorch.vision.models import MNIST_MODELS

# Both passes of the suite run this file: on the CuPy stand-in it checks that device arrays
# never reach the pool (the tables of NumPy arrays are the same on both).
ON_CPU = os.environ.get("MINITORCH_DEVICE", "cpu") == "cpu"


@pytest.fixture
def cut_everything(monkeypatch):
    """Two threads, products cut here, and thresholds low enough that small arrays are cut;
    yields the list of the jobs cut (their numbers of pieces)."""
    jobs = []
    monkeypatch.setattr(threads, "MIN_PRODUCT_FLOPS", 1)
    monkeypatch.setattr(threads, "MIN_COPY_BYTES", 8)
    monkeypatch.setattr(threads, "BLAS_CUT_HERE", True)
    real_run = threads._pool.run

    def counting_run(tasks):
        jobs.append(len(tasks))
        return real_run(tasks)
    monkeypatch.setattr(threads._pool, "run", counting_run)
    previous = threads.set_threads(2)
    yield jobs
    threads.set_threads(previous)


def with_threads(count, function):
    previous = threads.set_threads(count)
    try:
        return function()
    finally:
        threads.set_threads(previous)


# ---- the seam: products and copies ---------------------------------------------------------------
rng = np.random.default_rng(0)
PRODUCTS = [  # (name, a, b): wide and tall results, transposed views, both float types
    ("wide float32", rng.standard_normal((8, 72)).astype(np.float32),
     rng.standard_normal((72, 3001)).astype(np.float32)),
    ("tall float64", rng.standard_normal((517, 33)), rng.standard_normal((33, 9))),
    ("a transposed", rng.standard_normal((144, 16)).astype(np.float32).T,
     rng.standard_normal((144, 777)).astype(np.float32)),
    ("b transposed", rng.standard_normal((300, 40)).astype(np.float32),
     rng.standard_normal((8, 40)).astype(np.float32).T),
    ("b a column slice", rng.standard_normal((5, 64)), rng.standard_normal((64, 900))[:, 1::3]),
]


@pytest.mark.parametrize("name, a, b", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_cut_product_is_the_product(cut_everything, name, a, b):
    out = threads.matmul(a, b)
    expected = a @ b
    assert out.shape == expected.shape and out.dtype == expected.dtype
    assert cut_everything == [2], f"{name}: expected one job of two pieces, got {cut_everything}"
    # each entry is one sum of k products: rounding of the order is at most k ulps of Σ|a||b|
    scale = np.abs(a) @ np.abs(b) * a.shape[1] * np.finfo(a.dtype).eps
    excess = np.abs(out - expected) - scale
    worst = np.unravel_index(np.argmax(excess), excess.shape)
    assert np.all(excess <= 0), (f"{name}: cut product differs beyond rounding at {worst}: "
                                 f"{out[worst]} vs {expected[worst]} (allowed {scale[worst]})")


COPIES = [  # (name, view): a conv's window view (C ≥ 2, then C = 1), a transposed image
    ("windows of 4 channels", np.lib.stride_tricks.as_strided(
        rng.standard_normal((4, 10, 10, 6)).astype(np.float32), shape=(4, 3, 3, 8, 8, 6),
        strides=(2400, 240, 24, 240, 24, 4))),
    ("windows of 1 channel", np.lib.stride_tricks.as_strided(
        rng.standard_normal((1, 10, 10, 6)).astype(np.float32), shape=(1, 3, 3, 8, 8, 6),
        strides=(2400, 240, 24, 240, 24, 4))),
    ("transposed float64", rng.standard_normal((30, 40, 5)).transpose(2, 0, 1)),
]


@pytest.mark.parametrize("name, view", COPIES, ids=[c[0] for c in COPIES])
def test_cut_copy_is_the_copy(cut_everything, name, view):
    out = threads.contiguous(np, view)
    assert out.flags.c_contiguous and out.dtype == view.dtype
    assert np.array_equal(out, view), f"{name}: cut copy differs"
    assert cut_everything == [2], f"{name}: expected one job of two pieces, got {cut_everything}"


# ---- training: on and off give the same parameters, within float32 rounding ----------------------
def train(name, steps=3, batch=16):
    """``steps`` SGD steps of the lesson's model ``name`` from a seed; its parameters after."""
    generator = np.random.default_rng(1)
    x = minitorch.tensor(generator.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = minitorch.tensor(generator.integers(0, 10, batch))
    minitorch.manual_seed(0)
    model = MNIST_MODELS[name]()
    opt = SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {key: value.numpy().copy() for key, value in model.state_dict().items()}


@pytest.mark.parametrize("model", ["A", "C"])
def test_training_with_threads_matches_one_thread(cut_everything, model):
    """Three SGD steps with threads on and off: the same parameters within float32 rounding
    (a few ulps of the largest weight; the products' pieces may round differently, see top)."""
    on = train(model)
    off = with_threads(1, lambda: train(model))
    for key in on:
        tol = 8 * np.finfo(np.float32).eps * max(1.0, np.max(np.abs(off[key])))
        worst = np.max(np.abs(on[key] - off[key]), initial=0.0)
        assert worst <= tol, f"model {model}, {key}: threads on and off differ by {worst} > {tol}"
    if ON_CPU:
        assert len(cut_everything) > 10, f"training cut only {len(cut_everything)} jobs"
    else:
        assert not cut_everything, "device arrays must never reach the pool"


# ---- the pool's contract -------------------------------------------------------------------------
def test_pieces_run_on_two_threads_at_once(cut_everything):
    """Each piece waits for the other at a barrier: only two threads running them at the same
    time get through (one thread alone would time out)."""
    both_here = threading.Barrier(2, timeout=30)

    def piece():
        both_here.wait()
        return threading.current_thread().name
    names = threads.parallel([piece, piece])
    assert len(set(names)) == 2 and threading.current_thread().name in names, names


def test_results_in_order_and_errors_reach_the_caller(cut_everything):
    assert threads.parallel([lambda i=i: i * i for i in range(7)]) == [i * i for i in range(7)]

    def fail():
        raise ZeroDivisionError("piece 3 divided by zero")
    with pytest.raises(ZeroDivisionError, match="piece 3 divided by zero"):
        threads.parallel([lambda: 1, lambda: 2, fail, lambda: 4])
    # the pool still works after a failed job
    assert threads.parallel([lambda: "a", lambda: "b"]) == ["a", "b"]


def test_a_job_within_a_job_runs_in_its_thread(cut_everything):
    def inner():
        return threads.parallel([lambda: threading.current_thread().name] * 2)
    names = threads.parallel([inner, inner])
    for pair in names:  # each inner job ran wholly in the thread of its outer piece
        assert pair[0] == pair[1], names


def run_python(code, **environment):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MINITORCH_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    env.update(environment, PYTHONPATH=os.getcwd() + os.pathsep + env.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=os.getcwd())


def test_the_switch():
    report = "from minitorch.speed import threads; print(threads.THREADS, threads.BLAS_CUT_HERE)"
    assert run_python(report, MINITORCH_THREADS="1").stdout.split() == ["1", "False"]
    assert run_python(report, MINITORCH_THREADS="2").stdout.split() == ["2", "True"]
    # the user's own OpenBLAS setting is respected: products are then not cut here
    assert run_python(report, MINITORCH_THREADS="2",
                      OPENBLAS_NUM_THREADS="2").stdout.split() == ["2", "False"]
    bad = run_python("import minitorch", MINITORCH_THREADS="two")
    assert bad.returncode != 0 and "MINITORCH_THREADS must be a positive integer, got 'two'" \
        in bad.stderr, bad.stderr
