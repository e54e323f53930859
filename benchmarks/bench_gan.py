"""Time one WGAN critic step, one generator step and one WGAN-GP critic step in minitorch and
in PyTorch (CPU).

Usage:  python benchmarks/bench_gan.py [--rounds 5] [--steps 10] [--n-features 32]
                                       [--torch-threads 2] [--blas-threads N]
                                       [--cases critic generator critic-gp]

The models are the WGAN lesson's (``basic_generator`` / ``basic_critic`` for 1×32×32 images,
``n_features`` wide, batch 64), and the steps are what ``GANTrainer`` does per batch with
``GANLearner.wgan``:

* critic step: clamp the critic's weights to ±0.01; a fake batch from the generator without a
  graph; loss = mean C(real) − mean C(fake); backward; Adam step of the critic;
* generator step: loss = mean C(G(noise)) with the critic's parameters frozen; backward through
  the critic into the generator; Adam step of the generator;
* critic-gp step, ``GANLearner.wgan_gp``'s (the lesson's second run): the critic without
  batchnorm (``norm_type=None``) and without clamping; the critic step's loss plus the gradient
  penalty 10 · mean (‖∇ₓ C(x̂)‖ − 1)² at x̂ between the real and the fake images (∇ₓ C through
  ``autograd.grad(create_graph=True)``, in torch ``torch.autograd.grad``), so its backward
  differentiates a gradient; Adam lr 1e-4, betas (0, 0.9).  The interpolation weights are drawn
  once and given to both frameworks, so that their first losses can be compared.

Adam with betas (0, 0.99), lr 2e-4, no weight decay for the WGAN steps; both models in training
mode (the lesson's ``switch_eval=False``).  Both frameworks start from the same weights
(minitorch's, seeded, copied into torch).  Each framework runs in a process of its own and the
processes alternate (``alternating.py``); the table gives medians over all timed steps, the
ratio minitorch / torch, and the lowest and highest ratio of one round.  The steps are ``gan_step.py``'s and, in torch,
``tests/torch_twins_gan.py``'s (the references of ``tests/test_gan.py``, with the models).
Targets: within 1.3× (the WGAN steps), within 1.5× (the WGAN-GP critic step).
"""
import argparse
import sys

from pathlib import Path

import numpy as np
import torch

# The torch models and steps are the test suite's references (tests/torch_twins_gan.py),
# imported from the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import minitorch  # noqa: E402
from minitorch.optim import Adam  # noqa: E402
from minitorch.vision.gan import GANLoss, GANModule, NoopLoss, WassersteinLoss  # noqa: E402
from minitorch.vision.models import basic_critic, basic_generator  # noqa: E402
from tests.torch_twins_gan import (  # noqa: E402
    copy_weights, torch_basic_critic, torch_basic_generator, torch_gan_step)

from alternating import add_arguments, compare, print_table, report, time_steps  # noqa: E402
from gan_step import minitorch_gan_step  # noqa: E402

CLIP, LR, BETAS = 0.01, 2e-4, (0.0, 0.99)
GP, GP_LR, GP_BETAS = 10., 1e-4, (0.0, 0.9)
CASES = ["critic", "generator", "critic-gp"]


def worker(framework, kind, steps, torch_threads, n_features, batch_size=64):
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (batch_size, 1, 32, 32)).astype(np.float32)
    noise = rng.standard_normal((batch_size, 100, 1, 1)).astype(np.float32)
    eps = rng.random(batch_size).astype(np.float32)
    with_gp = kind == "critic-gp"
    gp, clip = (GP, None) if with_gp else (None, CLIP)
    lr, betas = (GP_LR, GP_BETAS) if with_gp else (LR, BETAS)
    minitorch.manual_seed(0)
    mt_gen = basic_generator(32, 1, n_features=n_features)
    no_batchnorm = dict(norm_type=None) if with_gp else {}
    mt_crit = basic_critic(32, 1, n_features=n_features, **no_batchnorm)
    if framework == "minitorch":
        gan = GANModule(mt_gen, mt_crit)
        loss_func = GANLoss(NoopLoss(), WassersteinLoss(), gan)
        model = mt_gen if kind == "generator" else mt_crit
        opt = Adam(model.parameters(), lr=lr, betas=betas)
        x, z, e = (minitorch.tensor(a) for a in (real, noise, eps))

        def step():
            return minitorch_gan_step(gan, loss_func, opt, kind == "generator", z, x, clip=clip,
                                      gp=gp, gp_eps=e)
    else:
        torch.set_num_threads(torch_threads)
        gen = torch_basic_generator(32, 1, n_features=n_features)
        crit = torch_basic_critic(32, 1, n_features=n_features, norm=not with_gp)
        copy_weights(mt_gen, gen)
        copy_weights(mt_crit, crit)
        model = gen if kind == "generator" else crit
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=betas)
        x, z, e = (torch.tensor(a) for a in (real, noise, eps))

        def step():
            return torch_gan_step(gen, crit, opt, kind == "generator", z, x, clip=clip, gp=gp,
                                  gp_eps=e)
    report(time_steps(step, steps, warmup=3))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, rounds=5, steps=10)
    parser.add_argument("--n-features", type=int, default=32)
    parser.add_argument("--cases", nargs="+", default=CASES, choices=CASES)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.case, args.steps, args.torch_threads, args.n_features)
        return
    rows = compare(__file__, args.cases, args,
                   extra=["--n-features", str(args.n_features)])
    print_table(rows, f"WGAN and WGAN-GP steps, basic_generator/basic_critic "
                f"n_features={args.n_features}, 1×32×32, batch 64, float32", args,
                first_column="step", ms_decimals=1)

if __name__ == "__main__":
    main()
