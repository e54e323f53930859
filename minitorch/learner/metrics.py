"""Metrics: numbers that say how good the predictions are, for people rather than for gradients.

A metric is a function ``metric(pred, target) -> 0-d Tensor`` over one batch; the Learner
averages it over the validation set weighted by batch size (see ``callbacks.Recorder``) and
prints it under its function name in the epoch table.  Pass them as
``Learner(..., metrics=[accuracy, error_rate])``.
"""
from minitorch.tensor import Tensor


def _check(name, pred, target):
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{name}: expected two Tensors (predictions, targets), got "
                        f"{type(pred).__name__} and {type(target).__name__}")
    if pred.shape[0] != target.shape[0]:
        raise ValueError(f"{name}: {pred.shape[0]} predictions for {target.shape[0]} targets")


def accuracy(pred, target):
    """The fraction of rows whose highest score is at the target class.

    ``pred`` is (N, C) scores (any monotone transform of probabilities: logits are fine),
    ``target`` is (N,) class indices.
    """
    _check("accuracy", pred, target)
    n = target.shape[0]
    predicted = pred.argmax(dim=-1).reshape(n, -1)
    return (predicted == target.reshape(n, -1)).float().mean()


def error_rate(pred, target):
    """``1 − accuracy``."""
    return 1 - accuracy(pred, target)


def accuracy_thresh(pred, target, thresh=0.5, sigmoid=True):
    """For multi-label targets (0/1 per class): the fraction of (row, class) entries where
    ``sigmoid(pred) > thresh`` agrees with the target."""
    _check("accuracy_thresh", pred, target)
    if sigmoid:
        pred = pred.sigmoid()
    return ((pred > thresh) == (target > 0.5)).float().mean()


def accuracy_thresh_expand(pred, target, thresh=0.5, sigmoid=True):
    """``accuracy_thresh`` where each row's single target is expanded to the shape of its
    predictions (a GAN critic that scores every patch against one real/fake label).

    fastai v1 compared ``pred > thresh`` (a bool tensor) with ``target.byte()`` and crashed on
    newer PyTorch (course-v3#386); here both sides are bool (``target > 0.5``), so integer,
    float and bool labels all work, and the target is expanded to any number of dimensions
    (fastai's ``[:, None]`` only to two)."""
    _check("accuracy_thresh_expand", pred, target)
    target = target.reshape(target.shape[0], *([1] * (pred.ndim - 1))).expand(*pred.shape)
    return accuracy_thresh(pred, target, thresh, sigmoid)
