# %% [markdown]
# # Lesson 7, part 3: super-resolution with a GAN
#
# fast.ai course v3, lesson 7, notebook `lesson7-superres-gan`, reproduced with minitorch on real
# photographs.  The recipe is "Notebook 3" of `../shared/reference/lesson7.md`; read
# `lessons/lesson7_superres.py` first (the photos, the crappifier, the U-Net) and
# `minitorch/vision/gan.py` (GANLearner, the switchers).
#
# The notebook's six steps: (1) pretrain a U-Net generator with a pixel loss (MSE); (2) write its
# outputs for the training images to a folder, `image_gen/`; (3) pretrain a critic to tell those
# from the real images (plain image classification from two folders); (4) train both together as
# a GAN, the generator's loss being the critic's opinion plus 50 × the pixel loss; then look at
# the (5) pictures and — because GAN losses say nothing — (6) numbers: PSNR, SSIM, the VGG feature
# distance and a sharpness ratio (the energy of the Laplacian of the prediction over the
# target's; 1.0 = as sharp as the original, bicubic and MSE predictions are blurry, below 1).
#
# What differs from the notebook, and why (2 shared CPU cores instead of a GPU, ~20 minutes;
# `../shared/reference/sizing-superres-gan.md`):
# * Data: 13 training photos cut into 64-px crops of crappified 128-px tiles (the super-resolution
#   lesson's data), validation on fixed 128-px crops of `chelsea.png` and `coffee.png`.
# * The generator: fastai's DynamicUnet with self-attention, blur and weight-normed convs, on the
#   small encoder (16…128 channels, from scratch) instead of a pretrained ResNet-34, with
#   minitorch's global residual head (output = bicubic input + correction) instead of
#   `y_range=(-3, 3)`: the two cannot be combined (a squashed output cannot also be input + a
#   correction), and from scratch the residual head is what lets a few hundred steps beat
#   bicubic.  Its encoder is random, so there is nothing to keep frozen: the first `fit_one_cycle`
#   trains everything (the notebook's frozen phase trains the decoder of a pretrained encoder).
# * The critic: `gan_critic(nf=32)` (the notebook: 128) on 64-px images (one logit per image).
#
# Run it as a script (`python lessons/lesson7_superres_gan.py`; `--quick` for a pass of a few
# steps; `--device cuda`) or open it as a notebook.  Figures and the results table go to
# `--out` (default `lesson_output/lesson7_superres_gan/`).

# %%
import argparse
import resource
import shutil
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

import minitorch
from minitorch import backend, nn, serialization
from minitorch.data import DatasetType
from minitorch.data.download import search_dirs
from minitorch.files import atomic_write
from minitorch.learner import Learner
from minitorch.nn import functional as F
from minitorch.optim import Adam
from minitorch.vision import (
    AdaptiveGANSwitcher, AdaptiveLoss, GANDiscriminativeLR, GANLearner, ImageImageList, ImageList,
    NormType, accuracy_thresh_expand, flip_lr, get_transforms, imagenet_stats, unet_learner)
from minitorch.vision.crappify import crappify, paired_random_crop, validation_pairs
from minitorch.vision.models import CREDIT, VGGInput, gan_critic, small_encoder, vgg16_features
from minitorch.vision.quality import FeatureDistance, psnr, sharpness_ratio, ssim
from minitorch.vision.save_preds import save_preds

parser = argparse.ArgumentParser(description="Lesson 7: super-resolution with a GAN")
parser.add_argument("--quick", action="store_true",
                    help="a few crops and one short epoch per stage (the test suite's run)")
parser.add_argument("--device", default=None, help="'cpu' or 'cuda' (default: $MINITORCH_DEVICE)")
parser.add_argument("--out", default="lesson_output/lesson7_superres_gan",
                    help="folder for the data, the models, the figures and the results table")
parser.add_argument("--superres-out", default="lesson_output/lesson7_superres",
                    help="the super-resolution lesson's --out: its feature-loss U-Net is compared "
                         "when unet_feature_loss.npz is there")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
OUT = Path(args.out)
OUT.mkdir(parents=True, exist_ok=True)
print(f"figures and results go to {OUT}/")
T0 = time.time()
TIMES = {}

# Sizes, chosen from per-step times measured on the 2-core machine (lessons/README.md).
if args.quick:
    N_TRAIN_PHOTOS, TILES, CROPS, VALID_CROPS, BS = 3, 1, 2, 1, 4
    GEN_EPOCHS, CRIT_EPOCHS, GAN_EPOCHS = (1, 1), 1, 1
else:
    N_TRAIN_PHOTOS, TILES, CROPS, VALID_CROPS, BS = None, 16, 4, 4, 8
    # The critic gets most of the time: spectral-normed, it needs ~1,000 steps before it tells
    # the generator's outputs from the originals at all (PyTorch's twin too; lessons/README.md).
    GEN_EPOCHS, CRIT_EPOCHS, GAN_EPOCHS = (2, 3), 15, 4
TILE, SIZE = 128, 64

# %% [markdown]
# ## Crappified data
#
# As in the super-resolution lesson: 128-px tiles of the training photos, each crappified
# (`crappify`: half size, a number written in, JPEG of that quality, bicubic back to full size),
# then 64-px crops of the pairs, the first crop of each tile holding the number.  Written once
# under `OUT/data/`: `lr/` inputs, `hr/` targets, `train/` and `valid/` inside.

# %%
start = time.time()
PHOTOS = next((d / "photos" for d in search_dirs() if (d / "photos").is_dir()), None)
if PHOTOS is None:
    sys.exit(f"no photos/ folder in {[str(d) for d in search_dirs()]}: set MINITORCH_DATA to the "
             "folder that holds photos/ (../shared/data here)")
VALID_PHOTOS = ["chelsea.png", "coffee.png"]
TRAIN_PHOTOS = sorted(p.name for p in PHOTOS.glob("*.png") if p.name not in VALID_PHOTOS)
TRAIN_PHOTOS = TRAIN_PHOTOS[:N_TRAIN_PHOTOS]
ROOT = OUT / "data"


def save_png(image, path):
    with atomic_write(path) as file:
        image.save(file, format="PNG")


rng = np.random.default_rng(args.seed)
for name in TRAIN_PHOTOS:
    photo = Image.open(PHOTOS / name).convert("RGB")
    for t in range(TILES):
        tile = paired_random_crop([photo, photo], TILE, rng)[1]
        lr_tile, info = crappify(tile, scale=2, rng=rng, return_info=True)
        for c in range(CROPS):
            box = info["box"] if c == 0 else None
            lr, hr = paired_random_crop([lr_tile, tile], SIZE, rng, box=box)
            save_png(lr, ROOT / "lr" / "train" / f"{Path(name).stem}_{t}_{c}.png")
            save_png(hr, ROOT / "hr" / "train" / f"{Path(name).stem}_{t}_{c}.png")
for k, name in enumerate(VALID_PHOTOS):  # the super-resolution lesson's validation crops
    photo = Image.open(PHOTOS / name).convert("RGB")
    for c, (lr, hr, _) in enumerate(validation_pairs(photo, k, TILE, VALID_CROPS)):
        save_png(lr, ROOT / "lr" / "valid" / f"{Path(name).stem}_{c}.png")
        save_png(hr, ROOT / "hr" / "valid" / f"{Path(name).stem}_{c}.png")
path_lr, path_hr = ROOT / "lr", ROOT / "hr"
data_gen = (ImageImageList.from_folder(path_lr).split_by_folder()
            .label_from_func(lambda x: path_hr / x.relative_to(path_lr))
            .transform(([flip_lr(p=0.5)], []), tfm_y=True)
            .databunch(bs=BS, val_bs=8, device=args.device, seed=args.seed)
            .normalize(imagenet_stats, do_y=True))
print(data_gen)
TIMES["data"] = time.time() - start

# %% [markdown]
# ## Measuring
#
# On the validation crops, means over the crops: PSNR, SSIM (luminance), the feature distance
# (mean L1 of VGG16's relu2_2…relu5_3 activations) and the sharpness ratio.

# %%
M, S = (np.array(v, dtype=np.float32).reshape(1, 3, 1, 1) for v in imagenet_stats)
vgg = vgg16_features(upto=30)
if args.device:
    vgg = vgg.to(args.device)
feature_distance = FeatureDistance(vgg, VGGInput(stats=None))


def to_pixels(t):
    """Normalised tensors (N, 3, H, W) → pixels in [0, 1] (NumPy)."""
    return np.clip(backend.to_numpy(t.array) * S + M, 0, 1)


def measure(preds, targets):
    rows = []
    for p, t in zip(preds, targets):
        layers = feature_distance.per_layer(p, t)  # relu2_2, relu3_3, relu4_3, relu5_3
        rows.append([psnr(p, t), ssim(p, t), np.mean(layers), sharpness_ratio(p, t), *layers])
    return np.mean(rows, axis=0)


inputs, targets = [], []
for xb, yb in data_gen.valid_dl:
    inputs.append(to_pixels(xb))
    targets.append(to_pixels(yb))
INPUTS, TARGETS = np.concatenate(inputs), np.concatenate(targets)
RESULTS = {"bicubic": measure(INPUTS, TARGETS)}

# One whole validation photo, crappified, for the side-by-side picture at the end.
photo = Image.open(PHOTOS / "chelsea.png").convert("RGB")
bicubic_photo = crappify(photo, scale=2, rng=np.random.default_rng(args.seed + 7))
X_PHOTO = (np.asarray(bicubic_photo, dtype=np.float32)[None].transpose(0, 3, 1, 2) / 255 - M) / S
WHOLE = {"crappified (bicubic)": bicubic_photo}


def restore(learn):
    x = minitorch.tensor(X_PHOTO, device=args.device)
    pixels = to_pixels(learn.pred_batch(batch=(x,)))[0]
    return Image.fromarray((pixels.transpose(1, 2, 0) * 255).round().astype(np.uint8))


def evaluate(learn, name):
    preds, _ = learn.get_preds(DatasetType.Valid)
    RESULTS[name] = measure(to_pixels(preds), TARGETS)
    WHOLE[name] = restore(learn)
    print("{}: PSNR {:.2f} dB, SSIM {:.4f}, feature distance {:.4f}, sharpness ratio {:.3f}"
          .format(name, *RESULTS[name]))


# %% [markdown]
# ## 1. The generator, pretrained with MSE
#
# `unet_learner(data_gen, arch, wd=1e-3, blur=True, norm_type=NormType.Weight,
# self_attention=True, ..., loss_func=MSELossFlat())` as in the notebook (see the top for the
# encoder and the residual head).  Then `fit_one_cycle(2, pct_start=0.8)`, unfreeze,
# `fit_one_cycle(3, slice(1e-6, 1e-3))`, and save it.

# %%
def small16(pretrained=False):
    """The small encoder with 16, 32, 64, 128 channels (`sizing-superres-gan.md`'s small16)."""
    return small_encoder(pretrained, channels=(16, 32, 64, 128))


start = time.time()
minitorch.manual_seed(args.seed)
learn_gen = unet_learner(data_gen, small16, pretrained=False, cut=lambda m: m,
                         split_on=lambda m: (m[0][4], m[1]), blur=True, norm_type=NormType.Weight,
                         self_attention=True, residual=True, loss_func=F.mse_loss, wd=1e-3,
                         path=OUT)
print(f"generator: {sum(p.numel() for p in learn_gen.model.parameters()):,} parameters")
learn_gen.fit_one_cycle(GEN_EPOCHS[0], 3e-3, pct_start=0.8)
learn_gen.unfreeze()
learn_gen.fit_one_cycle(GEN_EPOCHS[1], slice(1e-6, 1e-3))
learn_gen.show_results(rows=4, path=OUT / "gen_mse_results.png")
learn_gen.save("gen-pre2")
evaluate(learn_gen, "generator, MSE")
TIMES["1. generator (MSE)"] = time.time() - start

# %% [markdown]
# ## 2. Save the generated images
#
# `save_preds` (minitorch/vision/save_preds.py) writes the generator's prediction for every
# training input to `image_gen/`, named like its source; the real targets go beside them in
# `images/`.  `fix_dl` is the training set in order, without augmentation.

# %%
start = time.time()
CRIT = OUT / "critic_data"
shutil.rmtree(CRIT, ignore_errors=True)
written = save_preds(data_gen.fix_dl, learn_gen, CRIT / "image_gen")
for path in sorted((path_hr / "train").iterdir()):
    with atomic_write(CRIT / "images" / path.name) as file:
        file.write(path.read_bytes())
print(f"{len(written)} generated images written to {CRIT / 'image_gen'}")
TIMES["2. save_preds"] = time.time() - start

# %% [markdown]
# ## 3. The critic, pretrained as a classifier
#
# An image classification DataBunch from the two folders, `gan_critic` (nf=32), the loss
# `AdaptiveLoss(BCEWithLogitsLoss())` (one label per image, expanded to the critic's logits) and
# the metric `accuracy_thresh_expand`.  The notebook reaches 0.976.

# %%
start = time.time()
data_crit = (ImageList.from_folder(CRIT).split_by_rand_pct(0.1, seed=42).label_from_folder()
             .transform(get_transforms(max_zoom=2.), size=SIZE)
             .databunch(bs=2 * BS, device=args.device, seed=args.seed)
             .normalize(imagenet_stats))
print(data_crit)
data_crit.show_batch(rows=3, path=OUT / "critic_batch.png")
loss_critic = AdaptiveLoss(nn.BCEWithLogitsLoss())


def create_critic_learner(data, metrics):
    return Learner(data, gan_critic(nf=32), metrics=metrics, loss_func=loss_critic, wd=1e-3,
                   path=OUT)


minitorch.manual_seed(args.seed)
learn_critic = create_critic_learner(data_crit, accuracy_thresh_expand)
print(f"critic: {sum(p.numel() for p in learn_critic.model.parameters()):,} parameters")
learn_critic.fit_one_cycle(CRIT_EPOCHS, 1e-3)
learn_critic.save("critic-pre2")
CRITIC_ACCURACY = float(learn_critic.recorder.metrics[-1][0])
print(f"critic accuracy after pretraining: {CRITIC_ACCURACY:.3f} (the notebook: 0.976)")
TIMES["3. critic"] = time.time() - start

# %% [markdown]
# ## 4. The GAN
#
# `GANLearner.from_learners(learn_gen, learn_crit, weights_gen=(1., 50.), ...)`: the generator's
# loss is the critic's BCE on its outputs + 50 × MSE, so it stays close to the target while it
# learns to fool the critic.  `AdaptiveGANSwitcher(critic_thresh=0.65)`: the critic trains until
# its loss falls below 0.65, then the generator trains for a batch.  Adam with β₁ = 0, and the
# critic's learning rate 5× the generator's (`GANDiscriminativeLR`).  Watch gen_loss and
# disc_loss: in a GAN they stay flat (each player gets better as the other does).

# %%
start = time.time()
learn_crit = create_critic_learner(data_crit, None).load("critic-pre2")
learn = GANLearner.from_learners(learn_gen, learn_crit, weights_gen=(1., 50.), show_img=False,
                                 switcher=partial(AdaptiveGANSwitcher, critic_thresh=0.65),
                                 opt_func=partial(Adam, betas=(0., 0.99)), wd=1e-3, path=OUT,
                                 callbacks=[GANDiscriminativeLR(mult_lr=5.)])
learn.fit(GAN_EPOCHS, 1e-4)
learn.recorder.plot_losses(path=OUT / "gan_losses.png")
learn.save("gan-1c")
TIMES["4. GAN"] = time.time() - start

# %% [markdown]
# ## 5. Pictures
#
# The GAN's generator is `learn_gen.model` (the GANLearner trained that very module), so
# `learn_gen.show_results` shows input / GAN prediction / target.  Then the whole photo: the
# crappified input, the MSE generator, the feature-loss U-Net of the super-resolution lesson (when
# its weights are in `--superres-out`), the GAN generator and the original.

# %%
start = time.time()
learn_gen.show_results(rows=4, path=OUT / "gan_results.png")
learn_gen.show_results(ds_type=DatasetType.Train, rows=4, path=OUT / "gan_results_train.png")
evaluate(learn_gen, "generator, GAN")

FEAT_WEIGHTS = Path(args.superres_out) / "unet_feature_loss.npz"
if FEAT_WEIGHTS.exists():
    learn_feat = unet_learner(data_gen, small16, pretrained=False, cut=lambda m: m,
                              split_on=lambda m: (m[0][4], m[1]), norm_type=NormType.Batch,
                              residual=True, loss_func=F.mse_loss)
    learn_feat.model.load_state_dict(serialization.load(FEAT_WEIGHTS)["model"])
    evaluate(learn_feat, "U-Net, feature loss")
else:
    print(f"no {FEAT_WEIGHTS}: the feature-loss U-Net is left out of the comparison")

order = ["crappified (bicubic)", "generator, MSE", "U-Net, feature loss", "generator, GAN"]
panels = [(name, WHOLE[name]) for name in order if name in WHOLE] + [("original", photo)]
side_by_side = Image.new("RGB", (photo.width * len(panels), photo.height))
for i, (_, image) in enumerate(panels):
    side_by_side.paste(image, (i * photo.width, 0))
save_png(side_by_side, OUT / "whole_photo.png")
print("whole photo, left to right: " + " | ".join(name for name, _ in panels))
TIMES["5. pictures"] = time.time() - start

# %% [markdown]
# ## 6. Numbers
#
# On the validation crops.  Targets (issue 15): the critic ≥ 0.90 accurate after pretraining; the
# GAN generator sharper than the MSE generator (sharpness ratio closer to 1.0) with a lower
# feature distance, its PSNR within 1.5 dB of the MSE generator's.

# %%
lines = ["| model | PSNR dB | SSIM | feature distance | sharpness ratio |", "|---|---|---|---|---|"]
for name, (p, s, fd, sharp, *_) in RESULTS.items():
    lines.append(f"| {name} | {p:.2f} | {s:.4f} | {fd:.4f} | {sharp:.3f} |")
# The feature distance layer by layer: sharper images with texture that is not exactly the
# target's pay for it most at relu2_2.
lines += ["", "| model | relu2_2 | relu3_3 | relu4_3 | relu5_3 |", "|---|---|---|---|---|"]
for name, values in RESULTS.items():
    lines.append(f"| {name} | " + " | ".join(f"{v:.4f}" for v in values[4:]) + " |")
table = "\n".join(lines)
print(table)
mse, gan = RESULTS["generator, MSE"], RESULTS["generator, GAN"]
checks = [f"critic accuracy after pretraining {CRITIC_ACCURACY:.3f} (target ≥ 0.90)",
          f"sharpness ratio: GAN {gan[3]:.3f} vs MSE {mse[3]:.3f} (target: GAN closer to 1.0: "
          f"{'met' if abs(gan[3] - 1) < abs(mse[3] - 1) else 'not met'})",
          f"feature distance: GAN {gan[2]:.4f} vs MSE {mse[2]:.4f} (target: GAN lower: "
          f"{'met' if gan[2] < mse[2] else 'not met'})",
          f"PSNR: GAN {gan[0]:.2f} dB vs MSE {mse[0]:.2f} dB (target: within 1.5 dB: "
          f"{'met' if mse[0] - gan[0] <= 1.5 else 'not met'})"]
print("\n".join(checks))
TIMES["total"] = time.time() - T0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
summary = (f"\nwall time: {TIMES['total']:.0f} s ("
           + ", ".join(f"{k} {v:.0f} s" for k, v in TIMES.items() if k != "total")
           + f"); peak memory (max RSS): {peak:.0f} MiB")
print(summary)
print(f"credit: {CREDIT}")
with atomic_write(OUT / "results.md", "w") as file:
    file.write(table + "\n\n" + "\n".join(checks) + "\n" + summary + "\n\nCredit: " + CREDIT + "\n")
