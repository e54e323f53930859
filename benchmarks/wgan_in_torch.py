"""The WGAN lesson's recipe trained in PyTorch: how good are its samples after the same epochs?

Usage:  python benchmarks/wgan_in_torch.py [--epochs 6] [--seeds 1] [--first-seed 0]
                                           [--n-features 32] [--threads 1]
                                           [--gp] [--gen-steps N]

``lessons/lesson7_wgan.py`` trains fastai's WGAN on MNIST in minitorch and has a judge rate
1,000 samples after every epoch.  Its targets (70 % of samples classified with confidence ≥ 0.9
after the default 6 epochs) are not the notebook's numbers, so the question is whether the
recipe reaches them in that time at all.  This script trains the same recipe in PyTorch and has
*the same judge* rate PyTorch's samples after every epoch (``train_judge`` and ``rate`` of
``minitorch/vision/gan_eval.py``, seeded like the lesson: the same weights).

The recipe (``GANLearner.wgan`` with the lesson's arguments): ``basic_generator(32, 1,
n_features)`` and ``basic_critic(32, 1, n_features)`` as torch modules (tests/torch_twins_gan.py;
fastai's conv_layer init: kaiming normal for the convs of its conv layers, torch's default for
the last layer of each), Adam betas (0, 0.99), lr 2e-4, no weight decay, both models in training
mode, batches of 64 of the 60,000 padded digits in [−1, 1] (937 a epoch, reshuffled each epoch),
fresh noise for every batch; five critic batches, then one generator batch (fastai's
``FixedGANSwitcher(n_crit=5)``: each batch of the loader is one or the other, 781 + 156 an
epoch), the critic's weights clamped to ±0.01 before each batch; the steps are those that
``tests/test_gan.py`` holds GANTrainer to (``torch_gan_step``).

``--gp``: the lesson's second run, WGAN-GP (``GANLearner.wgan_gp``): the critic without
batchnorm and without clipping, its loss plus 10 · (‖∇ₓ C(x̂)‖₂ − 1)² at random points x̂ between
real and fake images, Adam(1e-4, betas (0, 0.9)).  The lesson gives that run the clipped run's
wall time, so it takes fewer generator steps; ``--gen-steps N`` stops after N of them (the
number the lesson printed), rated then — the same recipe for the same number of steps.
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from minitorch.data import load_mnist
from minitorch.vision.gan_eval import frechet_distance_features, rate, train_judge

# The torch models and steps are the test suite's references (tests/torch_twins_gan.py),
# imported from the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.torch_twins_gan import (  # noqa: E402
    torch_basic_critic, torch_basic_generator, torch_gan_step)

N_CRIT, BS, N_SAMPLES = 5, 64, 1000
LR, BETAS = 2e-4, (0.0, 0.99)            # the clipped WGAN
GP, GP_LR, GP_BETAS = 10.0, 1e-4, (0.0, 0.9)  # WGAN-GP


def fastai_init(model):
    """fastai's conv_layer: kaiming-normal weights for the conv of each conv layer (the first
    child of each ``Sequential`` block); the final conv keeps torch's default."""
    for block in model:
        if isinstance(block, torch.nn.Sequential) and len(block) and isinstance(
                block[0], (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.kaiming_normal_(block[0].weight)


def to_unit_range(images):
    return (images.astype(np.float32) / 255 - 0.5) / 0.5


def samples(generator, seed):
    """1,000 samples in eval mode for the noise the lesson rates (numpy seed 3)."""
    noise = np.random.default_rng(seed).standard_normal((N_SAMPLES, 100, 1, 1)).astype(np.float32)
    generator.eval()
    with torch.no_grad():
        out = generator(torch.tensor(noise)).numpy()
    generator.train()
    return out


def train_one_seed(seed, epochs, n_features, real, judge, test_features, gp=False,
                   gen_steps=None):
    torch.manual_seed(seed)
    lr, betas = (GP_LR, GP_BETAS) if gp else (LR, BETAS)
    generator = torch_basic_generator(32, 1, noise_sz=100, n_features=n_features)
    critic = torch_basic_critic(32, 1, n_features=n_features, norm=not gp)
    fastai_init(generator)
    fastai_init(critic)
    opt_gen = torch.optim.Adam(generator.parameters(), lr=lr, betas=betas)
    opt_critic = torch.optim.Adam(critic.parameters(), lr=lr, betas=betas)
    penalty = dict(clip=None, gp=GP) if gp else {}
    order = torch.Generator().manual_seed(seed)
    n_batches = len(real) // BS
    critic_batches, gen_mode, rows, steps_done = 0, False, [], 0
    for epoch in range(epochs):
        start = time.perf_counter()
        perm = torch.randperm(len(real), generator=order)
        for b in range(n_batches):
            noise = torch.randn(BS, 100, 1, 1)
            if gen_mode:
                torch_gan_step(generator, critic, opt_gen, True, noise, **penalty)
                gen_mode, critic_batches, steps_done = False, 0, steps_done + 1
                if steps_done == gen_steps:
                    break
            else:
                torch_gan_step(generator, critic, opt_critic, False, noise,
                               real[perm[b * BS:(b + 1) * BS]], **penalty)
                critic_batches += 1
                gen_mode = critic_batches == N_CRIT
        probs, feats = rate(judge, samples(generator, seed=3))
        rows.append((float((probs.max(1) >= 0.9).mean()),
                     frechet_distance_features(feats, test_features)))
        print(f"seed {seed} epoch {epoch}: confidence ≥ 0.9 for {rows[-1][0]:.1%}, Fréchet "
              f"{rows[-1][1]:.2f} ({time.perf_counter() - start:.0f} s, {steps_done} generator "
              f"steps)", flush=True)
        if steps_done == gen_steps:
            break
    histogram = np.bincount(probs.argmax(1), minlength=10) / len(probs)
    return rows, histogram


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--n-features", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch's threads")
    parser.add_argument("--gp", action="store_true", help="WGAN-GP instead of the clipped WGAN")
    parser.add_argument("--gen-steps", type=int, default=None,
                        help="stop after this many generator steps (rated then)")
    args = parser.parse_args()
    if args.gen_steps is not None and args.gen_steps < 1:
        parser.error(f"--gen-steps must be at least 1, got {args.gen_steps}")
    torch.set_num_threads(args.threads)
    train_x, train_y = load_mnist("mnist", train=True)
    test_x, test_y = load_mnist("mnist", train=False)
    train32, test32 = (to_unit_range(np.pad(x, ((0, 0), (2, 2), (2, 2)))[:, None])
                       for x in (train_x, test_x))
    judge = train_judge(train32, train_y, test32, test_y, seed=0).model  # the lesson's judge
    _, test_features = rate(judge, test32)
    real = torch.tensor(train32)
    results = {}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        results[seed] = train_one_seed(seed, args.epochs, args.n_features, real, judge,
                                       test_features, args.gp, args.gen_steps)
    print(f"\nPyTorch {torch.__version__}, {'WGAN-GP' if args.gp else 'WGAN (clipped)'}, "
          f"{args.threads} thread(s), n_features {args.n_features}; the lesson's judge rates "
          f"1,000 samples after each epoch (and after the last generator step)\n")
    columns = max(len(rows) for rows, _ in results.values())  # fewer with --gen-steps
    print("| seed | " + " | ".join(f"epoch {e + 1}: confident / Fréchet"
                                    for e in range(columns)) + " | histogram after the last, % |")
    print("|---|" + "---:|" * columns + "---|")
    for seed, (rows, histogram) in results.items():
        cells = " | ".join(f"{c:.1%} / {f:.1f}" for c, f in rows)
        print(f"| {seed} | {cells} | {' '.join(f'{100 * h:.1f}' for h in histogram)} |")


if __name__ == "__main__":
    main()
