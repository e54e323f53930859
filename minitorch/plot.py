"""Figures: one place that saves, shows and closes every figure minitorch draws.

Read before ``learner/callbacks.py`` (the recorder's plots) and ``data/databunch.py``
(``show_batch``); they, ``Learner.show_results`` and the item lists' ``show_xys`` all end with
:func:`finish_figure`.

Three things happen to a finished figure:

1. saved as a PNG at ``path`` when one is given — through a temporary name, then renamed
   (``files.atomic_write``), so a crash never leaves half a PNG behind;
2. shown, when running inside a Jupyter kernel (its PNG is handed to the notebook; in a script
   nothing is shown);
3. closed, so a lesson that draws dozens of plots does not keep them all in memory.

:func:`plot_multi` (fastai's) draws a grid of axes by calling a function per cell; it builds its
figure without pyplot (no global state), which :func:`finish_figure` handles the same way.
"""
import io
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from minitorch.files import atomic_write


def save_figure(fig, path, dpi=100, bbox_inches=None):
    """Write ``fig`` as a PNG at ``path`` through a temporary name; returns the path."""
    with atomic_write(path) as file:
        fig.savefig(file, format="png", dpi=dpi, bbox_inches=bbox_inches)
    return Path(path)


def in_notebook():
    """True inside a Jupyter kernel (where figures are shown), False in a script."""
    try:  # IPython is there only when a notebook is (it is no dependency of minitorch)
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def show_figure(fig):
    """Display ``fig`` inline when running inside a Jupyter kernel; do nothing elsewhere."""
    if not in_notebook():
        return
    from IPython.display import Image, display  # IPython: see in_notebook
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    display(Image(data=buffer.getvalue()))


def finish_figure(fig, path=None, bbox_inches="tight"):
    """Save ``fig`` at ``path`` (when given), show it in a notebook, close it; returns ``fig``.

    ``bbox_inches='tight'`` trims the white margin (the recorder's plots); ``None`` keeps the
    figure's exact size in pixels (``figsize`` × 100 dpi: the image grids)."""
    if path is not None:
        save_figure(fig, path, bbox_inches=bbox_inches)
    show_figure(fig)
    plt.close(fig)  # closing a pyplot figure frees it; others are left alone
    return fig


def subplots(nrows=1, ncols=1, figsize=None):
    """A new figure and its (nrows, ncols) array of axes, made without pyplot."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, squeeze=False)


def plot_multi(func, nrows=1, ncols=1, figsize=None, path=None, title=None, imgsize=None):
    """fastai's ``plot_multi``: a grid of ``nrows`` x ``ncols`` axes, drawn by calling
    ``func(i, j, ax)`` for each, under ``title`` when given; returns the figure, saved as a PNG
    at ``path`` when given and shown when running in a notebook.  Without ``figsize``,
    ``imgsize`` (fastai's) gives each cell that many inches a side."""
    if figsize is None and imgsize is not None:
        figsize = (imgsize * ncols, imgsize * nrows)
    fig, axes = subplots(nrows, ncols, figsize)
    for i in range(nrows):
        for j in range(ncols):
            func(i, j, axes[i, j])
    if title is not None:
        fig.suptitle(title)
    fig.tight_layout()
    return finish_figure(fig, path, bbox_inches=None)
