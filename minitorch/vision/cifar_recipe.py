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
    batch.  Sets ``learn.opt.lr`` before each training batch.

    With ``warmup_error`` the fit starts at a tenth of that until the first training batch whose
    error rate is below ``warmup_error`` — the paper's warm-up for its 110-layer net ("0.01 to
    warm up the training until the training error is below 80 %, and then go back to 0.1").
    ``warmup_steps`` counts the batches it took."""

    order = -20  # before the Recorder reads the lr the batch trains with

    def __init__(self, lr, milestones, gamma=0.1, warmup_error=None):
        self.lr, self.milestones, self.gamma = lr, sorted(milestones), gamma
        self.warmup_error = warmup_error

    def lr_at(self, step):
        return self.lr * self.gamma ** sum(step >= m for m in self.milestones)

    def begin_fit(self):
        self.step, self.warming, self.warmup_steps = 0, self.warmup_error is not None, 0

    def begin_batch(self):
        if self.learn.training:
            self.learn.opt.lr = self.lr_at(self.step) * (0.1 if self.warming else 1.0)

    def after_batch(self):
        learn = self.learn
        if not learn.training:
            return
        self.step += 1
        if self.warming:   # one read from the device a batch, during the warm-up only
            self.warmup_steps += 1
            wrong = (learn.pred.array.argmax(axis=1) != learn.yb.array).sum()
            self.warming = float(wrong.item()) / len(learn.yb) >= self.warmup_error


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
                    warmup_error=None, silent=False):
    """Train ``model`` on ``data`` for ``epochs`` epochs with section 4.2's recipe: SGD,
    ``momentum``, L2 weight decay ``wd`` on every parameter, ``lr`` divided by 10 at the
    fractions ``decay_at`` of all the steps (and a tenth of it until a batch's error is below
    ``warmup_error``, when given: :class:`StepDecay`).  Returns the Learner;
    ``learn.train_errors`` and ``learn.test_errors`` are the per-epoch curves,
    ``learn.warmup_steps`` the batches the warm-up took."""
    learn = Learner(data, model, loss_func=nn.CrossEntropyLoss(), metrics=error_rate,
                    opt_func=partial(SGD, momentum=momentum), wd=wd, true_wd=False, bn_wd=True,
                    silent=silent)
    n_steps = epochs * len(data.train_dl)
    training_error = TrainingError()
    schedule = StepDecay(lr, [int(f * n_steps) for f in decay_at], warmup_error=warmup_error)
    learn.fit(epochs, lr, callbacks=[schedule, training_error])
    learn.train_errors, learn.warmup_steps = training_error.errors, schedule.warmup_steps
    learn.test_errors = [row[0] if row else float("nan") for row in learn.recorder.metrics]
    return learn
