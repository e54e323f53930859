"""fastai v1's data block API: items → split → label → transform → DataBunch.

Read after ``dataset.py`` and ``loader.py``; ``databunch.py`` (the loaders) and
``minitorch/vision/data.py`` (images) come after.  The lesson builds its data in five steps, each
a method returning the object the next step needs::

    il = ImageList.from_folder(path, convert_mode='L')          # ItemList: the inputs
    sd = il.split_by_folder(train='training', valid='testing')   # ItemLists: train / valid
    ll = sd.label_from_folder()                                  # LabelLists: (x, y) datasets
    ll = ll.transform(([*rand_pad(padding=3, size=28, mode='zeros')], []))
    data = ll.databunch(bs=128).normalize()                      # DataBunch: the loaders

Both sides of a pair are **item lists**: ``x`` is an ItemList of inputs, ``y`` an ItemList of
targets — a :class:`CategoryList` of class indices for a classifier, an ``ImageList`` of images
for super-resolution (``ImageImageList`` labels its images with images), and so on.  Each item
list knows, for its kind of item,

* ``get(i)``         — item ``i``, as an array (or a number);
* ``get_batch(idx)`` — the items at ``idx`` in whatever form is fastest to batch (one fancy index
  into one big array for images held in memory; a list of arrays otherwise);
* ``apply_tfms(batch, tfms, draws, rng, size, is_y)`` — the data augmentation;
* ``collate(batch)`` — the batch as one array, the form the model is fed;
* ``reconstruct(t)`` — one element of a batch back to an item to look at (``items.py``: an
  ``Image``, a ``Category``, a ``Text``); ``il[i]`` is ``reconstruct(get(i))``;
* ``analyze_pred(pred)`` — a model output as this kind of target (the argmax for classes);
* ``show_xys(xs, ys)`` / ``show_xyzs(xs, ys, zs)`` — draw inputs with their targets (and the
  predictions): ``DataBunch.show_batch`` and ``Learner.show_results`` call them on the *input*
  item list, which decides the layout.

Extension points.  A new kind of item is a subclass of :class:`ItemList` overriding the methods
above that differ.  ``get(i)`` may compute a fresh array at every access (a GAN's noise vector:
nothing is cached between batches); override ``get_batch`` only to make batching faster.  Set
``_label_cls`` to the item list that labels it by default (``ImageImageList`` sets ``ImageList``),
``_square_show`` / ``_square_show_res`` to draw a ``rows × rows`` grid (classification) rather
than ``rows`` lines (image to image).

Transforms.  ``LabelLists.transform((train_tfms, valid_tfms), size=None, tfm_y=False)`` gives each
dataset its list of transforms, applied to every batch drawn from it.  Two kinds are accepted:

* a function ``tfm(batch, rng)`` of the batch and the random generator (``rand_pad`` is one);
* an object with ``draw(n, rng)`` (the random choices for ``n`` items, made once) and
  ``use_on_y`` (``minitorch/vision/transform.py``), applied by the item list.  Drawing first
  is what makes ``tfm_y=True`` work: the same draws are applied to ``x`` and to ``y`` — the same
  crop, flip and rotation — except for the transforms with ``use_on_y=False`` (lighting), which
  only change the input.

Random choices come from the generator the loader passes (minitorch's seeded one by default).
"""
from pathlib import Path, PurePosixPath

import numpy

from minitorch import backend
from minitorch.data.databunch import DataBunch
from minitorch.data.dataset import Dataset
from minitorch.data.items import Category
from minitorch.tensor import tensor


def _is_int(value):
    return isinstance(value, (int, numpy.integer)) and not isinstance(value, (bool, numpy.bool_))


def check_size(size, caller):
    """Refuse a ``size`` that is not None, a positive int or (height, width) of positive ints,
    when it is given rather than when the first batch is made."""
    def positive(value):
        return _is_int(value) and value > 0
    if size is not None and not (positive(size) or (isinstance(size, (tuple, list))
                                                    and len(size) == 2
                                                    and all(map(positive, size)))):
        raise ValueError(f"{caller}: size must be a positive int or (height, width) of positive "
                         f"ints, got {size!r}")


def host_array(t):
    """A Tensor, a backend array or a number as a NumPy array."""
    data = t.array if hasattr(t, "requires_grad") else t
    return numpy.asarray(backend.to_numpy(data) if backend.is_array(data) else data)


# ---- item lists ----------------------------------------------------------------------------------
class ItemList:
    """A list of ``items`` under a folder ``path``: fastai's ``ItemList``, the base of every kind.

    ``items`` is a list (or a 1-d NumPy array) of whatever describes an item: a file name, a
    number, a label.  ``il[i]`` is item ``i`` to look at, ``il.reconstruct(il.get(i))`` (an
    ``Image``, a ``Category``, ...); ``il[indices]`` (a slice, a list or an array of indices, or
    a boolean mask) is a new item list of the same kind with those items.
    """

    _label_cls = None          # the item list labels default to (None: guessed from the labels)
    _square_show = True        # show_batch: a rows × rows grid
    _square_show_res = True    # show_results: a rows × rows grid (else rows lines)

    def __init__(self, items, path="."):
        self.items = items if isinstance(items, numpy.ndarray) else list(items)
        self.path = Path(path)

    # ---- making new lists ----------------------------------------------------------------------
    def new(self, items, **kwargs):
        """An item list of the same kind and settings with other ``items`` (fastai's ``new``):
        subclasses with settings list them in ``_new_kwargs``."""
        return type(self)(items, **{**self._new_kwargs(), **kwargs})

    def _new_kwargs(self):
        return {"path": self.path}

    def subset(self, indices):
        """The items at ``indices`` (an integer array), as a new item list."""
        indices = numpy.asarray(indices, dtype=numpy.int64)
        if isinstance(self.items, numpy.ndarray):
            return self.new(self.items[indices])
        return self.new([self.items[i] for i in indices])

    # ---- reading items -------------------------------------------------------------------------
    def __len__(self):
        return len(self.items)

    def get(self, i):
        """Item ``i`` as the model's data (the base class: the item itself)."""
        return self.items[i]

    def __getitem__(self, index):
        if _is_int(index):
            if not -len(self) <= index < len(self):
                raise IndexError(f"index {index} is out of range for {type(self).__name__} of "
                                 f"{len(self)} items")
            return self.reconstruct(self.get(int(index) % len(self)))
        indices = numpy.arange(len(self))[index]
        return self.subset(indices)

    def get_batch(self, indices):
        """The items at ``indices`` in the form ``apply_tfms`` and ``collate`` take: a list here."""
        return [self.get(int(i)) for i in indices]

    def apply_tfms(self, batch, tfms, draws, rng, size=None, is_y=False):
        """Apply ``tfms`` to ``batch``: a function ``tfm(batch, rng)`` is called; a transform
        with ``draw`` gets its ``draws`` through ``tfm.apply(batch, draw)``, on the targets
        (``is_y``) only when ``use_on_y``.  Item lists that resize (images) override this."""
        if size is not None:
            raise ValueError(f"{type(self).__name__} cannot resize its items: size={size!r} "
                             "is for image lists")
        for tfm, draw in zip(tfms, draws):
            if draw is None:
                batch = tfm(batch, rng)
            elif not is_y or tfm.use_on_y:
                batch = tfm.apply(batch, draw)
        return batch

    def collate(self, batch):
        """The batch as one array (the items stacked)."""
        return numpy.stack([numpy.asarray(item) for item in batch])

    # ---- showing ---------------------------------------------------------------------------------
    def reconstruct(self, t):
        """One element of a collated batch, back to an item to look at (here: itself)."""
        return t

    def analyze_pred(self, pred):
        """A model's output for one item, as this kind of target (here: unchanged)."""
        return pred

    def show_xys(self, xs, ys, rows=3, figsize=None, path=None):
        """Draw inputs ``xs`` with their targets ``ys`` (reconstructed); returns the figure."""
        raise NotImplementedError(f"{type(self).__name__} does not know how to show its items: "
                                  "define show_xys")

    def show_xyzs(self, xs, ys, zs, rows=3, figsize=None, path=None):
        """Draw inputs ``xs``, targets ``ys`` and predictions ``zs``; returns the figure."""
        raise NotImplementedError(f"{type(self).__name__} does not know how to show its items "
                                  "with predictions: define show_xyzs")

    # ---- the data block steps: split ---------------------------------------------------------
    def _relative_parts(self, item):
        """The parts of ``item``'s path below ``self.path`` ('training/5/0.png' → 3 parts)."""
        if isinstance(item, Path):
            try:
                return item.relative_to(self.path).parts
            except ValueError:
                return item.parts
        return PurePosixPath(str(item)).parts

    def split_by_idxs(self, train_idx, valid_idx):
        """The items at ``train_idx`` for training, at ``valid_idx`` for validation."""
        return ItemLists(self.path, self.subset(train_idx), self.subset(valid_idx))

    def split_by_idx(self, valid_idx):
        """The items at ``valid_idx`` for validation, the rest for training."""
        valid_idx = numpy.asarray(valid_idx, dtype=numpy.int64).reshape(-1)
        if valid_idx.size and (valid_idx.min() < 0 or valid_idx.max() >= len(self)):
            raise IndexError(f"split_by_idx: indices must be in [0, {len(self)}), got "
                             f"{valid_idx.min()}..{valid_idx.max()}")
        is_valid = numpy.zeros(len(self), dtype=bool)
        is_valid[valid_idx] = True
        return self.split_by_idxs(numpy.flatnonzero(~is_valid), numpy.flatnonzero(is_valid))

    def split_by_folder(self, train="train", valid="valid"):
        """Items under ``train/`` for training, under ``valid/`` for validation (others unused)."""
        top = numpy.array([parts[0] if len(parts) > 1 else ""
                           for parts in map(self._relative_parts, self.items)])
        train_idx, valid_idx = numpy.flatnonzero(top == train), numpy.flatnonzero(top == valid)
        for name, idx in ((train, train_idx), (valid, valid_idx)):
            if len(idx) == 0:
                found = sorted(set(top.tolist()) - {""})
                raise ValueError(f"split_by_folder: no items in a folder named {name!r} under "
                                 f"{self.path}; the top-level folders are {found}")
        return self.split_by_idxs(train_idx, valid_idx)

    def random_split_by_pct(self, valid_pct=0.2, seed=None):
        """fastai's name for :meth:`split_by_rand_pct` until version 1.0.47 (the course's
        notebooks of that time use it)."""
        return self.split_by_rand_pct(valid_pct, seed)

    def split_by_rand_pct(self, valid_pct=0.2, seed=None):
        """A random ``valid_pct`` of the items for validation (drawn from minitorch's generator, or
        from ``seed`` when given, so the same seed gives the same split)."""
        if not 0 <= valid_pct <= 1:
            raise ValueError(f"split_by_rand_pct: valid_pct must be in [0, 1], got {valid_pct}")
        rng = numpy.random.default_rng(seed) if seed is not None else backend.rng()
        order = rng.permutation(len(self))
        return self.split_by_idx(order[:int(valid_pct * len(self))])

    def split_by_valid_func(self, func):
        """Items for which ``func(item)`` is true for validation, the others for training."""
        return self.split_by_idx([i for i, item in enumerate(self._func_items()) if func(item)])

    def split_by_func(self, func):
        """The same as :meth:`split_by_valid_func`: ``func(item)`` true means validation."""
        return self.split_by_valid_func(func)

    def _func_items(self):
        """What ``label_from_func`` and ``split_by_valid_func`` pass to ``func``: the items,
        names relative to ``path`` turned into paths (``path / name``) as fastai's are."""
        return self.items

    def split_none(self):
        """Everything for training, an empty validation set."""
        return self.split_by_idxs(numpy.arange(len(self)), numpy.arange(0))

    def __repr__(self):
        shown = ", ".join(str(self.items[i]) for i in range(min(3, len(self))))
        return (f"{type(self).__name__} ({len(self)} items)\n{shown}"
                f"{', ...' if len(self) > 3 else ''}\nPath: {self.path}")


class CategoryList(ItemList):
    """Targets that are classes: ``items`` int64 class indices, ``classes`` their names.

    Built from raw labels (names or numbers), the classes are the sorted distinct labels
    (fastai's ``CategoryProcessor``); with ``classes`` given, labels that are not among them are
    an error, and integer labels are taken as indices into ``classes``.
    """

    def __init__(self, items, classes=None, path="."):
        self.processor = CategoryProcessor(classes)
        super().__init__(self.processor.process(items), path)
        self.classes = self.processor.classes

    def _new_kwargs(self):
        return {"path": self.path, "classes": self.classes}

    @property
    def c(self):
        """The number of classes (the size of a classifier's output)."""
        return len(self.classes)

    def get(self, i):
        return int(self.items[i])

    def get_batch(self, indices):
        return self.items[indices]

    def collate(self, batch):
        return numpy.asarray(batch, dtype=numpy.int64)

    def apply_tfms(self, batch, tfms, draws, rng, size=None, is_y=False):
        if tfms or size is not None:
            raise TypeError("CategoryList: class labels cannot be transformed; tfm_y=True is for "
                            "targets that are images (ImageImageList)")
        return batch

    def reconstruct(self, t):
        """A class index (an int, an array or a Tensor of one element) → its :class:`Category`
        (the index as a Tensor, and the class name, which it prints as)."""
        index = int(host_array(t).reshape(()))
        return Category(tensor(index, device="cpu"), self.classes[index])

    def analyze_pred(self, pred):
        """Class probabilities → the index of the most likely class (a Tensor of one int64)."""
        return tensor(int(host_array(pred).argmax()), device="cpu")

    def __repr__(self):
        return f"CategoryList ({len(self)} items, {self.c} classes: {self.classes[:10]})"


class CategoryProcessor:
    """Turns labels into class indices: fastai's ``CategoryProcessor``.

    Without ``classes``, the first labels processed (the training set's) define them, sorted;
    every later list (validation, test) is checked against them.
    """

    def __init__(self, classes=None):
        self.classes = None if classes is None else [str(name) for name in classes]

    def process(self, labels):
        labels = labels if isinstance(labels, numpy.ndarray) else numpy.asarray(list(labels))
        if labels.ndim != 1:
            raise ValueError(f"CategoryList: expected one label per item (a 1-d list), got shape "
                             f"{labels.shape}")
        if self.classes is not None and labels.dtype.kind in "iu":  # already class indices
            if len(labels) and (labels.min() < 0 or labels.max() >= len(self.classes)):
                raise ValueError(f"CategoryList: labels must be class indices in [0, "
                                 f"{len(self.classes)}), got values {labels.min()}..{labels.max()}")
            return labels.astype(numpy.int64)
        names = labels.astype(str)
        if self.classes is None:
            if len(names) == 0:
                raise ValueError("cannot label an empty training set: it defines the classes")
            classes, indices = numpy.unique(names, return_inverse=True)
            self.classes = classes.tolist()
            return indices.astype(numpy.int64).reshape(-1)
        classes = numpy.array(self.classes)
        order = numpy.argsort(classes)
        positions = numpy.searchsorted(classes[order], names)
        known = (positions < len(classes)) & (classes[order][numpy.minimum(
            positions, len(classes) - 1)] == names)
        if not known.all():
            missing = sorted(set(names[~known].tolist()))
            raise ValueError(f"the validation set has labels {missing} that the training set "
                             f"lacks; its classes are {self.classes}")
        return order[positions].astype(numpy.int64)


class EmptyLabelList(ItemList):
    """The 'labels' of an unlabelled test set: every target is 0, a placeholder so that every
    loader yields pairs (as in fastai), never a target to score."""

    def __init__(self, n, path="."):
        super().__init__(numpy.zeros(n, dtype=numpy.int64), path)

    def new(self, items, **kwargs):
        return EmptyLabelList(len(items), **{**self._new_kwargs(), **kwargs})

    def get(self, i):
        return 0

    def get_batch(self, indices):
        return numpy.zeros(len(indices), dtype=numpy.int64)

    def reconstruct(self, t):
        return None  # nothing to show: there is no label

    def collate(self, batch):
        return numpy.asarray(batch, dtype=numpy.int64)


# ---- split lists ---------------------------------------------------------------------------------
class ItemLists:
    """A training and a validation item list, waiting for their labels."""

    def __init__(self, path, train, valid):
        self.path, self.train, self.valid = Path(path), train, valid

    def label_from_list(self, train_labels, valid_labels, label_cls=None, **kwargs):
        """Label with one label per item.  ``label_cls`` (default: the inputs' ``_label_cls``,
        else :class:`CategoryList`) makes the targets; the validation targets share the training
        ones' settings (their classes)."""
        label_cls = label_cls or self.train._label_cls or CategoryList
        if issubclass(label_cls, CategoryList):  # class names are strings, even for digits
            train_labels = [str(label) for label in train_labels]
            valid_labels = [str(label) for label in valid_labels]
        train_y = label_cls(train_labels, path=self.path, **kwargs)
        valid_y = train_y.new(valid_labels)
        return LabelLists(self.path, LabelList(self.train, train_y),
                          LabelList(self.valid, valid_y))

    def label_from_func(self, func, label_cls=None, **kwargs):
        """Label each item with ``func(item)`` (for files: ``func(path of the file)``)."""
        return self.label_from_list([func(item) for item in self.train._func_items()],
                                    [func(item) for item in self.valid._func_items()],
                                    label_cls, **kwargs)

    def label_for_lm(self, **process_options):
        """Language-model data from two ``TextList``s of raw texts: both are processed in place
        (tokenized; the vocabulary built from the training texts, shared by the validation
        ones; numbered — ``process_options`` go to ``TextList.process``), and labelled with
        nothing: a language model's target is its input one token later, which its loader cuts
        (``minitorch/text/lm_loader.py``)."""
        if not hasattr(self.train, "process"):
            raise TypeError(f"label_for_lm: expected TextLists of texts, got "
                            f"{type(self.train).__name__}")
        self.train.process(**process_options)
        self.valid.process(vocab=self.train.vocab)
        return LabelLists(
            self.path, LabelList(self.train, EmptyLabelList(len(self.train), self.path)),
            LabelList(self.valid, EmptyLabelList(len(self.valid), self.path)))

    def label_from_folder(self, label_cls=None, **kwargs):
        """Label each item with the name of the folder it is in (``training/5/0.png`` → '5')."""
        def parent(items_list, item):
            parts = items_list._relative_parts(item)
            if len(parts) < 2:
                raise ValueError(f"label_from_folder: item {item!r} is not inside a folder, so it "
                                 "has no folder name to be labelled with")
            return parts[-2]
        return self.label_from_list([parent(self.train, item) for item in self.train.items],
                                    [parent(self.valid, item) for item in self.valid.items],
                                    label_cls, **kwargs)

    def __repr__(self):
        return f"ItemLists;\n\nTrain: {self.train};\n\nValid: {self.valid}"


# ---- labelled datasets ---------------------------------------------------------------------------
class LabelList(Dataset):
    """A dataset of pairs: inputs ``x`` and targets ``y`` (two item lists of one length), and
    the transforms applied to each batch (``tfms``, ``size``, to ``y`` too when ``tfm_y``).

    ``ds[i]`` is ``(x, y)`` for one item; the DataLoader uses :meth:`get_batch`, which does the
    same for a whole batch at once.
    """

    def __init__(self, x, y, tfms=None, tfm_y=False, size=None):
        if not isinstance(x, ItemList) or not isinstance(y, ItemList):
            raise TypeError(f"LabelList: expected two item lists x and y, got "
                            f"{type(x).__name__} and {type(y).__name__}")
        if len(x) != len(y):
            raise ValueError(f"LabelList: {len(x)} inputs but {len(y)} targets")
        self.x, self.y = x, y
        self.tfms, self.tfm_y, self.size = list(tfms or []), bool(tfm_y), size

    @property
    def has_labels(self):
        return not isinstance(self.y, EmptyLabelList)

    @property
    def items(self):
        return self.x.items

    @property
    def path(self):
        return self.x.path

    @property
    def classes(self):
        return getattr(self.y, "classes", None)

    @property
    def vocab(self):
        """The inputs' vocabulary (text), or None."""
        return getattr(self.x, "vocab", None)

    @property
    def c(self):
        """What a model's output size is for these targets: the number of classes, or the
        number of channels of target images."""
        return getattr(self.y, "c", None)

    def __len__(self):
        return len(self.x)

    def new(self, x=None, y=None, **changes):
        """A LabelList like this one with some parts changed (``tfms=...``, ...)."""
        settings = dict(tfms=self.tfms, tfm_y=self.tfm_y, size=self.size)
        settings.update(changes)
        return LabelList(self.x if x is None else x, self.y if y is None else y, **settings)

    def get_batch(self, indices, rng=None):
        """``(x, y)`` for the items at ``indices``, transformed and collated into two arrays."""
        rng = backend.rng() if rng is None else rng
        x, y = self.x.get_batch(indices), self.y.get_batch(indices)
        if self.tfms or self.size is not None:
            draws = [tfm.draw(len(indices), rng) if hasattr(tfm, "draw") else None
                     for tfm in self.tfms]
            x = self.x.apply_tfms(x, self.tfms, draws, rng, self.size, is_y=False)
            if self.tfm_y:
                y = self.y.apply_tfms(y, self.tfms, draws, rng, self.size, is_y=True)
        return self.x.collate(x), self.y.collate(y)

    def one_item(self, x, rng=None):
        """A batch of one from ``x`` (an input in the form ``self.x.get(i)`` gives), through this
        dataset's transforms and size, as for its own items (``learn.predict``)."""
        rng = backend.rng() if rng is None else rng
        batch = [x]
        if self.tfms or self.size is not None:
            draws = [tfm.draw(1, rng) if hasattr(tfm, "draw") else None for tfm in self.tfms]
            batch = self.x.apply_tfms(batch, self.tfms, draws, rng, self.size, is_y=False)
        return self.x.collate(batch)

    def __getitem__(self, index):
        """``(x, y)`` for item ``index`` as items to look at (an ``Image`` and a ``Category``,
        ...), transformed as a batch would be (a random draw for a random transform)."""
        if not _is_int(index):
            raise TypeError(f"LabelList: expected an integer index, got {type(index).__name__}")
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for a dataset of {len(self)} items")
        x, y = self.get_batch(numpy.array([int(index) % len(self)]))
        return self.x.reconstruct(x[0]), self.y.reconstruct(y[0])

    def __repr__(self):
        kind = "labelled" if self.has_labels else "unlabelled"
        return (f"LabelList ({len(self)} {kind} items)\nx: {self.x!r}\ny: {self.y!r}\n"
                f"transforms {self.tfms}, size {self.size}, tfm_y {self.tfm_y}")


class LabelLists:
    """The labelled training and validation sets (and maybe a test set), before the loaders."""

    def __init__(self, path, train, valid, test=None):
        self.path, self.train, self.valid, self.test = Path(path), train, valid, test

    @property
    def classes(self):
        return self.train.classes

    @property
    def lists(self):
        return [ds for ds in (self.train, self.valid, self.test) if ds is not None]

    def transform(self, tfms=(None, None), size=None, tfm_y=False):
        """Set ``tfms = (training transforms, validation transforms)``; a test set gets the
        validation ones.  ``size`` (an int or (height, width)) is the size the images come out
        at; ``tfm_y=True`` applies the geometric transforms to the targets too, with the same
        random draws.  The MNIST lesson augments the training set only: ``(rand_pad(...), [])``;
        the super-resolution one: ``transform(get_transforms(max_zoom=2.), size=64, tfm_y=True)``.
        """
        if not isinstance(tfms, (tuple, list)) or len(tfms) != 2:
            raise ValueError("transform: expected tfms = (train_tfms, valid_tfms), a pair of lists, "
                             f"got {tfms!r}")
        check_size(size, "transform")
        train_tfms, valid_tfms = (list(tfm_list or []) for tfm_list in tfms)
        for tfm in train_tfms + valid_tfms:
            if not callable(tfm) and not hasattr(tfm, "draw"):
                raise TypeError(f"transform: every transform must be callable, got {tfm!r}")
            if tfm_y and not hasattr(tfm, "draw"):
                raise TypeError(f"transform: tfm_y=True needs transforms that draw their random "
                                f"choices once for x and y (minitorch.vision.transform); {tfm!r} "
                                "is a plain function")
        for ds, ds_tfms in ((self.train, train_tfms), (self.valid, valid_tfms),
                            (self.test, valid_tfms)):
            if ds is not None:
                ds.tfms, ds.size, ds.tfm_y = list(ds_tfms), size, bool(tfm_y)
        return self

    def add_test(self, items):
        """Add an unlabelled test set (an item list of inputs): only ever predicted, never scored."""
        if not isinstance(items, ItemList):
            raise TypeError(f"add_test: expected an ItemList, got {type(items).__name__}")
        self.test = self.valid.new(x=items, y=EmptyLabelList(len(items), self.path), tfm_y=False)
        return self

    def add_test_folder(self, test_folder="test", **kwargs):
        """Add the files under ``path/test_folder`` as the test set, read like the training
        inputs (``from_folder`` of the inputs' kind)."""
        x = self.train.x
        return self.add_test(type(x).from_folder(self.path / test_folder,
                                                 **{**x._folder_kwargs(), **kwargs}))

    def databunch(self, bs=64, val_bs=None, device=None, seed=None, **kwargs):
        """The DataBunch: loaders of batch size ``bs`` (``val_bs`` for the others, default ``bs``)
        yielding Tensors on ``device``; ``seed`` makes the shuffling its own (see ``loader.py``)."""
        bunch = getattr(self.train.x, "_bunch", DataBunch)  # text makes a TextLMDataBunch
        return bunch.create(self.train, self.valid, self.test, path=self.path, bs=bs,
                            val_bs=val_bs, device=device, seed=seed, **kwargs)

    def __repr__(self):
        return f"LabelLists;\n\nTrain: {self.train};\n\nValid: {self.valid};\n\nTest: {self.test}"
