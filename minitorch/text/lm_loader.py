"""Batches for a language model, as fastai v1's ``LanguageModelPreLoader`` cuts them.

Read ``tokenizer.py`` and ``vocab.py`` first.

A language model learns to predict the next token, so its data is one long stream of token
numbers (all documents joined, in a shuffled order for training), and the target of every token
is the token after it.  To train on many positions at once *and* let a hidden state run on from
one batch to the next, the stream is cut into ``bs`` contiguous rows, one per sequence of the
batch::

    stream  t0 t1 t2 ... t(N-1)           row i starts at token ⌊i · N / bs⌋
    batch k = the next bptt tokens of every row:   x[i] = row_i[k·bptt : k·bptt + bptt]
                                                   y[i] = row_i[k·bptt + 1 : k·bptt + bptt + 1]

So row i of batch k+1 continues row i of batch k exactly: the hidden state a model kept for
sequence i after batch k is the right starting state for batch k+1 (the lesson's Model3–5).
There are ⌈N / (bs · bptt)⌉ batches, all of shape (bs, bptt); as in fastai, a row that runs past
the end of the stream wraps around to its start.
"""
import math

import numpy

from minitorch import backend
from minitorch.tensor import tensor
from minitorch.text.layers import CrossEntropyFlat
from minitorch.text.vocab import Vocab


class LanguageModelLoader:
    """Iterates (x, y) batches of shape (bs, bptt), y = x shifted by one token in the stream.

    ``documents`` is a list of int arrays (numericalized documents).  ``shuffle`` changes the
    order of the documents at the start of every pass (training); the validation loader keeps it.
    """

    def __init__(self, documents, bs=64, bptt=70, shuffle=False, device=None):
        if bs < 1 or bptt < 1:
            raise ValueError(f"LanguageModelLoader: bs and bptt must be positive, got bs={bs}, "
                             f"bptt={bptt}")
        self.documents = [numpy.asarray(d, dtype=numpy.int64) for d in documents]
        self.total_tokens = sum(len(d) for d in self.documents)
        if self.total_tokens < 2:
            raise ValueError("LanguageModelLoader: the documents hold fewer than 2 tokens")
        self.bs, self.bptt, self.shuffle = bs, bptt, shuffle
        self.device = backend.canonical_device(device)

    def __len__(self):
        return math.ceil(self.total_tokens / (self.bs * self.bptt))

    def stream(self):
        """All documents joined into one array, in a fresh random order when shuffling."""
        order = (backend.rng().permutation(len(self.documents)) if self.shuffle
                 else range(len(self.documents)))
        return numpy.concatenate([self.documents[i] for i in order])

    def row_starts(self):
        """Where each of the bs rows starts in the stream: ⌊i · N / bs⌋."""
        step = self.total_tokens / self.bs
        return numpy.array([int(step * i) for i in range(self.bs)], dtype=numpy.int64)

    def __iter__(self):
        # The token stream goes to the loader's device once per epoch (one copy); every batch
        # is then cut from it there, with no copy of its own.
        stream, starts, offsets = backend.to_device_together(
            [self.stream(), self.row_starts(), numpy.arange(self.bptt + 1)], self.device)
        for k in range(len(self)):
            # bptt + 1 consecutive positions per row; x is the first bptt, y the last bptt.
            positions = (starts[:, None] + k * self.bptt + offsets) % self.total_tokens
            window = stream[positions]
            yield (tensor(window[:, :-1], device=self.device),
                   tensor(window[:, 1:], device=self.device))

    def __repr__(self):
        return (f"LanguageModelLoader({len(self)} batches of {self.bs}×{self.bptt}, "
                f"{self.total_tokens} tokens, shuffle={self.shuffle})")


class TextLMDataBunch:
    """What a Learner trains a language model on: ``train_dl``, ``valid_dl``, ``device``, plus
    the ``vocab`` and the loss fastai uses for language models (``CrossEntropyFlat``)."""

    def __init__(self, train_ids, valid_ids, vocab, bs=64, bptt=70, device=None):
        self.vocab, self.bs, self.bptt = vocab, bs, bptt
        self.device = backend.canonical_device(device)
        self.train_dl = LanguageModelLoader(train_ids, bs, bptt, shuffle=True, device=self.device)
        self.valid_dl = LanguageModelLoader(valid_ids, bs, bptt, shuffle=False, device=self.device)
        self.loss_func = CrossEntropyFlat()

    @classmethod
    def from_tokens(cls, train_tokens, valid_tokens, vocab=None, bs=64, bptt=70, device=None,
                    **vocab_options):
        """From tokenized documents; the vocabulary is built from the training ones if not given."""
        vocab = vocab or Vocab.create(train_tokens, **vocab_options)
        return cls([vocab.numericalize(t) for t in train_tokens],
                   [vocab.numericalize(t) for t in valid_tokens], vocab, bs, bptt, device)

    def one_batch(self, valid=False):
        return next(iter(self.valid_dl if valid else self.train_dl))

    def __repr__(self):
        return (f"TextLMDataBunch(vocab {len(self.vocab)}, bs {self.bs}, bptt {self.bptt};\n"
                f"  train: {self.train_dl}\n  valid: {self.valid_dl})")
