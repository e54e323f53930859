"""The vocabulary: a number for every token, and back (read ``tokenizer.py`` first).

``itos`` ("int to string") is the list of tokens, ``stoi`` ("string to int") the dictionary
back.  A model sees only the numbers: an ``Embedding`` row per token in, a score per token out.

``Vocab.create`` does what fastai v1 does: count the tokens of the *training* texts, keep those
seen at least ``min_freq`` times (at most ``max_vocab`` of them, most frequent first), and put
the special tokens at the front, so that xxunk is 0 and xxpad is 1 in every vocabulary.  A token
that did not make it in (rare, or only in the validation text) becomes xxunk when numericalized.

Which special tokens are reserved: the lesson (fastai v1 of early 2019) reserved eight —
xxunk, xxpad, xxbos, xxfld, xxmaj, xxup, xxrep, xxwrep — which with the 30 words and commas of
the human-numbers text gives its vocabulary of 38.  Later fastai versions also reserved xxeos
and padded the list with 'xxfake' to a multiple of 8; pass ``special_tokens=SPECIAL_TOKENS``
and ``pad_to=8`` for that.
"""
import collections

import numpy

from minitorch.text.tokenizer import BOS, FLD, PAD, TK_MAJ, TK_REP, TK_UP, TK_WREP, UNK

LESSON_SPECIAL_TOKENS = [UNK, PAD, BOS, FLD, TK_MAJ, TK_UP, TK_REP, TK_WREP]
FAKE = "xxfake"  # padding entries: never produced by the tokenizer, so they may repeat


class Vocab:
    """Tokens ↔ numbers: ``numericalize(tokens)`` → int64 array, ``textify(ids)`` → string."""

    def __init__(self, itos):
        self.itos = list(itos)
        duplicated = [t for t, n in collections.Counter(self.itos).items() if n > 1 and t != FAKE]
        if duplicated:
            raise ValueError(f"Vocab: tokens listed more than once: {duplicated[:5]}")
        self.stoi = {token: i for i, token in enumerate(self.itos) if token != FAKE}
        self.unk_id = self.stoi.get(UNK)

    @classmethod
    def create(cls, token_lists, max_vocab=60000, min_freq=2,
               special_tokens=LESSON_SPECIAL_TOKENS, pad_to=None):
        """The vocabulary of ``token_lists`` (a list of tokenized documents)."""
        counts = collections.Counter(token for tokens in token_lists for token in tokens)
        specials = list(special_tokens)
        words = [token for token, n in counts.most_common(max_vocab)
                 if n >= min_freq and token not in specials]
        itos = (specials + words)[:max_vocab]
        if pad_to:
            while len(itos) % pad_to:
                itos.append(FAKE)
        return cls(itos)

    def __len__(self):
        return len(self.itos)

    def numericalize(self, tokens):
        """Tokens → an int64 array of their numbers (xxunk's for unknown tokens)."""
        if self.unk_id is None:
            missing = [t for t in tokens if t not in self.stoi]
            if missing:
                raise KeyError(f"Vocab: tokens {missing[:5]} are not in the vocabulary, and it "
                               "has no xxunk to stand for them")
        return numpy.array([self.stoi.get(token, self.unk_id) for token in tokens],
                           dtype=numpy.int64)

    def textify(self, ids, sep=" "):
        """Numbers (a list, an array or a Tensor) → the tokens joined by ``sep``."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        return sep.join(self.itos[int(i)] for i in ids)

    def __repr__(self):
        head = ", ".join(self.itos[:10])
        return f"Vocab({len(self)} tokens: {head}{', …' if len(self) > 10 else ''})"
