# %% [markdown]
# # Lesson 7, part 3: from a fully connected net to a 2-layer GRU — "human numbers"
#
# fast.ai course v3, lesson 7, notebook `lesson7-human-numbers`, reproduced with minitorch.
# Watch the RNN part of the lesson beside it; the recipes and the numbers to reproduce are the
# notebook's (`nbs/dl1/lesson7-human-numbers.ipynb` in `fastai/course-v3`).
#
# The task is a toy language model: the numbers written out in English ("eight thousand one ,
# eight thousand two , …") and the model predicts the next word.  The lesson's point is that a
# recurrent net is nothing new — a fully connected net applied in a loop, with a state kept from
# one step to the next — and then that the state can be kept across batches (truncated
# backpropagation through time), and that a GRU keeps it far better than a plain RNN.
#
# Run it as a script (`python lessons/lesson7_human_numbers.py`, or `--quick` for a one-epoch
# pass over a slice of the data) or open it as a notebook (percent-format cells).

# %%
import argparse
import statistics
import sys
import time
from pathlib import Path

import minitorch
from minitorch import nn
from minitorch.data import DatasetType
from minitorch.files import atomic_write
from minitorch.learner import Learner, accuracy
from minitorch.nn import functional as F
from minitorch.text import BatchNorm1dFlat, CrossEntropyFlat, human_numbers_databunch

parser = argparse.ArgumentParser(description="Lesson 7: RNNs on human numbers")
parser.add_argument("--quick", action="store_true",
                    help="a slice of the data and one epoch per model (for the test suite)")
parser.add_argument("--out", default="lesson_output/lesson7_human_numbers",
                    help="folder for the figures and the results table")
parser.add_argument("--device", default=None, help="'cpu' or 'cuda' (default: $MINITORCH_DEVICE)")
parser.add_argument("--seed", type=int, default=42, help="the first seed")
parser.add_argument("--seeds", type=int, default=1,
                    help="train every model this many times (seeds seed, seed+1, ...) and report "
                         "the mean accuracy")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
if args.seeds < 1:
    parser.error("--seeds must be at least 1")
OUT = Path(args.out)
OUT.mkdir(parents=True, exist_ok=True)
minitorch.manual_seed(args.seed)

# %% [markdown]
# ## The data
#
# The training text is 1 to 8,000 in words, the validation text 8,001 to 9,999, each one
# document that starts with `xxbos`.  The language-model loader cuts each stream into `bs`
# contiguous rows and serves the next `bptt` tokens of every row; the target is the input shifted
# by one token.  `--quick` keeps the first 3,000 training and 1,500 validation tokens.

# %%
bs, nh = 64, 64
QUICK_TOKENS = (3000, 1500) if args.quick else None


def databunch(bptt):
    return human_numbers_databunch(bs=bs, bptt=bptt, device=args.device,
                                   max_tokens=QUICK_TOKENS)


data = databunch(bptt=70)
vocab = data.vocab
nv = len(vocab.itos)
print(f"vocabulary: {nv} tokens: {vocab.itos}")
print(f"training stream {data.train_dl.total_tokens} tokens, validation stream "
      f"{data.valid_dl.total_tokens} tokens; bptt {data.bptt}, "
      f"{len(data.valid_dl)} validation batches")
x, y = data.one_batch(DatasetType.Valid)
print("first row of the first validation batch:", vocab.textify(x[0][:15]), "…")
print("its targets, one token later:            ", vocab.textify(y[0][:15]), "…")


def epochs(n):
    return 1 if args.quick else n


RESULTS = []  # (model, accuracy, the lesson's accuracy, seconds)


def train(name, data, model_class, loss_func, metrics, n_epochs, max_lr, lesson_accuracy,
          **one_cycle):
    """Train a fresh ``model_class()`` with one cycle, once per seed, and keep the mean accuracy.

    Each model is built right after seeding, so its run depends on the seed alone, not on which
    models trained before it.  Returns the last Learner."""
    accuracies, seconds = [], []
    for seed in range(args.seed, args.seed + args.seeds):
        print(f"\n{name}" + (f", seed {seed}" if args.seeds > 1 else ""))
        minitorch.manual_seed(seed)
        learn = Learner(data, model_class(), loss_func=loss_func, metrics=metrics)
        start = time.perf_counter()
        learn.fit_one_cycle(epochs(n_epochs), max_lr, **one_cycle)
        seconds.append(time.perf_counter() - start)
        accuracies.append(learn.recorder.metrics[-1][0])
    if args.seeds > 1:
        print(f"{name} accuracies by seed:", " ".join(f"{a:.3f}" for a in accuracies))
        name += f" (mean of {args.seeds} seeds)"
    RESULTS.append((name, statistics.mean(accuracies), lesson_accuracy, statistics.mean(seconds)))
    return learn


# %% [markdown]
# ## Model0: three words in, the fourth out
#
# With bptt 3 each row of a batch is three words; the model reads them one at a time.  The
# embedding of word 1 goes through a linear layer, ReLU and batchnorm (the green, brown arrows of
# the picture); the embedding of word 2 is *added* to that hidden state, which goes through the
# same layer again; then word 3; the output layer (blue arrow) predicts word 4.  Only the last
# position is scored: the loss and the accuracy look at `target[:, -1]`.

# %%
data = databunch(bptt=3)


def loss4(input, target):
    return F.cross_entropy(input, target[:, -1])


def acc4(input, target):
    return accuracy(input, target[:, -1])


class Model0(nn.Module):
    def __init__(self):
        super().__init__()
        self.i_h = nn.Embedding(nv, nh)  # green arrow: word → hidden
        self.h_h = nn.Linear(nh, nh)     # brown arrow: hidden → hidden
        self.h_o = nn.Linear(nh, nv)     # blue arrow: hidden → word scores
        self.bn = nn.BatchNorm1d(nh)

    def forward(self, x):
        h = self.bn(F.relu(self.h_h(self.i_h(x[:, 0]))))
        if x.shape[1] > 1:
            h = h + self.i_h(x[:, 1])
            h = self.bn(F.relu(self.h_h(h)))
        if x.shape[1] > 2:
            h = h + self.i_h(x[:, 2])
            h = self.bn(F.relu(self.h_h(h)))
        return self.h_o(h)


learn = train("Model0 (3 words, unrolled)", data, Model0, loss4, acc4, 6, 1e-4, 0.409)

# %% [markdown]
# ## Model1: the same, as a loop
#
# The three repeated lines are one loop over the words, with the hidden state starting at zero —
# that loop *is* a recurrent neural network.

# %%
class Model1(nn.Module):
    def __init__(self):
        super().__init__()
        self.i_h = nn.Embedding(nv, nh)
        self.h_h = nn.Linear(nh, nh)
        self.h_o = nn.Linear(nh, nv)
        self.bn = nn.BatchNorm1d(nh)

    def forward(self, x):
        h = minitorch.zeros(x.shape[0], nh, device=x.device)
        for i in range(x.shape[1]):
            h = h + self.i_h(x[:, i])
            h = self.bn(F.relu(self.h_h(h)))
        return self.h_o(h)


learn = train("Model1 (a loop)", data, Model1, loss4, acc4, 6, 1e-4, 0.393)

# %% [markdown]
# ## Model2: a prediction after every word
#
# Scoring only the last of three words wastes the others.  With bptt 20 the model predicts after
# each word and the output is (batch, 20, vocab); the loss is the cross-entropy over all
# positions (`CrossEntropyFlat`, as fastai uses for language models).

# %%
data = databunch(bptt=20)


class Model2(nn.Module):
    def __init__(self):
        super().__init__()
        self.i_h = nn.Embedding(nv, nh)
        self.h_h = nn.Linear(nh, nh)
        self.h_o = nn.Linear(nh, nv)
        self.bn = nn.BatchNorm1d(nh)

    def forward(self, x):
        h = minitorch.zeros(x.shape[0], nh, device=x.device)
        res = []
        for i in range(x.shape[1]):
            h = h + self.i_h(x[:, i])
            h = F.relu(self.h_h(h))
            res.append(self.h_o(self.bn(h)))
        return minitorch.stack(res, dim=1)


learn = train("Model2 (predict every word)", data, Model2, CrossEntropyFlat(), accuracy,
              10, 1e-4, 0.350, pct_start=0.1)

# %% [markdown]
# ## Model3: keep the state across batches (truncated BPTT)
#
# Model2 starts every batch from h = 0, so at the start of each row it has no idea where it is
# in the number.  Row i of the next batch continues row i of this one (the loader is built that
# way), so the last hidden state is the right start for the next batch.  It is kept *detached*:
# its value carries over, but the gradient stops at the batch boundary — otherwise backward would
# run through the whole history of the stream.

# %%
class Model3(nn.Module):
    def __init__(self):
        super().__init__()
        self.i_h = nn.Embedding(nv, nh)
        self.h_h = nn.Linear(nh, nh)
        self.h_o = nn.Linear(nh, nv)
        self.bn = BatchNorm1dFlat(nh)
        self.h = minitorch.zeros(bs, nh, device=data.device)

    def forward(self, x):
        res = []
        h = self.h
        for i in range(x.shape[1]):
            h = h + self.i_h(x[:, i])
            h = F.relu(self.h_h(h))
            res.append(h)
        self.h = h.detach()
        res = minitorch.stack(res, dim=1)
        return self.h_o(self.bn(res))


learn = train("Model3 (state kept, detached)", data, Model3, CrossEntropyFlat(), accuracy,
              20, 3e-3, 0.443)

# %% [markdown]
# ## Model4: the loop is `nn.RNN`
#
# The same model with the loop inside `nn.RNN(nh, nh)` (tanh instead of ReLU, and the input and
# hidden weights separate), and batchnorm over the flattened outputs.

# %%
class Model4(nn.Module):
    def __init__(self):
        super().__init__()
        self.i_h = nn.Embedding(nv, nh)
        self.rnn = nn.RNN(nh, nh, batch_first=True)
        self.h_o = nn.Linear(nh, nv)
        self.bn = BatchNorm1dFlat(nh)
        self.h = minitorch.zeros(1, bs, nh, device=data.device)

    def forward(self, x):
        res, h = self.rnn(self.i_h(x), self.h)
        self.h = h.detach()
        return self.h_o(self.bn(res))


learn = train("Model4 (nn.RNN)", data, Model4, CrossEntropyFlat(), accuracy, 20, 3e-3, 0.615)

# %% [markdown]
# ## Model5: a 2-layer GRU
#
# A plain RNN multiplies the state by the same matrix at every step, so what it learned 20 steps
# ago fades (or explodes).  A GRU *gates* the update: `h = (1 − z)·n + z·h`, so it can decide how
# much of the old state (brown arrow) and how much of the new input (green arrow) to keep.

# %%
class Model5(nn.Module):
    def __init__(self):
        super().__init__()
        self.i_h = nn.Embedding(nv, nh)
        self.rnn = nn.GRU(nh, nh, 2, batch_first=True)
        self.h_o = nn.Linear(nh, nv)
        self.bn = BatchNorm1dFlat(nh)
        self.h = minitorch.zeros(2, bs, nh, device=data.device)

    def forward(self, x):
        res, h = self.rnn(self.i_h(x), self.h)
        self.h = h.detach()
        return self.h_o(self.bn(res))


learn = train("Model5 (2-layer GRU)", data, Model5, CrossEntropyFlat(), accuracy,
              10, 1e-2, 0.807)
learn.recorder.plot_losses(path=OUT / "model5_losses.png")

# %% [markdown]
# ## Model6: a 2-layer LSTM (not in the lesson)
#
# The LSTM keeps a second state, the cell c, that is only ever scaled and added to; both
# h and c carry over between batches.  Same recipe as Model5.

# %%
class Model6(nn.Module):
    def __init__(self):
        super().__init__()
        self.i_h = nn.Embedding(nv, nh)
        self.rnn = nn.LSTM(nh, nh, 2, batch_first=True)
        self.h_o = nn.Linear(nh, nv)
        self.bn = BatchNorm1dFlat(nh)
        self.h = (minitorch.zeros(2, bs, nh, device=data.device),
                  minitorch.zeros(2, bs, nh, device=data.device))

    def forward(self, x):
        res, (h, c) = self.rnn(self.i_h(x), self.h)
        self.h = (h.detach(), c.detach())
        return self.h_o(self.bn(res))


learn = train("Model6 (2-layer LSTM)", data, Model6, CrossEntropyFlat(), accuracy,
              10, 1e-2, None)

# %% [markdown]
# ## Results
#
# The lesson's accuracies are the notebook's stored run; the run-to-run spread is several
# points.  What holds is the ordering: the GRU beats the RNN, which beats the hand-made loop.

# %%
rows = ["| model | accuracy | lesson's accuracy | time |", "|---|---:|---:|---:|"]
for name, acc, lesson_acc, seconds in RESULTS:
    lesson = f"{lesson_acc:.3f}" if lesson_acc is not None else "—"
    rows.append(f"| {name} | {acc:.3f} | {lesson} | {seconds:.1f} s |")
table = "\n".join(rows)
print("\n" + table)
total = sum(r[3] for r in RESULTS) * args.seeds
run = "quick run" if args.quick else "full run"
print(f"total training time {total:.1f} s ({run}, device {data.device}); figures in {OUT}/")
with atomic_write(OUT / "results.md", mode="w") as file:
    file.write(f"{run}, device {data.device}, seeds {args.seed}..{args.seed + args.seeds - 1}"
               f"\n\n{table}\n")
