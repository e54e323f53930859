"""The super-resolution lesson's feature-loss stage alone, from the lesson's own trained MSE U-Net:
which layer weights and which stages keep it at bicubic outside the number's box, sharper than
the MSE U-Net, and at what cost in CPU seconds?

Usage:  python benchmarks/superres_feature_stage.py LESSON_OUT [--wgts 0.00875 0.03125 0.00875]
            [--lr 1e-3] [--frozen 0] [--unfrozen 1] [--at96 1] [--seed 0] [--out runs.jsonl]

``LESSON_OUT`` is the ``--out`` folder of a full run of ``lessons/lesson7_superres.py``: its
crappified pairs (``data/``) and its MSE U-Net (``models/unet_mse.npz``) are read from there, so
every variant starts where the lesson's feature stage starts.  The stage is the lesson's (the
defaults): the feature loss (VGG16's relu3_3, relu4_3, relu5_3; layer weights ``--wgts``),
``--unfrozen`` epochs of everything (``slice(lr / 100, lr)``), ``--at96`` epochs on the 96-px
crops (``slice(1e-6, 1e-4)``, ``pct_start=0.3``); before them ``--frozen`` epochs of the decoder
alone (one cycle, ``pct_start=0.9``: the notebook's first stage, which the lesson leaves out);
0 skips a stage.  ``--seed`` moves the order of the batches and their flips and turns.  At the
end the lesson's ``SuperresEval`` measures the U-Net on the validation crops.  One JSON line
(also appended to ``--out``): the settings, the CPU seconds of the whole stage and of each epoch
(``time.process_time``: the machine is shared), PSNR outside the box against bicubic, the
sharpness, the checkerboard, the colour on grey, box − outside after every epoch.
"""
import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import minitorch  # noqa: E402
from minitorch.learner import Callback  # noqa: E402
from minitorch.vision import NormType, dihedral, imagenet_stats, unet_learner  # noqa: E402
from minitorch.vision.feature_loss import FeatureLoss  # noqa: E402
from minitorch.vision.models import VGGInput, small16, vgg16_features  # noqa: E402
from minitorch.vision.superres import (  # noqa: E402
    VALID_PHOTOS, NumberGap, SuperresEval, open_photo, predictor, superres_data)

LESSON_WGTS = [0.00875, 0.03125, 0.00875]  # the lesson's layer weights


class EpochCPU(Callback):
    """CPU seconds of every epoch, appended to ``seconds``."""

    def __init__(self, seconds):
        self.seconds = seconds

    def begin_epoch(self):
        self.start = time.process_time()

    def after_epoch(self):
        self.seconds.append(round(time.process_time() - self.start, 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lesson_out", type=Path, help="a full run's --out folder")
    parser.add_argument("--wgts", type=float, nargs=3, default=LESSON_WGTS)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--frozen", type=int, default=0)
    parser.add_argument("--unfrozen", type=int, default=1)
    parser.add_argument("--at96", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="append the JSON line here")
    args = parser.parse_args()
    root, saved = args.lesson_out / "data", args.lesson_out / "models" / "unet_mse.npz"
    if not saved.exists() or not (root / "boxes.json").exists():
        raise SystemExit(f"{args.lesson_out} holds no lesson run: expected {saved} and "
                         f"{root / 'boxes.json'} (run lessons/lesson7_superres.py --out there)")

    def get_data(size):
        return superres_data(root, size, 8, tfms=[dihedral()], seed=args.seed)

    vgg = vgg16_features(upto=30)
    evaluation = SuperresEval.from_photos([open_photo(name) for name in VALID_PHOTOS], count=4,
                                          features=vgg)
    bicubic = evaluation.measure()
    gaps, seconds = [], []
    minitorch.manual_seed(args.seed)
    loss = FeatureLoss(vgg, [15, 22, 29], args.wgts, input_map=VGGInput(imagenet_stats))
    learn = unet_learner(get_data(64), small16, pretrained=False, blur=True,
                         norm_type=NormType.Weight, residual=True, keep_grey=imagenet_stats,
                         blur_last_shuffle=True, loss_func=loss, wd=1e-3,
                         callbacks=[NumberGap(evaluation, gaps), EpochCPU(seconds)])
    learn.model.load_state_dict(minitorch.load(saved)["model"])
    start = time.process_time()
    if args.frozen:
        learn.freeze()
        learn.fit_one_cycle(args.frozen, args.lr, pct_start=0.9)
    learn.unfreeze()
    if args.unfrozen:
        learn.fit_one_cycle(args.unfrozen, slice(args.lr / 100, args.lr))
    if args.at96:
        learn.data = get_data(96)
        learn.fit_one_cycle(args.at96, slice(1e-6, 1e-4), pct_start=0.3)
    cpu = time.process_time() - start
    result = evaluation.measure(predictor(learn.model))
    row = dict(wgts=args.wgts, lr=args.lr, frozen=args.frozen, unfrozen=args.unfrozen,
               at96=args.at96, seed=args.seed, cpu_s=round(cpu), epoch_cpu_s=seconds,
               gain_out=round(result["psnr_out"] - bicubic["psnr_out"], 3),
               **{k: round(v, 4) for k, v in result.items()},
               gap_per_epoch=[round(g, 2) for g in gaps])
    line = json.dumps(row)
    print(line)
    if args.out:
        with open(args.out, "a") as file:
            file.write(line + "\n")


if __name__ == "__main__":
    main()
