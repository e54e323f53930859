"""What the two super-resolution lessons share: the photos, the crappified data on disk, the
data block, saving and reloading a generator, and measuring one — as fastai's course keeps
``crappify.py`` in one script that both notebooks use.  Read ``crappify.py``, ``quality.py``,
``photos.py``, ``data.py`` and ``learner.py`` (``unet_learner``) first.

* :func:`crappify_to_folders` writes the training pairs (crappified 128-px tiles of the
  training photos, cut into random crops: the first crop of each tile holds the drawn number)
  and the fixed validation pairs, in fastai's layout ``<root>/s<size>/{lr,hr}/{train,valid}/``,
  plus ``boxes.json`` (where the number is in each validation crop).
* :func:`superres_data` is the notebook's data block on those folders.
* :func:`save_generator` / :func:`load_generator`: a trained U-Net and what it was built with,
  in one ``.npz``, so that ``python -m minitorch.vision.evaluate_superres`` can rebuild it.
* :class:`SuperresEval` measures a model on the validation crops: PSNR and SSIM *outside the
  number's box* first (what a super-resolver does for the photo), then inside it (does the
  number go?) and on the whole crop; the sharpness, the checkerboard and the colour added to
  grey (the artefacts a perceptual loss can paint); the VGG feature distance.
* :func:`whole_photo` restores a whole photo beside its crappified input and the original, and
  :func:`footer` is the lessons' last lines (times, peak memory, credits).
"""
import json
import resource
import time
from pathlib import Path

import numpy  # host-side: building data and measuring finished images
from PIL import Image

import minitorch
from minitorch import backend
from minitorch.files import atomic_write
from minitorch.learner import Callback
from minitorch.nn import eval_mode
from minitorch.vision.crappify import crappify, paired_random_crop, validation_pairs
from minitorch.vision.data import ImageImageList, imagenet_stats
from minitorch.vision.layers import NormType
from minitorch.vision.learner import create_body
from minitorch.vision.models import VGGInput, small16
from minitorch.vision.models.unet import DynamicUnet
from minitorch.vision.photos import PHOTOS, photo_paths
from minitorch.vision.quality import (
    FeatureDistance, checkerboard_ratio, colour_spread, psnr, psnr_in_box, psnr_outside_box,
    sharpness_ratio, ssim, ssim_in_box, ssim_outside_box)
from minitorch.vision.transform import flip_lr

VALID_PHOTOS = ("chelsea.png", "coffee.png")
TRAIN_PHOTOS = tuple(entry["file"] for entry in PHOTOS if entry["file"] not in VALID_PHOTOS)


_PATHS = {}


def open_photo(name):
    """The photo ``name`` of :data:`~minitorch.vision.photos.PHOTOS` as an RGB PIL image.  The
    first call finds and checks all of them, fetching what is missing (``photos.py``: one pip
    download per package, not one per photo)."""
    if not _PATHS:
        _PATHS.update(photo_paths())
    return Image.open(_PATHS[name]).convert("RGB")


def save_png(image, path):
    """Write a PIL image as a PNG, atomically."""
    with atomic_write(path) as file:
        image.save(file, format="PNG")


# ---- the data -----------------------------------------------------------------------------------
def crappify_to_folders(root, train_photos=TRAIN_PHOTOS, valid_photos=VALID_PHOTOS,
                        tiles_per_photo=8, crops_per_tile=None, scales=(1.0,), tile=128,
                        valid_crops=4, grey=0.0, seed=0):
    """Write the lessons' pairs under ``root`` and return the validation boxes.

    Training: ``tiles_per_photo`` random ``tile``-px tiles of each photo at each of ``scales``
    (the photo resized by that factor first: more, and other, detail per tile), each
    crappified once (a share ``grey`` of them turned grey first: a grey photo must stay grey),
    then for each ``size: n`` of ``crops_per_tile`` (default ``{64: 4}``) ``n`` random crops of
    the pair.  Validation: ``valid_crops`` fixed corner crops of each
    validation photo (``validation_pairs``), at every size.  Returns ``{"valid/<stem>_<c>.png":
    (x0, y0, x1, y1)}``, also written to ``root/boxes.json``."""
    root = Path(root)
    crops_per_tile = {64: 4} if crops_per_tile is None else crops_per_tile
    rng = numpy.random.default_rng(seed)
    for name in train_photos:
        photo = open_photo(name)
        for scale in scales:
            scaled = photo if scale == 1 else photo.resize(
                (round(photo.width * scale), round(photo.height * scale)), Image.LANCZOS)
            if min(scaled.size) < tile:
                continue
            for t in range(tiles_per_photo):
                target = paired_random_crop([scaled, scaled], tile, rng)[1]
                if grey and rng.random() < grey:
                    target = grey_photo(target)
                damaged, info = crappify(target, scale=2, rng=rng, return_info=True)
                for size, n in crops_per_tile.items():
                    for c in range(n):
                        box = info["box"] if c == 0 else None  # the first crop holds the number
                        lr, hr = paired_random_crop([damaged, target], size, rng, box=box)
                        stem = f"{Path(name).stem}_{scale:g}_{t}_{c}.png"
                        save_png(lr, root / f"s{size}" / "lr" / "train" / stem)
                        save_png(hr, root / f"s{size}" / "hr" / "train" / stem)
    boxes = {}
    for k, name in enumerate(valid_photos):
        for c, (lr, hr, box) in enumerate(validation_pairs(open_photo(name), k, tile,
                                                           valid_crops)):
            stem = f"{Path(name).stem}_{c}.png"
            boxes[f"valid/{stem}"] = list(box)
            for size in crops_per_tile:  # the same validation crops at every size
                save_png(lr, root / f"s{size}" / "lr" / "valid" / stem)
                save_png(hr, root / f"s{size}" / "hr" / "valid" / stem)
    with atomic_write(root / "boxes.json", "w") as file:
        json.dump(boxes, file)
    return boxes


def superres_data(root, size, bs, tfms=None, device=None, seed=0):
    """The notebook's data block on ``root/s<size>``: inputs from ``lr``, each labelled with the
    file of the same name in ``hr``, split by folder, the same random transforms on input and
    target (``tfm_y=True``; default a left-right flip), both normalised with ImageNet's
    statistics (``do_y=True``)."""
    root = Path(root).resolve()  # absolute: the labels are found from the items' paths
    path_lr, path_hr = root / f"s{size}" / "lr", root / f"s{size}" / "hr"
    tfms = [flip_lr(p=0.5)] if tfms is None else tfms
    return (ImageImageList.from_folder(path_lr).split_by_folder()
            .label_from_func(lambda x: path_hr / x.relative_to(path_lr))
            .transform((tfms, []), tfm_y=True)
            .databunch(bs=bs, val_bs=8, device=device, seed=seed)
            .normalize(imagenet_stats, do_y=True))


# ---- pixels in, pixels out ---------------------------------------------------------------------
_MEAN, _STD = (numpy.array(v, dtype=numpy.float32).reshape(1, 3, 1, 1) for v in imagenet_stats)


def to_pixels(t):
    """A normalised batch (a Tensor, N × 3 × H × W) → pixels in [0, 1], NumPy."""
    return numpy.clip(backend.to_numpy(t.array) * _STD + _MEAN, 0, 1)


def to_tensor(pixels, device=None):
    """Pixels in [0, 1] (a NumPy batch, or a list of images) → a normalised Tensor batch."""
    x = (numpy.asarray(pixels, dtype=numpy.float32) - _MEAN) / _STD
    return minitorch.tensor(x, device=device)


def predictor(model, device=None, bs=8):
    """``predict(pixels) → pixels`` for ``model`` (trained on ImageNet-normalised images):
    NumPy batches (N, 3, H, W) in [0, 1] in and out, run in eval mode without a graph."""

    def predict(pixels):
        out = []
        with eval_mode(model), minitorch.no_grad():
            for i in range(0, len(pixels), bs):
                out.append(to_pixels(model(to_tensor(pixels[i:i + bs], device))))
        return numpy.concatenate(out)
    return predict


def pil_to_pixels(image):
    """An RGB PIL image → (3, H, W) float32 in [0, 1]."""
    return numpy.asarray(image.convert("RGB"), dtype=numpy.float32).transpose(2, 0, 1) / 255


def pixels_to_pil(pixels):
    """(3, H, W) in [0, 1] → an RGB PIL image (rounded to 8 bits)."""
    return Image.fromarray((numpy.clip(pixels, 0, 1).transpose(1, 2, 0) * 255).round()
                           .astype(numpy.uint8))


# ---- saving a generator -------------------------------------------------------------------------
def _encoders():
    return {"small16": small16}


def save_generator(model, path, encoder):
    """Write a DynamicUnet's weights and what it was built with (``encoder``, a name from
    :func:`_encoders`, and ``model.options``) to ``path`` (.npz)."""
    if encoder not in _encoders():
        raise ValueError(f"save_generator: unknown encoder {encoder!r}; expected one of "
                         f"{sorted(_encoders())}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    minitorch.save({"model": model.state_dict(),
                    "generator": {"encoder": encoder, **model.options}}, path)
    return path


def load_generator(path, device=None):
    """The DynamicUnet that :func:`save_generator` wrote to ``path``, with its weights, in eval
    mode."""
    state = minitorch.load(path)
    if not isinstance(state, dict) or "generator" not in state or "model" not in state:
        raise ValueError(f"load_generator: {path} holds no generator (a file written by "
                         "save_generator has 'model' and 'generator' entries)")
    options = dict(state["generator"])
    encoder = options.pop("encoder")
    if encoder not in _encoders():
        raise ValueError(f"load_generator: {path} was built on the encoder {encoder!r}, which "
                         f"this minitorch does not know (it knows {sorted(_encoders())})")
    for key in ("norm_type",):
        if options.get(key) is not None:
            options[key] = NormType[options[key]]
    options["img_size"] = tuple(options["img_size"])
    if options["y_range"] is not None:
        options["y_range"] = tuple(options["y_range"])
    body = create_body(_encoders()[encoder], pretrained=False)
    model = DynamicUnet(body, **options)
    model.load_state_dict(state["model"])
    if device is not None:
        model = model.to(device)
    return model.eval()


# ---- measuring -----------------------------------------------------------------------------------
def grey_photo(photo):
    """The photo converted to grey, as RGB (R = G = B)."""
    return photo.convert("L").convert("RGB")


class SuperresEval:
    """A fixed set of crappified crops (inputs, targets, the number's boxes) and the same crops
    of the photos turned grey, and the measures of a model on them.

    ``measure(predict)`` (``predict``: pixels → pixels, e.g. :func:`predictor`; None is bicubic,
    the input itself) returns a dict of means over the crops::

        psnr_out, ssim_out       outside the number's box (SSIM: the windows that miss it)
        psnr_box, ssim_box       inside it (SSIM: the windows that touch it)
        psnr, ssim               the whole crop
        gap                      psnr_box − psnr_out: 0 when the number has gone
        sharpness                Laplacian energy / the original's, outside the box
        checkerboard             period-2 energy / the original's (pixel shuffle's artefact)
        grey                     colour made up on the grey crops (grey levels, 0–255)
        features, relu2_2 …      VGG16 feature distance (when ``features`` is given)
    """

    def __init__(self, pairs, grey_inputs, features=None):
        self.inputs = [pil_to_pixels(lr) for lr, _, _ in pairs]
        self.targets = [pil_to_pixels(hr) for _, hr, _ in pairs]
        self.boxes = [tuple(box) for _, _, box in pairs]
        self.grey_inputs = [pil_to_pixels(lr) for lr in grey_inputs]
        self.distance = None
        if features is not None:
            self.distance = FeatureDistance(features, VGGInput(stats=None))

    @classmethod
    def from_photos(cls, photos, tile=128, count=4, features=None):
        """``count`` corner crops of ``tile`` px of each photo, crappified with the fixed seeds of
        ``validation_pairs`` (the lessons' validation crops), and the same crops of the photos
        turned grey."""
        pairs, grey = [], []
        for k, photo in enumerate(photos):
            pairs += validation_pairs(photo, k, tile, count)
            grey += [lr for lr, _, _ in validation_pairs(grey_photo(photo), k, tile, count)]
        return cls(pairs, grey, features)

    @staticmethod
    def _predict_all(predict, images):
        """One batch when the images share a size, else one image at a time."""
        if len({image.shape for image in images}) == 1:
            return list(predict(numpy.stack(images)))
        return [predict(image[None])[0] for image in images]

    def measure(self, predict=None):
        preds = self.inputs if predict is None else self._predict_all(predict, self.inputs)
        grey = (self.grey_inputs if predict is None
                else self._predict_all(predict, self.grey_inputs))
        rows = []
        for p, t, box in zip(preds, self.targets, self.boxes):
            row = {"psnr_out": psnr_outside_box(p, t, box),
                   "ssim_out": ssim_outside_box(p, t, box),
                   "psnr_box": psnr_in_box(p, t, box), "ssim_box": ssim_in_box(p, t, box),
                   "psnr": psnr(p, t), "ssim": ssim(p, t),
                   "sharpness": sharpness_ratio(p, t, box),
                   "checkerboard": checkerboard_ratio(p, t)}
            row["gap"] = row["psnr_box"] - row["psnr_out"]
            if self.distance is not None:
                layers = self.distance.per_layer(p, t)
                row["features"] = float(numpy.mean(layers))
                row.update(zip(("relu2_2", "relu3_3", "relu4_3", "relu5_3"), layers))
            rows.append(row)
        result = {key: float(numpy.mean([row[key] for row in rows])) for key in rows[0]}
        result["grey"] = float(numpy.mean([colour_spread(g) for g in grey]))
        return result


class NumberGap(Callback):
    """A callback (fastai's ``after_epoch``): the PSNR in the number's box minus outside it on
    ``evaluation``'s crops after every epoch, appended to ``gaps`` — is the number going?"""

    def __init__(self, evaluation, gaps, device=None):
        self.evaluation, self.gaps, self.device = evaluation, gaps, device

    def after_epoch(self):
        preds = predictor(self.learn.model, self.device)(numpy.stack(self.evaluation.inputs))
        self.gaps.append(float(numpy.mean([
            psnr_in_box(p, t, box) - psnr_outside_box(p, t, box)
            for p, t, box in zip(preds, self.evaluation.targets, self.evaluation.boxes)])))


def results_tables(results):
    """The lessons' tables (markdown) from ``{name: SuperresEval.measure(...)}``, bicubic first:
    the quality outside the box leads, then inside it and on the whole crop; then the
    artefacts; then the feature distance layer by layer."""
    base = results["bicubic"]["psnr_out"]
    lines = ["| model | PSNR outside the box | vs bicubic | SSIM outside the box | PSNR in the "
             "box | SSIM in the box | PSNR whole crop | SSIM whole crop | box − outside dB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(f"| {name} | {r['psnr_out']:.2f} | {r['psnr_out'] - base:+.2f} | "
                     f"{r['ssim_out']:.4f} | {r['psnr_box']:.2f} | {r['ssim_box']:.4f} | "
                     f"{r['psnr']:.2f} | {r['ssim']:.4f} | {r['gap']:+.2f} |")
    lines += ["", "| model | sharpness (Laplacian energy ÷ original's, outside the box) | "
              "checkerboard (period-2 energy ÷ original's) | colour added to grey (grey levels) "
              "| feature distance |", "|---|---|---|---|---|"]
    for name, r in results.items():
        features = f"{r['features']:.4f}" if "features" in r else "—"
        lines.append(f"| {name} | {r['sharpness']:.3f} | {r['checkerboard']:.2f} | "
                     f"{r['grey']:.2f} | {features} |")
    if all("features" in r for r in results.values()):
        lines += ["", "| model | relu2_2 | relu3_3 | relu4_3 | relu5_3 |", "|---|---|---|---|---|"]
        for name, r in results.items():
            lines.append(f"| {name} | " + " | ".join(
                f"{r[k]:.4f}" for k in ("relu2_2", "relu3_3", "relu4_3", "relu5_3")) + " |")
    return "\n".join(lines)


# ---- pictures and the last lines ----------------------------------------------------------------
def whole_photo(photo, predicts, path, seed=0):
    """Crappify the whole ``photo`` (seed ``seed + 7``), restore it with each of ``predicts``
    (``{name: predict}``) and save the crappified input, the restorations and the original side
    by side at ``path``.  Returns the panel's names, left to right."""
    bicubic = crappify(photo, scale=2, rng=numpy.random.default_rng(seed + 7))
    x = pil_to_pixels(bicubic)[None]
    panels = [("crappified (bicubic)", bicubic)]
    panels += [(name, pixels_to_pil(predict(x)[0])) for name, predict in predicts.items()]
    panels.append(("original", photo))
    side_by_side = Image.new("RGB", (photo.width * len(panels), photo.height))
    for i, (_, image) in enumerate(panels):
        side_by_side.paste(image, (i * photo.width, 0))
    save_png(side_by_side, path)
    return [name for name, _ in panels]


def footer(times, t0, credits):
    """The lessons' last lines: the wall time (and each stage's, ``times``), the peak memory,
    the credits."""
    total = time.time() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (f"wall time: {total:.0f} s (" + ", ".join(f"{k} {v:.0f} s" for k, v in times.items())
            + f"); peak memory (max RSS): {peak:.0f} MiB\n" + "\n".join(f"credit: {c}"
                                                                     for c in credits))
