"""Which recipe makes the super-resolution U-Net resolve, for the same training budget?

Usage:  python benchmarks/superres_recipes.py --variants base blur weight ... [--budget 240]
                                              [--feat-budget 0] [--out recipes.jsonl]

Each variant trains the lessons' U-Net with MSE (and then, with ``--feat-budget``, with the
feature loss, from the MSE weights) for the same number of **CPU seconds** (``time.process_time``
of this process — the machine is shared, so wall time would measure the neighbours), and is
measured on the lessons' validation crops by ``minitorch.vision.superres.SuperresEval``: PSNR
and SSIM outside the number's box first, then inside it, the sharpness, the checkerboard, the
colour added to grey.  How the budget becomes epochs: three training steps are timed (CPU) after
one to warm up, then the fit gets the whole number of epochs nearest to the budget (at least
one); the table gives the CPU seconds the fit really took.

The variants (``VARIANTS``) change one thing at a time from the lesson's recipe before this
comparison (``base``: small16 encoder from scratch, batchnorm, no blur, 8 tiles × 4 crops of
64 px per photo, left-right flips):

* ``blur``: ``blur=True`` in the pixel shuffles (Sugawara et al.'s fix for the checkerboard);
* ``weight``: blur and ``NormType.Weight`` (the notebook's decoder);
* ``data32``, ``dihedral``, ``scales``: more data from the 13 photos (4× the tiles; all 8 flips
  and quarter turns; the photos also at half and three-quarter size); ``weight_*``: the
  notebook's decoder with more data (``weight_grey``: a quarter of the tiles turned grey;
  ``weight_grey_last``: and the last pixel shuffle blurred too, ``blur_last_shuffle=True``);
* ``vgg2``, ``vgg3``: the pretrained VGG16 cut after block 2 (relu2_2) or block 3 (relu3_3) as the
  encoder, frozen for half the budget, then unfrozen (as the notebook does with its ResNet-34);
* with ``--feat-budget``, feature-loss stages (``FEAT_VARIANTS``: the layer weights, the
  learning rate) each trained from the same MSE weights (``--models`` keeps them).

The crappified data of each data recipe is written once under ``--data`` and reused.
"""
import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import minitorch  # noqa: E402
from minitorch import nn  # noqa: E402
from minitorch.nn import functional as F  # noqa: E402
from minitorch.vision import NormType, dihedral, flip_lr, imagenet_stats, unet_learner  # noqa: E402
from minitorch.vision.feature_loss import FeatureLoss  # noqa: E402
from minitorch.vision.models import VGGInput, small16, vgg16_features  # noqa: E402
from minitorch.vision.superres import (  # noqa: E402
    VALID_PHOTOS, SuperresEval, crappify_to_folders, open_photo, predictor, results_tables,
    save_generator, superres_data)


def vgg16_cut(upto):
    """The pretrained VGG16's first ``upto`` layers (9: to relu2_2; 16: to relu3_3) after its
    input map, trainable (``unet_learner`` freezes it first)."""
    def arch(pretrained=True):
        features = vgg16_features(pretrained=pretrained, upto=upto).requires_grad_(True)
        return nn.Sequential(VGGInput(), *features.children())
    arch.__name__ = f"vgg16_upto{upto}"
    return arch


BASE = dict(tiles=8, scales=(1.0,), grey=0.0, tfms="flip", arch="small16", norm="Batch", blur=False,
            lr=3e-3, bs=8, wd=1e-3, self_attention=False, blur_last_shuffle=False,
            feat=dict(layers=[15, 22, 29], wgts=[0.07, 0.25, 0.07], lr=1e-3))
VARIANTS = {
    "base": {},
    "blur": dict(blur=True),
    "weight": dict(blur=True, norm="Weight"),
    "weight_nb": dict(norm="Weight"),
    "data32": dict(tiles=32),
    "dihedral": dict(tiles=32, tfms="dihedral"),
    "scales": dict(tiles=16, scales=(1.0, 0.75, 0.5), tfms="dihedral"),
    "weight_data": dict(blur=True, norm="Weight", tiles=32, tfms="dihedral"),
    "weight_scales": dict(blur=True, norm="Weight", tiles=16, scales=(1.0, 0.5), tfms="dihedral"),
    "weight_grey": dict(blur=True, norm="Weight", tiles=32, tfms="dihedral", grey=0.25),
    "weight_grey_last": dict(blur=True, norm="Weight", tiles=32, tfms="dihedral", grey=0.25,
                             blur_last_shuffle=True),
    "vgg2": dict(arch="vgg2", lr=1e-3),
    "vgg3": dict(arch="vgg3", lr=1e-3),
}
# The feature-loss stage's settings (from the MSE U-Net's weights, unfrozen, one cycle): the
# layer weights w (feature terms grow as w, gram terms as w²).
FEAT_VARIANTS = {
    "lesson": {},
    "half": dict(wgts=[0.035, 0.125, 0.035]),
    "quarter": dict(wgts=[0.0175, 0.0625, 0.0175]),
    "lr3e-4": dict(lr=3e-4),
}
ARCHS = {"small16": (small16, False), "vgg2": (vgg16_cut(9), True), "vgg3": (vgg16_cut(16), True)}


def recipe(name):
    spec = {**BASE, **VARIANTS[name.split("+")[0]]}
    for extra in name.split("+")[1:]:  # "weight+lr1e-3" style overrides
        key, value = extra.split("=")
        spec[key] = json.loads(value)
    return spec


def data_root(base, spec):
    scales = "-".join(f"{s:g}" for s in spec["scales"])
    grey = f"_g{spec['grey']:g}" if spec["grey"] else ""
    return Path(base) / f"t{spec['tiles']}_s{scales}{grey}"


def cpu_per_step(learn, n=3):
    """CPU seconds of one training step (median of ``n`` after one to warm up), on a copy of the
    weights: the fit after it starts from the same model."""
    state = {k: v.detach().clone() for k, v in learn.model.state_dict().items()}
    learn.create_opt(1e-4)
    xb, yb = learn.data.one_batch()
    times = []
    for _ in range(n + 1):
        start = time.process_time()
        loss = learn.loss_func(learn.model(xb), yb)
        loss.backward()
        learn.opt.step()
        learn.opt.zero_grad()
        times.append(time.process_time() - start)
    learn.model.load_state_dict(state)
    learn.opt = None
    return float(np.median(times[1:]))


def fit_for(learn, budget, lr, pretrained, pct_start=0.3):
    """Whole epochs nearest to ``budget`` CPU seconds; a pretrained encoder gets half frozen
    (``pct_start=0.9``), half unfrozen (``slice(lr / 100, lr)``)."""
    n_batches = len(learn.data.train_dl)
    if pretrained:
        frozen = cpu_per_step(learn)
        learn.unfreeze()
        unfrozen = cpu_per_step(learn)
        learn.freeze()
        halves = max(1, round(budget / ((frozen + unfrozen) * n_batches)))
        start = time.process_time()
        learn.fit_one_cycle(halves, lr, pct_start=0.9)
        learn.unfreeze()
        learn.fit_one_cycle(halves, slice(lr / 100, lr))
        return dict(epochs=2 * halves, steps=2 * halves * n_batches,
                    cpu_step=(frozen + unfrozen) / 2, cpu=time.process_time() - start)
    per_step = cpu_per_step(learn)
    epochs = max(1, round(budget / (per_step * n_batches)))
    start = time.process_time()
    learn.fit_one_cycle(epochs, lr, pct_start=pct_start)
    return dict(epochs=epochs, steps=epochs * n_batches, cpu_step=per_step,
                cpu=time.process_time() - start)


def run(name, args, evaluation):
    spec = recipe(name)
    root = data_root(args.data, spec)
    if not (root / "boxes.json").exists():
        crappify_to_folders(root, tiles_per_photo=spec["tiles"], scales=tuple(spec["scales"]),
                            grey=spec["grey"], seed=args.seed)
    tfms = [flip_lr(p=0.5)] if spec["tfms"] == "flip" else [dihedral()]
    data = superres_data(root, 64, spec["bs"], tfms=tfms, seed=args.seed)
    arch, pretrained = ARCHS[spec["arch"]]
    minitorch.manual_seed(args.seed)
    learn = unet_learner(data, arch, pretrained=pretrained, norm_type=NormType[spec["norm"]],
                         blur=spec["blur"], self_attention=spec["self_attention"], residual=True,
                         blur_last_shuffle=spec["blur_last_shuffle"],
                         loss_func=F.mse_loss, wd=spec["wd"],
                         **({} if arch is small16 else dict(cut=lambda m: m,
                                                             split_on=lambda m: (m[1],))))
    n_params = sum(p.numel() for p in learn.model.parameters())
    saved = Path(args.models) / f"{name}.npz" if args.models else None
    if saved is not None and saved.exists():  # trained before: measure the feature stages only
        learn.model.load_state_dict(minitorch.load(saved)["model"])
        rows = {}
    else:
        fit = fit_for(learn, args.budget, spec["lr"], pretrained)
        rows = {"MSE": dict(evaluation.measure(predictor(learn.model)), **fit)}
        if saved is not None and arch is small16:
            save_generator(learn.model, saved, "small16")
    mse_state = {k: v.detach().clone() for k, v in learn.model.state_dict().items()}
    for feat_name in (args.feat_variants if args.feat_budget else []):
        feat = {**spec["feat"], **FEAT_VARIANTS[feat_name]}
        learn.model.load_state_dict(mse_state)
        loss = FeatureLoss(evaluation.distance.features, feat["layers"], feat["wgts"],
                           input_map=VGGInput(imagenet_stats))
        learn.loss_func = loss
        fit2 = fit_for(learn, args.feat_budget, feat["lr"], pretrained=False, pct_start=0.3)
        rows[f"feature loss {feat_name}"] = dict(evaluation.measure(predictor(learn.model)),
                                                 **fit2)
        loss.remove()
    return spec, n_params, rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["base"])
    parser.add_argument("--budget", type=float, default=240, help="CPU seconds of MSE training")
    parser.add_argument("--feat-budget", type=float, default=0,
                        help="CPU seconds of feature-loss training after it (0: none)")
    parser.add_argument("--feat-variants", nargs="+", default=["lesson"],
                        choices=list(FEAT_VARIANTS), help="feature-loss stages to compare")
    parser.add_argument("--models", default=None,
                        help="save each MSE U-Net here (and reuse it when it is there)")
    parser.add_argument("--data", default="lesson_output/superres_recipes",
                        help="where each data recipe's crappified pairs are written")
    parser.add_argument("--out", default=None, help="append one JSON line per variant here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    evaluation = SuperresEval.from_photos([open_photo(n) for n in VALID_PHOTOS],
                                          features=vgg16_features(upto=30))
    results = {"bicubic": evaluation.measure()}
    print(results_tables(results), flush=True)
    for name in args.variants:
        spec, n_params, rows = run(name, args, evaluation)
        for stage, row in rows.items():
            label = f"{name} ({stage})"
            results[label] = row
            print(f"\n{label}: {n_params:,} parameters, {row['epochs']} epochs, {row['steps']} "
                  f"steps, {row['cpu_step']:.2f} CPU s/step, {row['cpu']:.0f} CPU s", flush=True)
            if args.out:
                with open(args.out, "a") as file:
                    file.write(json.dumps({"variant": name, "stage": stage, "spec": spec,
                                           "params": n_params, "budget": args.budget,
                                           "feat_budget": args.feat_budget, **row}) + "\n")
        print(results_tables(results), flush=True)


if __name__ == "__main__":
    main()
