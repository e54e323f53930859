"""Time one WGAN critic step and one generator step in minitorch and in PyTorch (CPU).

Usage:  python benchmarks/bench_gan.py [--rounds 5] [--steps 10] [--n-features 32]
                                       [--torch-threads 2] [--blas-threads N]

The models are the WGAN lesson's (``basic_generator`` / ``basic_critic`` for 1×32×32 images,
``n_features`` wide, batch 64), and the steps are what ``GANTrainer`` does per batch with
``GANLearner.wgan``:

* critic step: clamp the critic's weights to ±0.01; a fake batch from the generator without a
  graph; loss = mean C(real) − mean C(fake); backward; Adam step of the critic;
* generator step: loss = mean C(G(noise)) with the critic's parameters frozen; backward through
  the critic into the generator; Adam step of the generator.

Adam with betas (0, 0.99), lr 2e-4, no weight decay; both models in training mode (the lesson's
``switch_eval=False``).  Both frameworks start from the same weights (minitorch's, seeded, copied
into torch).  As in ``bench_train_step.py``, each framework runs in a process of its own and the
processes alternate; the table gives medians over all timed steps, the ratio minitorch / torch,
and the lowest and highest ratio of one round.  The torch models and steps are the references of
``tests/test_gan.py``, in ``tests/torch_twins_gan.py``.  Target (issue 14): within 1.3×.
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

# The torch models and steps are the test suite's references (tests/torch_twins_gan.py),
# imported from the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import minitorch  # noqa: E402
from minitorch.optim import Adam  # noqa: E402
from minitorch.vision.gan import (  # noqa: E402
    GANLoss, GANModule, NoopLoss, WassersteinLoss, requires_grad)
from minitorch.vision.models import basic_critic, basic_generator  # noqa: E402
from tests.torch_twins_gan import (  # noqa: E402
    copy_weights, torch_basic_critic, torch_basic_generator, torch_critic_step,
    torch_generator_step)

CLIP, LR, BETAS = 0.01, 2e-4, (0.0, 0.99)


def minitorch_critic_step(gan, loss_func, opt_critic, real, noise, clip=CLIP):
    """The same with minitorch's GANModule and GANLoss in critic mode."""
    gan.switch(False)
    loss_func.switch(False)
    requires_grad(gan.generator, False)
    requires_grad(gan.critic, True)
    with minitorch.no_grad():
        for p in gan.critic.parameters():
            p.clamp_(-clip, clip)
    loss = loss_func(gan(real), noise)
    opt_critic.zero_grad()
    loss.backward()
    opt_critic.step()
    return loss.item()


def minitorch_generator_step(gan, loss_func, opt_gen, noise, real, clip=CLIP):
    gan.switch(True)
    loss_func.switch(True)
    requires_grad(gan.generator, True)
    requires_grad(gan.critic, False)
    with minitorch.no_grad():
        for p in gan.critic.parameters():
            p.clamp_(-clip, clip)
    loss = loss_func(gan(noise), real)
    opt_gen.zero_grad()
    loss.backward()
    opt_gen.step()
    return loss.item()


def worker(framework, kind, steps, torch_threads, n_features, batch_size=64):
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (batch_size, 1, 32, 32)).astype(np.float32)
    noise = rng.standard_normal((batch_size, 100, 1, 1)).astype(np.float32)
    minitorch.manual_seed(0)
    mt_gen = basic_generator(32, 1, n_features=n_features)
    mt_crit = basic_critic(32, 1, n_features=n_features)
    if framework == "minitorch":
        gan = GANModule(mt_gen, mt_crit)
        loss_func = GANLoss(NoopLoss(), WassersteinLoss(), gan)
        model = mt_crit if kind == "critic" else mt_gen
        opt = Adam(model.parameters(), lr=LR, betas=BETAS)
        x, z = minitorch.tensor(real), minitorch.tensor(noise)
        if kind == "critic":
            def step():
                return minitorch_critic_step(gan, loss_func, opt, x, z)
        else:
            def step():
                return minitorch_generator_step(gan, loss_func, opt, z, x)
    else:
        torch.set_num_threads(torch_threads)
        gen, crit = torch_basic_generator(32, 1, n_features=n_features), torch_basic_critic(
            32, 1, n_features=n_features)
        copy_weights(mt_gen, gen)
        copy_weights(mt_crit, crit)
        model = crit if kind == "critic" else gen
        opt = torch.optim.Adam(model.parameters(), lr=LR, betas=BETAS)
        x, z = torch.tensor(real), torch.tensor(noise)
        if kind == "critic":
            def step():
                return torch_critic_step(gen, crit, opt, x, z)
        else:
            def step():
                return torch_generator_step(gen, crit, opt, z)
    first_loss = step()
    for _ in range(3):  # warm up: allocator, BLAS threads, caches
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(json.dumps({"first_loss": first_loss, "times": times}))


def run_worker(framework, kind, args):
    command = [sys.executable, __file__, "--worker", framework, "--kind", kind,
               "--steps", str(args.steps), "--torch-threads", str(args.torch_threads),
               "--n-features", str(args.n_features)]
    env = dict(os.environ)
    if framework == "minitorch" and args.blas_threads:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(args.blas_threads)
    result = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per process")
    parser.add_argument("--n-features", type=int, default=32)
    parser.add_argument("--torch-threads", type=int, default=2)
    parser.add_argument("--blas-threads", type=int, default=None)
    parser.add_argument("--worker", choices=["minitorch", "torch"], help=argparse.SUPPRESS)
    parser.add_argument("--kind", choices=["critic", "generator"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.kind, args.steps, args.torch_threads, args.n_features)
        return
    rows = []
    for kind in ("critic", "generator"):
        times, first_loss, round_ratios = {"minitorch": [], "torch": []}, {}, []
        for _ in range(args.rounds):
            medians = {}
            for framework in ("minitorch", "torch"):
                result = run_worker(framework, kind, args)
                times[framework] += result["times"]
                first_loss[framework] = result["first_loss"]
                medians[framework] = statistics.median(result["times"])
            round_ratios.append(medians["minitorch"] / medians["torch"])
        mt, t = statistics.median(times["minitorch"]), statistics.median(times["torch"])
        print(f"{kind} step: first loss minitorch {first_loss['minitorch']:.6f}, "
              f"torch {first_loss['torch']:.6f}")
        rows.append(f"| {kind} | {mt * 1e3:.1f} | {t * 1e3:.1f} | {mt / t:.2f}× "
                    f"| {min(round_ratios):.2f}–{max(round_ratios):.2f}× |")
    print(f"\nWGAN steps, basic_generator/basic_critic n_features={args.n_features}, 1×32×32, "
          f"batch 64, float32; median of {args.rounds} × {args.steps} steps per framework, each "
          f"in its own process, alternating; torch {torch.__version__} with "
          f"{args.torch_threads} thread(s), minitorch with "
          f"{args.blas_threads or 'the default number of'} BLAS thread(s)\n")
    print("| step | minitorch ms | torch ms | minitorch / torch "
          "| one round's ratio, lowest–highest |")
    print("|---|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
