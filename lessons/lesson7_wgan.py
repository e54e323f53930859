# %% [markdown]
# # Lesson 7, part 4: a Wasserstein GAN, from noise to digits
#
# fast.ai course v3, lesson 7, notebook `wgan`, reproduced with minitorch — on MNIST padded to
# 32 px instead of LSUN bedrooms at 64 px (the bedrooms take hours of GPU; the digits fit in
# minutes on two CPU cores, and a digit can be *checked*).  Read the notebook (`nbs/dl1/wgan.ipynb` in
# `fastai/course-v3`) and the GAN part of the lesson beside it; the
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
# Run it as a script (`python lessons/lesson7_wgan.py`; `--quick` for a seconds-long pass over a
# slice of the data; `--dataset fashion_mnist`; `--device cuda`) or open it as a notebook.  The
# figures go to `--out` (default `lesson_output/lesson7_wgan/`).

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
from minitorch.learner import Callback
from minitorch.nn import eval_mode
from minitorch.optim import Adam
from minitorch.plot import finish_figure
from minitorch.vision import GANItemList, GANLearner, noop
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
                    help="a models/wgan.npz saved by an earlier run: train on from its weights")
parser.add_argument("--device", default=None, help="'cpu' or 'cuda' (default: $MINITORCH_DEVICE)")
parser.add_argument("--out", default="lesson_output/lesson7_wgan",
                    help="folder for the figures and the results table")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
EPOCHS = args.epochs or (1 if args.quick else 6)
N_FEATURES = args.n_features or (8 if args.quick else 32)
N_SAMPLES = 128 if args.quick else 1000
OUT = Path(args.out)
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
# kept there so that `benchmarks/wgan_in_torch.py` rates PyTorch's samples with the same judge).  Its softmax says how sure it is that a sample is a digit, and which; its
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
    (the same noise every epoch)."""

    def begin_fit(self):
        self.rows = []

    def after_epoch(self):
        probs, feats = rate(samples(self.learn.model.generator, N_SAMPLES, seed=3))
        self.rows.append((self.learn.epoch, len(self.learn.gan_trainer.glosses),
                          float((probs.max(1) >= 0.9).mean()),
                          frechet_distance_features(feats, test_features)))
        print(f"  epoch {self.rows[-1][0]}: {self.rows[-1][1]} generator steps so far, "
              f"confidence ≥ 0.9 for {self.rows[-1][2]:.1%}, Fréchet {self.rows[-1][3]:.2f}")


learn = GANLearner.wgan(data, generator, critic, switch_eval=False,
                        opt_func=partial(Adam, betas=(0., 0.99)), wd=0., path=OUT)
if args.resume:  # weights saved by an earlier run (learn.save): training goes on from them
    learn.model.load_state_dict(minitorch.load(args.resume)["model"])
    print(f"resumed from {args.resume} (weights only: Adam's averages start afresh)")
rater = RateSamples()
gan_start = time.perf_counter()
learn.fit(EPOCHS, 2e-4, callbacks=[rater])
gan_seconds = time.perf_counter() - gan_start
print(f"GAN training: {EPOCHS} epochs in {gan_seconds:.0f} s")
learn.save("wgan")  # generator and critic: OUT/models/wgan.npz

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5))
steps = [row[1] for row in rater.rows]
ax1.plot(steps, [100 * row[2] for row in rater.rows], marker="o")
ax1.axhline(70, color="gray", linestyle=":")
ax1.set_xlabel("generator steps")
ax1.set_ylabel("% of samples with confidence ≥ 0.9")
ax2.plot(steps, [row[3] for row in rater.rows], marker="o")
ax2.set_xlabel("generator steps")
ax2.set_ylabel("Fréchet distance to the test set")
finish_figure(fig, OUT / "quality.png")

# %% [markdown]
# The losses (`losses.png`): the critic's loss goes negative as it tells real from fake, and
# comes back towards 0 as the generator catches up; the generator's own loss is the critic's
# score of its fakes, which moves with the critic — as Jeremy says, not a measure of quality.

# %%
trainer = learn.gan_trainer
fig, ax = plt.subplots(1, 1, figsize=(7, 4))
ax.plot(trainer.closses, label="critic (disc_loss): mean C(real) − mean C(fake)")
ax.plot(numpy.linspace(0, len(trainer.closses), len(trainer.glosses)), trainer.glosses,
        label="generator (gen_loss): mean C(G(z))")
ax.set_xlabel("critic batches")
ax.set_ylabel("smoothed loss")
ax.legend()
finish_figure(fig, OUT / "losses.png")

# %% [markdown]
# The notebook's last cell: `learn.gan_trainer.switch(gen_mode=True)` then
# `learn.show_results(ds_type=DatasetType.Train, rows=16, figsize=(8,8))`.  Ours: an 8×8 grid
# (`samples_8x8.png`), denormalised (fastai v1 showed the tanh output as it came, too dark).

# %%
trainer.switch(gen_mode=True)
learn.show_results(rows=8, figsize=(8, 8), path=OUT / "samples_8x8.png")

# %% [markdown]
# ## Measuring the pictures
#
# The judge rates 1,000 samples of the final generator: the share classified with confidence
# ≥ 0.9 (a real digit gets that almost always; a smudge does not), the histogram of the
# predicted classes (every digit between 4 % and 16 %: no mode collapse), and the Fréchet
# distance of their features to the test set's, beside two references: 1,000 training images
# against the test set (the floor: what real digits score) and 1,000 samples of an untrained
# generator (the ceiling).

# %%
measure_start = time.perf_counter()
floor_idx = numpy.random.default_rng(1).choice(len(train32), N_SAMPLES, replace=False)
_, floor_features = rate(to_unit_range(train32[floor_idx]))
minitorch.manual_seed(args.seed + 1)
untrained = basic_generator(in_size=32, n_channels=1, noise_sz=100, n_features=N_FEATURES).to(
    data.device)
_, ceiling_features = rate(samples(untrained, N_SAMPLES, seed=2))
fakes = samples(learn.model.generator, N_SAMPLES, seed=3)
probs, fake_features = rate(fakes)
measure_seconds = time.perf_counter() - measure_start

confident = float((probs.max(1) >= 0.9).mean())
histogram = numpy.bincount(probs.argmax(1), minlength=10) / len(probs)
fd_samples = frechet_distance_features(fake_features, test_features)
fd_floor = frechet_distance_features(floor_features, test_features)
fd_ceiling = frechet_distance_features(ceiling_features, test_features)

fig, ax = plt.subplots(1, 1, figsize=(6, 3))
ax.bar(range(10), histogram * 100)
ax.axhline(4, color="gray", linestyle=":")
ax.axhline(16, color="gray", linestyle=":")
ax.set_xticks(range(10))
ax.set_xlabel("predicted class")
ax.set_ylabel("% of samples")
finish_figure(fig, OUT / "class_histogram.png")
order = numpy.argsort(-probs.max(1))
image_grid(fakes[order[:32]] / 2 + 0.5, rows=4, path=OUT / "most_confident.png",
           title="most confident samples")
image_grid(fakes[order[-32:]] / 2 + 0.5, rows=4, path=OUT / "least_confident.png",
           title="least confident samples")

# %% [markdown]
# ## Results

# %%
total_seconds = time.perf_counter() - START
targets_met = {"confident": confident >= 0.70,
               "histogram": bool(((histogram >= 0.04) & (histogram <= 0.16)).all()),
               "frechet": fd_samples <= fd_ceiling / 4}
quality = " ".join(f"{100 * row[2]:.1f} %" for row in rater.rows)
frechets = " ".join(f"{row[3]:.2f}" for row in rater.rows)
rows = [
    "| measure | value | target |",
    "|---|---:|---|",
    f"| classifier (model C, 1 epoch) accuracy on the test set | {classifier_accuracy:.4f} | — |",
    f"| samples classified with confidence ≥ 0.9 | {confident:.1%} | ≥ 70 % "
    f"({'met' if targets_met['confident'] else 'not met'}) |",
    "| class histogram, % (0 … 9) | " + " ".join(f"{100 * h:.1f}" for h in histogram)
    + f" | each 4–16 % ({'met' if targets_met['histogram'] else 'not met'}) |",
    f"| Fréchet distance: samples vs test set | {fd_samples:.3f} | ≤ ceiling / 4 = "
    f"{fd_ceiling / 4:.3f} ({'met' if targets_met['frechet'] else 'not met'}) |",
    f"| Fréchet distance: {N_SAMPLES} training images vs test set (floor) | {fd_floor:.3f} | — |",
    f"| Fréchet distance: untrained generator vs test set (ceiling) | {fd_ceiling:.3f} | — |",
    f"| after each epoch: confidence ≥ 0.9 | {quality} | — |",
    f"| after each epoch: Fréchet distance | {frechets} | — |",
    f"| GAN training: {EPOCHS} epochs, n_features={N_FEATURES} | {gan_seconds:.0f} s | — |",
    f"| the judge: training model C, the test set's features | {judge_seconds:.0f} s | — |",
    f"| rating the samples and the references | {measure_seconds:.0f} s | — |",
    f"| whole script | {total_seconds:.0f} s | ≤ 15 min |",
]
table = "\n".join(rows)
run = "quick run" if args.quick else "full run"
print(f"\nResults ({run}, {args.dataset}, device {data.device}, {N_SAMPLES} samples):\n{table}")
with atomic_write(OUT / "results.md", mode="w") as file:
    file.write(f"{run}, {args.dataset}, device {data.device}, {N_SAMPLES} samples\n\n{table}\n")
