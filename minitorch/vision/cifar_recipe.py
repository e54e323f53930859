"""He et al.'s (2015) CIFAR training recipe (section 4.2) in fastai's vocabulary.  Read after
``learner/learner.py`` and ``learner/callbacks.py`` (the events), ``optim/sgd.py`` and
``vision/models/cifar_resnet.py`` (the nets it trains); the lessons
``lessons/paper_he2015_degradation.py`` and ``lessons/paper_li2018_loss_landscape.py`` use it.

The recipe: SGD with momentum 0.9, weight decay 1e-4 as an L2 penalty on every parameter
(PyTorch's ``SGD(weight_decay=...)``: ``true_wd=False``, batchnorm included), batch 128, learning
rate 0.1 divided by 10 at 32k and 48k of 64k iterations — half-way and three quarters of the
way (:class:`StepDecay`).  The paper plots the *training* error as it trains: the share of
misclassified images in the mini-batches of each epoch, in training mode
(:class:`TrainingError`), beside the test error.

:func:`train_cifar_net` puts it together: a ``Learner`` whose epoch table reads::

    epoch     train_loss  valid_loss  error_rate  train_error  time
"""
from functools import partial

from minitorch import nn
from minitorch.learner import Learner, error_rate
from minitorch.learner.callbacks import Callback
from minitorch.optim import SGD


class StepDecay(Callback):
    """The learning rate ``lr · gamma^k`` where k is the number of ``milestones`` (step numbers,
    counted from 0 over the whole fit) already reached: PyTorch's ``MultiStepLR`` stepped every
    batch.  Sets ``learn.opt.lr`` before each training batch."""

    order = -20  # before the Recorder reads the lr the batch trains with

    def __init__(self, lr, milestones, gamma=0.1):
        self.lr, self.milestones, self.gamma = lr, sorted(milestones), gamma

    def lr_at(self, step):
        return self.lr * self.gamma ** sum(step >= m for m in self.milestones)

    def begin_fit(self):
        self.step = 0

    def begin_batch(self):
        if self.learn.training:
            self.learn.opt.lr = self.lr_at(self.step)

    def after_batch(self):
        if self.learn.training:
            self.step += 1


class TrainingError(Callback):
    """The error rate on the training batches of each epoch — the paper's "training error" —
    as a column ``train_error`` of the epoch table; every epoch's value is kept in ``errors``.

    The count of misclassified images stays on the device and is read once an epoch."""

    order = -20  # before the Recorder (−10): its after_epoch takes what add_metrics gave

    def begin_fit(self):
        self.learn.recorder.add_metric_names(["train_error"])
        self.errors = []

    def begin_epoch(self):
        self.wrong, self.seen = 0, 0

    def after_batch(self):
        learn = self.learn
        if not learn.training or getattr(learn, "pred", None) is None:
            return
        self.wrong = self.wrong + (learn.pred.array.argmax(axis=1) != learn.yb.array).sum()
        self.seen += len(learn.yb)

    def after_epoch(self):
        value = float(self.wrong.item()) / self.seen if self.seen else float("nan")
        self.errors.append(value)
        self.learn.recorder.add_metrics([value])


def train_cifar_net(data, model, epochs, lr=0.1, decay_at=(0.5, 0.75), momentum=0.9, wd=1e-4,
                    silent=False):
    """Train ``model`` on ``data`` for ``epochs`` epochs with section 4.2's recipe: SGD,
    ``momentum``, L2 weight decay ``wd`` on every parameter, ``lr`` divided by 10 at the
    fractions ``decay_at`` of all the steps.  Returns the Learner; ``learn.train_errors`` and
    ``learn.test_errors`` are the per-epoch curves."""
    learn = Learner(data, model, loss_func=nn.CrossEntropyLoss(), metrics=error_rate,
                    opt_func=partial(SGD, momentum=momentum), wd=wd, true_wd=False, bn_wd=True,
                    silent=silent)
    n_steps = epochs * len(data.train_dl)
    training_error = TrainingError()
    learn.fit(epochs, lr, callbacks=[StepDecay(lr, [int(f * n_steps) for f in decay_at]),
                                     training_error])
    learn.train_errors = training_error.errors
    learn.test_errors = [row[0] if row else float("nan") for row in learn.recorder.metrics]
    return learn
