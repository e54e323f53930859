"""He et al.'s degradation experiment, as ``lessons/paper_he2015_degradation.py`` runs it, trained
by PyTorch: does the recipe itself — not minitorch — give the curves, and how much do they move
with the seed?

Usage:  python benchmarks/he2015_in_torch.py [--seeds 3] [--first-seed 0] [--depths 20 56]
                                             [--widths 8 16 32] [--train-images 8192]
                                             [--test-images 2000] [--epochs 6] [--lr 0.1]
                                             [--threads 1] [--kinds plain residual]
                                             [--warmup-error 0.8] [--same-init]

The same nets (``tests/torch_twins_papers.py``: torch's modules, minitorch's layout and
initialisation), the same recipe (``sgd_step_decay_torch``: ``torch.optim.SGD`` with momentum
0.9 and weight decay 1e-4, lr divided by 10 at half and three quarters of the steps), the same
batches: minitorch's loader over the same Fashion-MNIST subset, normalised with the same
statistics, shuffled by the same seed.  Per net and seed it prints the training error of every
epoch (the share of misclassified images in the epoch's training batches, train mode) and the
test error after it (eval mode), then for each kind the deep net's training error minus the
shallow one's, epoch by epoch (above 0: depth hurts).  Torch draws the initial weights from its
own generator (the same distribution as minitorch's), or, with ``--same-init``, starts from the
very weights the lesson starts from for the seed.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

import minitorch
from minitorch.vision import mnist_databunch
from minitorch.vision.models.cifar_resnet import CifarResNet

# The torch nets and loop are the test suite's references too: tests/torch_twins_papers.py,
# imported from the repository's root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.torch_twins_papers import TorchCifarResNet, sgd_step_decay_torch  # noqa: E402


def test_error(model, dl):
    model.eval()
    wrong = seen = 0
    with torch.no_grad():
        for xb, yb in dl:
            pred = model(torch.from_numpy(xb.numpy())).argmax(dim=1)
            wrong += int((pred != torch.from_numpy(yb.numpy())).sum())
            seen += len(yb)
    model.train()
    return wrong / seen


def train_one(kind, depth, seed, args, stats):
    data = mnist_databunch("fashion_mnist", bs=128, padding=0, stats=stats, seed=seed,
                           limit=args.train_images, valid_limit=args.test_images)
    torch.manual_seed(seed)
    model = TorchCifarResNet((depth - 2) // 6, tuple(args.widths), kind == "residual", 1, 10)
    if args.same_init:   # the lesson's own initial weights for this seed, drawn by minitorch
        minitorch.manual_seed(seed)
        lesson_net = CifarResNet((depth - 2) // 6, tuple(args.widths), kind == "residual", 1, 10)
        model.load_state_dict({k: torch.tensor(v.numpy())
                               for k, v in lesson_net.state_dict().items()})
    per_epoch = len(data.train_dl)
    n_steps = per_epoch * args.epochs
    wrong, train_errors, test_errors = [], [], []

    def after_step(step, logits, yb, loss):
        wrong.append(int((logits.argmax(1) != yb).sum()))
        if (step + 1) % per_epoch == 0:  # the end of an epoch
            train_errors.append(sum(wrong[-per_epoch:]) / (per_epoch * 128))
            test_errors.append(test_error(model, data.valid_dl))

    batches = ((xb.numpy(), yb.numpy()) for _ in range(args.epochs) for xb, yb in data.train_dl)
    sgd_step_decay_torch(model, batches, args.lr, [int(0.5 * n_steps), int(0.75 * n_steps)],
                         after_step=after_step, warmup_error=args.warmup_error)
    return train_errors, test_errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--depths", type=int, nargs=2, default=[20, 56])
    parser.add_argument("--widths", type=int, nargs=3, default=[8, 16, 32])
    parser.add_argument("--train-images", type=int, default=8_192)
    parser.add_argument("--test-images", type=int, default=2_000)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--warmup-error", type=float, default=None,
                        help="a tenth of the lr until a batch's error is below this (0.8: the "
                             "paper's warm-up)")
    parser.add_argument("--same-init", action="store_true",
                        help="start from the lesson's initial weights (minitorch's draw for the "
                             "seed) instead of torch's: then only rounding tells the runs apart")
    parser.add_argument("--kinds", nargs="+", default=["plain", "residual"],
                        choices=["plain", "residual"],
                        help="which nets (residual alone: how many steps the cure needs)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch's threads (1 when another job shares the two cores)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    shallow, deep = args.depths
    finals = {}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        minitorch.manual_seed(seed)  # the normalisation batch, as the lesson draws it
        stats = [float(s[0]) for s in mnist_databunch(
            "fashion_mnist", bs=128, padding=0, limit=args.train_images,
            valid_limit=args.test_images).stats]
        curves = {}
        for kind in args.kinds:
            for depth in args.depths:
                start = time.process_time()
                curves[kind, depth] = train_one(kind, depth, seed, args, stats)
                train, test = curves[kind, depth]
                print(f"seed {seed} {kind}-{depth}: training error "
                      + " ".join(f"{100 * e:5.2f}" for e in train) + " | test error "
                      + " ".join(f"{100 * e:5.2f}" for e in test)
                      + f" | {time.process_time() - start:.0f} s CPU", flush=True)
                finals.setdefault((kind, depth), []).append((train[-1], test[-1]))
        for kind in args.kinds:   # deep − shallow: above 0, the deeper net trains worse
            gap = [d - s for d, s in zip(curves[kind, deep][0], curves[kind, shallow][0])]
            print(f"seed {seed}: {kind}-{deep} − {kind}-{shallow} training error by epoch "
                  f"(points) " + " ".join(f"{100 * g:+.1f}" for g in gap)
                  + f"; deeper worse at every epoch: {'yes' if all(g > 0 for g in gap) else 'no'}",
                  flush=True)
    print("\n| net | final training error, mean (each seed) | final test error, mean (each seed) |")
    print("|---|---|---|")
    for (kind, depth), values in finals.items():
        train, test = np.array(values).T * 100
        print(f"| {kind}-{depth} | {statistics.mean(train):.2f} % ("
              + ", ".join(f"{v:.2f}" for v in train) + f") | {statistics.mean(test):.2f} % ("
              + ", ".join(f"{v:.2f}" for v in test) + ") |")


if __name__ == "__main__":
    main()
