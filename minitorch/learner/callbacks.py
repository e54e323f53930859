"""Callbacks: how the training loop is extended without being edited.  Read before ``learner.py``.

``Learner.fit`` is three nested loops (fit → epoch → batch) that do only the essential work:
predict, compute the loss, backward, step.  At every interesting moment it calls an *event* on
each of its callbacks, in ``order``::

    begin_fit
      begin_epoch                      (training pass: model.train())
        begin_batch → after_pred → after_loss → after_backward → after_step → after_batch
      begin_validate                   (validation pass: model.eval(), no gradients)
        begin_batch → after_pred → after_loss → after_batch
      after_validate
      after_epoch
    after_fit

A callback is an object with methods named after the events it cares about; it reads and
changes the learner (``self.learn``): the recorder reads the learning rate at ``begin_batch``
and keeps the loss at ``after_backward``, the one-cycle schedule moves the learning rate on at
``after_batch``, the lr finder stops the fit there.

When the loss's *value* is known.  At ``after_loss`` ``learn.loss`` is the loss as a tensor
(on the GPU, still being computed); a callback may change it (fastai's ``on_backward_begin``
may return a new loss) or read it, at the price of a device→host sync.  A training batch's
value on the host — ``learn.last_loss`` and the smoothed ``learn.smooth_loss`` — is read once,
after backward and before ``after_backward`` (``nan_stop.py`` says how and why).

Control flow uses exceptions, as in fastai's course-v3 learner: raise
:class:`CancelBatchException` to skip the rest of a batch (then ``after_cancel_batch``, and
``after_batch`` still runs), :class:`CancelEpochException` to end the current pass
(``after_cancel_epoch``), :class:`CancelFitException` to stop training (``after_cancel_fit``;
``after_fit`` always runs, even after an error — also when the error came from an earlier
callback's ``begin_fit``, so an ``after_fit`` must cope with a fit that never began; the error
itself is what reaches the caller).

This file also holds two of the three callbacks every Learner has: the :class:`Recorder`
(losses, learning rates, momentums and per-epoch metrics, and the plots of them) and the
:class:`ProgressCallback` (a progress bar over batches and fastai's epoch table); the third,
:class:`~minitorch.learner.nan_stop.TerminateOnNaN`, is in ``nan_stop.py``.
"""
import numbers
import time

import matplotlib.pyplot as plt
from tqdm import tqdm

from minitorch.ops import stack
from minitorch.plot import finish_figure
from minitorch.tensor import Tensor, float64, tensor


class CancelBatchException(Exception):
    """Raised by a callback to skip the rest of the current batch (``after_batch`` still runs)."""


class CancelEpochException(Exception):
    """Raised by a callback to end the current training or validation pass."""


class CancelFitException(Exception):
    """Raised by a callback to stop training; ``after_fit`` still runs."""


class Callback:
    """Base class.  Subclasses define any of the event methods (``begin_fit``, ...).

    ``order`` decides who runs first at each event (lower first); ``self.learn`` is set by the
    Learner when the callback is added.
    """

    order = 0
    learn = None

    def __repr__(self):
        return type(self).__name__


class LearnerCallback(Callback):
    """A callback made for one learner, given as its first argument (fastai's ``LearnerCallback``):
    what a Learner's ``callback_fns`` call, ``partial(SomeCallback, option=...)(learn)``.  It may
    also be made without one, ``SomeCallback(option=...)``, and passed in ``callbacks=[...]``;
    the Learner sets ``learn`` either way."""

    def __init__(self, learn=None):
        if learn is not None and not hasattr(learn, "fit"):
            raise TypeError(f"{type(self).__name__}: the first argument is the Learner (fastai's "
                            f"convention; pass the other settings by name), got {learn!r}")
        self.learn = learn


class SmoothenValue:
    """An exponentially weighted moving average, debiased as in Adam:
    ``avg = beta·avg + (1 − beta)·value``, reported as ``avg / (1 − beta^n)``.

    Without the debiasing the first values would be pulled towards 0 (the average starts
    there); dividing by ``1 − beta^n`` is exactly the weight the n values have received.
    """

    def __init__(self, beta=0.98):
        self.beta, self.n, self.mov_avg, self.smooth = beta, 0, 0.0, float("nan")

    def add_value(self, value):
        self.n += 1
        self.mov_avg = self.beta * self.mov_avg + (1 - self.beta) * value
        self.smooth = self.mov_avg / (1 - self.beta ** self.n)
        return self.smooth


class Recorder(Callback):
    """Keeps what happened during the last ``fit``, for the epoch table and the plots.

    Per training batch: ``lrs`` and ``moms`` (the values the batch was trained with, read at
    ``begin_batch``) and ``losses`` (the *smoothed* training loss after it, as fastai v1 keeps).
    Per epoch: ``nb_batches``, ``val_losses`` and ``metrics`` (batch-size-weighted means over
    the validation set; None where validation was skipped) and ``times``.

    Another callback can add columns of its own to the epoch table, as fastai's GANTrainer adds
    ``gen_loss`` and ``disc_loss``: ``add_metric_names(names)`` once (they are kept for every
    later fit), then ``add_metrics(values)`` at each ``after_epoch`` before the recorder's.
    """

    order = -10  # before every other callback: later ones read what it recorded

    def begin_fit(self):
        self.lrs, self.moms, self.losses = [], [], []
        self.nb_batches, self.val_losses, self.metrics, self.times = [], [], [], []
        self.metric_names = [metric_name(m) for m in self.learn.metrics]
        self.metric_names += getattr(self, "_added_met_names", [])
        self._added_mets = None

    def add_metric_names(self, names):
        """Columns after the metrics' own in the epoch table (values from ``add_metrics``)."""
        self._added_met_names = list(names)
        if hasattr(self, "metric_names"):
            own = [metric_name(m) for m in self.learn.metrics]
            self.metric_names = own + self._added_met_names

    def add_metrics(self, values):
        """This epoch's values of the columns named by ``add_metric_names``."""
        self._added_mets = list(values)

    def begin_epoch(self):
        self.epoch_start = time.time()
        self.batches_this_epoch = 0

    def begin_batch(self):
        if self.learn.training:
            self.lrs.append(self.learn.opt.lr)
            self.moms.append(self.learn.opt.mom)

    def after_backward(self):
        # The loss of a training batch is read after backward (one read per batch, see
        # nan_stop.read_batch); a batch cancelled before its backward is not recorded.
        self.losses.append(self.learn.smooth_loss)
        self.batches_this_epoch += 1

    def begin_validate(self):
        self.valid_sums = WeightedMeans(["valid_loss"] + self.metric_names)

    def after_batch(self):
        # Validation batches only; a batch cancelled before its loss has nothing to add.
        learn = self.learn
        if learn.training or getattr(learn, "loss", None) is None:
            return
        values = [learn.loss] + [metric_value(m, m(learn.pred, learn.yb)) for m in learn.metrics]
        self.valid_sums.add(values, weight=len(learn.yb))  # on the device: read once, at the end

    def after_epoch(self):
        self.nb_batches.append(self.batches_this_epoch)
        self.times.append(time.time() - self.epoch_start)
        if self.learn.validated:
            means = self.valid_sums.means()
            self.val_losses.append(means[0])
            row = means[1:]
        else:
            self.val_losses.append(None)
            row = None
        added = getattr(self, "_added_met_names", [])
        if added:
            own = row if row is not None else [None] * (len(self.metric_names) - len(added))
            row = own + (self._added_mets if self._added_mets is not None else [None] * len(added))
            self._added_mets = None
        self.metrics.append(row)

    # ---- plots -----------------------------------------------------------------------------------
    def plot(self, skip_start=10, skip_end=5, path=None):
        """Smoothed loss against learning rate, log-scaled lr axis: the lr finder's curve.

        The first ``skip_start`` points (still at the debiased start of the average) and the last
        ``skip_end`` (where the loss explodes) are left out, as fastai does.  When the finder
        stopped too early to leave any (it stops when the loss diverges), every point is drawn,
        and the title says so (fastai drew an empty plot).
        """
        if not getattr(self, "losses", None):
            raise ValueError("Recorder.plot: no batches were recorded; run learn.lr_find() first")
        lrs = _trim(self.lrs, skip_start, skip_end)
        losses = _trim(self.losses, skip_start, skip_end)
        title = None
        if not losses:
            lrs, losses = self.lrs, self.losses
            title = (f"all {len(losses)} batches (no more than skip_start + skip_end = "
                     f"{skip_start + skip_end})")
        fig, ax = plt.subplots(1, 1, figsize=(6, 4))
        if title is not None:
            ax.set_title(title)
        ax.plot([_last_group(lr) for lr in lrs], losses)
        ax.set_xscale("log")
        ax.set_xlabel("Learning Rate")
        ax.set_ylabel("Loss")
        ax.xaxis.set_major_formatter(plt.FormatStrFormatter("%.0e"))
        return finish_figure(fig, path)

    def plot_losses(self, skip_start=0, path=None):
        """Smoothed training loss per batch, and validation loss at the end of each epoch."""
        fig, ax = plt.subplots(1, 1, figsize=(6, 4))
        losses = self.losses[skip_start:]
        ax.plot(range(skip_start, skip_start + len(losses)), losses, label="Train")
        ends = [sum(self.nb_batches[:i + 1]) for i in range(len(self.nb_batches))]
        valid = [(e, v) for e, v in zip(ends, self.val_losses) if v is not None and e > skip_start]
        if valid:
            ax.plot(*zip(*valid), label="Validation")
        ax.set_xlabel("Batches processed")
        ax.set_ylabel("Loss")
        ax.legend()
        return finish_figure(fig, path)

    def plot_lr(self, show_moms=False, path=None):
        """Learning rate per batch (and momentum beside it with ``show_moms``)."""
        iterations = range(len(self.lrs))
        if show_moms:
            fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
            ax2.plot(iterations, [_last_group(m) for m in self.moms])
            ax2.set_xlabel("Iterations")
            ax2.set_ylabel("Momentum")
        else:
            fig, ax1 = plt.subplots(1, 1, figsize=(6, 4))
        ax1.plot(iterations, [_last_group(lr) for lr in self.lrs])
        ax1.set_xlabel("Iterations")
        ax1.set_ylabel("Learning Rate")
        return finish_figure(fig, path)

    def plot_metrics(self, path=None):
        """Each metric against the epoch."""
        rows = [(i, m) for i, m in enumerate(self.metrics) if m is not None]
        if not rows or not self.metric_names:
            raise ValueError("Recorder.plot_metrics: no metrics were recorded (give the Learner "
                             "metrics=... and validate)")
        fig, axes = plt.subplots(len(self.metric_names), 1, figsize=(6, 4 * len(self.metric_names)),
                                 squeeze=False)
        for j, (ax, name) in enumerate(zip(axes[:, 0], self.metric_names)):
            ax.plot([i + 1 for i, _ in rows], [m[j] for _, m in rows])
            ax.set_xlabel("Epoch")
            ax.set_ylabel(name)
        return finish_figure(fig, path)


def _trim(values, skip_start, skip_end):
    return values[skip_start:len(values) - skip_end] if skip_end else values[skip_start:]


def _last_group(value):
    """A per-layer-group hyper-parameter list is plotted by its last group (the head), as fastai
    does; with one group it is a plain number."""
    return value[-1] if isinstance(value, (list, tuple)) else value


def metric_name(metric):
    """The column name of a metric in the epoch table: its function or class name."""
    return getattr(metric, "__name__", type(metric).__name__)


def metric_value(metric, value):
    """A metric's result as a one-element Tensor (kept where it lives: on the GPU it is summed
    there and read once per validation, see WeightedMeans) or a Python number (a metric may
    return ``float``, as ``sklearn``'s do)."""
    if isinstance(value, Tensor) and value.numel() == 1:
        return value
    if hasattr(value, "item"):  # a NumPy scalar (or a Tensor of several elements: item() says so)
        return value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"metric {metric_name(metric)} returned a {type(value).__name__}; expected "
                    "a number or a one-element Tensor")


class WeightedMeans:
    """Running sums of several values weighted by batch size, so that a last, smaller batch
    counts for what it holds: ``mean = Σ bs·value / Σ bs``."""

    def __init__(self, names):
        self.names, self.sums, self.count = names, [0.0] * len(names), 0

    def add(self, values, weight):
        """``values`` are numbers or one-element tensors; tensors are summed where they live
        (in float64), so on the GPU nothing is read back until :meth:`means`."""
        self.sums = [s + weight * (v.detach().double() if isinstance(v, Tensor) else float(v))
                     for s, v in zip(self.sums, values)]
        self.count += weight

    def means(self):
        if self.count == 0:
            raise ValueError("no validation batch was seen: the validation set is empty")
        sums = [s.reshape(()) if isinstance(s, Tensor) else tensor(s, dtype=float64, device="cpu")
                for s in self.sums]
        if all(s.device == "cpu" for s in sums):
            return [s.item() / self.count for s in sums]
        return [s / self.count for s in stack([s.cuda() for s in sums]).tolist()]  # one sync


def format_time(seconds):
    """``mm:ss`` (``h:mm:ss`` past an hour), as fastai prints epoch times."""
    seconds = int(seconds)
    h, m, s = seconds // 3600, (seconds // 60) % 60, seconds % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class ProgressCallback(Callback):
    """A progress bar over the batches of each pass, and fastai's epoch table::

        epoch     train_loss  valid_loss  accuracy  time
        0         0.087234    0.046915    0.985500  00:21

    Column names are padded to 8 characters and separated by two spaces; each value is written
    under its name with six decimals, as fastprogress printed them.  ``train_loss`` is the
    smoothed loss at the end of the epoch; a skipped validation prints ``#na#``, and a Learner
    that never validates (``learn.skip_validate``, as a GAN) has no ``valid_loss`` column.
    ``show_bar=None`` shows the bar only on a terminal; rows go through ``tqdm.write`` so that
    they do not tear a bar that is still on screen.
    """

    order = 10  # after the Recorder: the row it prints is what the recorder just computed
    bar = None  # (also when after_fit comes without a begin_fit: an earlier callback failed)

    def __init__(self, show_bar=None, print_table=True, write=tqdm.write):
        self.show_bar, self.print_table, self.write = show_bar, print_table, write

    def begin_fit(self):
        self.no_val = self.learn.skip_validate
        self.names = (["epoch", "train_loss"] + ([] if self.no_val else ["valid_loss"])
                      + self.learn.recorder.metric_names + ["time"])
        self.widths = [max(len(n), 8) for n in self.names]
        self.bar = None
        self.header_written = False  # written with the first row: a fit stopped early has none

    def _wrap(self, description):
        disable = None if self.show_bar is None else not self.show_bar
        self.bar = tqdm(self.learn.dl, total=len(self.learn.dl), leave=False, disable=disable,
                        desc=description, dynamic_ncols=True)
        self.learn.dl = self.bar

    def begin_epoch(self):
        self._wrap(f"epoch {self.learn.epoch + 1}/{self.learn.n_epochs}")

    def begin_validate(self):
        self._close()
        self._wrap("valid")

    def after_batch(self):
        if self.bar is not None and self.learn.training and not self.bar.disable:
            self.bar.set_postfix_str(f"{self.learn.smooth_loss:.4f}", refresh=False)

    def _close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def after_epoch(self):
        self._close()
        if not self.print_table:
            return
        if not self.header_written:
            self.write("  ".join(n.ljust(w) for n, w in zip(self.names, self.widths)).rstrip())
            self.header_written = True
        rec = self.learn.recorder
        values = [str(self.learn.epoch), _six(rec.losses[-1] if rec.losses else None)]
        if not self.no_val:
            values.append(_six(rec.val_losses[-1]))
        metrics = rec.metrics[-1]
        values += [_six(v) for v in metrics] if metrics is not None else \
            ["#na#"] * len(rec.metric_names)
        values.append(format_time(rec.times[-1]))
        self.write("".join(v.ljust(w + 2) for v, w in zip(values, self.widths)).rstrip())

    def after_fit(self):
        self._close()


def _six(value):
    if value is None:
        return "#na#"
    return f"{value:.6f}"
