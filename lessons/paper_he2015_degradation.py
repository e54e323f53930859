# %% [markdown]
# # He et al. (2015) in miniature: deeper plain nets train *worse*
#
# Lesson 7 builds its ResNet on a claim from "Deep Residual Learning for Image Recognition"
# (He, Zhang, Ren and Sun, 2015): stack more layers on a plain convolutional net and, past some
# depth, it gets worse — not only on the test set (that could be overfitting) but on the
# **training set**, which a deeper net could always fit at least as well by making its extra
# layers the identity.  The paper calls it the *degradation problem* (its Figure 1: on CIFAR-10
# a plain 56-layer net sits above a plain 20-layer one in training and test error throughout
# training).  The cure is the residual block: let each pair of layers learn a change `F(x)` to
# its input and add the input back, `x + F(x)`; then the identity is just `F = 0`.  With it the
# order flips: the CIFAR ResNets get *better* with depth (the paper's Table 6: test error
# 8.75 % at 20 layers, 7.51 % at 32, 7.17 % at 44, 6.97 % at 56, 6.43 % at 110).
#
# Here the paper's CIFAR experiment (section 4.2) runs at a size a 2-core CPU trains in minutes
# rather than days (the recorded time is in `lessons/README.md`): the same 6n + 2-layer nets,
# plain and residual, 20 and 56 layers, half the width, on 8,192 Fashion-MNIST images (the
# data minitorch's loaders already read, in place of CIFAR-10) for 6 epochs with the paper's
# recipe.  Read `minitorch/vision/models/cifar_resnet.py` (the nets, written as the
# paper describes them) and `minitorch/vision/cifar_recipe.py` (the training recipe) beside it.
# The nets it trains at 56 layers are the ones `lessons/paper_li2018_loss_landscape.py` then
# looks at.
#
# Run it as a script (`python lessons/paper_he2015_degradation.py`; `--quick` for a smoke run
# of under a minute; `--device cuda` for the GPU) or open it as a notebook (percent-format
# cells).  The figures go to `--out` (default `lesson_output/paper_he2015_degradation/`).

# %%
import argparse
import sys
import time
from pathlib import Path

import minitorch
from minitorch.files import atomic_write
from minitorch.plot import finish_figure, subplots
from minitorch.vision import mnist_databunch
from minitorch.vision.cifar_recipe import train_cifar_net
from minitorch.vision.models.cifar_resnet import CifarResNet, blocks_per_stage

parser = argparse.ArgumentParser(description="He et al. 2015: the degradation problem")
parser.add_argument("--quick", action="store_true",
                    help="a smoke run: 8- and 14-layer nets of widths (2, 4, 8), 256 training "
                         "and 128 test images, 2 epochs (the test suite's run)")
parser.add_argument("--depths", type=int, nargs=2, default=[20, 56], metavar=("SHALLOW", "DEEP"),
                    help="the two depths, 6n + 2 layers each (default 20 56, the paper's Figure 1)")
parser.add_argument("--widths", type=int, nargs=3, default=[8, 16, 32],
                    help="filters in the three stages (the paper's: 16 32 64)")
parser.add_argument("--train-images", type=int, default=8_192,
                    help="the first this many Fashion-MNIST training images, for all four nets")
parser.add_argument("--test-images", type=int, default=2_000,
                    help="the first this many test images: the test error after every epoch")
parser.add_argument("--epochs", type=int, default=6)
parser.add_argument("--lr", type=float, default=0.1, help="divided by 10 at 50 %% and 75 %% of "
                    "the steps")
parser.add_argument("--warmup-error", type=float, default=0.8,
                    help="start at a tenth of --lr until a training batch's error is below this "
                         "(the paper's warm-up for its 110-layer net; 0: no warm-up)")
parser.add_argument("--seed", type=int, default=0,
                    help="the seed of every net's weights and of the batch order")
parser.add_argument("--device", default=None, help="'cpu' or 'cuda' (default: $MINITORCH_DEVICE)")
parser.add_argument("--out", default="lesson_output/paper_he2015_degradation",
                    help="folder for the figures, the table and the deep nets' weights")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
if args.quick:
    args.depths, args.widths, args.train_images, args.test_images, args.epochs = \
        [8, 14], [2, 4, 8], 256, 128, 2
for depth in args.depths:
    blocks_per_stage(depth)  # a clear error now for a depth that is not 6n + 2
OUT = Path(args.out)
(OUT / "models").mkdir(parents=True, exist_ok=True)
print(f"figures and results go to {OUT}/")

# %% [markdown]
# ## The data
#
# The first 8,192 Fashion-MNIST training images (28×28 grey photos of clothes, ten classes)
# and the first 2,000 test images, the same for all four nets.  No augmentation: the paper pads
# and crops CIFAR images, but the claim is about how well a net fits the images it trains on,
# and without augmentation the training error measures exactly that.  Batches of 128; the
# pixels normalised with the mean and standard deviation of a training batch, measured once and
# kept, so that every net — and the landscape lesson later — sees the same numbers.

# %%
minitorch.manual_seed(args.seed)
LIMITS = dict(limit=args.train_images, valid_limit=args.test_images)
data = mnist_databunch("fashion_mnist", bs=128, padding=0, device=args.device, **LIMITS)
STATS = [float(s[0]) for s in data.stats]  # one channel: (mean, std)
print(data)
print(f"normalisation: mean {STATS[0]:.4f}, std {STATS[1]:.4f}; "
      f"{len(data.train_dl)} batches an epoch")


def fresh_data():
    """The same images, statistics and batch order for every net (the loader's own seed)."""
    return mnist_databunch("fashion_mnist", bs=128, padding=0, stats=STATS, seed=args.seed,
                           device=args.device, **LIMITS)


# %% [markdown]
# ## The nets
#
# Section 4.2's nets: a 3×3 conv, three stages of n blocks (two 3×3 convs each, batchnorm after
# every conv) with `widths` filters on 28², 14², 7² maps, global average pooling and a linear
# layer: 6n + 2 layers.  The residual net adds each block's input to its output; where a stage
# halves the map and doubles the filters, the shortcut keeps every other pixel and pads the
# new channels with zeros ("option A"), so the two kinds have **exactly the same weights**:
# the only difference is the additions.

# %%
NETS = [(kind, depth) for kind in ("plain", "residual") for depth in args.depths]


def build(kind, depth):
    return CifarResNet(blocks_per_stage(depth), tuple(args.widths), residual=kind == "residual",
                       in_channels=1, num_classes=10)


minitorch.manual_seed(args.seed)
print(build("residual", args.depths[0]).layer2[0])  # the block that halves the map
for kind, depth in NETS:
    n_params = sum(p.numel() for p in build(kind, depth).parameters())
    print(f"{kind}-{depth}: {depth} layers, {n_params:,} parameters")

# %% [markdown]
# ## Training: the paper's recipe
#
# SGD with momentum 0.9, weight decay 1e-4 on every parameter (an L2 penalty, as in PyTorch's
# `SGD`), batches of 128, He initialisation, learning rate 0.1 divided by 10 at half and at
# three quarters of the steps (the paper: at 32k and 48k of 64k iterations).  Each net starts
# from the same seed and sees the same batches in the same order.  The epoch table shows the
# test error (`error_rate`, on the 2,000 test images, eval mode) and the training error
# (`train_error`: the share of misclassified images among the epoch's training batches, as
# the paper plots it).
#
# A short run at lr 0.1 is a throw of the dice for a deep net: its first steps throw it about
# (on random images a 56-layer net's loss climbed from 3.9 to 8.9 in five steps), and where it
# lands decides much of the rest.  Rounding does not decide it (minitorch and PyTorch agree to
# 1e-15 in float64 for the first steps, then grow apart tenfold a step); the initial weights do:
# PyTorch, trained from the very weights a bad minitorch run started from, landed as badly
# (`lessons/README.md` has the numbers).  So the lesson takes the paper's remedy for its
# 110-layer net, for all four nets: a tenth of the learning rate until a training batch's error
# drops below 80 % (`--warmup-error 0.8`; a few dozen steps at most), then 0.1.  With it the
# lesson's seed no longer decides whether residual-56 trains; `--warmup-error 0` is the paper's
# recipe for 20 and 56 layers as printed.

# %%
RESULTS = {}  # (kind, depth) -> dict of curves, seconds, parameters
for kind, depth in NETS:
    print(f"\n{kind}-{depth}")
    minitorch.manual_seed(args.seed)
    model = build(kind, depth)
    start, cpu = time.perf_counter(), time.process_time()
    learn = train_cifar_net(fresh_data(), model, args.epochs, lr=args.lr,
                            warmup_error=args.warmup_error or None)
    if args.warmup_error:
        print(f"warm-up: {learn.warmup_steps} steps at lr {args.lr / 10:g}")
    RESULTS[kind, depth] = dict(
        train=learn.train_errors, test=learn.test_errors,
        seconds=time.perf_counter() - start, cpu_seconds=time.process_time() - cpu,
        parameters=sum(p.numel() for p in model.parameters()))
    if depth == args.depths[1]:  # the deep nets: the landscape lesson's subjects
        checkpoint = dict(model=model.state_dict(), kind=kind, depth=depth,
                          widths=list(args.widths), stats=STATS, seed=args.seed,
                          train_images=args.train_images, epochs=args.epochs, lr=args.lr,
                          warmup_error=args.warmup_error)
        minitorch.save(checkpoint, OUT / "models" / f"{kind}{depth}.npz")

# %% [markdown]
# ## The figure
#
# As the paper's Figures 1 and 6: error against training time, training error solid, test
# error dashed, the deeper net in the darker colour — plain nets on the left, residual nets on
# the right.

# %%
COLOURS = {args.depths[0]: "tab:orange", args.depths[1]: "tab:red"}
fig, axes = subplots(1, 2, figsize=(11, 4.2))
epochs = list(range(1, args.epochs + 1))
highest = max(max(r["train"] + r["test"]) for r in RESULTS.values())
for ax, kind in zip(axes[0], ("plain", "residual")):
    for depth in args.depths:
        result = RESULTS[kind, depth]
        ax.plot(epochs, [100 * e for e in result["train"]], "-o", color=COLOURS[depth],
                label=f"{kind}-{depth}, training")
        ax.plot(epochs, [100 * e for e in result["test"]], "--", color=COLOURS[depth],
                label=f"{kind}-{depth}, test")
    ax.set(title=f"{kind} nets", xlabel="epoch", ylabel="error (%)",
           ylim=(0, min(100, 100 * highest * 1.05)))
    ax.set_xticks(epochs)
    ax.grid(alpha=0.3)
    ax.legend()
fig.suptitle(f"Fashion-MNIST, {args.train_images:,} training images: "
             f"solid = training error, dashed = test error")
finish_figure(fig, OUT / "errors.png")

# %% [markdown]
# ## Results
#
# Two questions, the paper's: is the deep plain net's **training** error above the shallow
# one's at every epoch (degradation)?  And does depth stop hurting — the deep residual net at
# or below the shallow one at the end?

# %%
shallow, deep = args.depths
plain_gap = [d - s for d, s in zip(RESULTS["plain", deep]["train"],
                                   RESULTS["plain", shallow]["train"])]
residual_gap = RESULTS["residual", deep]["train"][-1] - RESULTS["residual", shallow]["train"][-1]
rows = ["| net | layers | parameters | training error | test error | wall time (s) | CPU (s) |",
        "|---|---:|---:|---:|---:|---:|---:|"]
for kind, depth in NETS:
    r = RESULTS[kind, depth]
    rows.append(f"| {kind}-{depth} | {depth} | {r['parameters']:,} | {100 * r['train'][-1]:.2f} % "
                f"| {100 * r['test'][-1]:.2f} % | {r['seconds']:.0f} | {r['cpu_seconds']:.0f} |")
verdicts = [
    f"plain-{deep} minus plain-{shallow}, training error per epoch (points): "
    + " ".join(f"{100 * g:+.1f}" for g in plain_gap),
    f"degradation (plain-{deep} above plain-{shallow} in training error at every epoch): "
    + ("yes" if all(g > 0 for g in plain_gap) else "no"),
    f"residual-{deep} minus residual-{shallow}, final training error: {100 * residual_gap:+.2f} "
    f"points (the plain nets: {100 * plain_gap[-1]:+.2f}) — "
    + ("at or below: depth no longer hurts" if residual_gap <= 0 else "above"),
]
setting = (f"{args.train_images:,} training / {args.test_images:,} test images, {args.epochs} "
           f"epochs, widths {tuple(args.widths)}, lr {args.lr}"
           + (f" after a warm-up to {args.warmup_error:.0%} error" if args.warmup_error else "")
           + f", seed {args.seed}, "
           f"device {data.device}")
text = "\n".join(rows) + "\n\n" + "\n".join(verdicts)
print(f"\nResults ({setting}):\n{text}")
with atomic_write(OUT / "results.md", mode="w") as file:
    file.write(f"{setting}\n\n{text}\n")
