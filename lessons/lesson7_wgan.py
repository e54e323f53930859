# %% [markdown]
# # Lesson 7, part 4: a Wasserstein GAN, from noise to digits
#
# fast.ai course v3, lesson 7, notebook `wgan`, reproduced with minitorch — on MNIST padded to
# 32 px instead of LSUN bedrooms at 64 px (the bedrooms take hours of GPU; the digits fit in
# minutes on two CPU cores, and a digit can be *checked*).  Read the notebook
# (`nbs/dl1/wgan.ipynb` in `fastai/course-v3`) and the GAN part of the lesson beside it; the
# machinery is `minitorch/vision/gan.py`, the models `minitorch/vision/models/gan.py`.
#
# A generator turns a vector of 100 random numbers into an image; a critic scores images.  They
# train in turns: five critic batches (learn to score real images low and generated ones high —
# fastai's sign convention), then one generator batch (make images the critic scores low).  The
# critic's weights are clipped to ±0.01 so that its score difference estimates the Wasserstein
# distance between real and generated images (Arjovsky et al. 2017).
#
# Jeremy: "GAN losses are meaningless, look at the pictures".  We look (a grid per epoch, a final
# 8×8 grid), and then we measure the pictures: a digit classifier rates 1,000 samples.
#
# Then a second run, beyond the lesson: the same GAN with a *gradient penalty* instead of the
# clipping (WGAN-GP, Gulrajani et al. 2017), trained for the same wall time as the first and
# rated by the same judge, side by side.  Its penalty is made of a gradient, so training on it
# takes the gradient of a gradient (`create_graph=True`, see `minitorch/autograd.py`).
#
# Run it as a script (`python lessons/lesson7_wgan.py`; `--quick` for a seconds-long pass over a
# slice of the data; `--dataset fashion_mnist`; `--device cuda`) or open it as a notebook.  The
# figures go to `--out` (default `lesson_output/lesson7_wgan/`; the second run's own under
# `wgan_gp/`).

# %%
import argparse
import sys
import time
from functools import partial
from pathlib import Path

import matplotlib.pyplot as plt
import numpy

import minitorch
from minitorch.data import load_mnist
from minitorch.files import atomic_write
from minitorch.learner import Callback, CancelEpochException, CancelFitException
from minitorch.nn import eval_mode
from minitorch.optim import Adam
from minitorch.plot import finish_figure
from minitorch.vision import FixedGANSwitcher, GANItemList, GANLearner, noop
from minitorch.vision.gan import image_grid
from minitorch.vision.gan_eval import frechet_distance_features, train_judge
from minitorch.vision.gan_eval import rate as judge_ratings
from minitorch.vision.models import basic_critic, basic_generator

parser = argparse.ArgumentParser(description="Lesson 7: WGAN on MNIST")
parser.add_argument("--quick", action="store_true",
                    help="512 training images, one short epoch, narrow models, 128 samples "
                         "rated (the test suite's smoke run)")
parser.add_argument("--dataset", default="mnist", choices=["mnist", "fashion_mnist"])
parser.add_argument("--epochs", type=int, default=None, help="GAN epochs (default 6; quick 1)")
parser.add_argument("--n-features", type=int, default=None,
                    help="width of the generator and critic (default 32; quick 8)")
parser.add_argument("--seed", type=int, default=0)
parser.add_argument("--resume", default=None,
                    help="a models/wgan.npz saved by an earlier run: train on from its weights "
                         "(the clipped WGAN's)")
parser.add_argument("--gp-seconds", type=float, default=None,
                    help="training time of the WGAN-GP run (default: what the clipped WGAN's "
                         "took)")
parser.add_argument("--clock", default="wall", choices=["wall", "cpu"],
                    help="the clock both runs' training times are measured on: 'cpu' (this "
                         "process's CPU seconds) shares the budget fairly on a loaded machine; "
                         "with one BLAS thread on a quiet one it is the wall time")
parser.add_argument("--device", default=None, help="'cpu' or 'cuda' (default: $MINITORCH_DEVICE)")
parser.add_argument("--out", default="lesson_output/lesson7_wgan",
                    help="folder for the figures and the results table")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
EPOCHS = args.epochs or (1 if args.quick else 6)
N_FEATURES = args.n_features or (8 if args.quick else 32)
N_SAMPLES = 128 if args.quick else 1000
OUT = Path(args.out)
CLOCK = time.perf_counter if args.clock == "wall" else time.process_time
OUT.mkdir(parents=True, exist_ok=True)
print(f"figures and results go to {OUT}/")
START = time.perf_counter()

# %% [markdown]
# ## The data
#
# The notebook reads LSUN bedrooms at 64 px with `GANItemList.from_folder(path, noise_sz=100)`,
# `.split_none().label_from_func(noop)` (each image labelled with itself), then normalises the
# *targets* to [−1, 1] (`normalize(stats=([0.5], [0.5]), do_x=False, do_y=True)`: the range of
# the generator's tanh).  Here: the 60,000 training digits, padded by 2 pixels to 32×32 (the
# generator doubles 4 → 8 → 16 → 32).  Each item is `(noise, image)`: a fresh noise vector
# (100, 1, 1) at every access, and the real image as the target.  Batch 64.

# %%
minitorch.manual_seed(args.seed)
train_x, train_y = load_mnist(args.dataset, train=True)
test_x, test_y = load_mnist(args.dataset, train=False)
if args.quick:
    train_x, train_y, test_x, test_y = train_x[:512], train_y[:512], test_x[:256], test_y[:256]


def pad32(images):
    """(N, 28, 28) uint8 → (N, 1, 32, 32) uint8, two black pixels on every side."""
    return numpy.pad(images, ((0, 0), (2, 2), (2, 2)))[:, None]


train32, test32 = pad32(train_x), pad32(test_x)
data = (GANItemList.from_arrays(train32, noise_sz=100)
        .split_none()
        .label_from_func(noop)
        .databunch(bs=64, device=args.device, seed=args.seed)
        .normalize(stats=([0.5], [0.5]), do_x=False, do_y=True))
print(data.train_ds, f"{len(data.train_dl)} batches of 64 per epoch", sep="\n")
image_grid(train32[:16] / 255, path=OUT / "real_batch.png", title="real images")

# %% [markdown]
# ## The judge
#
# "Look at the pictures" is not a number, so before training the GAN we train a judge: a digit
# classifier, the ResNet-ish model C of the first part of this lesson
# (`minitorch/vision/models/mnist.py`, as `lesson7_resnet_mnist.py` trains it), here for one
# epoch on the same padded, [−1, 1] images the GAN sees, so that a sample goes in exactly as it
# comes out (`train_judge` and `rate` in `minitorch/vision/gan_eval.py`: a few lines each,
# kept there so that `benchmarks/wgan_in_torch.py` rates PyTorch's samples with the same
# judge).  Its softmax says how sure it is that a sample is a digit, and which; its
# penultimate features (the 16×2×2 output of the last residual stage) describe a sample, and
# the Fréchet distance between the Gaussians fitted to the features of two sets of images
# (`minitorch/vision/gan_eval.py`) says how far apart they are.

# %%
def to_unit_range(images):
    """uint8 (N, 1, 32, 32) → float32 in [−1, 1], as GANItemList normalises."""
    return (images.astype(numpy.float32) / 255 - 0.5) / 0.5


judge_start = time.perf_counter()
class_learn = train_judge(to_unit_range(train32), train_y, to_unit_range(test32), test_y,
                          seed=args.seed, device=args.device)
classifier_accuracy = class_learn.recorder.metrics[-1][0]
classifier = class_learn.model  # in eval mode


def rate(images):
    """(softmax probabilities, penultimate features) of images in [−1, 1], as NumPy arrays."""
    return judge_ratings(classifier, images, device=data.device)


def samples(gen, n, seed):
    """``n`` images from ``gen`` in eval mode (as show_results draws them) for the noise of
    ``seed``."""
    noise = numpy.random.default_rng(seed).standard_normal((n, 100, 1, 1)).astype(numpy.float32)
    # eval_mode puts every module's own mode back after (samples are rated during training).
    with eval_mode(gen), minitorch.no_grad():
        return numpy.concatenate([gen(minitorch.tensor(noise[s:s + 500], device=data.device))
                                  .numpy() for s in range(0, n, 500)])


_, test_features = rate(to_unit_range(test32))
judge_seconds = time.perf_counter() - judge_start

# %% [markdown]
# ## The models
#
# `basic_generator(32, 1, n_features=32)`: a transposed conv from the noise to 4×4 with 128
# channels, then transposed convs 4/2/1 halving the channels (ReLU, batchnorm) to 16×16, and a
# last transposed conv to 1×32×32 with tanh.  `basic_critic(32, 1, n_features=32)`: strided
# convs with LeakyReLU(0.2) (batchnorm after all but the first) down to 4×4, a 4×4 conv to one
# score per image, and the mean over the batch.  The notebook uses `n_features=64` and one extra
# layer at 64 px; 32 features give the generator more steps in the same minutes on two CPU
# cores, and WGAN with clipping needs steps more than width.

# %%
minitorch.manual_seed(args.seed)
generator = basic_generator(in_size=32, n_channels=1, noise_sz=100, n_features=N_FEATURES)
critic = basic_critic(in_size=32, n_channels=1, n_features=N_FEATURES)
print(generator)
print(critic)
for name, model in [("generator", generator), ("critic", critic)]:
    print(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters")

# %% [markdown]
# ## Training
#
# The notebook's recipe: `GANLearner.wgan(data, generator, critic, switch_eval=False,
# opt_func=partial(optim.Adam, betas=(0., 0.99)), wd=0.)` then `learn.fit(30, 2e-4)`.  The
# default switcher takes five critic batches per generator batch; each batch of the loader is
# one or the other, so an epoch of 937 batches is 781 critic and 156 generator steps.  No
# momentum (beta1 = 0): "GANs hate momentum".  The table shows the smoothed losses of each;
# `disc_loss` = mean C(real) − mean C(fake), whose negative estimates how far apart real and
# generated images are; a grid of the last generated batch is saved at every epoch
# (`gan_samples/epoch_N.png`).  Since the losses say little, the judge also rates 1,000 samples
# at the end of every epoch (`RateSamples`, a callback): the share it classifies with
# confidence ≥ 0.9 and their Fréchet distance to the test set, the learning curve of the
# pictures (`quality.png`).

# %%
class RateSamples(Callback):
    """After each epoch: the judge's confidence share and Fréchet distance of N_SAMPLES samples
    (the same noise every epoch), with the generator steps and the seconds of fit so far."""

    def begin_fit(self):
        self.rows, self.start = [], CLOCK()

    def after_epoch(self):
        seconds = CLOCK() - self.start
        probs, feats = rate(samples(self.learn.model.generator, N_SAMPLES, seed=3))
        self.rows.append(dict(epoch=self.learn.epoch, steps=len(self.learn.gan_trainer.glosses),
                              seconds=seconds, confident=float((probs.max(1) >= 0.9).mean()),
                              frechet=frechet_distance_features(feats, test_features)))
        row = self.rows[-1]
        print(f"  epoch {row['epoch']}: {row['steps']} generator steps in {row['seconds']:.0f} s, "
              f"confidence ≥ 0.9 for {row['confident']:.1%}, Fréchet {row['frechet']:.2f}")


learn = GANLearner.wgan(data, generator, critic, switch_eval=False,
                        opt_func=partial(Adam, betas=(0., 0.99)), wd=0., path=OUT)
if args.resume:  # weights saved by an earlier run (learn.save): training goes on from them
    learn.model.load_state_dict(minitorch.load(args.resume)["model"])
    print(f"resumed from {args.resume} (weights only: Adam's averages start afresh)")
rater = RateSamples()
gan_start = CLOCK()
learn.fit(EPOCHS, 2e-4, callbacks=[rater])
gan_seconds = CLOCK() - gan_start
print(f"GAN training: {EPOCHS} epochs in {gan_seconds:.0f} s")
learn.save("wgan")  # generator and critic: OUT/models/wgan.npz

# %% [markdown]
# The losses (`losses.png`, left): the critic's loss goes negative as it tells real from fake,
# and comes back towards 0 as the generator catches up; the generator's own loss is the
# critic's score of its fakes, which moves with the critic — as Jeremy says, not a measure of
# quality.

# %%
def plot_losses(ax, trainer, title, critic_label):
    ax.plot(trainer.closses, label=critic_label)
    ax.plot(numpy.linspace(0, len(trainer.closses), len(trainer.glosses)), trainer.glosses,
            label="generator (gen_loss): mean C(G(z))")
    ax.set_xlabel("critic batches")
    ax.set_ylabel("smoothed loss")
    ax.set_title(title)
    ax.legend()


trainer = learn.gan_trainer

# %% [markdown]
# The notebook's last cell: `learn.gan_trainer.switch(gen_mode=True)` then
# `learn.show_results(ds_type=DatasetType.Train, rows=16, figsize=(8,8))`.  Ours: an 8×8 grid
# (`samples_8x8.png`), denormalised (fastai v1 showed the tanh output as it came, too dark).

# %%
trainer.switch(gen_mode=True)
learn.show_results(rows=8, figsize=(8, 8), path=OUT / "samples_8x8.png")

# %% [markdown]
# ## A second run: the gradient penalty (WGAN-GP), for the same wall time
#
# The Wasserstein distance is the critic's score difference only if the critic is 1-Lipschitz:
# the norm of its gradient with respect to the image may nowhere exceed 1.  Clipping every
# weight to ±0.01 is a crude way there: Gulrajani et al. (2017, "Improved Training of
# Wasserstein GANs") show that it pushes the critic towards very simple functions (most weights
# end up at ±0.01) and that training is slow and touchy.  Their observation: the best critic
# has gradient norm exactly 1 on the straight lines between (paired) real and generated images.
# So they drop the clipping and add to the critic's loss a penalty on the points x̂ of those
# lines, sampled at random (x̂ = ε·real + (1 − ε)·fake, ε uniform per image):
#
#     critic loss = mean C(real) − mean C(fake) + λ · mean (‖∇ₓ C(x̂)‖₂ − 1)²,   λ = 10
#
# (`GradientPenalty` in `minitorch/vision/gan.py`; our signs are fastai's).  Training the
# critic on it differentiates ‖∇ₓ C‖ with respect to the critic's weights — the gradient of a
# gradient: `autograd.grad(C(x̂), x̂, create_graph=True)` gives ∇ₓ C as a tensor in the graph,
# and the loss's `backward` goes through it.  Two more changes come with it: the critic has no
# batchnorm (the penalty is on each image's own gradient, and batchnorm makes an image's score
# depend on the whole batch: `basic_critic(..., norm_type=None)`), and Adam gets the paper's
# settings, lr 1e-4 and betas (0, 0.9).  The paper trains five critic steps per generator step
# as WGAN does.  `GANLearner.wgan_gp` is `GANLearner.wgan` with the penalty in place of the
# clipping.
#
# A penalised critic step costs more than a clipped one (the critic runs three times — real,
# fake, x̂ — and its backward twice, once inside the loss), so in the same time WGAN-GP takes
# fewer steps.  The fair comparison is the same wall time: this run trains until the clipped
# run's training time is used up (`StopAfter`, a callback: the epoch under way ends after its
# batch, is rated, and no epoch follows).  `--clock cpu` measures both runs in this process's
# CPU seconds instead of wall seconds: on a busy machine the wall time depends on what else
# runs; on a quiet one, with one thread (the default), the two are the same.

# %%
GP_WEIGHT, GP_LR, GP_BETAS, GP_N_CRIT = 10., 1e-4, (0., 0.9), 5


class StopAfter(Callback):
    """Ends the fit once ``seconds`` have passed since it began: the epoch under way ends after
    its current batch (its table row, sample grid and rating still come), and no epoch
    follows.  Never before ``min_batches`` training batches, so that the generator has taken
    at least one step however short the budget (the --quick run's is a few seconds)."""

    order = 20  # after every other callback's after_batch and after_epoch

    def __init__(self, seconds, min_batches=1):
        self.seconds, self.min_batches = seconds, min_batches

    def begin_fit(self):
        self.start, self.batches = CLOCK(), 0

    def time_is_up(self):
        return self.batches >= self.min_batches and CLOCK() - self.start >= self.seconds

    def after_batch(self):
        if self.learn.training:
            self.batches += 1
            if self.time_is_up():
                raise CancelEpochException()

    def after_epoch(self):
        if self.time_is_up():
            raise CancelFitException()


gp_budget = args.gp_seconds if args.gp_seconds is not None else gan_seconds
minitorch.manual_seed(args.seed)
generator_gp = basic_generator(in_size=32, n_channels=1, noise_sz=100, n_features=N_FEATURES)
critic_gp = basic_critic(in_size=32, n_channels=1, n_features=N_FEATURES, norm_type=None)
print(f"WGAN-GP critic (no batchnorm): "
      f"{sum(p.numel() for p in critic_gp.parameters()):,} parameters")
learn_gp = GANLearner.wgan_gp(data, generator_gp, critic_gp, gp=GP_WEIGHT,
                              switcher=FixedGANSwitcher(n_crit=GP_N_CRIT, n_gen=1),
                              switch_eval=False, opt_func=partial(Adam, betas=GP_BETAS), wd=0.,
                              path=OUT / "wgan_gp")
rater_gp = RateSamples()
gp_start = CLOCK()
# until the time is up (and at least one generator step: its five critic batches and its own)
learn_gp.fit(1000, GP_LR, callbacks=[rater_gp, StopAfter(gp_budget, GP_N_CRIT + 1)])
gp_seconds = CLOCK() - gp_start
gp_steps = len(learn_gp.gan_trainer.glosses)
print(f"WGAN-GP training: {gp_steps} generator steps in {gp_seconds:.0f} s (budget "
      f"{gp_budget:.0f} s)")
learn_gp.save("wgan_gp")  # OUT/wgan_gp/models/wgan_gp.npz
learn_gp.gan_trainer.switch(gen_mode=True)
learn_gp.show_results(rows=8, figsize=(8, 8), path=OUT / "wgan_gp" / "samples_8x8.png")

# %% [markdown]
# The losses side by side (`losses.png`): WGAN-GP's `disc_loss` includes the penalty; the
# Wasserstein part of it is no longer squeezed towards 0 by tiny weights.

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4))
plot_losses(ax1, trainer, "WGAN (clipped)", "critic (disc_loss): mean C(real) − mean C(fake)")
plot_losses(ax2, learn_gp.gan_trainer, "WGAN-GP", "critic (disc_loss): the same + penalty")
finish_figure(fig, OUT / "losses.png")

# %% [markdown]
# ## Measuring the pictures
#
# The judge rates 1,000 samples of each final generator (the same noise for both): the share
# classified with confidence ≥ 0.9 (a real digit gets that almost always; a smudge does not),
# the histogram of the classes of those confident ones (every digit between 4 % and 16 %: no
# mode collapse), and the Fréchet distance of their features to the test set's, beside two
# references: 1,000 training images against the test set (the floor: what real digits score)
# and 1,000 samples of an untrained generator (the ceiling).

# %%
measure_start = time.perf_counter()
floor_idx = numpy.random.default_rng(1).choice(len(train32), N_SAMPLES, replace=False)
_, floor_features = rate(to_unit_range(train32[floor_idx]))
minitorch.manual_seed(args.seed + 1)
untrained = basic_generator(in_size=32, n_channels=1, noise_sz=100, n_features=N_FEATURES).to(
    data.device)
_, ceiling_features = rate(samples(untrained, N_SAMPLES, seed=2))
fd_floor = frechet_distance_features(floor_features, test_features)
fd_ceiling = frechet_distance_features(ceiling_features, test_features)


def measure(gen):
    """The judge's verdict on N_SAMPLES samples of ``gen``."""
    fakes = samples(gen, N_SAMPLES, seed=3)
    probs, features = rate(fakes)
    confident = probs.max(1) >= 0.9
    classes = probs.argmax(1)
    return dict(fakes=fakes, probs=probs, confident=float(confident.mean()),
                histogram=numpy.bincount(classes, minlength=10) / len(classes),
                histogram_confident=(numpy.bincount(classes[confident], minlength=10)
                                     / max(int(confident.sum()), 1)),
                frechet=frechet_distance_features(features, test_features))


runs = {"WGAN (clipped)": measure(learn.model.generator),
        "WGAN-GP": measure(learn_gp.model.generator)}
measure_seconds = time.perf_counter() - measure_start

fig, ax = plt.subplots(1, 1, figsize=(7, 3))
for k, (name, run) in enumerate(runs.items()):
    ax.bar(numpy.arange(10) + (k - 0.5) * 0.4, run["histogram_confident"] * 100, width=0.4,
           label=name)
ax.axhline(4, color="gray", linestyle=":")
ax.axhline(16, color="gray", linestyle=":")
ax.set_xticks(range(10))
ax.set_xlabel("predicted class")
ax.set_ylabel("% of the confident samples")
ax.legend()
finish_figure(fig, OUT / "class_histogram.png")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
for name, rows in [("WGAN (clipped)", rater.rows), ("WGAN-GP", rater_gp.rows)]:
    seconds = [row["seconds"] for row in rows]
    ax1.plot(seconds, [100 * row["confident"] for row in rows], marker="o", label=name)
    ax2.plot(seconds, [row["frechet"] for row in rows], marker="o", label=name)
ax1.axhline(70, color="gray", linestyle=":")
ax1.set_ylabel("% of samples with confidence ≥ 0.9")
ax2.set_ylabel("Fréchet distance to the test set")
for ax in (ax1, ax2):
    ax.set_xlabel("seconds of training")
    ax.legend()
finish_figure(fig, OUT / "quality.png")

fig, axes = plt.subplots(1, 2, figsize=(10, 5.3))
for ax, (name, run) in zip(axes, runs.items()):
    grid = run["fakes"][:64, 0].reshape(8, 8, 32, 32).transpose(0, 2, 1, 3).reshape(256, 256)
    ax.imshow(grid / 2 + 0.5, cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"{name}: {run['confident']:.0%} confident")
    ax.set_axis_off()
finish_figure(fig, OUT / "side_by_side.png")  # the same 64 noise vectors for both
for suffix, run in [("", runs["WGAN (clipped)"]), ("_gp", runs["WGAN-GP"])]:
    order = numpy.argsort(-run["probs"].max(1))
    image_grid(run["fakes"][order[:32]] / 2 + 0.5, rows=4,
               path=OUT / f"most_confident{suffix}.png", title="most confident samples")
    image_grid(run["fakes"][order[-32:]] / 2 + 0.5, rows=4,
               path=OUT / f"least_confident{suffix}.png", title="least confident samples")

# %% [markdown]
# ## Results

# %%
total_seconds = time.perf_counter() - START
clipped, gp = runs["WGAN (clipped)"], runs["WGAN-GP"]


def met(ok):
    return "met" if ok else "not met"


def percentages(shares):
    return " ".join(f"{100 * h:.1f}" for h in shares)


balanced = bool(((gp["histogram_confident"] >= 0.04)
                 & (gp["histogram_confident"] <= 0.16)).all())
rows = [
    "| measure | WGAN (clipped) | WGAN-GP | target |",
    "|---|---:|---:|---|",
    f"| classifier (model C, 1 epoch) accuracy on the test set | {classifier_accuracy:.4f} | "
    "(the same judge) | — |",
    f"| samples classified with confidence ≥ 0.9 | {clipped['confident']:.1%} | "
    f"{gp['confident']:.1%} | WGAN-GP above the clipped WGAN "
    f"({met(gp['confident'] > clipped['confident'])}); ≥ 70 % ({met(gp['confident'] >= 0.7)}) |",
    f"| class histogram of the confident samples, % (0 … 9) | "
    f"{percentages(clipped['histogram_confident'])} | {percentages(gp['histogram_confident'])} "
    f"| each 4–16 % ({met(balanced)}) |",
    f"| class histogram of all samples, % (0 … 9) | {percentages(clipped['histogram'])} | "
    f"{percentages(gp['histogram'])} | — |",
    f"| Fréchet distance: samples vs test set | {clipped['frechet']:.3f} | {gp['frechet']:.3f} "
    f"| WGAN-GP below the clipped WGAN ({met(gp['frechet'] < clipped['frechet'])}) |",
    f"| Fréchet distance: {N_SAMPLES} training images vs test set (floor) | {fd_floor:.3f} | "
    f"{fd_floor:.3f} | — |",
    f"| Fréchet distance: untrained generator vs test set (ceiling) | {fd_ceiling:.3f} | "
    f"{fd_ceiling:.3f} | — |",
    "| after each epoch: confidence ≥ 0.9 | "
    + " | ".join(" ".join(f"{100 * row['confident']:.1f} %" for row in r.rows)
                 for r in (rater, rater_gp)) + " | — |",
    "| after each epoch: Fréchet distance | "
    + " | ".join(" ".join(f"{row['frechet']:.2f}" for row in r.rows)
                 for r in (rater, rater_gp)) + " | — |",
    f"| training: generator steps (critic steps per generator step) | "
    f"{len(trainer.glosses)} (5) | {gp_steps} ({GP_N_CRIT}) | — |",
    f"| training time ({args.clock} clock), n_features={N_FEATURES} | {gan_seconds:.0f} s "
    f"({EPOCHS} epochs) | {gp_seconds:.0f} s | the same |",
    f"| the judge: training model C, the test set's features | {judge_seconds:.0f} s | | — |",
    f"| rating the samples and the references | {measure_seconds:.0f} s | | — |",
    f"| whole script | {total_seconds:.0f} s | | ≤ 20 min |",
]
table = "\n".join(rows)
run = "quick run" if args.quick else "full run"
print(f"\nResults ({run}, {args.dataset}, device {data.device}, {N_SAMPLES} samples):\n{table}")
with atomic_write(OUT / "results.md", mode="w") as file:
    file.write(f"{run}, {args.dataset}, device {data.device}, {N_SAMPLES} samples\n\n{table}\n")
