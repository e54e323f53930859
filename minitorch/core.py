"""fastai v1's small helpers around the framework: what a notebook reaches for between the big
pieces.  Read after ``nn/module.py``; ``vision/`` and ``text/`` export these names.

* ``Path.ls()`` — fastai adds a method to :class:`pathlib.Path` that lists a folder
  (``path.ls()`` is the second cell of most fastai notebooks).  Importing minitorch adds it the
  same way: the one change minitorch makes to a class it does not own, for the same reason.
* :data:`defaults` — settings read when an argument is not given: ``defaults.cmap`` (the colour
  map of one-channel images, fastai's ``'viridis'``; the MNIST lesson sets ``'binary'``),
  ``defaults.device`` (where loaders put batches; ``$MINITORCH_DEVICE`` until set),
  ``defaults.cpus`` (the worker processes of :func:`parallel`).
* :func:`parallel` — ``func(item, index)`` for every item, in worker processes.
* :func:`children` and :func:`requires_grad` — a module's direct children as a list, and
  switching training on or off for all its parameters at once (freezing a pretrained network).
"""
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from tqdm.auto import tqdm

from minitorch import backend

__all__ = ["children", "defaults", "num_cpus", "parallel", "requires_grad"]


def _ls(self):
    """The entries of this folder, as paths (fastai's ``Path.ls``)."""
    return list(self.iterdir())


Path.ls = _ls


def num_cpus():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Defaults:
    """fastai's ``defaults``: ``cmap``, ``cpus`` and ``device`` (see the module docstring)."""

    def __init__(self):
        self.cmap = "viridis"
        self.cpus = min(16, num_cpus())
        self._device = None

    @property
    def device(self):
        """'cpu' or 'cuda': what ``device=None`` means for new DataBunches and loaders."""
        return self._device if self._device is not None else backend.default_device()

    @device.setter
    def device(self, device):
        self._device = None if device is None else backend.canonical_device(device)

    def __repr__(self):
        return f"defaults(cmap={self.cmap!r}, cpus={self.cpus}, device={self.device!r})"


defaults = Defaults()


def parallel(func, items, max_workers=None, leave=False):
    """Call ``func(item, index)`` for every item of ``items`` in ``max_workers`` processes
    (``defaults.cpus`` by default; fewer than 2 runs them here, one after the other).  Returns
    their results in the order of ``items``, or None when every result is None (fastai's, which
    collected them in the order they finished).

    ``func`` must be picklable: a function defined at the top level of a module or a notebook,
    or a ``functools.partial`` of one.  An error in any call is raised here."""
    items = list(items)
    max_workers = defaults.cpus if max_workers is None else max_workers
    bar = dict(total=len(items), leave=leave, disable=len(items) < 2)
    if max_workers < 2:
        results = [func(item, i) for i, item in tqdm(enumerate(items), **bar)]
    else:
        with ProcessPoolExecutor(max_workers=max_workers) as pool:
            futures = [pool.submit(func, item, i) for i, item in enumerate(items)]
            results = [future.result() for future in tqdm(futures, **bar)]
    return results if any(result is not None for result in results) else None


def children(module):
    """The direct children of ``module``, as a list (``list(module.children())``)."""
    return list(module.children())


def requires_grad(module, value=None):
    """With ``value`` (True or False): set ``requires_grad`` on every parameter of ``module``
    (False freezes it).  Without: whether its first parameter requires grad (None when it has
    none)."""
    params = list(module.parameters())
    if value is None:
        return params[0].requires_grad if params else None
    for p in params:
        p.requires_grad_(bool(value))
