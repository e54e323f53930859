# %% [markdown]
# # Lesson 7, part 2: super-resolution with a U-Net and the feature loss
#
# fast.ai course v3, lesson 7, notebook `lesson7-superres`, reproduced with minitorch on real
# photographs.  The task: given a photo that was shrunk, JPEG-damaged and scribbled on (a number
# written over it), give back the clean photo.  A U-Net learns it, first with a pixel loss
# (MSE), then with the *feature loss*: prediction and target go through a pretrained, frozen
# VGG16 and the loss compares what its layers see, and their gram matrices (texture).
#
# What differs from the notebook, and why (2 shared CPU cores instead of a GPU, ~13 minutes;
# the measurements behind each choice are in `lessons/README.md`, "Which recipe"):
# * Data: 15 free photographs instead of the 7,390 pets (fetched from their packages on first
#   use, `minitorch/vision/photos.py`); `chelsea.png` and `coffee.png` validate (fixed crops,
#   fixed crappification), the other 13 train: many random 128-px tiles of each, crappified
#   once onto disk as the notebook does (a quarter of them turned grey), cut into 64-px (then
#   96-px) crops, all 8 flips and quarter turns at training time.  The input is enlarged back
#   to the target's size, bicubic.
# * The U-Net: fastai's DynamicUnet with the notebook's decoder (`blur=True`,
#   `NormType.Weight`), on a small encoder trained from scratch (`small16`), with minitorch's
#   global residual head (output = input + U-Net(input): it starts as the bicubic input) and
#   its blur on the last pixel shuffle too (`blur_last_shuffle=True`: without it the feature
#   loss paints a 2-pixel checkerboard that grows with every step).  The
#   pretrained VGG16 cut after block 2, frozen then unfrozen as the notebook does with its
#   ResNet-34, lost to it in the same CPU time.
# * The feature-loss U-Net starts from the MSE U-Net's weights (so, as in the GAN lesson,
#   nothing is random and there is no frozen phase); the VGG16 is real and pretrained, but
#   fine-tuned as the HED edge detector (credit below), so the layer weights are retuned to it
#   — and set low enough that the U-Net stays at least at bicubic outside the number's box.
# * What is measured first is the quality *outside the number's box* — what the U-Net does for
#   the photo — beside the box (does the number go?) and the artefacts a perceptual loss can
#   paint: a 2-pixel checkerboard and colour on grey photos.
#
# Run it as a script (`python lessons/lesson7_superres.py`; `--quick` for a pass of a few
# steps; `--device cuda`) or open it as a notebook.  Figures, the trained U-Nets and the results
# go to `--out` (default `lesson_output/lesson7_superres/`); try a U-Net on your own photos with
# `python -m minitorch.vision.evaluate_superres <out>/models/unet_mse.npz PHOTO...`.

# %%
import argparse
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt

import minitorch
from minitorch.learner import LossMetrics
from minitorch.nn import functional as F
from minitorch.files import atomic_write
from minitorch.plot import finish_figure
from minitorch.vision import NormType, dihedral, imagenet_stats, unet_learner
from minitorch.vision.feature_loss import FeatureLoss
from minitorch.vision.models import CREDIT, VGGInput, small16, vgg16_features
from minitorch.vision.photos import CREDITS
from minitorch.vision.superres import (
    TRAIN_PHOTOS, VALID_PHOTOS, NumberGap, SuperresEval, crappify_to_folders, footer, open_photo,
    predictor, results_tables, save_generator, superres_data, to_tensor, whole_photo)

parser = argparse.ArgumentParser(description="Lesson 7: super-resolution with the feature loss")
parser.add_argument("--quick", action="store_true",
                    help="a few crops and one short epoch per stage (the test suite's run)")
parser.add_argument("--device", default=None, help="'cpu' or 'cuda' (default: $MINITORCH_DEVICE)")
parser.add_argument("--out", default="lesson_output/lesson7_superres",
                    help="folder for the crappified data, the models, the figures and the results")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
OUT = Path(args.out)
OUT.mkdir(parents=True, exist_ok=True)
print(f"figures and results go to {OUT}/")
print(f"pretrained weights: {CREDIT}")
T0, TIMES = time.time(), {}

# Sizes: what fits the time on two cores (lessons/README.md, "Which recipe").
TILES, CROPS_64 = (2, 1) if args.quick else (32, 4)  # per training photo; crops per tile
TRAIN = TRAIN_PHOTOS[:3] if args.quick else TRAIN_PHOTOS
VALID_CROPS = 1 if args.quick else 4                   # corner crops per validation photo
EPOCHS_MSE, EPOCHS_FEAT, EPOCHS_96 = (1, 1, 1) if args.quick else (7, 1, 1)
BS = 4 if args.quick else 8

# %% [markdown]
# ## Crappified data
#
# `crappify` (`minitorch/vision/crappify.py`), the notebook's: shrink (bilinear, to half size),
# write a random number q in [10, 70] in white somewhere in the top-left quarter, save as a
# JPEG of quality q — then (beyond the notebook) enlarge back, bicubic, so that the input is the
# bicubic baseline.  A quarter of the tiles are turned grey first: a grey photo must stay grey.
# `crappify_to_folders` writes the pairs once under `OUT/data/`, in fastai's layout:
# `s64/lr/train/...` (inputs), `s64/hr/train/...` (targets), the same for `valid/` and for the
# 96-px crops.  Then the notebook's data block: inputs labelled with the file of the same
# name in `hr/`, the same flips and turns on both (`tfm_y=True`), both normalised with ImageNet's
# statistics (`do_y=True`).

# %%
start = time.time()
ROOT = OUT / "data"
crappify_to_folders(ROOT, TRAIN, tiles_per_photo=TILES, crops_per_tile={64: CROPS_64, 96: 1},
                    valid_crops=VALID_CROPS, grey=0.25, seed=args.seed)


def get_data(size, bs):
    return superres_data(ROOT, size, bs, tfms=[dihedral()], device=args.device, seed=args.seed)


data = get_data(64, BS)
print(data)
data.show_batch(rows=3, path=OUT / "batch.png")
TIMES["data"] = time.time() - start

# %% [markdown]
# ## Measuring
#
# On the validation crops (`SuperresEval`, `minitorch/vision/superres.py`): PSNR and SSIM outside
# the number's box, inside it and on the whole crop; the sharpness (Laplacian energy against the
# original's, outside the box); the checkerboard (spectral energy at the pixel shuffle's
# 2-pixel period against the original's); the colour a model adds to the same crops turned
# grey; the VGG16 feature distance.  Bicubic is the input itself.

# %%
vgg = vgg16_features(upto=30)
if args.device:
    vgg = vgg.to(args.device)
evaluation = SuperresEval.from_photos([open_photo(name) for name in VALID_PHOTOS],
                                      count=VALID_CROPS, features=vgg)
RESULTS = {"bicubic": evaluation.measure()}
GAPS = {"U-Net, MSE": [], "U-Net, feature loss": []}

# %% [markdown]
# ## A U-Net trained with a pixel loss (MSE)
#
# `unet_learner` builds fastai's DynamicUnet around the encoder: the decoder is worked out from
# where the encoder's resolution changes, each decoder block sees the encoder's activation of the
# same size.  `blur=True` and `NormType.Weight` are the notebook's; the encoder starts from random
# weights; `residual=True` adds the input to the output, so the untrained model *is* bicubic and
# training learns the correction.  `keep_grey=imagenet_stats` lets the correction's colour
# through only where the input has colour: a grey photo stays grey (with three free output
# channels the U-Nets added 0.6 and 1.6 grey levels of colour to grey photos, whatever the
# data or the loss; `lessons/README.md`, "A grey photo stays grey").  `blur=True` blurs the
# pixel shuffle of every decoder block, but fastai never blurs the one after them that brings
# the decoder up to the input's size — the only shuffle that writes at the output's
# resolution, where its four sub-kernels drifting apart is a 2-pixel checkerboard.  The feature
# loss rewards that texture: without the blur the feature-loss U-Net's checkerboard grew from
# 0.4 to 3.8 and 6.2 times the photos' own (two draws) over the 468 steps it had then;
# `blur_last_shuffle=True` kept it at 0.2 (`lessons/README.md`, "Where the checkerboard comes
# from").  The trained U-Net is saved for `evaluate_superres`.

# %%
start = time.time()
minitorch.manual_seed(args.seed)
learn_mse = unet_learner(data, small16, pretrained=False, blur=True, norm_type=NormType.Weight,
                         residual=True, keep_grey=imagenet_stats, blur_last_shuffle=True,
                         loss_func=F.mse_loss, wd=1e-3,
                         callbacks=[NumberGap(evaluation, GAPS["U-Net, MSE"], args.device)])
print(f"U-Net: {sum(p.numel() for p in learn_mse.model.parameters()):,} parameters")
learn_mse.fit_one_cycle(EPOCHS_MSE, 3e-3)
learn_mse.recorder.plot_losses(path=OUT / "mse_losses.png")
learn_mse.show_results(rows=3, path=OUT / "mse_results.png")
save_generator(learn_mse.model, OUT / "models" / "unet_mse.npz", "small16")
RESULTS["U-Net, MSE"] = evaluation.measure(predictor(learn_mse.model, args.device))
TIMES["MSE U-Net"] = time.time() - start

# %% [markdown]
# ## The feature loss
#
# The notebook's `FeatureLoss`: L1 of the pixels, plus for VGG16's ReLUs before its 3rd, 4th and
# 5th max pool (`features[15]`, `[22]`, `[29]`) the L1 of the activations times w and the L1 of
# their gram matrices times w²·5e3, with VGG16's own input map in front.  The notebook's layer
# weights (5, 15, 2) were tuned for batch-normed ImageNet VGG16; on this network the gram terms
# would be the whole loss.  Each term's share on the bicubic validation inputs, with them and
# with the weights used here (chosen in `lessons/README.md`, "The feature loss's layer weights":
# scaled to this VGG16, then to an eighth, where the feature loss sharpens without costing
# PSNR outside the number's box):

# %%
LESSON_WGTS, WGTS = [5, 15, 2], [0.00875, 0.03125, 0.00875]
x_valid = to_tensor(evaluation.inputs, args.device)
y_valid = to_tensor(evaluation.targets, args.device)
print("terms:        pixel feat_0 feat_1 feat_2 gram_0 gram_1 gram_2")
print("the notebook: 0.081 0.124 0.136 0.071 0.159 0.260 0.169  (its last epoch)")
for wgts in (LESSON_WGTS, WGTS):
    probe = FeatureLoss(vgg, [15, 22, 29], wgts, input_map=VGGInput(imagenet_stats))
    with minitorch.no_grad():
        total = probe(x_valid, y_valid).item()
    terms = [probe.metrics[n].item() for n in probe.metric_names]
    shares = " ".join(f"{t / total:.3f}" for t in terms)
    print(f"{str(wgts):13} {shares}  (total {total:.3f})")
    probe.remove()

# %% [markdown]
# The feature-loss U-Net starts from the MSE U-Net.  The notebook first trains a random decoder
# on a frozen pretrained encoder (`freeze()`, `pct_start=0.9`); here both halves come trained
# from the MSE stage, so it goes straight to the notebook's unfrozen stage, with
# discriminative learning rates (the encoder at lr/100), then to the larger size (96 px).  (A
# frozen epoch first cost 4 more minutes and measured no better: `lessons/README.md`, "How
# much feature loss".)
# `LossMetrics` prints each term per epoch.

# %%
start = time.time()
feat_loss = FeatureLoss(vgg, [15, 22, 29], WGTS, input_map=VGGInput(imagenet_stats))
learn = unet_learner(data, small16, pretrained=False, blur=True, norm_type=NormType.Weight,
                     residual=True, keep_grey=imagenet_stats, blur_last_shuffle=True,
                     loss_func=feat_loss, wd=1e-3,
                     callbacks=[LossMetrics(), NumberGap(evaluation, GAPS["U-Net, feature loss"],
                                                         args.device)])
learn.model.load_state_dict(learn_mse.model.state_dict())
lr = 1e-3
learn.fit_one_cycle(EPOCHS_FEAT, slice(lr / 100, lr))
learn.show_results(rows=3, path=OUT / "feat_results_64.png")
learn.data = get_data(96, BS)
learn.fit_one_cycle(EPOCHS_96, slice(1e-6, 1e-4), pct_start=0.3)
learn.recorder.plot_losses(path=OUT / "feat_losses_96.png")
learn.show_results(rows=3, path=OUT / "feat_results_96.png")
save_generator(learn.model, OUT / "models" / "unet_feature_loss.npz", "small16")
RESULTS["U-Net, feature loss"] = evaluation.measure(predictor(learn.model, args.device))
TIMES["feature-loss U-Net"] = time.time() - start

# %% [markdown]
# ## A whole photo, and the number
#
# The U-Net is convolutional: it predicts at any size.  The whole validation photo `chelsea.png`
# (451×300), crappified, restored by both U-Nets, beside the original.  Then the number: the PSNR
# inside its box minus outside it after every epoch (0 would mean it left no trace).

# %%
panels = whole_photo(open_photo("chelsea.png"),
                     {name: predictor(m.model, args.device) for name, m in
                      [("U-Net, MSE", learn_mse), ("U-Net, feature loss", learn)]},
                     OUT / "whole_photo.png", seed=args.seed)
print("whole photo, left to right: " + " | ".join(panels))
fig, ax = plt.subplots(figsize=(6, 4))
ax.axhline(RESULTS["bicubic"]["gap"], color="gray", ls="--", label="bicubic")
n_mse = len(GAPS["U-Net, MSE"])
ax.plot(range(1, n_mse + 1), GAPS["U-Net, MSE"], "o-", label="U-Net, MSE")
ax.plot(range(n_mse + 1, n_mse + len(GAPS["U-Net, feature loss"]) + 1),
        GAPS["U-Net, feature loss"], "s-", label="U-Net, feature loss (from the MSE U-Net)")
ax.set_xlabel("epoch")
ax.set_ylabel("PSNR in the number's box − outside it (dB)")
ax.legend()
finish_figure(fig, OUT / "number_gap.png")
print("box − outside per epoch:", {k: [round(v, 2) for v in g] for k, g in GAPS.items()})

# %% [markdown]
# ## Results
#
# On the validation crops, means over the crops.  What to look for (`lessons/README.md`,
# "Targets"): outside the box the MSE U-Net well above bicubic and the feature-loss U-Net at least
# at bicubic and sharper (sharpness closer to 1.0); no checkerboard (at most 1.5× the
# original's period-2 energy) and no colour added to grey (at most 0.5 grey levels); the number
# going (box − outside within 4 dB).

# %%
tables = results_tables(RESULTS)
print(tables)
last = footer(TIMES, T0, [CREDIT, CREDITS])
print(last)
with atomic_write(OUT / "results.md", "w") as file:
    file.write(tables + "\n\n" + last + "\n")
