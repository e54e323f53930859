"""The lesson's toy language-model data, built by code: the numbers written out in English.

Read ``tokenizer.py``, ``vocab.py`` and ``lm_loader.py`` first.

fast.ai's "human numbers" dataset is two text files: the numbers 1 to 8,000 in words for
training and 8,001 to 9,999 for validation, one number a line.  The lesson reads each file as a
single document, the lines joined by ", ", so the training text is ``"one, two, three, …"``.
Tokenized, each starts with xxbos: ``xxbos one , two , three , …``.  The vocabulary built from
the training stream has 38 entries (29 number words, the comma, and the 8 special tokens), and
the validation stream is 13,017 tokens long — the lesson's figures.

The task: given the words so far, predict the next one.  It looks trivial, but a model must
remember where it is inside a long number ("eight thousand three hundred …") to get it right.
"""
from minitorch.text.lm_loader import TextLMDataBunch
from minitorch.text.tokenizer import Tokenizer
from minitorch.text.vocab import Vocab

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]

TRAIN_RANGE = range(1, 8001)
VALID_RANGE = range(8001, 10000)


def number_to_words(n):
    """1 ≤ n < 1,000,000 in words, as the dataset writes them: 8312 → 'eight thousand three
    hundred twelve' (no 'and', no hyphens)."""
    if not 1 <= n < 1_000_000:
        raise ValueError(f"number_to_words: expected 1 ≤ n < 1,000,000, got {n}")
    words = []
    if n >= 1000:
        words += [number_to_words(n // 1000), "thousand"]
        n %= 1000
    if n >= 100:
        words += [ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(TENS[n // 10])
        n %= 10
    if n:
        words.append(ONES[n])
    return " ".join(words)


def human_numbers_text(numbers):
    """One document: the numbers in words, joined by ', ' (the lesson's ``readnums``)."""
    return ", ".join(number_to_words(n) for n in numbers)


def human_numbers_tokens():
    """The tokenized training and validation documents (one document each)."""
    tokenizer = Tokenizer()
    return ([tokenizer(human_numbers_text(TRAIN_RANGE))],
            [tokenizer(human_numbers_text(VALID_RANGE))])


def human_numbers_databunch(bs=64, bptt=70, device=None, max_tokens=None):
    """The lesson's ``src.databunch(bs=bs, bptt=bptt)``: a TextLMDataBunch of human numbers.

    ``max_tokens=(n_train, n_valid)`` keeps only the first tokens of each stream (quick runs);
    the vocabulary is still the one of the full training text.
    """
    train_tokens, valid_tokens = human_numbers_tokens()
    vocab = Vocab.create(train_tokens)
    if max_tokens is not None:
        n_train, n_valid = max_tokens
        train_tokens, valid_tokens = [train_tokens[0][:n_train]], [valid_tokens[0][:n_valid]]
    return TextLMDataBunch.from_tokens(train_tokens, valid_tokens, vocab=vocab, bs=bs,
                                       bptt=bptt, device=device)
