"""The super-resolution lesson's U-Net trained in PyTorch beside minitorch's — the same model
from the same weights, the same data and recipe — and then for longer, on more tiles, wider:
how much can this U-Net gain outside the number's box on the lesson's validation crops at all?

Usage:  python benchmarks/superres_in_torch.py [--epochs 5 20 80] [--tiles 32] [--grey 0.25]
            [--channels 16 32 64 128] [--desaturate 0] [--feat-epochs 0] [--feat-wgts W W W]
            [--feat-lr 1e-3] [--threads 1] [--seed 0] [--data DIR] [--save DIR] [--out runs.jsonl]

The target of the lesson (issue 21) is +0.7 dB over bicubic outside the number's box for the MSE
U-Net; the lesson reaches about +0.1 in its 7 epochs.  This asks whether that is the budget or
the task: each ``--epochs`` value is one run of ``fit_one_cycle(epochs, 3e-3)`` (wd 1e-3) from
the same initial weights, measured after every epoch and at the end with the lesson's own
``SuperresEval`` (``minitorch/vision/superres.py``: PSNR and SSIM outside the box, in it, the
checkerboard, the colour added to grey).

* The model is minitorch's ``DynamicUnet`` on ``small_encoder(channels)`` as the lesson builds it
  (``blur=True``, ``NormType.Weight``, ``residual=True``, ``blur_last_shuffle=True``),
  translated to torch by ``bench_superres.py``'s ``torch_unet``, the weights copied across.
* The data: ``crappify_to_folders`` with the lesson's settings (``--tiles`` 128-px tiles per
  training photo, 4 crops of 64 px and one of 96 px each, a share ``--grey`` turned grey: at
  the defaults the lesson's own pairs), the 64-px pairs read into memory; each
  epoch a seeded shuffle, a random flip or quarter turn per pair (fastai's ``dihedral``), batch 8,
  both normalised with ImageNet's statistics, as ``superres_data`` does.
* The recipe: fastai v1's one cycle (``tests/torch_twins.py``'s ``one_cycle``: Adam with betas
  (0.95→0.85→0.95, 0.99), decoupled weight decay on every parameter).
* ``--desaturate P``: a share P of the pairs in each batch moved toward their grey, input and
  target by the same random factor (``desaturate``) — beside ``--grey``'s fixed grey tiles, a
  way to teach that the colour out follows the colour in.
* ``--feat-epochs N``: then N epochs with the feature loss (``bench_superres.py``'s
  ``TorchFeatureLoss``, the layer weights ``--feat-wgts``, by default the lesson's), one cycle
  at ``--feat-lr`` (1e-3).
* ``--save DIR``: each trained U-Net copied back into the minitorch model and saved with
  ``save_generator`` (``python -m minitorch.vision.evaluate_superres DIR/<name>.npz ...``), and
  measured once more through minitorch's own predictor: the two measurements must agree.

Each run prints one JSON line (also appended to ``--out``): the settings, CPU and wall seconds,
the measures at the end (with ``--feat-epochs``, also the MSE U-Net's gain and sharpness before
the feature stage) and PSNR outside the box after every epoch.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import minitorch  # noqa: E402
from minitorch.vision import NormType  # noqa: E402
from minitorch.vision.models import small_encoder  # noqa: E402
from minitorch.vision.models.unet import DynamicUnet  # noqa: E402
from minitorch.vision.superres import (  # noqa: E402
    TRAIN_PHOTOS, VALID_PHOTOS, SuperresEval, crappify_to_folders, open_photo, predictor,
    save_generator)
from tests.torch_twins import BETA2, one_cycle, torch_colour_gated_merge  # noqa: E402

from bench_superres import STATS, TorchFeatureLoss, torch_unet, torch_vgg  # noqa: E402

MEAN, STD = (np.array(v, np.float32).reshape(1, 3, 1, 1) for v in STATS)  # ImageNet's
LUMA = np.array([0.299, 0.587, 0.114], np.float32).reshape(1, 3, 1, 1)  # PIL's "L"
FEAT_WGTS = [0.00875, 0.03125, 0.00875]  # the lesson's feature-loss layer weights


class LumaFeatureLoss(TorchFeatureLoss):
    """The feature loss with VGG16 seeing only the luminance of prediction and target (three
    equal channels): colour is left to the pixel term."""

    def feats(self, x):
        mean, std = torch.from_numpy(MEAN), torch.from_numpy(STD)
        luma = ((x * std + mean) * torch.from_numpy(LUMA)).sum(1, keepdim=True)
        return super().feats((luma.expand(-1, 3, -1, -1) - mean) / std)


class ColourGate(torch.nn.Module):
    """Around the residual U-Net, minitorch's ``keep_grey`` head (``ColourGatedMerge``): the
    correction's colour let through only where the input has colour (min(1, colour / tau));
    ``kernel`` > 1: the input's colour taken as its max over that window."""

    def __init__(self, unet, tau, kernel=1):
        super().__init__()
        self.unet, self.tau, self.kernel = unet, tau, kernel

    def forward(self, x):
        return torch_colour_gated_merge(self.unet(x) - x, x, (MEAN.ravel().tolist(),
                                        STD.ravel().tolist()), self.tau, self.kernel)


def read_pairs(root, size=64):
    """The training pairs under ``root/s<size>`` as two uint8 arrays (N, H, W, 3)."""
    names = sorted((root / f"s{size}" / "lr" / "train").glob("*.png"))
    if not names:
        raise FileNotFoundError(f"no training pairs under {root}/s{size}/lr/train")
    lr = np.stack([np.asarray(Image.open(n).convert("RGB")) for n in names])
    hr = np.stack([np.asarray(Image.open(str(n).replace("/lr/", "/hr/")).convert("RGB"))
                   for n in names])
    return lr, hr


def dihedral(image, k):
    """The k-th of the 8 flips and quarter turns of an (H, W, C) image."""
    image = image[:, ::-1] if k >= 4 else image
    return np.rot90(image, k % 4)


def desaturate(x, y, share, rng):
    """With probability ``share`` per pair, input and target both moved toward their grey by
    the same random factor: Y + s (x − Y), s uniform in [0, 1) (s = 0: grey)."""
    s = np.where(rng.random(len(x)) < share, rng.random(len(x)), 1).astype(np.float32)
    s = s.reshape(-1, 1, 1, 1)
    return tuple((a * LUMA).sum(1, keepdims=True) * (1 - s) + s * a for a in (x, y))


def batches(lr, hr, epochs, bs, rng, desaturate_share=0.0):
    """Shuffled, flipped and turned, normalised batches (torch tensors), ``epochs`` times over."""
    for _ in range(epochs):
        order = rng.permutation(len(lr))
        for i in range(0, len(order) - bs + 1, bs):  # the last part-batch dropped, as fastai
            ks = rng.integers(0, 8, bs)
            x = np.stack([dihedral(lr[j], k) for j, k in zip(order[i:i + bs], ks)])
            y = np.stack([dihedral(hr[j], k) for j, k in zip(order[i:i + bs], ks)])
            x, y = (a.transpose(0, 3, 1, 2) / np.float32(255) for a in (x, y))
            if desaturate_share:
                x, y = desaturate(x, y, desaturate_share, rng)
            yield tuple(torch.from_numpy((a - MEAN) / STD) for a in (x, y))


def torch_predictor(model, bs=8):
    """pixels in [0, 1] → pixels, through the torch U-Net in eval mode."""
    def predict(pixels):
        model.eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(pixels), bs):
                x = torch.from_numpy(((np.asarray(pixels[i:i + bs], np.float32) - MEAN) / STD))
                out.append(np.clip(model(x).numpy() * STD + MEAN, 0, 1))
        model.train()
        return np.concatenate(out)
    return predict


def fit(model, data, epochs, max_lr, wd, loss_func, rng, evaluation, pct_start=0.3,
        desaturate_share=0.0):
    """fastai v1's fit_one_cycle in a plain loop; PSNR outside the box after every epoch."""
    lr_x, hr_x = data
    steps_per_epoch = len(lr_x) // 8
    opt = torch.optim.Adam(model.parameters(), lr=0.0, betas=(0.95, BETA2), eps=1e-8)
    schedule = one_cycle(epochs * steps_per_epoch, max_lr, pct_start)
    curve, model = [], model.train()
    for step, ((xb, yb), (lr, beta1)) in enumerate(zip(
            batches(lr_x, hr_x, epochs, 8, rng, desaturate_share), schedule)):
        for group in opt.param_groups:
            group["lr"], group["betas"] = lr, (beta1, BETA2)
        loss = loss_func(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():  # fastai's true weight decay, every parameter
                p.mul_(1 - lr * wd)
        opt.step()
        if (step + 1) % steps_per_epoch == 0:
            curve.append(round(evaluation.measure(torch_predictor(model))["psnr_out"], 3))
    return curve


def run(args, epochs, data, evaluation, bicubic):
    minitorch.manual_seed(args.seed)
    mt_model = DynamicUnet(small_encoder(channels=tuple(args.channels)), 3, (64, 64), blur=True,
                           norm_type=NormType.Weight, residual=True, blur_last_shuffle=True)
    model = torch_unet(mt_model)
    if args.colour_gate:
        model = ColourGate(model, args.colour_gate, args.gate_kernel)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    cpu, wall = time.process_time(), time.time()
    curve = fit(model, data, epochs, 3e-3, 1e-3, torch.nn.functional.mse_loss, rng, evaluation,
                desaturate_share=args.desaturate)
    before_feat = {}
    if args.feat_epochs:
        mse = evaluation.measure(torch_predictor(model))   # the MSE U-Net, for comparison
        before_feat = dict(mse_gain_out=round(mse["psnr_out"] - bicubic["psnr_out"], 3),
                           mse_sharpness=round(mse["sharpness"], 4))
        loss_class = LumaFeatureLoss if args.feat_luma else TorchFeatureLoss
        loss = loss_class(torch_vgg(), args.feat_wgts)
        if args.grey_stats:  # the VGG input map from these statistics
            mean = torch.tensor([122.67892, 116.66877, 104.00699]).view(1, 3, 1, 1)
            loss.scale = torch.from_numpy(STD) * 255
            loss.shift = torch.from_numpy(MEAN) * 255 - mean
        curve += fit(model, data, args.feat_epochs, args.feat_lr, 1e-3, loss, rng, evaluation,
                     desaturate_share=args.desaturate)
    result = evaluation.measure(torch_predictor(model))
    wgts = "-".join(f"{w:g}" for w in args.feat_wgts)
    name = (f"torch_c{args.channels[0]}_t{args.tiles}_g{args.grey:g}_e{epochs}"
            f"{f'_f{args.feat_epochs}' if args.feat_epochs else ''}"
            f"{'' if args.feat_wgts == FEAT_WGTS else f'_w{wgts}'}"
            f"{'' if args.feat_lr == 1e-3 else f'_flr{args.feat_lr:g}'}"
            f"{f'_d{args.desaturate:g}' if args.desaturate else ''}"
            f"{'_luma' if args.feat_luma else ''}{'_greystats' if args.grey_stats else ''}"
            f"{f'_gate{args.colour_gate:g}k{args.gate_kernel}' if args.colour_gate else ''}"
            f"_s{args.seed}")
    row = dict(name=name, epochs=epochs, feat_epochs=args.feat_epochs, feat_wgts=args.feat_wgts,
               feat_lr=args.feat_lr, tiles=args.tiles,
               grey_tiles=args.grey, desaturate=args.desaturate, channels=args.channels,
               seed=args.seed, pairs=len(data[0]),
               parameters=sum(p.numel() for p in model.parameters()),
               cpu_s=round(time.process_time() - cpu), wall_s=round(time.time() - wall),
               gain_out=round(result["psnr_out"] - bicubic["psnr_out"], 3),
               **{k: round(v, 4) for k, v in result.items()}, **before_feat,
               curve_psnr_out=curve)
    if args.save and not (args.colour_gate or args.grey_stats):  # minitorch's U-Net as the lesson's
        mt_model.load_state_dict({k: v.detach().numpy() for k, v in model.state_dict().items()})
        if tuple(args.channels) == (16, 32, 64, 128):  # the encoder save_generator knows
            save_generator(mt_model, Path(args.save) / f"{name}.npz", "small16")
        again = evaluation.measure(predictor(mt_model.eval()))
        row["minitorch_psnr_out"] = round(again["psnr_out"], 4)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[5, 20, 80])
    parser.add_argument("--tiles", type=int, default=32, help="128-px tiles per training photo")
    parser.add_argument("--grey", type=float, default=0.25, help="share of tiles turned grey")
    parser.add_argument("--channels", type=int, nargs=4, default=[16, 32, 64, 128])
    parser.add_argument("--desaturate", type=float, default=0.0,
                        help="share of pairs moved toward grey by a random factor, each batch")
    parser.add_argument("--feat-epochs", type=int, default=0)
    parser.add_argument("--feat-wgts", type=float, nargs=3, default=FEAT_WGTS,
                        help="the feature loss's layer weights (the lesson's by default)")
    parser.add_argument("--feat-lr", type=float, default=1e-3,
                        help="the feature stage's one-cycle learning rate")
    parser.add_argument("--feat-luma", action="store_true",
                        help="the feature loss's VGG16 sees the luminance only")
    parser.add_argument("--colour-gate", type=float, default=0.0,
                        help="tau of ColourGate around the U-Net (0: none)")
    parser.add_argument("--gate-kernel", type=int, default=1,
                        help="ColourGate: the chroma's max over this window (odd)")
    parser.add_argument("--grey-stats", action="store_true",
                        help="normalise all channels with the same mean and deviation")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default="lesson_output/superres_in_torch")
    parser.add_argument("--save", default=None, help="save each U-Net here (minitorch .npz)")
    parser.add_argument("--out", default=None, help="append each run's JSON line here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.grey_stats:  # one mean and one deviation for all three channels: grey stays grey
        global MEAN, STD
        MEAN, STD = (np.full((1, 3, 1, 1), np.mean(v), np.float32) for v in STATS)
    root = Path(args.data) / f"t{args.tiles}_g{args.grey:g}_s{args.seed}"
    if not (root / "boxes.json").exists():
        crappify_to_folders(root, TRAIN_PHOTOS, tiles_per_photo=args.tiles,
                            crops_per_tile={64: 4, 96: 1}, grey=args.grey, seed=args.seed)
    data = read_pairs(root)
    evaluation = SuperresEval.from_photos([open_photo(name) for name in VALID_PHOTOS])
    bicubic = evaluation.measure()
    print(f"{len(data[0])} training pairs; bicubic outside the box {bicubic['psnr_out']:.3f} dB")
    for epochs in args.epochs:
        row = run(args, epochs, data, evaluation, bicubic)
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as file:
                file.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
