"""fastai v1's data block API: from a pile of images to a DataBunch of loaders.

Read after ``dataset.py``, ``loader.py``, ``transforms.py`` and ``image_folder.py``: this file puts
them together in the vocabulary of the lesson.  The lesson builds its data in five steps, each a
method that returns the object the next step needs::

    il = ImageList.from_folder(path, convert_mode='L')          # ImageList: the items (images)
    sd = il.split_by_folder(train='training', valid='testing')   # ItemLists: train / valid items
    ll = sd.label_from_folder()                                  # LabelLists: labelled datasets
    ll = ll.transform(([*rand_pad(padding=3, size=28, mode='zeros')], []))  # train-only augmentation
    data = ll.databunch(bs=128).normalize()                      # DataBunch: loaders, normalised

and ``data`` is what a Learner trains on:

* ``data.train_dl`` — shuffled, the last incomplete batch dropped, augmented;
  ``data.valid_dl`` — in order, every item, never augmented; ``data.fix_dl`` — the training
  items in order without augmentation; ``data.test_dl`` — optional, unlabelled.
  Each yields ``(xb, yb)``: ``xb`` float32 Tensors (N, C, H, W), normalised once ``normalize`` has
  run; ``yb`` int64 Tensors (N,) of class indices.  A test set has no labels: its ``yb`` is all
  zeros, a placeholder so that every loader yields pairs (as in fastai), never a target to score.
* ``data.classes`` (the class names, sorted), ``data.c`` (how many), ``data.device``,
  ``data.batch_size``, ``data.train_ds`` / ``valid_ds`` / ``test_ds``;
* ``data.one_batch()``, ``data.show_batch(rows=3, figsize=(5, 5))``; and :func:`plot_multi`.

How the data is held, for speed: an ImageList keeps all its pixels in one uint8 array
(N, C, H, W).  A batch is one fancy index into it, the augmentation runs on the whole batch
(``transforms.pad_crop``), and the conversion to float in [0, 1] and the normalisation are two
whole-batch operations.  Pixels are stored as uint8 rather than float32 because it is 4 times less
memory and the conversion costs microseconds per batch.
"""
import enum
import io
from pathlib import Path, PurePosixPath

import numpy

from minitorch import backend
from minitorch.data.dataset import Dataset
from minitorch.data.image_folder import IMAGE_EXTENSIONS, image_files, load_images
from minitorch.data.loader import DataLoader
from minitorch.data.transforms import Normalize, channel_stats
from minitorch.files import atomic_write
from minitorch.tensor import Tensor, tensor

# The colour map for one-channel images: the lesson sets fastai's ``defaults.cmap = 'binary'``,
# which draws MNIST's white-on-black digits as black ink on white paper.
GRAYSCALE_CMAP = "binary"


class DatasetType(enum.Enum):
    """Which of a DataBunch's datasets: fastai's ``DatasetType.Train`` / ``Valid`` / ``Test`` /
    ``Fix`` (the training items without augmentation, in order)."""
    Train = 1
    Valid = 2
    Test = 3
    Fix = 4


# ---- items -------------------------------------------------------------------------------------
class ImageList:
    """Images and the relative paths they came from (``items``), under a folder ``path``.

    ``pixels`` is one uint8 array (N, C, H, W) with C = 1 (grey) or 3 (colour); ``items[i]`` is
    the path of image ``i`` relative to ``path``, written with '/' (e.g. ``'training/5/0.png'``):
    the splits and the labels are read from it.  ``il[i]`` is image ``i`` as float32 (C, H, W)
    in [0, 1], as fastai's images are.
    """

    def __init__(self, pixels, items=None, path=".", convert_mode=None):
        if not isinstance(pixels, numpy.ndarray) or pixels.dtype != numpy.uint8:
            got = pixels.dtype if isinstance(pixels, numpy.ndarray) else type(pixels).__name__
            raise TypeError(f"ImageList: expected pixels as a uint8 NumPy array (N, C, H, W) of "
                            f"values 0-255, got {got}")
        if pixels.ndim != 4 or pixels.shape[1] not in (1, 3):
            raise ValueError(f"ImageList: expected pixels of shape (N, C, H, W) with C = 1 (grey) "
                             f"or 3 (colour), got shape {pixels.shape}")
        if items is None:
            items = [str(i) for i in range(len(pixels))]
        items = [PurePosixPath(item).as_posix() if not isinstance(item, str) else item
                 for item in items]
        if len(items) != len(pixels):
            raise ValueError(f"ImageList: {len(pixels)} images but {len(items)} items (paths)")
        self.pixels = pixels
        self.items = items
        self.path = Path(path)
        self.convert_mode = convert_mode or ("L" if pixels.shape[1] == 1 else "RGB")

    @classmethod
    def from_folder(cls, path=".", extensions=IMAGE_EXTENSIONS, convert_mode="RGB", size=None,
                    recurse=True, progress=True):
        """Every image file under ``path``, opened in ``convert_mode`` ('RGB', fastai's default,
        or 'L' for grayscale, as the lesson does for MNIST), resized to ``size`` when given."""
        path = Path(path)
        files = image_files(path, extensions, recurse)
        if not files:
            raise FileNotFoundError(f"ImageList.from_folder: no image files ({', '.join(extensions)}) "
                                    f"under {path}")
        pixels = load_images(files, convert_mode, size, progress)
        items = [file.relative_to(path).as_posix() for file in files]
        return cls(pixels, items, path, convert_mode)

    @classmethod
    def from_arrays(cls, images, items=None, path="."):
        """Images already in memory: uint8 (N, H, W) for grey, or (N, C, H, W)."""
        images = numpy.asarray(images)
        if images.ndim == 3:
            images = images[:, None]
        return cls(numpy.ascontiguousarray(images), items, path)

    def __len__(self):
        return len(self.pixels)

    def __getitem__(self, index):
        return numpy.multiply(self.pixels[index], 1 / 255, dtype=numpy.float32)

    def subset(self, indices):
        """The images at ``indices``, as a new ImageList."""
        indices = numpy.asarray(indices, dtype=numpy.int64)
        return ImageList(self.pixels[indices], [self.items[i] for i in indices], self.path,
                         self.convert_mode)

    def _top_folders(self):
        return numpy.array([item.split("/", 1)[0] if "/" in item else "" for item in self.items])

    def split_by_folder(self, train="train", valid="valid"):
        """Items under ``train/`` for training, under ``valid/`` for validation (others unused)."""
        top = self._top_folders()
        train_idx, valid_idx = numpy.flatnonzero(top == train), numpy.flatnonzero(top == valid)
        for name, idx in ((train, train_idx), (valid, valid_idx)):
            if len(idx) == 0:
                found = sorted(set(top.tolist()) - {""})
                raise ValueError(f"split_by_folder: no items in a folder named {name!r} under "
                                 f"{self.path}; the top-level folders are {found}")
        return ItemLists(self.path, self.subset(train_idx), self.subset(valid_idx))

    def split_by_idx(self, valid_idx):
        """The items at ``valid_idx`` for validation, the rest for training."""
        valid_idx = numpy.asarray(valid_idx, dtype=numpy.int64)
        if valid_idx.size and (valid_idx.min() < 0 or valid_idx.max() >= len(self)):
            raise IndexError(f"split_by_idx: indices must be in [0, {len(self)}), got "
                             f"{valid_idx.min()}..{valid_idx.max()}")
        is_valid = numpy.zeros(len(self), dtype=bool)
        is_valid[valid_idx] = True
        return ItemLists(self.path, self.subset(numpy.flatnonzero(~is_valid)),
                         self.subset(numpy.flatnonzero(is_valid)))

    def split_by_rand_pct(self, valid_pct=0.2, seed=None):
        """A random ``valid_pct`` of the items for validation (drawn from minitorch's generator, or
        from ``seed`` when given, so the same seed gives the same split)."""
        if not 0 <= valid_pct <= 1:
            raise ValueError(f"split_by_rand_pct: valid_pct must be in [0, 1], got {valid_pct}")
        rng = numpy.random.default_rng(seed) if seed is not None else backend.rng()
        order = rng.permutation(len(self))
        return self.split_by_idx(order[:int(valid_pct * len(self))])

    def __repr__(self):
        n, c, h, w = self.pixels.shape
        shown = ", ".join(self.items[:3]) + (", ..." if n > 3 else "")
        return f"ImageList ({n} items of {c}x{h}x{w})\n{shown}\nPath: {self.path}"


class ItemLists:
    """A training and a validation ImageList, waiting for labels (``label_from_folder``)."""

    def __init__(self, path, train, valid):
        self.path, self.train, self.valid = Path(path), train, valid

    def label_from_folder(self):
        """Label each image with the name of the folder it is in (``training/5/0.png`` → '5')."""
        def parent(item):
            parts = item.split("/")
            if len(parts) < 2:
                raise ValueError(f"label_from_folder: item {item!r} is not inside a folder, so it "
                                 "has no folder name to be labelled with")
            return parts[-2]
        return self.label_from_names([parent(item) for item in self.train.items],
                                     [parent(item) for item in self.valid.items])

    def label_from_func(self, func):
        """Label each image with ``func(path of its file)``."""
        return self.label_from_names([func(self.path / item) for item in self.train.items],
                                     [func(self.path / item) for item in self.valid.items])

    def label_from_names(self, train_names, valid_names):
        """Label with one class name per image.  The classes are the sorted names seen in training;
        a validation name that is not among them is an error (the model could never predict it)."""
        train_names = numpy.array([str(name) for name in train_names])
        valid_names = numpy.array([str(name) for name in valid_names])
        if len(train_names) == 0:
            raise ValueError("cannot label an empty training set: it defines the classes")
        classes, train_labels = numpy.unique(train_names, return_inverse=True)
        valid_labels = numpy.searchsorted(classes, valid_names)
        unknown = (valid_labels >= len(classes)) | (
            classes[numpy.minimum(valid_labels, len(classes) - 1)] != valid_names)
        if unknown.any():
            missing = sorted(set(valid_names[unknown].tolist()))
            raise ValueError(f"the validation set has labels {missing} "
                             f"that the training set lacks; its classes are {classes.tolist()}")
        classes = classes.tolist()
        return LabelLists(self.path,
                          LabelList(self.train, train_labels.astype(numpy.int64), classes),
                          LabelList(self.valid, valid_labels.astype(numpy.int64), classes))


# ---- labelled datasets ---------------------------------------------------------------------------
class LabelList(Dataset):
    """A dataset of (image, label) pairs: an ImageList ``x``, class indices ``y`` (int64, or None
    for an unlabelled test set), the class names, and the transforms applied to each batch.

    ``ds[i]`` is ``(float32 image (C, H, W) in [0, 1], int label)``; the DataLoader uses
    ``get_batch``, which does the same for a whole batch at once.
    """

    def __init__(self, x, y, classes, tfms=None):
        self.x, self.classes = x, list(classes)
        if y is not None:
            y = numpy.asarray(y)
            if y.dtype.kind not in "iu" or y.shape != (len(x),):
                raise ValueError(f"LabelList: expected {len(x)} integer labels, got "
                                 f"{y.dtype} of shape {y.shape}")
            if len(y) and (y.min() < 0 or y.max() >= len(self.classes)):
                raise ValueError(f"LabelList: labels must be class indices in [0, "
                                 f"{len(self.classes)}), got values {y.min()}..{y.max()}")
            y = y.astype(numpy.int64, copy=False)
        self.y = y
        self.tfms = list(tfms or [])

    @property
    def has_labels(self):
        return self.y is not None

    @property
    def items(self):
        return self.x.items

    @property
    def c(self):
        return len(self.classes)

    def __len__(self):
        return len(self.x)

    def get_batch(self, indices, rng=None):
        """``(x, y)`` for the items at ``indices``: float32 (N, C, H, W) in [0, 1] with the
        transforms applied, and int64 (N,) labels (zeros for an unlabelled set)."""
        rng = backend.rng() if rng is None else rng
        pixels = self.x.pixels[indices]
        for tfm in self.tfms:
            pixels = tfm(pixels, rng)
        # The transforms run on uint8 (a zero pad is 0 either way); one multiply makes floats.
        x = numpy.multiply(pixels, 1 / 255, dtype=numpy.float32)
        y = self.y[indices] if self.has_labels else numpy.zeros(len(x), dtype=numpy.int64)
        return x, y

    def __getitem__(self, index):
        index = int(index)
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for a dataset of {len(self)} items")
        x, y = self.get_batch(numpy.array([index % len(self)]))
        return x[0], int(y[0])

    def __repr__(self):
        kind = "labelled" if self.has_labels else "unlabelled"
        n, c, h, w = self.x.pixels.shape
        return (f"LabelList ({n} {kind} items of {c}x{h}x{w}, {len(self.classes)} classes, "
                f"transforms {self.tfms})")


class LabelLists:
    """The labelled training and validation sets (and maybe a test set), before the loaders."""

    def __init__(self, path, train, valid, test=None):
        self.path, self.train, self.valid, self.test = Path(path), train, valid, test

    @property
    def classes(self):
        return self.train.classes

    def transform(self, tfms=(None, None)):
        """Set ``tfms = (training transforms, validation transforms)``; a test set gets the
        validation ones.  The lesson augments the training set only: ``(rand_pad(...), [])``."""
        if not isinstance(tfms, (tuple, list)) or len(tfms) != 2:
            raise ValueError("transform: expected tfms = (train_tfms, valid_tfms), a pair of lists, "
                             f"got {tfms!r}")
        train_tfms, valid_tfms = (list(tfm_list or []) for tfm_list in tfms)
        for tfm in train_tfms + valid_tfms:
            if not callable(tfm):
                raise TypeError(f"transform: every transform must be callable, got {tfm!r}")
        self.train.tfms, self.valid.tfms = train_tfms, valid_tfms
        if self.test is not None:
            self.test.tfms = list(valid_tfms)
        return self

    def add_test(self, items):
        """Add an unlabelled test set (an ImageList): only ever predicted, never scored."""
        if not isinstance(items, ImageList):
            raise TypeError(f"add_test: expected an ImageList, got {type(items).__name__}")
        self.test = LabelList(items, None, self.classes, tfms=self.valid.tfms)
        return self

    def add_test_folder(self, test_folder="test", size=None):
        """Add the images under ``path/test_folder`` as the test set, opened like the training
        images."""
        return self.add_test(ImageList.from_folder(self.path / test_folder,
                                                   convert_mode=self.train.x.convert_mode,
                                                   size=size))

    def databunch(self, bs=64, val_bs=None, device=None, seed=None):
        """The DataBunch: loaders of batch size ``bs`` (``val_bs`` for the others, default ``bs``)
        yielding Tensors on ``device``; ``seed`` makes the shuffling its own (see ``loader.py``)."""
        return DataBunch.create(self.train, self.valid, self.test, path=self.path, bs=bs,
                                val_bs=val_bs, device=device, seed=seed)

    def __repr__(self):
        return f"LabelLists;\n\nTrain: {self.train};\n\nValid: {self.valid};\n\nTest: {self.test}"


# ---- the DataBunch -------------------------------------------------------------------------------
class DataBunch:
    """The loaders a Learner trains with: ``train_dl``, ``valid_dl``, ``fix_dl`` and maybe
    ``test_dl``, all on one ``device``, with one normalisation (see the module docstring)."""

    def __init__(self, train_dl, valid_dl, fix_dl=None, test_dl=None, path=".", device=None):
        self.train_dl, self.valid_dl, self.fix_dl, self.test_dl = train_dl, valid_dl, fix_dl, test_dl
        self.path = Path(path)
        self.device = backend.canonical_device(device)
        for dl in self.dls:
            dl.device = self.device
        self.norm = None
        self.stats = None

    @classmethod
    def create(cls, train_ds, valid_ds, test_ds=None, path=".", bs=64, val_bs=None, device=None,
               seed=None):
        """Loaders as fastai makes them: training shuffled with its last incomplete batch dropped
        (a tiny last batch would give a noisy step and a skewed batchnorm); the others in order,
        complete."""
        val_bs = bs if val_bs is None else val_bs
        if len(train_ds) < bs:
            raise ValueError(f"the training set has {len(train_ds)} items, fewer than the batch "
                             f"size {bs}: with the last incomplete batch dropped, an epoch would "
                             "have no batches; lower bs")
        fix_ds = LabelList(train_ds.x, train_ds.y, train_ds.classes, tfms=valid_ds.tfms)
        train_dl = DataLoader(train_ds, bs, shuffle=True, drop_last=True, seed=seed, device=device)
        valid_dl = DataLoader(valid_ds, val_bs, device=device)
        fix_dl = DataLoader(fix_ds, val_bs, device=device)
        test_dl = DataLoader(test_ds, val_bs, device=device) if test_ds is not None else None
        return cls(train_dl, valid_dl, fix_dl, test_dl, path=path, device=device)

    # ---- what it holds ---------------------------------------------------------------------------
    @property
    def dls(self):
        return [dl for dl in (self.train_dl, self.valid_dl, self.fix_dl, self.test_dl)
                if dl is not None]

    def dl(self, ds_type=DatasetType.Valid):
        """The loader of ``ds_type``."""
        loaders = {DatasetType.Train: self.train_dl, DatasetType.Valid: self.valid_dl,
                   DatasetType.Fix: self.fix_dl, DatasetType.Test: self.test_dl}
        if ds_type not in loaders:
            raise ValueError(f"expected a DatasetType (Train, Valid, Test or Fix), got {ds_type!r}")
        if loaders[ds_type] is None:
            raise ValueError(f"this DataBunch has no {ds_type.name} set")
        return loaders[ds_type]

    @property
    def train_ds(self):
        return self.train_dl.dataset

    @property
    def valid_ds(self):
        return self.valid_dl.dataset

    @property
    def fix_ds(self):
        return self.fix_dl.dataset if self.fix_dl is not None else None

    @property
    def test_ds(self):
        return self.test_dl.dataset if self.test_dl is not None else None

    @property
    def classes(self):
        return self.train_ds.classes

    @property
    def c(self):
        """The number of classes (the size of a classifier's output)."""
        return len(self.classes)

    @property
    def batch_size(self):
        return self.train_dl.batch_size

    @batch_size.setter
    def batch_size(self, size):
        for dl in self.dls:
            dl.batch_size = size

    # ---- normalisation ---------------------------------------------------------------------------
    def batch_stats(self, ds_type=DatasetType.Train):
        """Per-channel (mean, std) of one random batch of ``ds_type``, as the loader serves it."""
        dl = self.dl(ds_type)
        x = dl.host_batch(dl.batch_indices()[0])[0]
        return channel_stats(x)

    def normalize(self, stats=None):
        """Normalise the inputs of every loader with ``stats = (mean, std)`` per channel.

        Without ``stats`` (no pretrained model whose statistics must be matched) they are measured
        on a random training batch, as fastai does; the batch is the loader's, augmentation
        included.  Returns the DataBunch, so ``ll.databunch(bs=128).normalize()`` reads as one step.
        """
        if self.norm is not None:
            raise RuntimeError(f"normalize was already called on this DataBunch (stats "
                               f"{self.norm}); normalising twice would distort the inputs")
        if stats is None:
            stats = self.batch_stats()
        self.norm = Normalize(*stats)
        if self.norm.mean.size != self.train_ds.x.pixels.shape[1]:
            raise ValueError(f"normalize: the images have {self.train_ds.x.pixels.shape[1]} "
                             f"channels but the stats have {self.norm.mean.size}")
        self.stats = (self.norm.mean, self.norm.std)
        for dl in self.dls:
            dl.add_tfm(self.norm)
        return self

    def denorm(self, x):
        """Undo the normalisation of a batch (a Tensor or an array) back to [0, 1] pixels, as a
        NumPy array."""
        array = backend.to_numpy(x.data if isinstance(x, Tensor) else x)
        return self.norm.denorm(array) if self.norm is not None else array

    # ---- looking at the data ---------------------------------------------------------------------
    def one_batch(self, ds_type=DatasetType.Train, denorm=True, cpu=True):
        """One batch ``(xb, yb)`` of ``ds_type`` as Tensors.  As in fastai, by default the inputs
        are denormalised (pixels in [0, 1], for looking at) and on the CPU; pass
        ``denorm=False, cpu=False`` for a batch exactly as the model sees it."""
        dl = self.dl(ds_type)
        x, *rest = dl.host_batch(dl.batch_indices()[0])
        if denorm and self.norm is not None:
            x = self.norm.denorm(x)
        device = "cpu" if cpu else self.device
        return tuple(tensor(array, device=device) for array in (x, *rest))

    def show_batch(self, rows=3, ds_type=DatasetType.Train, figsize=(9, 9), path=None, cmap=None):
        """A ``rows`` x ``rows`` grid of one batch's images, titled with their labels.

        The figure is returned, saved as a PNG at ``path`` when given, and shown when running in
        a notebook."""
        xb, yb = self.one_batch(ds_type, denorm=True, cpu=True)
        count = min(rows * rows, len(xb))
        has_labels = ds_type != DatasetType.Test
        images, labels = xb.data, yb.data

        def draw(i, j, ax):
            n = i * rows + j
            if n < count:
                title = self.classes[int(labels[n])] if has_labels else None
                show_image(images[n], ax=ax, cmap=cmap, title=title)
            else:
                ax.set_axis_off()
        return plot_multi(draw, rows, rows, figsize=figsize, path=path)

    def __repr__(self):
        return (f"DataBunch;\n\nTrain: {self.train_ds};\n\nValid: {self.valid_ds};\n\n"
                f"Test: {self.test_ds};\n\nbatch size {self.batch_size}, device {self.device!r}, "
                f"normalization {self.norm}")


# ---- figures -------------------------------------------------------------------------------------
def show_image(image, ax=None, figsize=(3, 3), cmap=None, title=None):
    """Draw one image (C, H, W) — a Tensor or array, floats in [0, 1] or uint8 — on ``ax`` (a new
    figure's when None) with its axes hidden; returns ``ax``.  One-channel images use ``cmap``,
    by default :data:`GRAYSCALE_CMAP`."""
    from matplotlib.figure import Figure  # plotting is optional work: import it when asked

    pixels = backend.to_numpy(image.data if isinstance(image, Tensor) else numpy.asarray(image))
    if pixels.ndim != 3 or pixels.shape[0] not in (1, 3):
        raise ValueError(f"show_image: expected an image (C, H, W) with C = 1 or 3, got shape "
                         f"{pixels.shape}")
    if pixels.dtype == numpy.uint8:
        pixels = pixels / 255
    pixels = numpy.clip(pixels, 0, 1)  # denormalising leaves tiny rounding errors outside [0, 1]
    if ax is None:
        ax = Figure(figsize=figsize).subplots()
    if pixels.shape[0] == 1:
        ax.imshow(pixels[0], cmap=cmap or GRAYSCALE_CMAP, vmin=0, vmax=1)
    else:
        ax.imshow(pixels.transpose(1, 2, 0))
    ax.set_axis_off()
    if title is not None:
        ax.set_title(str(title))
    return ax


def plot_multi(func, nrows=1, ncols=1, figsize=None, path=None):
    """fastai's ``plot_multi``: a grid of ``nrows`` x ``ncols`` axes, drawn by calling
    ``func(i, j, ax)`` for each; returns the figure, saved as a PNG at ``path`` when given and
    shown when running in a notebook."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize)
    axes = figure.subplots(nrows, ncols, squeeze=False)
    for i in range(nrows):
        for j in range(ncols):
            func(i, j, axes[i, j])
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    _show_in_notebook(figure)
    return figure


def save_figure(figure, path):
    """Save a matplotlib figure as a PNG at ``path``, through a temporary name."""
    with atomic_write(path) as file:
        figure.savefig(file, format="png")
    return Path(path)


def _show_in_notebook(figure):
    """Display the figure inline when running inside a Jupyter kernel; do nothing elsewhere.

    Figures here are built without pyplot (no global state, no GUI backend), so they are shown
    by handing the notebook their PNG bytes."""
    try:
        from IPython import get_ipython
        from IPython.display import Image, display
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    display(Image(data=buffer.getvalue()))
