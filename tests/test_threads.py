"""The work cut across cores (minitorch/speed/threads.py): the same numbers as one thread, and
the pool's contract (results in order, pieces really on two threads, errors raised in the
caller, no job within a job, the idle-core guard, the MINITORCH_THREADS switch).

Every comparison of numbers here is exact equality, bit for bit, at the real size thresholds: a
copy cut in pieces is the copy, and a float32 product cut in pieces computes whole entries of
the result with the same sums in the same order (float64 products are not cut: OpenBLAS's
double-precision kernels round a piece differently, see the module).  The tests pretend every
core is idle (``cut_on_idle_cores``), so that the pieces are cut whatever else the machine is
doing, and count the jobs that were cut, so that a test cannot pass by cutting nothing.
"""
import os
import subprocess
import sys
import threading
import time

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
def cut_on_idle_cores(monkeypatch):
    """Two threads, products cut here, both cores taken to be idle; yields the list of the jobs
    cut (their numbers of pieces)."""
    jobs = []
    monkeypatch.setattr(threads, "BLAS_CUT_HERE", True)
    monkeypatch.setattr(threads, "threads_free", lambda: threads.THREADS)
    real_run = threads._pool.run

    def counting_run(tasks):
        if len(tasks) > 1:
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


def normal(*shape, dtype=np.float32):
    return rng.standard_normal(shape).astype(dtype)


PRODUCTS = [  # (name, a, b, pieces): conv products of the lesson's shapes, views, float64
    ("W @ cols, 8×72 @ 72×25088", normal(8, 72), normal(72, 25088), 2),
    ("Wᵀ @ grad (a transposed)", normal(32, 144).T, normal(32, 2048), 2),
    ("grad @ xᵀ, tall result", normal(288, 2048), normal(32, 2048).T, 2),
    ("b a column slice", normal(16, 144), normal(144, 12544)[:, ::2], 2),
    ("odd sizes", normal(37, 101), normal(101, 3001), 2),
    ("float64: not cut", normal(8, 72, dtype=np.float64), normal(72, 25088, dtype=np.float64), 0),
    ("small: not cut", normal(8, 9), normal(9, 2048), 0),
]


@pytest.mark.parametrize("name, a, b, pieces", PRODUCTS, ids=[p[0] for p in PRODUCTS])
def test_cut_product_is_the_product_bit_for_bit(cut_on_idle_cores, name, a, b, pieces):
    out = threads.matmul(a, b)
    expected = a @ b
    assert out.shape == expected.shape and out.dtype == expected.dtype
    differ = np.argwhere(out != expected)
    assert not len(differ), (f"{name}: {len(differ)} entries differ, the first at "
                             f"{tuple(differ[0])}: {out[tuple(differ[0])]!r} vs "
                             f"{expected[tuple(differ[0])]!r}")
    assert cut_on_idle_cores == ([pieces] if pieces else []), \
        f"{name}: expected {pieces or 'no'} pieces, the jobs were {cut_on_idle_cores}"


def windows(channels, size=14, batch=128):
    """The (C, 3, 3, size, size, N) window view of a padded (C, size + 2, size + 2, N) image."""
    image = normal(channels, size + 2, size + 2, batch)
    s_c, s_h, s_w, s_n = image.strides
    return np.lib.stride_tricks.as_strided(image, (channels, 3, 3, size, size, batch),
                                           (s_c, s_h, s_w, s_h, s_w, s_n))


COPIES = [  # (name, view): a conv's window view (C ≥ 2, then C = 1), a transposed float64 image
    ("windows of 8 channels", windows(8)),
    ("windows of 1 channel", windows(1, size=28)),
    ("transposed float64", rng.standard_normal((300, 400, 5)).transpose(2, 0, 1)),
]


@pytest.mark.parametrize("name, view", COPIES, ids=[c[0] for c in COPIES])
def test_cut_copy_is_the_copy(cut_on_idle_cores, name, view):
    out = threads.contiguous(np, view)
    assert out.flags.c_contiguous and out.dtype == view.dtype
    assert np.array_equal(out, view), f"{name}: cut copy differs"
    assert cut_on_idle_cores == [2], f"{name}: expected one job of two pieces, got " \
                                     f"{cut_on_idle_cores}"


# ---- training: on and off give the same parameters, bit for bit ----------------------------------
def train(name, steps=2, batch=128):
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
def test_training_with_threads_is_bit_identical(cut_on_idle_cores, model):
    """Two SGD steps of the lesson's model at its batch size, threads on and off: the same
    parameters, bit for bit (MINITORCH_THREADS=1 is today's code path, see the module)."""
    on = train(model)
    off = with_threads(1, lambda: train(model))
    differ = [key for key in on if not np.array_equal(on[key], off[key])]
    assert not differ, (f"model {model}: parameters differ with threads on and off: {differ[:5]}"
                        f", worst {max(np.max(np.abs(on[k] - off[k])) for k in differ)}")
    if ON_CPU:
        assert len(cut_on_idle_cores) >= 8, f"training cut only {len(cut_on_idle_cores)} jobs"
    else:
        assert not cut_on_idle_cores, "device arrays must never reach the pool"


# ---- the pool's contract -------------------------------------------------------------------------
def test_pieces_run_on_two_threads_at_once(cut_on_idle_cores):
    """Each piece waits for the other at a barrier: only two threads running them at the same
    time get through (one thread alone would time out)."""
    both_here = threading.Barrier(2, timeout=30)

    def piece():
        both_here.wait()
        return threading.current_thread().name
    names = threads.parallel([piece, piece])
    assert len(set(names)) == 2 and threading.current_thread().name in names, names


def test_results_in_order_and_errors_reach_the_caller(cut_on_idle_cores):
    assert threads.parallel([lambda i=i: i * i for i in range(7)]) == [i * i for i in range(7)]

    def fail():
        raise ZeroDivisionError("piece 3 divided by zero")
    with pytest.raises(ZeroDivisionError, match="piece 3 divided by zero"):
        threads.parallel([lambda: 1, lambda: 2, fail, lambda: 4])
    # the pool still works after a failed job
    assert threads.parallel([lambda: "a", lambda: "b"]) == ["a", "b"]


def test_helpers_are_seen_asleep_between_jobs(cut_on_idle_cores):
    """After a job the pool's threads go back to sleep, and the count of running helpers (read
    from /proc) drops to zero: they are not mistaken for other programs."""
    threads.parallel([lambda: sum(range(10_000))] * 2)
    deadline = time.monotonic() + 10
    while threads.helpers_running() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threads._pool.native_ids and threads.helpers_running() == 0


def test_a_job_within_a_job_runs_in_its_thread(cut_on_idle_cores):
    def inner():
        return threads.parallel([lambda: threading.current_thread().name] * 2)
    names = threads.parallel([inner, inner])
    for pair in names:  # each inner job ran wholly in the thread of its outer piece
        assert pair[0] == pair[1], names


@pytest.mark.parametrize("running, helpers, free", [(1, 0, 2), (2, 1, 2), (2, 0, 1), (3, 1, 1),
                                                    (7, 0, 1)])
def test_cuts_only_for_idle_cores(monkeypatch, running, helpers, free):
    """With 2 cores, the caller running: no other runnable thread (the pool's own helpers
    aside) leaves one core free for a helper; one or more others leave none."""
    monkeypatch.setattr(threads, "CORES", 2)
    monkeypatch.setattr(threads, "running_threads", lambda: running)
    monkeypatch.setattr(threads, "helpers_running", lambda: helpers)
    monkeypatch.setattr(threads, "_busy", {"checked": -1e9, "free": 1})
    assert with_threads(2, threads.threads_free) == free


def run_python(code, **environment):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MINITORCH_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    env.update(environment, PYTHONPATH=os.getcwd() + os.pathsep + env.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=os.getcwd())


def test_the_switch():
    report = "from minitorch.speed import threads; print(threads.THREADS, threads.BLAS_CUT_HERE)"
    assert run_python(report).stdout.split() == ["1", "False"]  # the pool is opt-in
    assert run_python(report, MINITORCH_THREADS="1").stdout.split() == ["1", "False"]
    assert run_python(report, MINITORCH_THREADS="2").stdout.split() == ["2", "True"]
    # the user's own OpenBLAS setting is respected: products are then not cut here
    assert run_python(report, MINITORCH_THREADS="2",
                      OPENBLAS_NUM_THREADS="2").stdout.split() == ["2", "False"]
    bad = run_python("import minitorch", MINITORCH_THREADS="two")
    assert bad.returncode != 0 and "MINITORCH_THREADS must be a positive integer, got 'two'" \
        in bad.stderr, bad.stderr


OPENBLAS_THREADS = """
import ctypes, numpy
import minitorch
paths = {l.split()[-1] for l in open('/proc/self/maps') if 'openblas' in l.lower()}
for path in sorted(paths):
    lib = ctypes.CDLL(path)
    for name in ('scipy_openblas_get_num_threads64_', 'scipy_openblas_get_num_threads',
                 'openblas_get_num_threads64_', 'openblas_get_num_threads'):
        if hasattr(lib, name):
            print(getattr(lib, name)())
            raise SystemExit
print('none')
"""


def test_openblas_gets_one_thread_unless_the_user_sets_it():
    """By default minitorch gives OpenBLAS one thread (its spinning threads slowed the lessons);
    the user's OPENBLAS_NUM_THREADS stands."""
    assert run_python(OPENBLAS_THREADS).stdout.split() == ["1"]
    assert run_python(OPENBLAS_THREADS, OPENBLAS_NUM_THREADS="2").stdout.split() == ["2"]
