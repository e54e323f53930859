"""``LossMetrics``: the parts of a loss as columns of the epoch table (fastai v1's
``callbacks/loss_metrics.py``).  Read ``callbacks.py`` first.

A loss made of several terms (the feature loss: pixel, three feature and three gram terms)
keeps them in ``loss_func.metrics``, a dict named by ``loss_func.metric_names``.  After every
validation batch this callback adds each term, weighted by the batch size, and at the end of
the epoch hands the means to the recorder, which prints them beside ``valid_loss``::

    epoch     train_loss  valid_loss  pixel     feat_0    feat_1    feat_2    gram_0 ...
"""
from minitorch.learner.callbacks import LearnerCallback, WeightedMeans


class LossMetrics(LearnerCallback):
    """Adds the metrics of the learner's loss function (``loss_func.metrics``) to the epoch
    table: batch-size-weighted means over the validation set.  ``callback_fns=LossMetrics``, as
    in the lesson, or ``callbacks=[LossMetrics()]``."""

    order = -20  # before the Recorder (−10): its after_epoch takes what add_metrics gave

    def begin_fit(self):
        self.names = list(self.learn.loss_func.metric_names)
        self.learn.recorder.add_metric_names(self.names)
        self.sums = None

    def begin_validate(self):
        self.sums = WeightedMeans(self.names)

    def after_batch(self):
        learn = self.learn
        if learn.training or getattr(learn, "loss", None) is None:
            return
        metrics = learn.loss_func.metrics
        self.sums.add([metrics[name].item() for name in self.names], weight=len(learn.yb))

    def after_epoch(self):
        if self.learn.validated and self.sums is not None:
            self.learn.recorder.add_metrics(self.sums.means())
