"""The one-cycle policy (Leslie Smith, 2018) as fastai v1 runs it.  Read after ``callbacks.py``.

Over the whole training run of ``n = epochs × batches`` steps the learning rate goes up from
``max_lr / div_factor`` to ``max_lr`` during the first ``int(n · pct_start)`` batches, then down to
``max_lr / final_div`` (``final_div = div_factor · 1e4`` unless given).  Momentum does the
opposite, 0.95 → 0.85 → 0.95: while the learning rate is high, less momentum keeps the steps
from overshooting.  Both phases follow half a cosine::

    value(pct) = end + (start − end) / 2 · (cos(π · pct) + 1)      pct = step / phase_length

so each phase starts and ends flat.  The first batch uses the start values; after every
training batch the schedule advances one step, and the next batch uses the new values.
"""
import math

from minitorch.learner.callbacks import Callback, CancelFitException
from minitorch.learner.optimizer import check_lr, is_positive_number


def annealing_cos(start, end, pct):
    """Half a cosine from ``start`` (pct 0) to ``end`` (pct 1).  Works on numbers and on
    per-layer-group lists."""
    if isinstance(start, (list, tuple)):
        return [annealing_cos(s, e, pct) for s, e in zip(start, end)]
    return end + (start - end) / 2 * (math.cos(math.pi * pct) + 1)


def annealing_exp(start, end, pct):
    """Exponential from ``start`` to ``end``: ``start · (end / start)^pct`` (the lr finder's)."""
    if isinstance(start, (list, tuple)):
        return [annealing_exp(s, e, pct) for s, e in zip(start, end)]
    return start * (end / start) ** pct


def annealing_linear(start, end, pct):
    """A straight line from ``start`` to ``end``."""
    if isinstance(start, (list, tuple)):
        return [annealing_linear(s, e, pct) for s, e in zip(start, end)]
    return start + pct * (end - start)


class Scheduler:
    """``n_iter`` steps from ``start`` to ``end`` along ``func``; ``step()`` returns the next
    value, the last one being ``end`` exactly."""

    def __init__(self, start, end, n_iter, func):
        self.start, self.end, self.n_iter, self.func = start, end, max(1, n_iter), func
        self.n = 0

    def step(self):
        self.n += 1
        return self.func(self.start, self.end, self.n / self.n_iter)

    @property
    def is_done(self):
        return self.n >= self.n_iter


def _scale(value, factor):
    """``value / factor`` for a number or a per-group list."""
    if isinstance(value, (list, tuple)):
        return [v / factor for v in value]
    return value / factor


class OneCycleScheduler(Callback):
    """Sets ``learn.opt.lr`` and ``learn.opt.mom`` (Adam's beta1, SGD's momentum) every batch
    along the one-cycle schedule.  ``max_lr`` is a number or one number per layer group."""

    order = -20  # before the Recorder reads the values the batch trains with

    def __init__(self, max_lr, moms=(0.95, 0.85), div_factor=25., pct_start=0.3, final_div=None):
        if not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleScheduler: pct_start must be in [0, 1], got {pct_start}")
        final_div = div_factor * 1e4 if final_div is None else final_div
        for name, value in (("div_factor", div_factor), ("final_div", final_div)):
            if not is_positive_number(value):
                raise ValueError(f"OneCycleScheduler: {name} must be a finite number > 0 (the "
                                 f"learning rate is divided by it), got {value!r}")
        self.max_lr = check_lr(max_lr, "OneCycleScheduler", "max_lr")
        self.moms = moms
        self.div_factor, self.pct_start, self.final_div = div_factor, pct_start, final_div

    def begin_fit(self):
        n = len(self.learn.data.train_dl) * self.learn.n_epochs
        warmup = int(n * self.pct_start)
        annealing = n - warmup
        low_lr = _scale(self.max_lr, self.div_factor)
        # A phase of zero batches (pct_start 0 or 1) is dropped: it would never be stepped.
        phases = [(length, lr_range, mom_range) for length, lr_range, mom_range in [
            (warmup, (low_lr, self.max_lr), (self.moms[0], self.moms[1])),
            (annealing, (self.max_lr, _scale(self.max_lr, self.final_div)),
             (self.moms[1], self.moms[0]))] if length > 0]
        self.lr_scheds = [Scheduler(*lrs, length, annealing_cos) for length, lrs, _ in phases]
        self.mom_scheds = [Scheduler(*moms, length, annealing_cos) for length, _, moms in phases]
        self.phase = 0
        self.learn.opt.lr = self.lr_scheds[0].start
        self.learn.opt.mom = self.mom_scheds[0].start

    def after_batch(self):
        if not self.learn.training:
            return
        if self.phase >= len(self.lr_scheds):
            raise CancelFitException("the one-cycle schedule is finished")
        self.learn.opt.lr = self.lr_scheds[self.phase].step()
        self.learn.opt.mom = self.mom_scheds[self.phase].step()
        if self.lr_scheds[self.phase].is_done:
            self.phase += 1


def fit_one_cycle(learn, cyc_len, max_lr=None, moms=(0.95, 0.85), div_factor=25.,
                  pct_start=0.3, final_div=None, wd=None, callbacks=None):
    """Train ``learn`` for ``cyc_len`` epochs along one cycle peaking at ``max_lr``.

    ``max_lr`` is a number, one number per layer group, or a ``slice`` spread over the layer
    groups (see ``Learner.lr_range``); None takes the Learner's default lr.
    """
    max_lr = learn.lr_range(learn.default_lr if max_lr is None else max_lr)
    scheduler = OneCycleScheduler(max_lr, moms=moms, div_factor=div_factor, pct_start=pct_start,
                                  final_div=final_div)
    learn.fit(cyc_len, max_lr, wd=wd, callbacks=[scheduler] + list(callbacks or []))
