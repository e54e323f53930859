"""Where one training step's time goes, op by op, in minitorch and in PyTorch (CPU).

Usage:  python benchmarks/profile_step.py [--model C] [--steps 30] [--batch 128]

The step is ``bench_train_step.py``'s (forward, cross-entropy, zero_grad, backward, SGD with
momentum) on the lesson's model, batch 128 of 1×28×28 float32 images.  Four processes, one after
the other: minitorch as it runs by default (one thread), minitorch with its pool of threads
(``MINITORCH_THREADS=2``, ``minitorch/speed/threads.py``), torch with one thread and torch with
two.  Each prints the median step time of ``--steps`` plain (unprofiled) steps, then the same
number of profiled steps split into groups of ops:

* minitorch: every op's ``forward`` and ``backward`` is timed (a wrapper put around the methods
  of every ``Function`` subclass), grouped by the file the op lives in (``ops/conv.py`` → conv,
  ``ops/norm.py`` → batchnorm, ...); ``opt.step()`` and ``opt.zero_grad()`` are timed whole.
  What is left of the step — autograd's walk of the graph, ``Function.__call__``,
  ``Module.__call__``, making Tensors — is "Python's bookkeeping": it holds Python's lock, so no
  second thread can share it.
* torch: ``torch.profiler``'s self CPU time of every aten op, grouped by name the same way; what
  is left is torch's own dispatch and autograd engine (C++).

The table is what ``benchmarks/README.md`` ("Where model C's step goes") reads to say what a
second core can and cannot buy.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

GROUPS = ["conv", "linear", "batchnorm", "element-wise", "loss", "views and copies",
          "optimizer", "other ops", "bookkeeping"]
# minitorch only, inside the conv group: the pieces that speed/threads.py can cut (their time
# summed over the threads that ran them)
INSIDE_CONV = ["conv: its products", "conv: its im2col copies"]


# ---- minitorch: a timer around every op's forward and backward -----------------------------------
def minitorch_group(cls):
    """The group of a minitorch op, by the file it is defined in."""
    module = cls.__module__.rsplit(".", 1)[-1]
    return {"conv": "conv", "matmul": "linear", "blas": "linear", "norm": "batchnorm",
            "elementwise": "element-wise", "activation": "element-wise", "reduce": "element-wise",
            "loss": "loss", "shape": "views and copies", "index": "views and copies",
            "pool": "conv"}.get(module, "other ops")


def instrument_minitorch(totals):
    """Wrap forward and backward of every Function subclass, and the two functions of
    speed/threads.py that the conv calls: their wall time adds to ``totals[(group, name)]``.
    Returns nothing; the wrappers stay for the process."""
    from minitorch.autograd import Function
    from minitorch.speed import threads

    def timed(function, key):   # a function or a method (its self is the first argument)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                totals[key] += time.perf_counter() - start
        return wrapper

    seen, stack = set(), [Function]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
                for name in ("forward", "backward"):
                    if name in vars(sub):
                        setattr(sub, name, timed(vars(sub)[name],
                                                 (minitorch_group(sub), f"{sub.__name__}.{name}")))

    # The two kinds of work that threads.py cuts, called from inside the conv op (looked up on
    # the module at every call, so wrapping the module's functions catches them).
    threads.matmul = timed(threads.matmul, (INSIDE_CONV[0], "threads.matmul"))
    threads.contiguous = timed(threads.contiguous, (INSIDE_CONV[1], "threads.contiguous"))


def minitorch_worker(model_name, steps, batch):
    import minitorch
    from minitorch.nn import functional as F
    from minitorch.optim import SGD
    from minitorch.vision.models import MNIST_MODELS

    rng = np.random.default_rng(0)
    x = minitorch.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = minitorch.tensor(rng.integers(0, 10, batch))
    minitorch.manual_seed(0)
    model = MNIST_MODELS[model_name]()
    opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
    totals = defaultdict(float)

    def step(profiled):
        start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        t0 = time.perf_counter()
        opt.zero_grad()
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        end = time.perf_counter()
        if profiled:
            totals[("optimizer", "zero_grad")] += t1 - t0
            totals[("optimizer", "SGD.step")] += end - t2
        return end - start

    for _ in range(3):   # warm up: allocator, caches
        step(False)
    plain = [step(False) for _ in range(steps)]
    instrument_minitorch(totals)
    step(False)
    totals.clear()
    profiled = sum(step(True) for _ in range(steps))
    return plain, profiled, totals


# ---- torch: torch.profiler's self CPU time per aten op -------------------------------------------
def torch_group(name):
    """The group of an aten op (or a profiler range), by its name."""
    if name.startswith("Optimizer.") or "_foreach" in name:
        return "optimizer"
    if "conv" in name:
        return "conv"
    if name in ("aten::addmm", "aten::mm", "aten::linear", "aten::matmul"):
        return "linear"
    if "batch_norm" in name:
        return "batchnorm"
    if any(k in name for k in ("log_softmax", "nll_loss", "cross_entropy")):
        return "loss"
    if any(k in name for k in ("relu", "clamp", "threshold", "add", "mul", "sum", "mean", "div",
                               "sub", "fill_", "zero_", "ones_like")):
        return "element-wise"
    if name.removeprefix("aten::") in VIEWS_AND_COPIES:
        return "views and copies"
    return "other ops"


VIEWS_AND_COPIES = {"view", "reshape", "_reshape_alias", "flatten", "as_strided", "empty",
                    "empty_like", "empty_strided", "t", "transpose", "expand", "detach",
                    "contiguous", "clone", "copy_", "select", "slice", "unsqueeze", "squeeze",
                    "to", "_to_copy", "resize_", "set_", "alias", "result_type"}


def torch_worker(model_name, steps, batch, threads):
    import torch
    import minitorch
    from minitorch.vision.models import MNIST_MODELS
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.torch_twins import torch_model

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = torch.tensor(rng.integers(0, 10, batch))
    minitorch.manual_seed(0)
    model = torch_model(model_name)
    model.load_state_dict({k: torch.tensor(v.numpy())
                           for k, v in MNIST_MODELS[model_name]().state_dict().items()})
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def step():
        start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return time.perf_counter() - start

    for _ in range(3):
        step()
    plain = [step() for _ in range(steps)]
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        profiled = sum(step() for _ in range(steps))
    totals = defaultdict(float)
    for event in prof.key_averages():
        # optimizer ranges hold the foreach ops too: count only the ops' own (self) time
        totals[(torch_group(event.key), event.key)] += event.self_cpu_time_total / 1e6
    return plain, profiled, totals


# ---- the driver ----------------------------------------------------------------------------------
CONFIGS = [  # (label, framework, environment, torch threads)
    ("minitorch, one thread (the default)", "minitorch", {"MINITORCH_THREADS": "1"}, 1),
    ("minitorch, pool of 2 (MINITORCH_THREADS=2)", "minitorch", {"MINITORCH_THREADS": "2"}, 1),
    ("torch, 1 thread", "torch", {}, 1),
    ("torch, 2 threads", "torch", {}, 2),
]


def worker_main(args):
    if args.worker == "minitorch":
        plain, profiled, totals = minitorch_worker(args.model, args.steps, args.batch)
    else:
        plain, profiled, totals = torch_worker(args.model, args.steps, args.batch,
                                               args.torch_threads)
    print(json.dumps({"plain": plain, "profiled": profiled,
                      "totals": [[g, name, t] for (g, name), t in totals.items()]}))


def run_config(framework, env_extra, threads, args):
    env = dict(os.environ)
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MINITORCH_THREADS"):
        env.pop(name, None)          # each configuration sets its own threads
    env.update(env_extra)
    command = [sys.executable, __file__, "--worker", framework, "--model", args.model,
               "--steps", str(args.steps), "--batch", str(args.batch),
               "--torch-threads", str(threads)]
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="C", choices=["A", "B", "C"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--top", type=int, default=8, help="single ops listed per configuration")
    parser.add_argument("--torch-threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["minitorch", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return

    columns, tops = [], []
    for label, framework, env_extra, threads in CONFIGS:
        result = run_config(framework, env_extra, threads, args)
        per_step = result["profiled"] / args.steps
        groups = defaultdict(float)
        for group, name, t in result["totals"]:
            groups[group] += t / args.steps
        groups["bookkeeping"] = per_step - sum(t for g, t in groups.items()
                                               if g not in INSIDE_CONV)
        columns.append((label, statistics.median(result["plain"]), per_step, groups))
        ops = sorted(result["totals"], key=lambda row: -row[2])[:args.top]
        tops.append((label, [(name, t / args.steps) for _, name, t in ops]))

    print(f"Model {args.model}, batch {args.batch}: ms per step ({args.steps} steps each; the "
          f"groups from the profiled steps)\n")
    print("| | " + " | ".join(label for label, *_ in columns) + " |")
    print("|---|" + "---:|" * len(columns))
    print("| step, unprofiled (median) | "
          + " | ".join(f"{plain * 1e3:.1f}" for _, plain, _, _ in columns) + " |")
    print("| step, profiled (mean) | "
          + " | ".join(f"{per_step * 1e3:.1f}" for _, _, per_step, _ in columns) + " |")
    for group in GROUPS[:1] + INSIDE_CONV + GROUPS[1:]:
        print(f"| {group} | " + " | ".join(f"{groups.get(group, 0.0) * 1e3:.1f}"
                                           for *_, groups in columns) + " |")
    for label, ops in tops:
        print(f"\n{label}, the largest single ops (ms per step): "
              + ", ".join(f"{name} {t * 1e3:.2f}" for name, t in ops))


if __name__ == "__main__":
    main()
