"""fastai v1's flattened losses: a loss applied to outputs and targets whose extra axes are
flattened away.  Read after ``nn/loss.py`` (the losses themselves).

A language model's output is (batch, time, vocab) and its target (batch, time):
:class:`CrossEntropyFlat` folds batch and time into one axis of rows, so every position of every
sequence counts once.  A regression's output and target may differ in shape only by axes of
size one ((N, 1) against (N,)) or be images: :class:`MSELossFlat` compares them as two flat
lists of numbers, its target turned into floats (the superres-GAN notebook pretrains its
generator with it).
"""
from minitorch.nn import functional as F
from minitorch.nn.module import Module

__all__ = ["CrossEntropyFlat", "MSELossFlat"]


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


class MSELossFlat(Module):
    """Mean squared error of ``input`` against ``target`` flattened, ``axis`` moved last first
    (it matters only for ``reduction='none'``, whose values come in that order); the target is
    cast to the input's dtype (``floatify``: integer targets are fine)."""

    def __init__(self, axis=-1, floatify=True, reduction="mean"):
        super().__init__()
        self.axis, self.floatify, self.reduction = axis, floatify, reduction

    def forward(self, input, target):
        if input.numel() != target.numel():
            raise ValueError(f"MSELossFlat: the input has {input.numel()} values (shape "
                             f"{tuple(input.shape)}) but the target {target.numel()} (shape "
                             f"{tuple(target.shape)})")
        flat_input = input.transpose(self.axis, -1).reshape(-1)
        flat_target = (target.transpose(self.axis, -1) if target.ndim else target).reshape(-1)
        if self.floatify:
            flat_target = flat_target.to(input.dtype)
        return F.mse_loss(flat_input, flat_target, reduction=self.reduction)

    def extra_repr(self):
        reduction = "" if self.reduction == "mean" else f", reduction={self.reduction!r}"
        return f"axis={self.axis}{reduction}"
