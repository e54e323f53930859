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

:class:`TextLMDataBunch` is a ``DataBunch`` (``minitorch/data/databunch.py``) whose loaders are
these, so the Learner's ``summary``, ``get_preds``, ``show_results`` and ``predict`` work on it as
on images; each loader's ``dataset`` holds the documents as a :class:`TextList`, the item list
that turns numbers back into words and shows a batch as a table of text.

The data block API makes one from raw texts, as the lesson does::

    train, valid = TextList([train_text], path=path), TextList([valid_text], path=path)
    src = ItemLists(path, train, valid).label_for_lm()   # tokenize, build the vocabulary, number
    data = src.databunch(bs=64)                          # a TextLMDataBunch, bptt 70
    train[0].text                                        # a document, as a Text item
"""
import math
import textwrap

import numpy

from minitorch import backend
from minitorch.data.data_block import ItemList, LabelList, host_array
from minitorch.data.databunch import DataBunch
from minitorch.data.items import ItemBase
from minitorch.plot import plot_multi
from minitorch.speed.gpu import to_device_together
from minitorch.tensor import tensor
from minitorch.text.layers import CrossEntropyFlat
from minitorch.text.tokenizer import Tokenizer
from minitorch.text.vocab import Vocab


class LanguageModelLoader:
    """Iterates (x, y) batches of shape (bs, bptt), y = x shifted by one token in the stream.

    ``documents`` is a list of int arrays (numericalized documents).  ``shuffle`` changes the
    order of the documents at the start of every pass (training); the validation loader keeps it.
    """

    def __init__(self, documents, bs=64, bptt=70, shuffle=False, device=None, vocab=None):
        if bs < 1 or bptt < 1:
            raise ValueError(f"LanguageModelLoader: bs and bptt must be positive, got bs={bs}, "
                             f"bptt={bptt}")
        self.documents = [numpy.asarray(d, dtype=numpy.int64) for d in documents]
        self.total_tokens = sum(len(d) for d in self.documents)
        if self.total_tokens < 2:
            raise ValueError("LanguageModelLoader: the documents hold fewer than 2 tokens")
        self.bs, self.bptt, self.shuffle = bs, bptt, shuffle
        self.device = backend.canonical_device(device)
        # What ``data.dl(ds_type).dataset`` is for every DataBunch: the inputs and targets as item
        # lists, which show them (``show_batch``, ``learn.show_results``).
        texts = TextList(self.documents, vocab)
        self.dataset = LabelList(texts, texts)

    @property
    def batch_size(self):
        return self.bs

    @batch_size.setter
    def batch_size(self, size):
        self.bs = size

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
        stream, starts, offsets = to_device_together(
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


class Text(ItemBase):
    """One text as an item (fastai's ``Text``): ``data`` its token numbers (an int64 array),
    ``text`` the tokens joined by spaces, which it prints as."""

    def __init__(self, ids, text):
        super().__init__(numpy.asarray(ids, dtype=numpy.int64), text)
        self.text = text


class TextList(ItemList):
    """Documents and their ``vocab``: the item list of a language model's inputs and targets.

    Made from raw texts (strings), it is *processed* by ``ItemLists.label_for_lm`` (or
    :meth:`process`): each text tokenized (``tokenizer.py``), the vocabulary built from the
    training texts (``Vocab.create``), every document numericalized, in place — the items become
    int64 token arrays.  Then ``tl[i]`` is a :class:`Text`, and the list turns numbers back into
    words (``reconstruct``), a model's scores into the most likely next tokens
    (``analyze_pred``), and shows a batch as a table of text (``show_xys``: text / target;
    ``show_xyzs``: text / target / prediction)."""

    _square_show = False
    _square_show_res = False

    def __init__(self, items, vocab=None, path="."):
        super().__init__(items, path)
        self.vocab = vocab

    def _new_kwargs(self):
        return {"path": self.path, "vocab": self.vocab}

    @property
    def _bunch(self):
        """The DataBunch that ``LabelLists.databunch`` makes from text: a language model's."""
        return TextLMDataBunch

    @property
    def is_processed(self):
        return self.vocab is not None

    def process(self, vocab=None, max_vocab=60000, min_freq=2, tokenizer=None):
        """Tokenize the texts and number the tokens, in place: with ``vocab`` (the training
        list's, for a validation list), else a vocabulary built from these texts (at most
        ``max_vocab`` tokens seen ``min_freq`` times or more, fastai's defaults).  A list already
        processed is left as it is.  Returns the list."""
        if self.is_processed:
            return self
        texts = list(self.items)
        if not all(isinstance(text, str) for text in texts):
            raise TypeError("TextList.process: expected the items to be texts (strings), got "
                            f"{sorted({type(t).__name__ for t in texts})}; numbers need a vocab")
        tokens = (tokenizer or Tokenizer()).process_all(texts)
        vocab = vocab if vocab is not None else Vocab.create(tokens, max_vocab, min_freq)
        self.items = [vocab.numericalize(t) for t in tokens]
        self.vocab = vocab
        return self

    def reconstruct(self, t):
        """Token numbers (a Tensor or an array) → a :class:`Text`; a text not yet processed is
        given back as it is."""
        if self.vocab is None:
            return t
        ids = host_array(t).reshape(-1)
        return Text(ids, self.vocab.textify(ids))

    def analyze_pred(self, pred):
        """Scores (…, vocabulary) → the most likely token at each position."""
        return host_array(pred).argmax(-1)

    def show_xys(self, xs, ys, rows=3, figsize=None, path=None, max_words=20):
        """``rows`` lines of text beside their targets (one token later)."""
        return _text_table(["text", "target"], list(zip(xs, ys))[:rows], figsize, path, max_words)

    def show_xyzs(self, xs, ys, zs, rows=3, figsize=None, path=None, max_words=20):
        """``rows`` lines of text, target and the model's prediction."""
        return _text_table(["text", "target", "prediction"], list(zip(xs, ys, zs))[:rows],
                           figsize, path, max_words)


def _text_table(header, rows, figsize, path, max_words):
    """A figure: one line per row, one column per field, the first ``max_words`` words each."""
    def draw(i, j, ax):
        ax.set_axis_off()
        words = str(rows[i][j]).split()
        text = " ".join(words[:max_words]) + (" …" if len(words) > max_words else "")
        ax.text(0, 0.5, textwrap.fill(text, 40), va="center", fontsize=8, family="monospace")
        if i == 0:
            ax.set_title(header[j])
    figsize = figsize or (4 * len(header), 1.2 * len(rows) + 0.5)
    return plot_multi(draw, len(rows), len(header), figsize=figsize, path=path)


class TextLMDataBunch(DataBunch):
    """A DataBunch for language models: ``train_dl``/``valid_dl`` are LanguageModelLoaders,
    plus the ``vocab``, ``bptt`` and the loss fastai uses for language models
    (``CrossEntropyFlat``, the ``loss_func`` a Learner takes when given none)."""

    def __init__(self, train_ids, valid_ids, vocab, bs=64, bptt=70, device=None, path="."):
        self.vocab, self.bs, self.bptt = vocab, bs, bptt
        train_dl = LanguageModelLoader(train_ids, bs, bptt, shuffle=True, vocab=vocab)
        valid_dl = LanguageModelLoader(valid_ids, bs, bptt, shuffle=False, vocab=vocab)
        super().__init__(train_dl, valid_dl, path=path, device=device,
                         loss_func=CrossEntropyFlat())

    @classmethod
    def create(cls, train_ds, valid_ds, test_ds=None, path=".", bs=64, val_bs=None, bptt=70,
               device=None, seed=None):
        """From labelled datasets whose inputs are processed TextLists (what
        ``ItemLists(...).label_for_lm().databunch(bs=..., bptt=...)`` calls)."""
        if test_ds is not None or val_bs not in (None, bs) or seed is not None:
            raise ValueError("TextLMDataBunch.create: a language model's loaders take bs and "
                             "bptt only (no test set, val_bs or seed)")
        x = train_ds.x
        if not x.is_processed:
            raise ValueError("TextLMDataBunch.create: the texts are not numbered yet; label them "
                             "with label_for_lm(), which tokenizes and numbers them")
        return cls(list(x.items), list(valid_ds.x.items), x.vocab, bs, bptt, device, path)

    @classmethod
    def from_tokens(cls, train_tokens, valid_tokens, vocab=None, bs=64, bptt=70, device=None,
                    **vocab_options):
        """From tokenized documents; the vocabulary is built from the training ones if not given."""
        vocab = vocab or Vocab.create(train_tokens, **vocab_options)
        return cls([vocab.numericalize(t) for t in train_tokens],
                   [vocab.numericalize(t) for t in valid_tokens], vocab, bs, bptt, device)

    @property
    def c(self):
        """The size of the model's output: one score per token of the vocabulary."""
        return len(self.vocab)

    def __repr__(self):
        return (f"TextLMDataBunch(vocab {len(self.vocab)}, bs {self.bs}, bptt {self.bptt};\n"
                f"  train: {self.train_dl}\n  valid: {self.valid_dl})")
