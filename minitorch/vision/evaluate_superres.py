"""Try the super-resolution lessons' models on your own photos.  Read ``vision/superres.py``
(``SuperresEval``, ``save_generator``) first.

    python -m minitorch.vision.evaluate_superres MODEL.npz [MODEL.npz ...] PHOTO [PHOTO ...]
                                                 [--size 256] [--seed 0] [--out DIR]

Each photo is crappified as the lessons' data is (``crappify``: half size, a number written in,
JPEG of that quality, bicubic back to full size), with a fixed seed per photo (``--seed`` plus
its place in the list), so two runs — and two people — measure the same inputs.  Every model
(a ``.npz`` written by ``save_generator``: the lessons save each trained U-Net that way) restores
them, and the table compares them with bicubic (the crappified input itself): PSNR and SSIM
outside the number's box first, then inside it and on the whole photo, then the sharpness,
the checkerboard and the colour a model adds to the photo turned grey (``SuperresEval``).
``--size`` measures a centred square of that size instead of the whole photo (large photos
take long); either way the sides are trimmed to multiples of 16 (VGG16's feature distance needs
them).  ``--out`` writes, for each photo, the crappified input, each model's restoration and
the original side by side.
"""
import argparse
import sys
from pathlib import Path

import numpy  # host-side: seeds
from PIL import Image

from minitorch.vision.crappify import crappify
from minitorch.vision.models import vgg16_features
from minitorch.vision.superres import (
    SuperresEval, grey_photo, load_generator, predictor, results_tables, save_png)


def centred(photo, size=None):
    """The centred ``size``-px square of ``photo`` (or the whole photo), its sides trimmed to
    multiples of 16."""
    w, h = photo.size
    if size is not None:
        w, h = min(w, size), min(h, size)
    w, h = w // 16 * 16, h // 16 * 16
    if min(w, h) < 16:
        raise ValueError(f"evaluate_superres: a photo of {photo.size} is too small (at least "
                         "16 × 16 px)")
    x, y = (photo.width - w) // 2, (photo.height - h) // 2
    return photo.crop((x, y, x + w, y + h))


def crappified_pairs(photos, seed=0):
    """``[(input, target, box)]`` and the grey inputs: photo ``k`` crappified with the seed
    ``seed + k`` (its grey copy with the same seed: the same number and quality)."""
    pairs, grey = [], []
    for k, photo in enumerate(photos):
        damaged, info = crappify(photo, scale=2, rng=numpy.random.default_rng(seed + k),
                                 return_info=True)
        pairs.append((damaged, photo, info["box"]))
        grey.append(crappify(grey_photo(photo), scale=2, rng=numpy.random.default_rng(seed + k)))
    return pairs, grey


def evaluate(model_paths, photo_paths, size=None, seed=0, out=None, features=True, device=None):
    """The tables for bicubic and each model on the photos (means over the photos); returns
    ``{name: measures}``."""
    photos = [centred(Image.open(path).convert("RGB"), size) for path in photo_paths]
    pairs, grey = crappified_pairs(photos, seed)
    evaluation = SuperresEval(pairs, grey, vgg16_features(upto=30) if features else None)
    predicts = {Path(path).stem: predictor(load_generator(path, device), device)
                for path in model_paths}
    results = {"bicubic": evaluation.measure()}
    for name, predict in predicts.items():
        results[name] = evaluation.measure(predict)
    if out is not None:
        for path, (damaged, photo, _), x in zip(photo_paths, pairs, evaluation.inputs):
            panels = [damaged] + [Image.fromarray((predict(x[None])[0].transpose(1, 2, 0) * 255)
                                                  .round().astype(numpy.uint8))
                                  for predict in predicts.values()] + [photo]
            side_by_side = Image.new("RGB", (photo.width * len(panels), photo.height))
            for i, image in enumerate(panels):
                side_by_side.paste(image, (i * photo.width, 0))
            save_png(side_by_side, Path(out) / f"{Path(path).stem}_restored.png")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m minitorch.vision.evaluate_superres",
        description="Crappify photos with fixed seeds and measure bicubic and the given "
                    "super-resolution models on them (outside the number's box first).")
    parser.add_argument("files", nargs="+", metavar="MODEL.npz | PHOTO",
                        help="models (.npz, written by save_generator) and photos (any image)")
    parser.add_argument("--size", type=int, default=None,
                        help="measure a centred square of this many pixels of each photo")
    parser.add_argument("--seed", type=int, default=0, help="photo k is crappified with seed + k")
    parser.add_argument("--out", default=None, help="write the side-by-side pictures here")
    parser.add_argument("--no-features", action="store_true",
                        help="leave out the VGG16 feature distance (no weights needed)")
    parser.add_argument("--device", default=None, help="'cpu' or 'cuda'")
    args = parser.parse_args(argv)
    models = [f for f in args.files if f.endswith(".npz")]
    photos = [f for f in args.files if not f.endswith(".npz")]
    if not photos:
        parser.error("no photo given (every file ended in .npz)")
    results = evaluate(models, photos, args.size, args.seed, args.out,
                       features=not args.no_features, device=args.device)
    print(f"{len(photos)} photo{'s' if len(photos) > 1 else ''} (means over them), crappified "
          f"with seeds {args.seed}…{args.seed + len(photos) - 1}: {', '.join(photos)}\n")
    print(results_tables(results))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
