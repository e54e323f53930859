"""Time one training step of the lesson's MNIST models in minitorch and in PyTorch (CPU).

Usage:  python benchmarks/bench_train_step.py [--rounds 5] [--steps 20] [--models A B C]
                                             [--torch-threads 2] [--blas-threads N]

A step is what ``Learner.fit`` does per batch: forward, cross-entropy loss, backward, SGD step
(momentum 0.9), zero the gradients — batch 128 of 1×28×28 float32 images.  Model A is the
lesson's basic CNN (five stride-2 convs with batchnorm and ReLU), model B the same written with
conv_layer, model C its ResNet-ish model (conv_layer + res_block four times, then conv_layer →
10).  Both frameworks start from the same weights (copied from minitorch into torch) and train
on the same batch; the first step's losses are printed side by side as a check that they
compute the same thing.  ``--torch-threads`` and ``--blas-threads`` set each framework's
threads (see benchmarks/README.md, "Threads").

Each framework runs in a process of its own (PyTorch's OpenMP threads keep spinning for a while
after each of its ops and would steal the cores from NumPy's BLAS in a shared process), and the
processes alternate (minitorch, torch, minitorch, ...) so that the noise of a shared machine hits
both alike; the table gives the medians over all timed steps and the ratio minitorch / torch
(below 1: minitorch is faster), and the lowest and highest ratio of one round (its two
processes ran back to back) as a measure of the machine's noise.  Both processes import
minitorch, so both run with the allocator setting of ``minitorch.speed.cpu.keep_freed_memory``.
Targets: A ≤ 1.0×, C ≤ 1.5×.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import minitorch
from minitorch.nn import functional as F
from minitorch.optim import SGD
from minitorch.vision.models import MNIST_MODELS

# The lesson's models in torch are the test suite's references too (tests/torch_twins.py),
# imported from the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.torch_twins import torch_model  # noqa: E402


def minitorch_model(name):
    """The lesson's model ``name`` ('A', 'B', 'C'), from minitorch/vision/models/mnist.py."""
    return MNIST_MODELS[name]()


# ---- one step each -------------------------------------------------------------------------------
def minitorch_step(model, opt, x, y):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def torch_step(model, opt, x, y):
    loss = torch.nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss.item()


def worker(framework, name, steps, torch_threads, batch_size=128):
    """Time ``steps`` training steps of one framework; print the first loss and the step times.

    Both frameworks start from the same weights (minitorch's, seeded, copied into torch) and
    train on the same batch."""
    rng = np.random.default_rng(0)
    images = rng.standard_normal((batch_size, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, batch_size)
    minitorch.manual_seed(0)
    mt_model = minitorch_model(name)
    if framework == "minitorch":
        model, step = mt_model, minitorch_step
        opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = minitorch.tensor(images), minitorch.tensor(labels)
    else:
        torch.set_num_threads(torch_threads)
        model, step = torch_model(name), torch_step
        model.load_state_dict({k: torch.tensor(v.numpy()) for k, v in
                               mt_model.state_dict().items()})
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, y = torch.tensor(images), torch.tensor(labels)
    first_loss = step(model, opt, x, y)
    for _ in range(3):  # warm up: allocator, BLAS threads, caches
        step(model, opt, x, y)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step(model, opt, x, y)
        times.append(time.perf_counter() - start)
    print(json.dumps({"first_loss": first_loss, "times": times}))


def run_worker(framework, name, steps, args):
    command = [sys.executable, __file__, "--worker", framework, "--models", name,
               "--steps", str(steps), "--torch-threads", str(args.torch_threads)]
    env = dict(os.environ)
    if framework == "minitorch" and args.blas_threads:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(args.blas_threads)
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternations of the two frameworks (one process each)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per process")
    parser.add_argument("--models", nargs="+", default=["A", "C"], choices=["A", "B", "C"])
    parser.add_argument("--torch-threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="OPENBLAS_NUM_THREADS for minitorch's process (default: as set, "
                             "else minitorch's: one OpenBLAS thread, the products cut over the "
                             "idle cores by minitorch/speed/threads.py; MINITORCH_THREADS=1 in "
                             "the environment turns that off)")
    parser.add_argument("--worker", choices=["minitorch", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.models[0], args.steps, args.torch_threads)
        return
    rows = []
    for name in args.models:
        times, first_loss = {"minitorch": [], "torch": []}, {}
        round_ratios = []  # each round's two processes ran back to back: a ratio under one noise
        for _ in range(args.rounds):
            round_medians = {}
            for framework in ("minitorch", "torch"):
                result = run_worker(framework, name, args.steps, args)
                times[framework] += result["times"]
                first_loss[framework] = result["first_loss"]
                round_medians[framework] = statistics.median(result["times"])
            round_ratios.append(round_medians["minitorch"] / round_medians["torch"])
        mt, t = statistics.median(times["minitorch"]), statistics.median(times["torch"])
        print(f"model {name}: first-step loss minitorch {first_loss['minitorch']:.6f}, "
              f"torch {first_loss['torch']:.6f}")
        parameters = sum(p.numel() for p in minitorch_model(name).parameters())
        rows.append(f"| {name} | {parameters:,} | {mt * 1e3:.1f} | {t * 1e3:.1f} "
                    f"| {mt / t:.2f}× | {min(round_ratios):.2f}–{max(round_ratios):.2f}× |")
    print(f"\nOne training step (forward + backward + SGD), batch 128, float32; median of "
          f"{args.rounds} × {args.steps} steps per framework, each framework in its own process, "
          f"alternating; torch {torch.__version__} with {args.torch_threads} thread(s), "
          f"minitorch with {args.blas_threads or 'the default number of'} BLAS thread(s) and "
          f"MINITORCH_THREADS={os.environ.get('MINITORCH_THREADS', '(unset)')}\n")
    print("| model | parameters | minitorch ms/step | torch ms/step | minitorch / torch "
          "| one round's ratio, lowest–highest |")
    print("|---|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
