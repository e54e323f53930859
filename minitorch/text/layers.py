"""Layers and losses for sequence outputs of shape (batch, time, features).

Read after ``nn/normalization.py`` and ``nn/loss.py``.

A language model predicts at every position, so its output is (batch, time, vocab) and its
target (batch, time).  The layers written for (N, C) inputs apply to every position at once
once batch and time are *flattened* into one axis of N = batch·time rows — fastai v1's
``BatchNorm1dFlat`` and ``CrossEntropyFlat`` do just that, and so do these (``CrossEntropyFlat``
lives with fastai's other flattened losses in ``minitorch/learner/losses.py``).  (The Learner's
``accuracy`` already flattens: it compares ``argmax`` with the target row by row.)
"""
from minitorch.learner.losses import CrossEntropyFlat  # noqa: F401  (the language model's loss)
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
