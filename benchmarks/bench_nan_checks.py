"""What the Learner's NaN checks cost per training step.

Usage:  python benchmarks/bench_nan_checks.py [--rounds 7] [--steps 20] [--models C]

``TerminateOnNaN`` does two things on every training batch (``minitorch/learner/nan_stop.py``):
at ``begin_batch`` it copies the model's buffers (batchnorm's running statistics), and at
``after_backward`` it checks the loss, every gradient and every buffer for NaN and infinity —
one sum per array, added up, and read with the loss in one transfer (``nan_stop.read_batch``;
the plain step reads the loss alone).  This script times the step of
``bench_train_step.py`` (forward, cross-entropy, backward, SGD with momentum, batch 128 of
1×28×28) with and without those two calls, made exactly as the Learner makes them, in the same
process, alternating rounds (plain, checked, plain, ...) so that a shared machine's noise hits
both; it prints the median step of each and their ratio (checked / plain), and the lowest and
highest ratio of one round.  The two calls are also timed by themselves (after a backward, many
times; the median), which is less noisy than a difference of two step times.  Model C is the
lesson's ResNet-ish model.
"""
import argparse
import statistics
import time
from types import SimpleNamespace

import numpy as np

import minitorch
from minitorch.learner.nan_stop import TerminateOnNaN, read_together
from minitorch.nn import functional as F
from minitorch.optim import SGD

from bench_train_step import minitorch_model


def step(model, opt, x, y, checks=None):
    """One training step; ``checks`` (a TerminateOnNaN bound to the model) runs its two calls."""
    if checks is not None:
        checks.begin_batch()
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    if checks is None:
        opt.step()
        return loss.item()
    # As nan_stop.read_batch: the loss and the gradients' total, read in one transfer.
    values = read_together({"loss": loss.array, **checks.values_to_read()})
    checks.learn.last_loss, checks.learn.batch_values = values["loss"], values
    checks.after_backward()  # raises CancelFitException if anything is not finite
    opt.step()
    return values["loss"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round and mode")
    parser.add_argument("--models", nargs="+", default=["C"], choices=["A", "B", "C"])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    x = minitorch.tensor(rng.standard_normal((128, 1, 28, 28)).astype(np.float32))
    y = minitorch.tensor(rng.integers(0, 10, 128))
    print("| model | plain step ms | checked step ms | ratio | lowest round | highest round | "
          "checks alone ms |")
    print("|---|---|---|---|---|---|---|")
    for name in args.models:
        minitorch.manual_seed(0)
        model = minitorch_model(name)
        opt = SGD(model.parameters(), lr=0.01, momentum=0.9)
        checks = TerminateOnNaN()
        checks.learn = SimpleNamespace(model=model, training=True, loss=None, epoch=0, iter=0)
        checks.begin_fit()
        for _ in range(3):  # warm up
            step(model, opt, x, y)
            step(model, opt, x, y, checks)
        times = {"plain": [], "checked": []}
        ratios = []
        for _ in range(args.rounds):
            medians = {}
            for mode in ("plain", "checked"):
                round_times = []
                for _ in range(args.steps):
                    start = time.perf_counter()
                    step(model, opt, x, y, checks if mode == "checked" else None)
                    round_times.append(time.perf_counter() - start)
                times[mode] += round_times
                medians[mode] = statistics.median(round_times)
            ratios.append(medians["checked"] / medians["plain"])
        alone = []
        for _ in range(args.rounds * args.steps):
            start = time.perf_counter()
            checks.begin_batch()
            checks.learn.batch_values = read_together(checks.values_to_read())
            checks.after_backward()
            alone.append(time.perf_counter() - start)
        plain, checked = (statistics.median(times[m]) * 1e3 for m in ("plain", "checked"))
        print(f"| {name} | {plain:.2f} | {checked:.2f} | {checked / plain:.3f} | "
              f"{min(ratios):.3f} | {max(ratios):.3f} | {statistics.median(alone) * 1e3:.3f} |")


if __name__ == "__main__":
    main()
