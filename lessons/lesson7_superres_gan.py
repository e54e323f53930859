# %% [markdown]
# # Lesson 7, part 3: super-resolution with a GAN
#
# fast.ai course v3, lesson 7, notebook `lesson7-superres-gan`, reproduced with minitorch on real
# photographs.  Read `lessons/lesson7_superres.py` first (the photos, the crappifier, the U-Net,
# the measures) and `minitorch/vision/gan.py` (GANLearner, the switchers).
#
# The notebook's six steps: (1) pretrain a U-Net generator with a pixel loss (MSE); (2) write its
# outputs for the training images to a folder, `image_gen/`; (3) pretrain a critic to tell those
# from the real images (plain image classification from two folders); (4) train both together as
# a GAN, the generator's loss being the critic's opinion plus 50 × the pixel loss; then look at
# the (5) pictures and — because GAN losses say nothing — (6) numbers: outside the number's box
# first, the sharpness (1.0 = as sharp as the original; bicubic and MSE predictions are blurry,
# below 1), the checkerboard and the colour added to grey, the VGG feature distance.
#
# What differs from the notebook, and why (2 shared CPU cores instead of a GPU, ~15 minutes;
# `lessons/README.md`, "lesson7_superres_gan.py", has the measured steps behind the sizes):
# * Data: 13 training photos cut into 64-px crops of crappified 128-px tiles (the
#   super-resolution lesson's data), validation on its fixed 128-px crops of `chelsea.png` and
#   `coffee.png`.
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
# steps; `--device cuda`) or open it as a notebook.  Figures, the generators and the results go
# to `--out` (default `lesson_output/lesson7_superres_gan/`).

# %%
import argparse
import shutil
import sys
import time
from functools import partial
from pathlib import Path

import minitorch
from minitorch import nn
from minitorch.data import DatasetType
from minitorch.files import atomic_write
from minitorch.learner import Learner
from minitorch.nn import functional as F
from minitorch.optim import Adam
from minitorch.vision import (
    AdaptiveGANSwitcher, AdaptiveLoss, GANDiscriminativeLR, GANLearner, ImageList, NormType,
    accuracy_thresh_expand, get_transforms, imagenet_stats, unet_learner)
from minitorch.vision.models import CREDIT, gan_critic, small16, vgg16_features
from minitorch.vision.photos import CREDITS
from minitorch.vision.save_preds import save_preds
from minitorch.vision.superres import (
    TRAIN_PHOTOS, VALID_PHOTOS, SuperresEval, crappify_to_folders, footer, load_generator,
    open_photo, predictor, results_tables, save_generator, superres_data, whole_photo)

parser = argparse.ArgumentParser(description="Lesson 7: super-resolution with a GAN")
parser.add_argument("--quick", action="store_true",
                    help="a few crops and one short epoch per stage (the test suite's run)")
parser.add_argument("--device", default=None, help="'cpu' or 'cuda' (default: $MINITORCH_DEVICE)")
parser.add_argument("--out", default="lesson_output/lesson7_superres_gan",
                    help="folder for the data, the models, the figures and the results table")
parser.add_argument("--superres-out", default="lesson_output/lesson7_superres",
                    help="the super-resolution lesson's --out: its feature-loss U-Net is compared "
                         "when models/unet_feature_loss.npz is there")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
OUT = Path(args.out)
OUT.mkdir(parents=True, exist_ok=True)
print(f"figures and results go to {OUT}/")
T0, TIMES = time.time(), {}

# Sizes, chosen from per-step times measured on the 2-core machine (lessons/README.md).
if args.quick:
    TRAIN, TILES, CROPS, VALID_CROPS, BS = TRAIN_PHOTOS[:3], 1, 2, 1, 4
    GEN_EPOCHS, CRIT_EPOCHS, GAN_EPOCHS = (1, 1), 1, 1
else:
    TRAIN, TILES, CROPS, VALID_CROPS, BS = TRAIN_PHOTOS, 16, 4, 4, 8
    # The critic gets most of the time: spectral-normed, it needs ~1,000 steps before it tells
    # the generator's outputs from the originals at all (PyTorch's twin too; lessons/README.md).
    GEN_EPOCHS, CRIT_EPOCHS, GAN_EPOCHS = (2, 3), 15, 4

# %% [markdown]
# ## Crappified data
#
# As in the super-resolution lesson (`crappify_to_folders`): 128-px tiles of the training
# photos, each crappified (half size, a number written in, JPEG of that quality, bicubic back to
# full size), then 64-px crops of the pairs, written once under `OUT/data/s64/`: `lr/` inputs,
# `hr/` targets, `train/` and `valid/` inside; the notebook's data block on them.  The validation
# crops are measured as in that lesson (`SuperresEval`).

# %%
start = time.time()
ROOT = OUT / "data"
crappify_to_folders(ROOT, TRAIN, tiles_per_photo=TILES, crops_per_tile={64: CROPS},
                    valid_crops=VALID_CROPS, seed=args.seed)
data_gen = superres_data(ROOT, 64, BS, device=args.device, seed=args.seed)
print(data_gen)
vgg = vgg16_features(upto=30)
if args.device:
    vgg = vgg.to(args.device)
evaluation = SuperresEval.from_photos([open_photo(name) for name in VALID_PHOTOS],
                                      count=VALID_CROPS, features=vgg)
RESULTS = {"bicubic": evaluation.measure()}
TIMES["data"] = time.time() - start

# %% [markdown]
# ## 1. The generator, pretrained with MSE
#
# `unet_learner(data_gen, arch, wd=1e-3, blur=True, norm_type=NormType.Weight,
# self_attention=True, ..., loss_func=MSELossFlat())` as in the notebook (see the top for the
# encoder and the residual head).  Then `fit_one_cycle(2, pct_start=0.8)`, unfreeze,
# `fit_one_cycle(3, slice(1e-6, 1e-3))`, and save it.

# %%
start = time.time()
minitorch.manual_seed(args.seed)
learn_gen = unet_learner(data_gen, small16, pretrained=False, blur=True, norm_type=NormType.Weight,
                         self_attention=True, residual=True, loss_func=F.mse_loss, wd=1e-3,
                         path=OUT)
print(f"generator: {sum(p.numel() for p in learn_gen.model.parameters()):,} parameters")
learn_gen.fit_one_cycle(GEN_EPOCHS[0], 3e-3, pct_start=0.8)
learn_gen.unfreeze()
learn_gen.fit_one_cycle(GEN_EPOCHS[1], slice(1e-6, 1e-3))
learn_gen.show_results(rows=4, path=OUT / "gen_mse_results.png")
learn_gen.save("gen-pre2")
save_generator(learn_gen.model, OUT / "models" / "generator_mse.npz", "small16")
RESULTS["generator, MSE"] = evaluation.measure(predictor(learn_gen.model, args.device))
WHOLE = {"generator, MSE": predictor(load_generator(OUT / "models" / "generator_mse.npz",
                                                    args.device), args.device)}
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
for path in sorted((ROOT / "s64" / "hr" / "train").iterdir()):
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
             .transform(get_transforms(max_zoom=2.), size=64)
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
save_generator(learn_gen.model, OUT / "models" / "generator_gan.npz", "small16")
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
RESULTS["generator, GAN"] = evaluation.measure(predictor(learn_gen.model, args.device))
FEATURE_UNET = Path(args.superres_out) / "models" / "unet_feature_loss.npz"
if FEATURE_UNET.exists():
    WHOLE["U-Net, feature loss"] = predictor(load_generator(FEATURE_UNET, args.device),
                                             args.device)
    RESULTS["U-Net, feature loss"] = evaluation.measure(WHOLE["U-Net, feature loss"])
else:
    print(f"no {FEATURE_UNET}: the feature-loss U-Net is left out of the comparison")
WHOLE["generator, GAN"] = predictor(learn_gen.model, args.device)
panels = whole_photo(open_photo("chelsea.png"), WHOLE, OUT / "whole_photo.png", seed=args.seed)
print("whole photo, left to right: " + " | ".join(panels))
TIMES["5. pictures"] = time.time() - start

# %% [markdown]
# ## 6. Numbers
#
# On the validation crops, means over the crops.  What to look for (`lessons/README.md`): the
# critic accurate after pretraining (the notebook's: 0.976); the GAN generator sharper than the
# MSE generator (sharpness closer to 1.0) with a lower feature distance, its PSNR outside the box
# within 1.5 dB of the MSE generator's; no checkerboard and no colour added to grey.

# %%
tables = results_tables(RESULTS)
print(tables)
mse, gan = RESULTS["generator, MSE"], RESULTS["generator, GAN"]
checks = [f"critic accuracy after pretraining {CRITIC_ACCURACY:.3f} (the notebook: 0.976)",
          f"sharpness: GAN {gan['sharpness']:.3f} vs MSE {mse['sharpness']:.3f} (GAN closer to "
          f"1.0: {'yes' if abs(gan['sharpness'] - 1) < abs(mse['sharpness'] - 1) else 'no'})",
          f"feature distance: GAN {gan['features']:.4f} vs MSE {mse['features']:.4f} (GAN lower: "
          f"{'yes' if gan['features'] < mse['features'] else 'no'})",
          f"PSNR outside the box: GAN {gan['psnr_out']:.2f} dB vs MSE {mse['psnr_out']:.2f} dB "
          f"(within 1.5 dB: {'yes' if mse['psnr_out'] - gan['psnr_out'] <= 1.5 else 'no'})"]
print("\n".join(checks))
last = footer(TIMES, T0, [CREDIT, CREDITS])
print(last)
with atomic_write(OUT / "results.md", "w") as file:
    file.write(tables + "\n\n" + "\n".join(checks) + "\n\n" + last + "\n")
