"""The learning-rate finder (Leslie Smith's "LR range test") as fastai v1 runs it.
Read after ``callbacks.py`` and ``one_cycle.py``.

Train for up to ``num_it`` batches while the learning rate grows exponentially from
``start_lr`` to ``end_lr`` (``lr = start · (end / start)^(i / num_it)``), recording the smoothed
loss after each batch.  Once the loss explodes — the smoothed loss passes 4× the best seen, or
becomes NaN — there is nothing more to learn, so the run stops.  ``learn.recorder.plot()`` then
shows loss against lr; a good ``max_lr`` is where the loss still falls steeply, well before the
minimum.  The search is an experiment, not training: the weights and the optimizer's state are
put back as they were before it.
"""
import copy
import math

from minitorch.autograd import no_grad
from minitorch.learner.callbacks import Callback, CancelFitException
from minitorch.learner.one_cycle import Scheduler, annealing_exp


class LRFinder(Callback):
    """Grows the learning rate every batch, stops on divergence, restores the model after."""

    order = -20  # sets the lr before the Recorder reads it

    def __init__(self, start_lr=1e-7, end_lr=10, num_it=100, stop_div=True):
        self.sched = Scheduler(start_lr, end_lr, num_it, annealing_exp)
        self.stop_div = stop_div

    def begin_fit(self):
        learn = self.learn
        # A snapshot in memory (copies: state_dict() shares the live arrays).
        self.saved_model = {k: v.array.copy() for k, v in learn.model.state_dict().items()}
        self.saved_opt = copy.deepcopy(learn.opt.opt.state_dict())
        learn.opt.lr = self.sched.start
        self.best_loss = math.inf
        learn.skip_validate = True  # the lr finder never validates

    def after_backward(self):
        # The loss is read after backward (one read per batch, see callbacks.py).  NaN is
        # divergence: stop here, quietly, before TerminateOnNaN (order -5) reports a failure.
        if self.stop_div and math.isnan(self.learn.smooth_loss):
            raise CancelFitException("the loss diverged")

    def after_batch(self):
        if not self.learn.training:
            return
        smooth = self.learn.smooth_loss
        if self.sched.n == 0 or smooth < self.best_loss:
            self.best_loss = smooth
        self.learn.opt.lr = self.sched.step()
        if self.sched.is_done or (self.stop_div and smooth > 4 * self.best_loss):
            raise CancelFitException("the lr finder is done")

    def after_fit(self):
        if not hasattr(self, "saved_model"):
            return  # the fit stopped before this callback's begin_fit: nothing to restore
        learn = self.learn
        learn.skip_validate = False
        with no_grad():
            learn.model.load_state_dict(self.saved_model)
        learn.opt.opt.load_state_dict(self.saved_opt)


def lr_find(learn, start_lr=1e-7, end_lr=10, num_it=100, stop_div=True, wd=None):
    """Explore learning rates from ``start_lr`` to ``end_lr`` over at most ``num_it`` batches;
    then plot with ``learn.recorder.plot()``."""
    start_lr, end_lr = learn.lr_range(start_lr), learn.lr_range(end_lr)
    if not isinstance(start_lr, list) and not 0 < start_lr < end_lr:
        raise ValueError(f"lr_find: need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if num_it < 1:
        raise ValueError(f"lr_find: num_it must be at least 1, got {num_it}")
    learn.require_training_batches("lr_find")
    finder = LRFinder(start_lr, end_lr, num_it, stop_div)
    epochs = math.ceil(num_it / len(learn.data.train_dl))
    learn.fit(epochs, start_lr, wd=wd, callbacks=[finder])
    print("LR Finder is complete, type learn.recorder.plot() to see the graph.")
