"""The DataBunch: the loaders a Learner trains on, and the one contract every kind of data keeps.

Read ``data_block.py`` first (how a DataBunch is usually made: ``LabelLists.databunch``) and
``loader.py``.  fastai v1's ``basic_data.py``.

The contract the Learner relies on, whatever the data (images, text, noise for a GAN):

* ``data.train_dl`` — shuffled, the last incomplete batch dropped, augmented;
  ``data.valid_dl`` — in order, every item, never augmented; ``data.fix_dl`` — the training
  items in order without augmentation; ``data.test_dl`` — optional, unlabelled.  Each yields
  ``(xb, yb)`` Tensors on ``data.device``; ``data.dl(ds_type)`` is the loader of a
  :class:`DatasetType`, and ``data.dl(ds_type).dataset`` its dataset, whose ``x`` and ``y``
  item lists know how to show their items.
* ``data.one_batch(ds_type, detach, denorm, cpu)`` — one batch to look at or to trace a model
  with; ``data.denorm(x)`` undoes the normalisation; ``data.show_batch(rows)``.
* ``data.c`` (output size: classes, or target channels; settable, as fastai's, e.g. ``data.c = 3``
  for image targets), ``data.classes`` (None without),
  ``data.device``, ``data.batch_size``, ``data.train_ds`` / ``valid_ds`` / ``test_ds``,
  ``data.loss_func`` (the loss the data suggests, or None).

Normalisation (``normalize(stats, do_x=True, do_y=False)``) is a batch transform the loaders
apply after collating: to the inputs, and to image targets too with ``do_y=True`` (the
super-resolution lesson normalises both with ``imagenet_stats``; the WGAN only its targets,
``do_x=False``: its inputs are noise).  ``data.denorm(b)`` undoes it on inputs when they were
normalised, ``data.denorm(b, do_x=True)`` on normalised targets.
"""
import enum
from pathlib import Path

import numpy

from minitorch import backend
from minitorch.core import defaults
from minitorch.data.items import ItemBase
from minitorch.data.loader import DataLoader, check_batch_size
from minitorch.data.transforms import Normalize, channel_stats
from minitorch.tensor import Tensor, tensor


class DatasetType(enum.Enum):
    """Which of a DataBunch's datasets: fastai's ``DatasetType.Train`` / ``Valid`` / ``Test`` /
    ``Fix`` (the training items without augmentation, in order)."""
    Train = 1
    Valid = 2
    Test = 3
    Fix = 4


class DataBunch:
    """The loaders a Learner trains with (see the module docstring): ``train_dl``,
    ``valid_dl``, and optionally ``fix_dl`` and ``test_dl``, all on one ``device``."""

    def __init__(self, train_dl, valid_dl, fix_dl=None, test_dl=None, path=".", device=None,
                 loss_func=None):
        self.train_dl, self.valid_dl, self.fix_dl, self.test_dl = train_dl, valid_dl, fix_dl, test_dl
        self.path = Path(path)
        self.device = backend.canonical_device(defaults.device if device is None else device)
        for dl in self.dls:
            dl.device = self.device
        self.loss_func = loss_func
        self.norm, self.stats, self.norm_x, self.norm_y = None, None, False, False
        self._c = None

    @classmethod
    def create(cls, train_ds, valid_ds, test_ds=None, path=".", bs=64, val_bs=None, device=None,
               seed=None, **kwargs):
        """Loaders as fastai makes them: training shuffled with its last incomplete batch dropped
        (a tiny last batch would give a noisy step and a skewed batchnorm); the others in order,
        complete.  ``fix_dl`` serves the training items with the validation transforms."""
        val_bs = bs if val_bs is None else val_bs
        if len(train_ds) < bs:
            raise ValueError(f"the training set has {len(train_ds)} items, fewer than the batch "
                             f"size {bs}: with the last incomplete batch dropped, an epoch would "
                             "have no batches; lower bs")
        fix_ds = train_ds.new(tfms=valid_ds.tfms) if hasattr(train_ds, "new") else None
        train_dl = DataLoader(train_ds, bs, shuffle=True, drop_last=True, seed=seed, device=device)
        valid_dl = DataLoader(valid_ds, val_bs, device=device)
        fix_dl = DataLoader(fix_ds, val_bs, device=device) if fix_ds is not None else None
        test_dl = DataLoader(test_ds, val_bs, device=device) if test_ds is not None else None
        return cls(train_dl, valid_dl, fix_dl, test_dl, path=path, device=device, **kwargs)

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
        return getattr(self.train_ds, "classes", None)

    @property
    def c(self):
        """The size of a model's output: the number of classes (or of target channels), unless
        set (``data.c = 3``)."""
        return self._c if self._c is not None else getattr(self.train_ds, "c", None)

    @c.setter
    def c(self, value):
        self._c = value

    @property
    def batch_size(self):
        return self.train_dl.batch_size

    @batch_size.setter
    def batch_size(self, size):
        check_batch_size(size, "DataBunch")  # before any loader changes
        for dl in self.dls:
            dl.batch_size = size

    # ---- normalisation ---------------------------------------------------------------------------
    def batch_stats(self, ds_type=DatasetType.Train):
        """Per-channel (mean, std) of one random batch of ``ds_type``, as the loader serves it."""
        dl = self.dl(ds_type)
        x = dl.host_batch(dl.batch_indices()[0])[0]
        return channel_stats(x)

    def normalize(self, stats=None, do_x=True, do_y=False):
        """Normalise the inputs (``do_x``) and/or the image targets (``do_y``) of every loader
        with ``stats = (mean, std)`` per channel.

        Without ``stats`` (no pretrained model whose statistics must be matched) they are measured
        on a random training batch of inputs, as fastai does; the batch is the loader's,
        augmentation included.  Returns the DataBunch, so ``ll.databunch(bs=128).normalize()``
        reads as one step.
        """
        if self.norm is not None:
            raise RuntimeError(f"normalize was already called on this DataBunch (stats "
                               f"{self.norm}); normalising twice would distort the inputs")
        if stats is None:
            stats = self.batch_stats()
        if not (isinstance(stats, (tuple, list)) and len(stats) == 2):
            raise ValueError(f"normalize: expected stats = (mean, std), two lists of one number "
                             f"per channel such as imagenet_stats, got {stats!r}")
        norm = Normalize(*stats)
        for wanted, items, what in ((do_x, "x", "images"), (do_y, "y", "targets")):
            channels = numpy.shape(getattr(self.train_ds, items).get(0)) if wanted else None
            if wanted and (len(channels) != 3 or channels[0] != norm.mean.size):
                raise ValueError(f"normalize: the {what} have {channels[0] if channels else 'no'} "
                                 f"channels but the stats have {norm.mean.size}")
        self.norm, self.norm_x, self.norm_y = norm, bool(do_x), bool(do_y)
        self.stats = (norm.mean, norm.std)
        for dl in self.dls:
            if do_x:
                dl.add_tfm(norm)
            if do_y:
                dl.add_y_tfm(norm)
        return self

    def denorm(self, x, do_x=None):
        """Undo the normalisation of a batch (a Tensor or an array) back to [0, 1] pixels, as a
        NumPy array.  By default only when the inputs were normalised (``do_x``, fastai's
        ``denorm``); ``do_x=True`` for targets normalised with ``do_y`` (the same stats)."""
        array = backend.to_numpy(x.array if isinstance(x, Tensor) else x)
        do_x = self.norm_x if do_x is None else do_x
        return self.norm.denorm(array) if self.norm is not None and do_x else array

    # ---- looking at the data ---------------------------------------------------------------------
    def one_batch(self, ds_type=DatasetType.Train, detach=True, denorm=True, cpu=True):
        """One batch ``(xb, yb)`` of ``ds_type`` as Tensors.  As in fastai, by default the inputs
        (and normalised targets) are denormalised (pixels in [0, 1], for looking at) and on the
        CPU; pass ``denorm=False, cpu=False`` for a batch exactly as the model sees it.  Batches
        never carry gradients, so ``detach`` is always satisfied."""
        xb, yb = next(iter(self.dl(ds_type)))[:2]
        if denorm and self.norm_x:
            xb = tensor(self.denorm(xb), device=xb.device)
        if denorm and self.norm_y:
            yb = tensor(self.denorm(yb, do_x=True), device=yb.device)
        if cpu:
            xb, yb = xb.to("cpu"), yb.to("cpu")
        return xb, yb

    def one_item(self, item, ds_type=DatasetType.Valid):
        """One item as a batch of one, as the model sees it (fastai's ``one_item``): the item (or
        its data: pixels in [0, 1], token numbers) through the transforms and size of
        ``ds_type``'s dataset, then the loader's normalisation, as a Tensor on the device."""
        dl = self.dl(ds_type)
        data = item.data if isinstance(item, ItemBase) else item
        data = backend.to_numpy(data.array) if isinstance(data, Tensor) else numpy.asarray(data)
        x = dl.dataset.one_item(data)
        for tfm in getattr(dl, "batch_tfms", []):
            x = tfm(x)
        return tensor(x, device=self.device)

    def show_batch(self, rows=3, ds_type=DatasetType.Train, figsize=(9, 9), path=None,
                   imgsize=None, **kwargs):
        """One batch drawn by its item lists: a ``rows`` × ``rows`` grid of images titled with
        their labels, or ``rows`` lines of input beside target (``ImageImageList``).  The figure
        is returned, saved as a PNG at ``path`` when given, and shown in a notebook.
        ``imgsize`` (inches per image, fastai's) sizes the figure instead of ``figsize``."""
        ds = self.dl(ds_type).dataset
        if imgsize is not None:
            figsize = None
            kwargs["imgsize"] = imgsize
        xb, yb = self.one_batch(ds_type, denorm=True, cpu=True)
        n = min(rows * rows if getattr(ds.x, "_square_show", True) else rows, len(xb))
        xs = [ds.x.reconstruct(xb[i]) for i in range(n)]
        ys = [ds.y.reconstruct(yb[i]) for i in range(n)]
        return ds.x.show_xys(xs, ys, rows=rows, figsize=figsize, path=path, **kwargs)

    def __repr__(self):
        return (f"{type(self).__name__};\n\nTrain: {self.train_ds};\n\nValid: {self.valid_ds};\n\n"
                f"Test: {self.test_ds};\n\nbatch size {self.batch_size}, device {self.device!r}, "
                f"normalization {self.norm}{' (x and y)' if self.norm_y else ''}")
