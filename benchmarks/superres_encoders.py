"""Which encoder should the super-resolution lesson's U-Net have, in the lesson's time?

Usage:  python benchmarks/superres_encoders.py --data lesson_output/lesson7_superres/data
                                               [--minutes 4] [--encoders small16 resnet18 vgg16]

The issue asks for the pretrained VGG16 (frozen first, then unfrozen, as the notebook does with
its pretrained ResNet-34) and a ResNet from random weights to be tried, and for the lesson to use
the one that gives the better result in the time.  This script gives each encoder the same wall
time on the lesson's own data (the ``data/s64`` folder that ``lessons/lesson7_superres.py``
writes; run the lesson first) and measures what each U-Net reaches on the validation crops.

Every U-Net is the lesson's: fastai's DynamicUnet, batchnorm in the decoder, minitorch's global
residual head (the untrained model is bicubic), MSE loss, wd 1e-3, batch 8, 64-px crops.

* ``small16`` — the lesson's encoder (16, 32, 64, 128 channels, random weights), lr 3e-3;
* ``resnet18`` — torchvision's ResNet-18 from random weights, lr 3e-3;
* ``vgg16`` — the pretrained VGG16 of ``$MINITORCH_MODELS`` (``unet_learner(data, vgg16,
  pretrained=True)``: the VGG input map in front), lr 1e-3 as the notebook's pretrained
  encoder: half the epochs frozen (``pct_start=0.9``), half unfrozen with ``slice(1e-5, 1e-3)``.

How the time is shared: three training steps are timed first (frozen and unfrozen for VGG16),
then each encoder gets as many whole epochs as fit in ``--minutes`` (at least one).  The table:
epochs, steps, the measured training time, validation PSNR (mean over the crops) and its gain
over bicubic, and the PSNR in the drawn number's box minus elsewhere (0 = the number is gone).
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

import minitorch
from minitorch import backend
from minitorch.data import DatasetType
from minitorch.nn import functional as F
from minitorch.vision import ImageImageList, NormType, flip_lr, imagenet_stats, unet_learner
from minitorch.vision.models import resnet18, small_encoder, vgg16
from minitorch.vision.quality import psnr, psnr_in_box, psnr_outside_box

M, S = (np.array(v, dtype=np.float32).reshape(1, 3, 1, 1) for v in imagenet_stats)


def small16(pretrained=False):
    """The lesson's encoder (``lessons/lesson7_superres.py``)."""
    return small_encoder(pretrained, channels=(16, 32, 64, 128))


ENCODERS = {  # name: (arch, pretrained, extra unet_learner arguments, lr)
    "small16": (small16, False, dict(cut=lambda m: m, split_on=lambda m: (m[0][4], m[1])), 3e-3),
    "resnet18": (resnet18, False, {}, 3e-3),
    "vgg16": (vgg16, True, {}, 1e-3),
}


def get_data(root, seed):
    path_lr, path_hr = root / "s64" / "lr", root / "s64" / "hr"
    return (ImageImageList.from_folder(path_lr).split_by_folder()
            .label_from_func(lambda x: path_hr / x.relative_to(path_lr))
            .transform(([flip_lr(p=0.5)], []), tfm_y=True)
            .databunch(bs=8, val_bs=8, seed=seed)
            .normalize(imagenet_stats, do_y=True))


def to_pixels(t):
    return np.clip(backend.to_numpy(t.array) * S + M, 0, 1)


def step_seconds(learn, n=3):
    """Seconds per training step (forward, loss, backward, Adam), from ``n`` steps after one to
    warm up, on copies of the weights so that the run after it starts from the same model."""
    state = {k: v.detach().clone() for k, v in learn.model.state_dict().items()}
    learn.create_opt(1e-4)
    xb, yb = learn.data.one_batch()
    times = []
    for _ in range(n + 1):
        start = time.perf_counter()
        loss = learn.loss_func(learn.model(xb), yb)
        loss.backward()
        learn.opt.step()
        learn.opt.zero_grad()
        times.append(time.perf_counter() - start)
    learn.model.load_state_dict(state)
    learn.opt = None
    return float(np.median(times[1:]))


def train(name, data, minutes, seed):
    arch, pretrained, extra, lr = ENCODERS[name]
    minitorch.manual_seed(seed)
    learn = unet_learner(data, arch, pretrained=pretrained, norm_type=NormType.Batch,
                         residual=True, loss_func=F.mse_loss, wd=1e-3, **extra)
    n_batches = len(data.train_dl)
    if pretrained:  # frozen now (unet_learner freezes a pretrained body)
        frozen = step_seconds(learn)
        learn.unfreeze()
        unfrozen = step_seconds(learn)
        learn.freeze()
        per_epoch_pair = (frozen + unfrozen) * n_batches
        halves = max(1, int(minutes * 60 // per_epoch_pair))
        print(f"{name}: {frozen:.2f} s per frozen step, {unfrozen:.2f} s unfrozen; "
              f"{halves} + {halves} epochs", flush=True)
        start = time.perf_counter()
        learn.fit_one_cycle(halves, lr, pct_start=0.9)
        learn.unfreeze()
        learn.fit_one_cycle(halves, slice(lr / 100, lr))
        epochs = 2 * halves
    else:
        per_step = step_seconds(learn)
        epochs = max(1, int(minutes * 60 // (per_step * n_batches)))
        print(f"{name}: {per_step:.2f} s per step; {epochs} epochs", flush=True)
        start = time.perf_counter()
        learn.fit_one_cycle(epochs, lr)
    seconds = time.perf_counter() - start
    preds, targets = learn.get_preds(DatasetType.Valid)
    n_params = sum(p.numel() for p in learn.model.parameters())
    return learn, epochs, epochs * n_batches, seconds, n_params, to_pixels(preds), to_pixels(targets)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="the super-resolution lesson's OUT/data")
    parser.add_argument("--minutes", type=float, default=4.0, help="training time per encoder")
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=list(ENCODERS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    root = Path(args.data)
    boxes = json.loads((root / "boxes.json").read_text())
    data = get_data(root, args.seed)
    # "valid/<name>.png" (the items' paths below the lr folder): the keys of boxes.json
    items = [p.relative_to(data.valid_ds.path).as_posix() for p in data.valid_ds.x.items]

    def scores(preds, targets):
        return (np.mean([psnr(p, t) for p, t in zip(preds, targets)]),
                np.mean([psnr_in_box(p, t, boxes[i]) - psnr_outside_box(p, t, boxes[i])
                         for i, p, t in zip(items, preds, targets)]))

    inputs = np.concatenate([to_pixels(xb) for xb, _ in data.valid_dl])
    targets = np.concatenate([to_pixels(yb) for _, yb in data.valid_dl])
    bicubic, bicubic_gap = scores(inputs, targets)
    rows = [f"| bicubic | — | — | — | — | {bicubic:.2f} | — | {bicubic_gap:.2f} |"]
    for name in args.encoders:
        _, epochs, steps, seconds, n_params, preds, targets = train(name, data, args.minutes,
                                                                    args.seed)
        value, gap = scores(preds, targets)
        rows.append(f"| {name} | {n_params:,} | {epochs} | {steps} | {seconds:.0f} | {value:.2f} "
                    f"| {value - bicubic:+.2f} | {gap:.2f} |")
        print(rows[-1], flush=True)
    print(f"\n{args.minutes:g} minutes of training per encoder (whole epochs), seed {args.seed}\n")
    print("| encoder | parameters | epochs | steps | training s | PSNR dB | vs bicubic | "
          "number box − elsewhere dB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
