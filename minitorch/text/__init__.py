"""Text for language models: tokens, a vocabulary, the human-numbers data and its loader.

Read in this order: ``tokenizer.py`` (text → tokens, fastai's special tokens), ``vocab.py``
(tokens ↔ numbers), ``lm_loader.py`` (a token stream → (bs, bptt) batches whose hidden state
carries over; ``TextLMDataBunch``, a DataBunch), ``human_numbers.py`` (the lesson's data, built by code), ``layers.py``
(BatchNorm1dFlat, CrossEntropyFlat for (batch, time, …) outputs).  The recurrent layers
themselves are in ``minitorch/nn/rnn.py``.

``from minitorch.text import *`` gives what ``from fastai.text import *`` gives a notebook: these
names and the training library under them (the Learner, the data block API and DataBunch,
fastai's helpers) — public names only (``__all__``), never a submodule.
"""
from minitorch import core, data as _data, learner as _learner
from minitorch.core import *  # noqa: F401,F403
from minitorch.data import *  # noqa: F401,F403
from minitorch.learner import *  # noqa: F401,F403
from minitorch.text.tokenizer import (  # noqa: F401
    BOS, EOS, FLD, PAD, SPECIAL_TOKENS, TK_MAJ, TK_REP, TK_UP, TK_WREP, UNK, Tokenizer)
from minitorch.text.vocab import LESSON_SPECIAL_TOKENS, Vocab  # noqa: F401
from minitorch.text.layers import BatchNorm1dFlat, CrossEntropyFlat  # noqa: F401
from minitorch.text.lm_loader import (  # noqa: F401
    LanguageModelLoader, Text, TextList, TextLMDataBunch)
from minitorch.text.human_numbers import (  # noqa: F401
    human_numbers_databunch, human_numbers_text, human_numbers_tokens, number_to_words)

_OWN = ["BOS", "EOS", "FLD", "PAD", "SPECIAL_TOKENS", "TK_MAJ", "TK_REP", "TK_UP", "TK_WREP",
        "UNK", "Tokenizer", "LESSON_SPECIAL_TOKENS", "Vocab", "BatchNorm1dFlat",
        "CrossEntropyFlat", "LanguageModelLoader", "Text", "TextList", "TextLMDataBunch",
        "human_numbers_databunch", "human_numbers_text", "human_numbers_tokens",
        "number_to_words"]
__all__ = list(dict.fromkeys(core.__all__ + _learner.__all__ + _data.__all__ + _OWN))
