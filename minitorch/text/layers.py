"""Layers and losses for sequence outputs of shape (batch, time, features).

Read after ``nn/normalization.py`` and ``nn/loss.py``.

A language model predicts at every position, so its output is (batch, time, vocab) and its
target (batch, time).  The layers written for (N, C) inputs apply to every position at once
once batch and time are *flattened* into one axis of N = batch·time rows — fastai v1's
``BatchNorm1dFlat`` and ``CrossEntropyFlat`` do just that, and so do these.  (The Learner's
``accuracy`` already flattens: it compares ``argmax`` with the target row by row.)
"""
from minitorch.nn import functional as F
from minitorch.nn.module import Module
from minitorch.nn.normalization import BatchNorm1d


class BatchNorm1dFlat(BatchNorm1d):
    """BatchNorm1d over every (sample, time step) of a (batch, time, features) input: each
    feature is normalised with the statistics of all batch·time positions."""

    def forward(self, input):
        if input.ndim == 2:
            return super().forward(input)
        if input.ndim != 3:
            raise ValueError(f"BatchNorm1dFlat: expected (batch, time, {self.num_features}) or "
                             f"(batch, {self.num_features}), got shape {tuple(input.shape)}")
        batch, steps, features = input.shape
        flat = super().forward(input.reshape(batch * steps, features))
        return flat.reshape(batch, steps, features)


class CrossEntropyFlat(Module):
    """Cross-entropy of (…, classes) scores against (…) class indices: all leading axes are
    flattened into rows, so every position of every sequence counts once in the mean."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__()
        self.weight, self.ignore_index, self.reduction = weight, ignore_index, reduction

    def activ(self, output):
        """The predictions for ``output`` (the Learner's final activation): softmax over the
        vocabulary."""
        return output.softmax(-1)

    def forward(self, input, target):
        if tuple(input.shape[:-1]) != tuple(target.shape):
            raise ValueError(f"CrossEntropyFlat: scores of shape {tuple(input.shape)} need "
                             f"targets of shape {tuple(input.shape[:-1])}, got "
                             f"{tuple(target.shape)}")
        return F.cross_entropy(input.reshape(-1, input.shape[-1]), target.reshape(-1),
                               weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction)

    def extra_repr(self):
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"
