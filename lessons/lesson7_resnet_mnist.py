# %% [markdown]
# # Lesson 7, part 1: ResNets from scratch on MNIST
#
# fast.ai course v3, lesson 7, notebook `lesson7-resnet-mnist`, reproduced with minitorch.
# Watch the lesson beside it; the recipes and the numbers to reproduce are the notebook's
# (`nbs/dl1/lesson7-resnet-mnist.ipynb` in `fastai/course-v3`).
#
# Three models of growing depth on the handwritten digits: a plain CNN of five stride-2 convs,
# the same written with fastai's `conv_layer`, and a "ResNet-ish" net with a residual block after
# every conv — then a DenseNet variant, whose blocks concatenate instead of adding.  Along the way:
# the data block API, `learn.summary()`, the learning-rate finder and one-cycle training.
#
# Run it as a script (`python lessons/lesson7_resnet_mnist.py`; `--quick` for a one-epoch pass
# over a slice of the data; `--seeds 3` to train models A, B and C over three seeds each;
# `--device cuda` for the GPU) or open it as a notebook (percent-format cells).  The figures go
# to `--out` (default `lesson_output/lesson7_resnet_mnist/`).

# %%
import argparse
import statistics
import sys
import time
from pathlib import Path

import minitorch
from minitorch import nn
from minitorch.core import defaults
from minitorch.files import atomic_write
from minitorch.learner import Learner, accuracy
from minitorch.vision import mnist_databunch

parser = argparse.ArgumentParser(description="Lesson 7: ResNets on MNIST")
parser.add_argument("--quick", action="store_true",
                    help="2,000 training and 500 validation images, one epoch per model "
                         "(the test suite's smoke run)")
parser.add_argument("--seeds", type=int, default=1,
                    help="train models A, B and C this many times each (seeds 0, 1, ...) and "
                         "report their mean accuracies")
parser.add_argument("--device", default=None, help="'cpu' or 'cuda' (default: $MINITORCH_DEVICE)")
parser.add_argument("--out", default="lesson_output/lesson7_resnet_mnist",
                    help="folder for the figures and the results table")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
if args.seeds < 1:
    parser.error("--seeds must be at least 1")
OUT = Path(args.out)
OUT.mkdir(parents=True, exist_ok=True)
print(f"figures and results go to {OUT}/")


def epochs(n):
    """The lesson's number of epochs, or 1 in a quick run."""
    return 1 if args.quick else n


RESULTS = []  # (model, parameters, final accuracy, the lesson's accuracy, seconds)

# %% [markdown]
# ## The data
#
# MNIST as the lesson builds it: the images (found in `$MINITORCH_DATA/mnist`, else downloaded
# and checked), split into training (60,000) and validation (the 10,000 test images: a
# validation set has labels and drives development; a *test* set would have none), labelled by
# digit, augmented on the training set only by a random padding of 3 pixels then a random
# 28×28 crop (no flips or zooms: a flipped 2 is not a 2), batched by 128, and normalised with
# statistics measured on a random training batch (there is no pretrained model whose
# statistics we would have to match).  One-channel images are drawn in `defaults.cmap`; as in
# the notebook, `'binary'` draws the digits as black ink on white paper.

# %%
defaults.cmap = "binary"
LIMIT = dict(limit=2000, valid_limit=500) if args.quick else {}
minitorch.manual_seed(0)  # the normalisation batch; each model seeds its own weights and order
data = mnist_databunch(bs=128, device=args.device, **LIMIT)
print(data)
xb, yb = data.one_batch()
print("one batch:", tuple(xb.shape), tuple(yb.shape))
data.show_batch(rows=3, figsize=(5, 5), path=OUT / "batch.png")


# %% [markdown]
# ## Model A: a basic CNN
#
# Five 3×3 convs with stride 2 take the 28×28 image to 14, 7, 4, 2 and finally 1 pixel; the
# channels go 1 → 8 → 16 → 32 → 16 → 10, one per digit.  Each conv is followed by batchnorm and
# ReLU (the last by batchnorm only), and `Flatten` turns the (N, 10, 1, 1) output into the
# (N, 10) scores the loss expects.
#
# The models of this lesson are written out in `minitorch/vision/models/mnist.py`, where the
# benchmarks and the tests take them from too; open it beside this script.

# %%
from minitorch.vision.models.mnist import basic_cnn  # noqa: E402


def train(name, model, n_epochs, max_lr, lesson_accuracy, find_lr=False, slug=None):
    """Train ``model`` with one cycle and keep its row of the final table; returns the Learner.
    The figures are named after ``slug`` (default: the letter before the colon in ``name``)."""
    learn = Learner(data, model, loss_func=nn.CrossEntropyLoss(), metrics=accuracy, path=OUT)
    slug = slug or name.split(":")[0].lower()
    if find_lr:
        learn.lr_find(end_lr=100, num_it=len(data.train_dl) if args.quick else 100)
        learn.recorder.plot(skip_start=2 if args.quick else 10, skip_end=2 if args.quick else 5,
                            path=OUT / f"{slug}_lr_find.png")
    start = time.perf_counter()
    learn.fit_one_cycle(n_epochs, max_lr=max_lr)
    seconds = time.perf_counter() - start
    learn.recorder.plot_losses(path=OUT / f"{slug}_losses.png")
    learn.recorder.plot_lr(show_moms=True, path=OUT / f"{slug}_lr_moms.png")
    parameters = sum(p.numel() for p in model.parameters())
    if learn.stopped_on_nan:  # the fit stopped early: score the weights it stopped with
        name += " (stopped: NaN loss)"
    metrics = learn.recorder.metrics
    final_accuracy = metrics[-1][0] if metrics and metrics[-1] else learn.validate()[1]
    RESULTS.append((name, parameters, final_accuracy, lesson_accuracy, seconds))
    return learn


minitorch.manual_seed(0)
model = basic_cnn()
print(model)
learn = Learner(data, model, loss_func=nn.CrossEntropyLoss(), metrics=accuracy)
print(learn.summary())
xb = xb.to(data.device)
with minitorch.no_grad():
    print("the model's output for one batch:", tuple(model(xb).shape))

# %% [markdown]
# Which learning rate?  The learning-rate finder trains for up to 100 batches while the rate
# grows exponentially from 1e-7 to `end_lr`, and plots the (smoothed) loss against the rate on
# a log scale; a good `max_lr` is where the loss still falls steeply, well before it blows up.
# It is an experiment, not training: the weights are put back afterwards.  The notebook runs it
# here, then trains with one cycle at `max_lr=0.1` (`a_lr_find.png`).

# %%
learn = train("A: basic CNN", model, epochs(3), 0.1, 0.9886, find_lr=True)

# %% [markdown]
# ## Model B: the same with `conv_layer`
#
# fastai's `conv_layer(ni, nf, stride=2)` is conv → ReLU → batchnorm in one call.  Its conv has
# no bias (the batchnorm right after it has its own shift), so the model has 82 parameters
# fewer: 12,044.  Note the order: the activation comes before the batchnorm here.

# %%
from minitorch.vision.models.mnist import refactored_cnn  # noqa: E402

minitorch.manual_seed(0)
learn = train("B: conv_layer refactor", refactored_cnn(), epochs(10), 0.1, 0.9916)

# %% [markdown]
# ## Model C: a residual block after every conv
#
# A deeper plain net can train *worse* than a shallower one (He et al. 2015).  A residual block
# computes `x + conv(conv(x))`: it can always fall back to the identity, so adding blocks can
# only help, and the loss landscape becomes much smoother (Li et al. 2018).  fastai's
# `res_block(nf)` builds it as a "sequential with memory" whose last layer, `MergeLayer`, adds
# the block's input back.  A deeper model tolerates other rates: the learning-rate finder
# first (`c_lr_find.png`), then one cycle at `max_lr=0.05`.

# %%
from minitorch.vision.models.mnist import resnet_ish  # noqa: E402

minitorch.manual_seed(0)
model = resnet_ish()
print(Learner(data, model, loss_func=nn.CrossEntropyLoss()).summary().splitlines()[-3])
learn = train("C: ResNet-ish", model, epochs(12), 0.05, 0.9952, find_lr=True)
learn.show_results(rows=3, figsize=(6, 6), path=OUT / "c_results.png")
learn.save("resnet_ish")

# %% [markdown]
# One run is one draw: the accuracy moves by a few hundredths of a percent with the initial
# weights and the batch order.  With `--seeds 3` models A, B and C are each trained twice more
# (seeds 1 and 2) and the table reports the mean over the seeds.

# %%
REPEATS = [("A: basic CNN", basic_cnn, 3, 0.1, 0.9886, True),  # ..., find_lr: as seed 0 ran
           ("B: conv_layer refactor", refactored_cnn, 10, 0.1, 0.9916, False),
           ("C: ResNet-ish", resnet_ish, 12, 0.05, 0.9952, True)]
for name, build, n_epochs, max_lr, lesson_accuracy, find_lr in REPEATS if args.seeds > 1 else []:
    first = next(i for i, row in enumerate(RESULTS) if row[0] == name)
    for seed in range(1, args.seeds):
        print(f"\n{name}, seed {seed}")
        minitorch.manual_seed(seed)  # other initial weights, other batch order and augmentation
        train(f"{name} (seed {seed})", build(), epochs(n_epochs), max_lr, lesson_accuracy,
              find_lr=find_lr, slug=f"{name[0].lower()}_seed{seed}")
    seed_rows = [RESULTS[first]] + RESULTS[-(args.seeds - 1):]
    del RESULTS[-(args.seeds - 1):]
    print(f"{name} accuracies by seed:", " ".join(f"{row[2]:.4f}" for row in seed_rows))
    RESULTS[first] = (f"{name} (mean of {args.seeds} seeds)", seed_rows[0][1],
                      statistics.mean(row[2] for row in seed_rows), lesson_accuracy,
                      statistics.mean(row[4] for row in seed_rows))

# %% [markdown]
# ## The DenseNet variant
#
# `res_block(nf, dense=True)` concatenates the block's input to its output instead of adding
# it: the channels double after every block, and the next conv must take twice as many in.
# The lesson names it without training it; there are no reference numbers.  It is trained
# the way model C is: the learning-rate finder (`d_lr_find.png`), then `fit_one_cycle(12, 0.05)`.

# %%
from minitorch.vision.models.mnist import densenet_ish  # noqa: E402

minitorch.manual_seed(0)
model = densenet_ish()
learn = train("D: DenseNet variant", model, epochs(12), 0.05, None, find_lr=True)

# %% [markdown]
# ## Results

# %%
header = "| model | parameters | final accuracy | the lesson's accuracy | wall time (s) |"
rows = [header, "|---|---:|---:|---:|---:|"]
for name, parameters, final_accuracy, lesson_accuracy, seconds in RESULTS:
    lesson = f"{lesson_accuracy:.4f}" if lesson_accuracy is not None else "—"
    # a mean over seeds gets a fifth decimal: rounded to four, 0.99517 would read as 0.9952
    accuracy_text = f"{final_accuracy:.5f}" if "mean of" in name else f"{final_accuracy:.4f}"
    rows.append(f"| {name} | {parameters:,} | {accuracy_text} | {lesson} | {seconds:.0f} |")
table = "\n".join(rows)
run = "quick run (2,000 / 500 images, 1 epoch each)" if args.quick else "full MNIST"
print(f"\nResults ({run}, device {data.device}):\n{table}")
with atomic_write(OUT / "results.md", mode="w") as file:
    file.write(f"{run}, device {data.device}\n\n{table}\n")
