# %% [markdown]
# # Lesson 7, part 2: super-resolution with a U-Net and the feature loss
#
# fast.ai course v3, lesson 7, notebook `lesson7-superres`, reproduced with minitorch on real
# photographs.  Read `../shared/reference/lesson7-notes.md` ("Image Restoration", "Perceptual
# Loss") beside it; the recipe is "Notebook 2" (and the crappifier "Notebook 3") of
# `../shared/reference/lesson7.md`.
#
# The task: given a photo that was shrunk, JPEG-damaged and scribbled on (a number written over
# it), give back the clean photo.  A U-Net learns it, first with a pixel loss (MSE), then with
# the *feature loss*: the prediction and the target go through a pretrained, frozen VGG16 and
# the loss compares what its layers see, plus their gram matrices (texture).
#
# What differs from the notebook, and why (2 shared CPU cores instead of a GPU, ~20 minutes):
# * Data: 15 photographs instead of the 7,390 pets; the validation photos are `chelsea.png`
#   and `coffee.png` (fixed crops, fixed crappification), the other 13 train.  Crappified once,
#   onto disk, as the notebook does: 128-px tiles at random places, each crappified with its own
#   random quality, then random 64-px (first stage) and 96-px (second stage) crops of those
#   pairs (the first crop of each tile holds the number); flips at training time.  The input
#   is enlarged back to the target's size, 2×, bicubic.
# * The U-Net: fastai's DynamicUnet on a small encoder trained from scratch (16…128 channels),
#   with minitorch's global residual head (output = input + U-Net(input), starting at exactly
#   the bicubic input).  Given the same four minutes, it beat a ResNet-18 from scratch and the
#   pretrained VGG16 (8–9 s a step here, 35× slower) by 1.1 and 2.5 dB
#   (`benchmarks/superres_encoders.py`, `lessons/README.md`).
# * The feature-loss U-Net starts from the MSE U-Net's weights (as the GAN notebook pretrains
#   its generator with MSE): frozen (decoder only), then unfrozen, then the larger size.
# * The VGG16 is real and pretrained, but not the batch-normed ImageNet one of the lesson: it is
#   VGG16 fine-tuned as the HED edge detector (credit below), so the layer weights are retuned.
#
# Run it as a script (`python lessons/lesson7_superres.py`; `--quick` for a pass of a few
# steps; `--device cuda`) or open it as a notebook.  Figures and the results table go to
# `--out` (default `lesson_output/lesson7_superres/`).

# %%
import argparse
import json
import resource
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

import minitorch
from minitorch import backend
from minitorch.data import DatasetType
from minitorch.data.download import search_dirs
from minitorch.files import atomic_write
from minitorch.learner import Callback, LossMetrics
from minitorch.nn import functional as F
from minitorch.plot import finish_figure
from minitorch.vision import ImageImageList, NormType, flip_lr, imagenet_stats, unet_learner
from minitorch.vision.crappify import crappify, paired_random_crop, validation_pairs
from minitorch.vision.feature_loss import FeatureLoss
from minitorch.vision.models import CREDIT, VGGInput, small_encoder, vgg16_features
from minitorch.vision.quality import (
    FeatureDistance, psnr, psnr_in_box, psnr_outside_box, sharpness_ratio, ssim)

parser = argparse.ArgumentParser(description="Lesson 7: super-resolution with the feature loss")
parser.add_argument("--quick", action="store_true",
                    help="a few crops and one short epoch per stage (the test suite's run)")
parser.add_argument("--device", default=None, help="'cpu' or 'cuda' (default: $MINITORCH_DEVICE)")
parser.add_argument("--out", default="lesson_output/lesson7_superres",
                    help="folder for the crappified data, the figures and the results table")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
OUT = Path(args.out)
OUT.mkdir(parents=True, exist_ok=True)
print(f"figures and results go to {OUT}/")
print(f"pretrained weights: {CREDIT}")
T0 = time.time()
TIMES = {}


def elapsed(since):
    return f"{time.time() - since:.0f} s"


# %% [markdown]
# ## Crappified data
#
# `crappify` (minitorch/vision/crappify.py) as the lesson's `crappify.py`: shrink (bilinear,
# here to half size), write a random number q in [10, 70] in white somewhere in the top-left
# quarter, save as JPEG of quality q; then (beyond the lesson) enlarge back to the original size,
# bicubic, so that the input is the bicubic baseline.  The crappified pairs are written to disk
# once, under `OUT/data/`, one folder per training size, each with `lr/` (inputs) and `hr/`
# (targets), `train/` and `valid/` inside.

# %%
start = time.time()
PHOTOS = next((d / "photos" for d in search_dirs() if (d / "photos").is_dir()), None)
if PHOTOS is None:
    sys.exit(f"no photos/ folder in {[str(d) for d in search_dirs()]}: set MINITORCH_DATA to the "
             "folder that holds photos/ (../shared/data here)")
VALID_PHOTOS = ["chelsea.png", "coffee.png"]
TRAIN_PHOTOS = sorted(p.name for p in PHOTOS.glob("*.png") if p.name not in VALID_PHOTOS)
if args.quick:
    TRAIN_PHOTOS = TRAIN_PHOTOS[:4]
TILE, SIZES = 128, (64, 96)              # tiles crappified at 128 px; training crops 64, then 96
TILES_PER_PHOTO = 1 if args.quick else 8
CROPS_PER_TILE = {64: 1 if args.quick else 4, 96: 1}
VALID_CROPS = 1 if args.quick else 4     # per validation photo, 128 px
# Epochs of each stage (MSE; feature loss frozen, unfrozen, at 96 px): what fills ~10 minutes of
# one core here (lessons/README.md), half the 20-minute budget, for slower or busier machines.
EPOCHS_MSE, EPOCHS_FROZEN, EPOCHS_UNFROZEN, EPOCHS_96 = (1, 1, 1, 1) if args.quick else (12, 2, 3, 1)
ROOT = OUT / "data"


def save_png(image, path):
    with atomic_write(path) as file:
        image.save(file, format="PNG")


def build_data():
    rng = np.random.default_rng(args.seed)
    for name in TRAIN_PHOTOS:
        photo = Image.open(PHOTOS / name).convert("RGB")
        for t in range(TILES_PER_PHOTO):
            tile = paired_random_crop([photo, photo], TILE, rng)[1]
            lr_tile, info = crappify(tile, scale=2, rng=rng, return_info=True)
            pair = [lr_tile, tile]
            for size in SIZES:
                for c in range(CROPS_PER_TILE[size]):
                    # the first crop of each tile holds the number, the others fall anywhere
                    box = info["box"] if c == 0 else None
                    lr, hr = paired_random_crop(pair, size, rng, box=box)
                    stem = f"{Path(name).stem}_{t}_{c}.png"
                    save_png(lr, ROOT / f"s{size}" / "lr" / "train" / stem)
                    save_png(hr, ROOT / f"s{size}" / "hr" / "train" / stem)
    boxes = {}
    for k, name in enumerate(VALID_PHOTOS):
        photo = Image.open(PHOTOS / name).convert("RGB")
        for c, (lr, hr, box) in enumerate(validation_pairs(photo, k, TILE, VALID_CROPS)):
            stem = f"{Path(name).stem}_{c}.png"
            boxes[f"valid/{stem}"] = box
            for size in SIZES:  # the same validation crops at every stage
                save_png(lr, ROOT / f"s{size}" / "lr" / "valid" / stem)
                save_png(hr, ROOT / f"s{size}" / "hr" / "valid" / stem)
    with atomic_write(ROOT / "boxes.json", "w") as file:
        json.dump(boxes, file)
    return boxes


BOXES = build_data()
print(f"{len(TRAIN_PHOTOS)} training photos, {len(BOXES)} validation crops; "
      f"data written in {elapsed(start)}")


# %% [markdown]
# The data block, as the notebook writes it: inputs from the `lr` folder, each labelled with the
# file of the same name in `hr`; flips applied to input and target alike (`tfm_y=True`); both
# normalised with ImageNet's statistics (`do_y=True`).

# %%
def get_data(size, bs):
    path_lr, path_hr = ROOT / f"s{size}" / "lr", ROOT / f"s{size}" / "hr"
    src = (ImageImageList.from_folder(path_lr).split_by_folder()
           .label_from_func(lambda x: path_hr / x.relative_to(path_lr)))
    data = (src.transform(([flip_lr(p=0.5)], []), tfm_y=True)
            .databunch(bs=bs, val_bs=8, device=args.device, seed=args.seed)
            .normalize(imagenet_stats, do_y=True))
    return data


BS = 4 if args.quick else 8
data = get_data(64, BS)
print(data)
data.show_batch(rows=3, path=OUT / "batch.png")


# %% [markdown]
# ## Measuring the results
#
# On the validation crops: PSNR, SSIM (on the luminance), the feature distance (mean L1 of
# VGG16's relu2_2…relu5_3 activations) and the PSNR inside the box where the number was drawn
# against the PSNR of the rest (if the number is gone they are close).  Means over the crops.

# %%
# The items are the files' paths; boxes.json names them relative to the lr folder.
VALID_ITEMS = [p.relative_to(data.valid_ds.path).as_posix() for p in data.valid_ds.x.items]
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
    for item, p, t in zip(VALID_ITEMS, preds, targets):
        box = BOXES[item]
        layers = feature_distance.per_layer(p, t)  # relu2_2, relu3_3, relu4_3, relu5_3
        rows.append([psnr(p, t), ssim(p, t), np.mean(layers), psnr_in_box(p, t, box),
                     psnr_outside_box(p, t, box), sharpness_ratio(p, t), *layers])
    return np.mean(rows, axis=0)


inputs, targets = [], []
for xb, yb in data.valid_dl:
    inputs.append(to_pixels(xb))
    targets.append(to_pixels(yb))
INPUTS, TARGETS = np.concatenate(inputs), np.concatenate(targets)
RESULTS = {"bicubic": measure(INPUTS, TARGETS)}
print("bicubic: PSNR {:.2f} dB, SSIM {:.4f}, feature distance {:.4f}".format(*RESULTS["bicubic"]))


class BoxGap(Callback):
    """After each epoch: PSNR inside the number's box minus PSNR elsewhere, on the validation
    crops (is the number going away?).  ``gaps`` keeps one value per epoch."""

    def __init__(self, gaps):
        self.gaps = gaps

    def after_epoch(self):
        preds, _ = self.learn.get_preds(DatasetType.Valid)
        preds = to_pixels(preds)
        self.gaps.append(float(np.mean([
            psnr_in_box(p, t, BOXES[item]) - psnr_outside_box(p, t, BOXES[item])
            for item, p, t in zip(VALID_ITEMS, preds, TARGETS)])))


GAPS = {"U-Net, MSE": [], "U-Net, feature loss": []}


def evaluate(learn, name):
    preds, _ = learn.get_preds(DatasetType.Valid)
    RESULTS[name] = measure(to_pixels(preds), TARGETS)
    print("{}: PSNR {:.2f} dB, SSIM {:.4f}, feature distance {:.4f}".format(name, *RESULTS[name]))


# %% [markdown]
# ## A U-Net trained with a pixel loss (MSE)
#
# `unet_learner` builds fastai's DynamicUnet around the encoder: the decoder is worked out from
# where the encoder's resolution changes, each decoder block sees the encoder's activation of the
# same size.  Here the encoder is small and starts from random weights; `residual=True` adds the
# input to the output, so the untrained model *is* bicubic and training only has to learn the
# correction.

# %%
def small16(pretrained=False):
    """The small encoder with 16, 32, 64, 128 channels (`sizing-superres-gan.md`'s small16)."""
    return small_encoder(pretrained, channels=(16, 32, 64, 128))


def make_learner(data, loss_func, **kwargs):
    return unet_learner(data, small16, pretrained=False, cut=lambda m: m,
                        split_on=lambda m: (m[0][4], m[1]), norm_type=NormType.Batch,
                        residual=True, loss_func=loss_func, wd=1e-3, **kwargs)


start = time.time()
minitorch.manual_seed(args.seed)
learn_mse = make_learner(data, F.mse_loss, callbacks=[BoxGap(GAPS["U-Net, MSE"])])
n_params = sum(p.numel() for p in learn_mse.model.parameters())
print(f"U-Net: {n_params:,} parameters")
learn_mse.fit_one_cycle(EPOCHS_MSE, 3e-3)
learn_mse.recorder.plot_losses(path=OUT / "mse_losses.png")
learn_mse.show_results(rows=3, path=OUT / "mse_results.png")
evaluate(learn_mse, "U-Net, MSE")
TIMES["MSE U-Net"] = time.time() - start

# %% [markdown]
# ## The feature loss
#
# The notebook's `FeatureLoss`: L1 of the pixels, plus for VGG16's ReLUs before its 3rd, 4th and
# 5th max pool (`features[15]`, `[22]`, `[29]`) the L1 of the activations times w and the L1 of
# their gram matrices times w²·5e3.  The VGG16's own input map (0–255 minus a mean) is put in
# front of it.
#
# The lesson's layer weights (5, 15, 2) were tuned for batch-normed ImageNet VGG16; on this
# network each term has another scale.  The share of each term in the loss, measured on the
# bicubic validation inputs, with the lesson's weights and with the retuned ones:

# %%
LESSON_WGTS, WGTS = [5, 15, 2], [0.07, 0.25, 0.07]
LESSON_FINAL = [0.167, 0.257, 0.281, 0.146, 0.328, 0.536, 0.350]  # the notebook's last epoch


def shares(values):
    values = np.asarray(values, dtype=float)
    return " ".join(f"{v / values.sum():.3f}" for v in values)


x_valid = minitorch.tensor((INPUTS - M) / S, device=args.device)
y_valid = minitorch.tensor((TARGETS - M) / S, device=args.device)
print("terms:               pixel feat_0 feat_1 feat_2 gram_0 gram_1 gram_2")
print(f"the lesson's shares: {shares(LESSON_FINAL)}  (its final epoch, total 2.064)")
for name, wgts in (("weights 5, 15, 2", LESSON_WGTS), (f"weights {WGTS}", WGTS)):
    probe = FeatureLoss(vgg, [15, 22, 29], wgts, input_map=VGGInput(imagenet_stats))
    with minitorch.no_grad():
        total = probe(x_valid, y_valid).item()
    terms = [probe.metrics[n].item() for n in probe.metric_names]
    print(f"{name}: shares {shares(terms)}  (total {total:.3f})")
    probe.remove()

# %% [markdown]
# The feature-loss U-Net starts from the MSE U-Net.  As in the notebook: frozen (only the
# decoder trains) with `pct_start=0.9`, then unfrozen with discriminative learning rates, then
# the larger size (96 px) as the second stage.  `LossMetrics` prints each term per epoch.

# %%
start = time.time()
feat_loss = FeatureLoss(vgg, [15, 22, 29], WGTS, input_map=VGGInput(imagenet_stats))
learn = make_learner(data, feat_loss,
                     callbacks=[LossMetrics(), BoxGap(GAPS["U-Net, feature loss"])])
learn.model.load_state_dict(learn_mse.model.state_dict())
lr = 1e-3
learn.freeze()
learn.fit_one_cycle(EPOCHS_FROZEN, lr, pct_start=0.9)
learn.unfreeze()
learn.fit_one_cycle(EPOCHS_UNFROZEN, slice(lr / 100, lr))
learn.show_results(rows=3, path=OUT / "feat_results_64.png")

data96 = get_data(96, BS)
learn.data = data96
learn.fit_one_cycle(EPOCHS_96, slice(1e-6, 1e-4), pct_start=0.3)
learn.recorder.plot_losses(path=OUT / "feat_losses_96.png")
learn.show_results(rows=3, path=OUT / "feat_results_96.png")
final = learn.recorder.metrics[-1]
print(f"final epoch's terms: {' '.join(f'{v:.3f}' for v in final)}; shares {shares(final)}")
evaluate(learn, "U-Net, feature loss")
TIMES["feature-loss U-Net"] = time.time() - start
# The super-resolution GAN lesson sets its generator beside this U-Net when the file is there.
minitorch.save({"model": learn.model.state_dict()}, OUT / "unet_feature_loss.npz")

# %% [markdown]
# ## A whole photo
#
# The U-Net is convolutional: it predicts at any size.  The whole validation photo `chelsea.png`
# (451×300), crappified, then restored; saved beside the bicubic input and the original.

# %%
start = time.time()
photo = Image.open(PHOTOS / "chelsea.png").convert("RGB")
bicubic = crappify(photo, scale=2, rng=np.random.default_rng(args.seed + 7))
x = (np.asarray(bicubic, dtype=np.float32)[None].transpose(0, 3, 1, 2) / 255 - M) / S
restored = to_pixels(learn.pred_batch(batch=(minitorch.tensor(x, device=args.device),)))[0]
restored = Image.fromarray((restored.transpose(1, 2, 0) * 255).round().astype(np.uint8))
side_by_side = Image.new("RGB", (photo.width * 3, photo.height))
for i, image in enumerate([bicubic, restored, photo]):
    side_by_side.paste(image, (i * photo.width, 0))
save_png(side_by_side, OUT / "whole_photo.png")
print(f"whole photo (bicubic | feature-loss U-Net | original) saved in {elapsed(start)}")

# %% [markdown]
# Is the number going away?  The PSNR inside its box minus the PSNR elsewhere, after every
# epoch (bicubic's gap as the line it starts from; 0 would mean the number left no trace).

# %%
fig, ax = plt.subplots(figsize=(6, 4))
ax.axhline(RESULTS["bicubic"][3] - RESULTS["bicubic"][4], color="gray", ls="--", label="bicubic")
ax.plot(range(1, len(GAPS["U-Net, MSE"]) + 1), GAPS["U-Net, MSE"], "o-", label="U-Net, MSE")
n_mse = len(GAPS["U-Net, MSE"])
ax.plot(range(n_mse + 1, n_mse + len(GAPS["U-Net, feature loss"]) + 1),
        GAPS["U-Net, feature loss"], "s-", label="U-Net, feature loss (from the MSE U-Net)")
ax.axhline(-2, color="red", ls=":", label="target: within 2 dB")
ax.set_xlabel("epoch")
ax.set_ylabel("PSNR in the number's box − elsewhere (dB)")
ax.legend()
finish_figure(fig, OUT / "number_gap.png")
print("box − elsewhere per epoch:", {k: [round(v, 2) for v in g] for k, g in GAPS.items()})

# %% [markdown]
# ## Results
#
# On the validation crops (means over the crops).  Targets (issue 13): the MSE U-Net at least
# 1.0 dB above bicubic; the feature-loss U-Net the lowest feature distance and above bicubic;
# the number gone (inside its box within 2 dB of the rest) for both U-Nets.

# %%
lines = ["| model | PSNR dB | SSIM | feature distance | PSNR in the number's box | "
         "PSNR elsewhere | box − elsewhere | sharpness ratio |", "|---|---|---|---|---|---|---|---|"]
for name, (p, s, fd, pin, pout, sharp, *_) in RESULTS.items():
    lines.append(f"| {name} | {p:.2f} | {s:.4f} | {fd:.4f} | {pin:.2f} | {pout:.2f} | "
                 f"{pin - pout:+.2f} | {sharp:.3f} |")
# The feature distance layer by layer: the feature loss trains relu3_3…relu5_3 (and their gram
# matrices), the measure also counts relu2_2, where invented texture shows most.
lines += ["", "| model | relu2_2 | relu3_3 | relu4_3 | relu5_3 |", "|---|---|---|---|---|"]
for name, values in RESULTS.items():
    lines.append(f"| {name} | " + " | ".join(f"{v:.4f}" for v in values[6:]) + " |")
table = "\n".join(lines)
print(table)
TIMES["total"] = time.time() - T0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
summary = (f"\nwall time: {TIMES['total']:.0f} s ("
           + ", ".join(f"{k} {v:.0f} s" for k, v in TIMES.items() if k != "total")
           + f"); peak memory (max RSS): {peak:.0f} MiB")
print(summary)
print(f"credit: {CREDIT}")
with atomic_write(OUT / "results.md", "w") as file:
    file.write(table + "\n" + summary + "\n\nCredit: " + CREDIT + "\n")
