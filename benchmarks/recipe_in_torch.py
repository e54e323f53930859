"""The lesson's MNIST recipe trained in PyTorch, over seeds: what accuracy the recipe itself gives.

Usage:  python benchmarks/recipe_in_torch.py [--models A B C] [--seeds 10] [--first-seed 0]
                                            [--threads 2]

The lesson script (``lessons/lesson7_resnet_mnist.py``) trains the lesson's models in minitorch;
this script trains the same models with the same recipe in PyTorch, so that the two spreads of
final accuracy over seeds can be set side by side.  A single run of a 3-epoch training moves by
a few hundredths of a percent with the seed; a published number is one such draw.

The recipe, the notebook's with fastai v1's defaults: torch's own modules
(``torch.nn.Conv2d`` with its default init for model A; conv_layer's kaiming-normal init and no
conv bias for B and C), ``torch.optim.Adam`` with betas (mom, 0.99) and eps 1e-8, true weight
decay 1e-2 (``p ← p·(1 − lr·wd)`` before each step, batchnorm included), one cycle (cosine
max_lr/25 → max_lr over the first 30 % of the batches, then cosine down to max_lr/(25·1e4);
momentum 0.95 → 0.85 → 0.95), cross-entropy; batches of 128 from minitorch's own MNIST loader
(random pad-3-crop-28 on the training images, normalised with a training batch's statistics,
468 batches an epoch), which the test suite checks against fastai's semantics.  Accuracy is
measured on the 10,000 test images (the lesson's validation set) with the batchnorms in eval
mode.  The loop, ``fit_one_cycle_torch``, and the torch models are in ``tests/torch_twins.py``:
``tests/test_training_vs_torch.py`` holds that loop and ``learn.fit_one_cycle`` to the same
losses and weights step by step in float64; here both run in float32.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

import minitorch
from minitorch.vision import mnist_databunch

# The lesson's models in torch and the recipe's loop are the test suite's references too; they
# live in tests/torch_twins.py, imported from the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.torch_twins import fit_one_cycle_torch, torch_model  # noqa: E402

RECIPES = {  # model: (epochs, max_lr, lesson7.md's notebook / lecture accuracy)
    "A": (3, 0.1, "0.9886 / 0.9864"),
    "B": (10, 0.1, "0.9916 / 0.9911"),
    "C": (12, 0.05, "0.9952 / 0.9954"),
}


def train_and_score(name, seed, data):
    epochs, max_lr, _ = RECIPES[name]
    torch.manual_seed(seed)
    model = torch_model(name)
    batches = ((xb.numpy(), yb.numpy()) for _ in range(epochs) for xb, yb in data.train_dl)
    fit_one_cycle_torch(model, batches, epochs * len(data.train_dl), max_lr)
    model.eval()
    correct = 0
    with torch.no_grad():
        for xb, yb in data.valid_dl:
            pred = model(torch.from_numpy(xb.numpy())).argmax(dim=1)
            correct += int((pred == torch.from_numpy(yb.numpy())).sum())
    return correct / len(data.valid_dl.dataset)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["A", "B"], choices=sorted(RECIPES))
    parser.add_argument("--seeds", type=int, default=10, help="how many seeds")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2,
                        help="torch's threads (1 when another job shares the two cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    minitorch.manual_seed(0)  # the normalisation batch, as the lesson script draws it
    stats = mnist_databunch(bs=128).stats
    rows = []
    for name in args.models:
        accuracies = []
        for seed in seeds:
            start = time.perf_counter()
            # Each seed shuffles and crops with its own generator, as the lesson's --seeds does.
            data = mnist_databunch(bs=128, stats=stats, seed=seed)
            accuracies.append(train_and_score(name, seed, data))
            print(f"model {name} seed {seed}: accuracy {accuracies[-1]:.4f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        epochs, max_lr, lesson = RECIPES[name]
        rows.append(f"| {name}: `fit_one_cycle({epochs}, {max_lr})` | {statistics.mean(accuracies):.5f} "
                    f"({min(accuracies):.4f} – {max(accuracies):.4f}) | "
                    f"{' '.join(f'{a:.4f}' for a in accuracies)} | {lesson} |")
    print(f"\nThe lesson's recipe in PyTorch {torch.__version__} (CPU, float32), "
          f"seeds {seeds.start}–{seeds.stop - 1}\n")
    print("| model | mean (lowest – highest) | per seed | the lesson's (notebook / lecture) |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
