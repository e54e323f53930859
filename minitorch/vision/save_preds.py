"""Writing a generator's predictions to disk as image files (fastai's ``save_preds`` of the
super-resolution GAN notebook).  Read after ``vision/data.py`` and ``learner/learner.py``
(``pred_batch``); used by ``lessons/lesson7_superres_gan.py``.

The GAN notebook pretrains its critic on a plain image-classification task: real photos against
the pretrained generator's outputs.  The outputs go to a folder as files named like their
sources (``image_gen/cat_1.png`` for ``images/cat_1.png``), so that the critic's data is one
``ImageList.from_folder(...).label_from_folder()`` away, as for any folder of labelled images.
"""
from pathlib import Path

import numpy
from PIL import Image

from minitorch import backend
from minitorch.files import atomic_write


def _pixels(learn, preds):
    """The predictions as uint8 (N, H, W, C): denormalised when the targets were normalised
    (``normalize(..., do_y=True)``), clipped to [0, 1]."""
    if getattr(learn.data, "norm_y", False):
        preds = learn.data.denorm(preds)
    array = backend.to_numpy(preds.array if hasattr(preds, "array") else preds)
    if array.ndim != 4 or array.shape[1] not in (1, 3):
        raise ValueError("save_preds: expected the model to predict images (N, 1 or 3, H, W), "
                         f"got shape {array.shape}")
    array = numpy.clip(array, 0, 1).transpose(0, 2, 3, 1)
    return (array * 255).round().astype(numpy.uint8)


def _shown(item, folder):
    """An item as an error names it: a file's path below the list's folder (items are full
    paths, as fastai's), else the item."""
    try:
        return Path(item).relative_to(folder).as_posix()
    except (TypeError, ValueError):
        return item


def _refuse_collisions(items, names):
    """Refuse, before anything is written, items whose PNG names coincide: the same file name
    in two folders, or names that differ only by their extension (``a.jpg`` and ``a.png``
    both become ``a.png``; fastai keeps each source's name and extension, and so writes both
    to one file only when the names are equal)."""
    first = {}
    for item, name in zip(items, names):
        if name in first:
            raise ValueError(f"save_preds: items {str(first[name])!r} and {str(item)!r} would both "
                             f"be written to {name!r} (predictions are PNG files named like "
                             "their sources), so one would overwrite the other; give the "
                             "sources distinct names")
        first[name] = item


def save_preds(dl, learn, folder):
    """For every item of ``dl`` (in order: use an unshuffled loader such as ``data.fix_dl``),
    write ``learn``'s prediction as a PNG in ``folder`` under the item's file name with the
    extension ``.png``.  Items whose names would collide (``a.jpg`` and ``a.png``, or the same
    name in two folders) are refused before anything is written.  Each file is written
    atomically (``atomic_write``).  Returns the paths written, in the loader's order."""
    names = [Path(str(item)).with_suffix(".png").name for item in dl.dataset.x.items]
    _refuse_collisions([_shown(item, dl.dataset.x.path) for item in dl.dataset.x.items], names)
    folder = Path(folder)
    written = []
    for batch in dl:
        for image in _pixels(learn, learn.pred_batch(batch=batch)):
            if len(written) == len(names):
                raise ValueError(f"save_preds: the loader gave more images than its {len(names)} "
                                 "items (a loader that repeats or drops nothing is expected)")
            path = folder / names[len(written)]
            pil = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
            with atomic_write(path) as file:
                pil.save(file, format="PNG")
            written.append(path)
    if len(written) != len(names):
        raise ValueError(f"save_preds: the loader gave {len(written)} images for {len(names)} "
                         "items (a loader that drops its last batch, like train_dl, misses some; "
                         "use data.fix_dl)")
    return written
