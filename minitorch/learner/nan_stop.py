"""Stopping a fit on NaN before the optimizer's step, and the one device→host read per training
batch that makes the check cheap.  Read after ``callbacks.py`` and ``learner.py``.

The training loop (``Learner._one_batch``) makes ONE read from the device per training batch,
after backward and before ``after_backward``: :func:`read_batch` stacks the loss with whatever
the callbacks ask for through a method ``values_to_read()`` and reads them together
(:func:`read_together`), setting ``learn.last_loss``, ``learn.smooth_loss`` and
``learn.batch_values``.  Each read from the GPU makes the host wait until the GPU has finished
everything queued, so reading at ``after_loss`` and again before the step would wait twice
(fastai v1 reads the loss at ``on_backward_begin``, before backward).  The price: a training
batch's loss *value* is known from ``after_backward`` on, not at ``after_loss`` (where
``learn.loss``, the tensor, is).  Validation losses are never read per batch: the Recorder sums
them on the device and reads them once per validation.

:class:`TerminateOnNaN`, one of the three callbacks every Learner has, is the one that asks: it
hands over the total of every gradient and buffer (NaN or infinite exactly when one of them is,
see :func:`non_finite`), so that a batch that went wrong stops the fit before the step, from
that same single read.  What it costs: about 0.2 % of the ResNet-ish model's step
(``benchmarks/README.md``, "The NaN checks of a training step").
"""
import math

from minitorch import backend
from minitorch.learner.callbacks import Callback, CancelFitException


def read_batch(learn):
    """The training batch's one device→host read, after backward: the loss and whatever the
    callbacks' ``values_to_read()`` ask for (the gradients' total for TerminateOnNaN), read
    together.  Sets ``learn.last_loss``, ``learn.smooth_loss`` and ``learn.batch_values`` for
    ``after_backward`` and the events after it."""
    if learn.loss.numel() != 1:
        raise ValueError(f"the loss must have one element, got shape {tuple(learn.loss.shape)}")
    named = {"loss": learn.loss.array}
    for cb in sorted(learn.callbacks + learn.extra_callbacks, key=lambda c: c.order):
        if hasattr(cb, "values_to_read"):
            named.update(cb.values_to_read())
    learn.batch_values = read_together(named)
    learn.last_loss = learn.batch_values["loss"]
    learn.smooth_loss = learn.smoothener.add_value(learn.last_loss)


def finite_total(named_arrays):
    """The sum of every floating array of ``[(name, array), ...]``, as a 0-d array where they
    live (None when there is none): finite exactly when every array is finite, unless a sum
    of finite values overflowed (see :func:`non_finite`).  Nothing is read from the device."""
    arrays = [a for _, a in named_arrays if a.dtype.kind in "fc"]
    if not arrays:
        return None
    total = arrays[0].sum()
    for a in arrays[1:]:
        total = total + a.sum()
    return total


def non_finite(named_arrays, total=None):
    """The names of the arrays (``[(name, array), ...]``) that hold a NaN or an infinity; ``[]``
    when every one is finite.  ``total`` is their :func:`finite_total` already read to the host
    (a float), when the caller read it together with other values.

    Cheap, because it runs on every training batch: the sum of an array is NaN or infinite
    whenever the array holds a NaN or an infinity (NaN spreads through a sum, and +inf plus
    -inf is NaN), so one reduction per array, the sums added up where the arrays live (CPU or
    GPU), and a single read of that one number back to the host decide the usual case.  A sum
    can also overflow from finite values alone (float32 stops at 3.4e38), so a total that is
    not finite is confirmed array by array with ``isfinite`` before anything is called bad.
    """
    if total is None:
        total = finite_total(named_arrays)
        if total is None:
            return []
        total = float(total)  # the one device→host read
    if math.isfinite(total):
        return []
    return [name for name, a in named_arrays if a.dtype.kind in "fc" and not bool(
        backend.array_module(backend.device_of(a)).isfinite(a).all())]


def read_together(named):
    """``{name: one-element array}`` → ``{name: float}``, read from the device in ONE transfer.

    Each device→host read makes the host wait until the GPU has finished everything queued, so
    the values a training batch needs on the host (its loss, TerminateOnNaN's total) are cast
    to float64 (exact for float32 and float16), stacked into one small array and read once.
    The index checks waiting on the device (``speed/gpu.py``, ``check_later``) travel with them.
    """
    names = list(named)
    if not names:
        return {}
    first = named[names[0]]
    xp = backend.array_module(backend.device_of(first))
    stacked = xp.stack([named[n].reshape(()).astype("float64") for n in names])
    return dict(zip(names, backend.to_numpy(stacked).tolist()))


class TerminateOnNaN(Callback):
    """Stops the fit as soon as a training batch goes wrong — its loss, a gradient, or a buffer
    (batchnorm's running statistics) is NaN or infinite — *before* the optimizer's step, so
    the message can say, truthfully, that the weights, the optimizer's state and the buffers
    are those from before the failing batch.

    Three places can break: the loss; the gradients, when a finite loss has an infinite slope
    somewhere (``sqrt`` at 0, ``log`` of 0); and the buffers, which batchnorm updates during
    the forward pass.  All three are checked at ``after_backward`` from ONE read from the
    device: :meth:`values_to_read` hands the Learner the sum of every gradient and buffer (see
    :func:`non_finite`), which it reads together with the loss (:func:`read_batch`).  The
    buffers are changed before any check can run, so a copy of them is taken at
    ``begin_batch`` (they are small: two numbers per channel) and put back on a stop.  PyTorch
    and fastai leave whatever the step wrote.
    """

    order = -5

    def begin_fit(self):
        model = self.learn.model
        self.params = list(model.named_parameters())
        # Every buffer is copied and put back (batchnorm's batch count too); the floating
        # ones are checked.
        self.buffers = [(name, b) for name, b in model.named_buffers() if b is not None]
        self.saved_buffers = None

    def begin_batch(self):
        self.saved_buffers = [b.array.copy() for _, b in self.buffers] \
            if self.learn.training else None

    def _named_arrays(self):
        named = [(f"the gradient of {name}", p.grad.array) for name, p in self.params
                 if p.grad is not None]
        return named + [(f"the buffer {name}", b.array) for name, b in self.buffers]

    def values_to_read(self):
        """What the Learner reads with the loss after backward: the gradients' and buffers'
        total (a 0-d device array; finite when they all are)."""
        total = finite_total(self._named_arrays())
        return {} if total is None else {"gradients and buffers": total}

    def after_backward(self):
        learn = self.learn
        if not math.isfinite(learn.last_loss):
            self._stop(f"the training loss is {learn.last_loss}")
        total = learn.batch_values.get("gradients and buffers")
        bad = [] if total is None else non_finite(self._named_arrays(), total)
        if bad:
            shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
            self._stop(f"{shown} {'is' if len(bad) == 1 else 'are'} not finite (NaN or inf)")

    def _stop(self, problem):
        """Put the buffers back as they were before this batch, say why, stop the fit."""
        learn = self.learn
        for (_, buffer), saved in zip(self.buffers, self.saved_buffers or []):
            buffer.array[...] = saved
            buffer._version_counter[0] += 1
        self.message = (f"Epoch {learn.epoch}, batch {learn.iter}: {problem}; training stopped "
                        "before the optimizer's step (the weights, the optimizer's state and "
                        "the batchnorm statistics are those before this batch). A lower "
                        "learning rate usually cures it.")
        print(self.message)
        learn.stopped_on_nan = True
        raise CancelFitException(self.message)
