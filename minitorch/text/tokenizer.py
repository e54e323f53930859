"""Turning text into tokens, with fastai v1's special tokens and rules.

Read this first in ``text/``; then ``vocab.py`` (tokens → numbers), ``human_numbers.py`` (the
lesson's data) and ``lm_loader.py`` (numbers → batches for a language model).

A language model reads a text as a list of *tokens*: words, punctuation, and a few special
tokens that carry what the lowercase word list alone would lose.  fastai v1 names them with an
``xx`` prefix, which no real word has:

=========  ==================================================================================
xxunk      a word not in the vocabulary (too rare to get its own number)
xxpad      padding, to make texts of different lengths the same length in a batch
xxbos      beginning of stream: the start of a document
xxeos      end of stream: the end of a document
xxfld      separates the fields of a document with several text fields
xxmaj      the next word was capitalised ("The" → xxmaj the)
xxup       the next word was all capitals ("STOP" → xxup stop)
xxrep      a character repeated: "!!!!" → xxrep 4 !
xxwrep     a word repeated: "very very very very" → xxwrep 4 very
=========  ==================================================================================

Tokenizing is three stages, as in fastai v1: rules on the raw string (repetitions, spaces), the
split into tokens (words and single punctuation marks; fastai uses spaCy, the split here is a
regular expression that does the same for plain English), then rules on the token list
(capitals).  Every document starts with ``xxbos``.  The human-numbers text
``"one, two, three"`` becomes ``['xxbos', 'one', ',', 'two', ',', 'three']``.
"""
import re

UNK, PAD, BOS, EOS, FLD = "xxunk", "xxpad", "xxbos", "xxeos", "xxfld"
TK_MAJ, TK_UP, TK_REP, TK_WREP = "xxmaj", "xxup", "xxrep", "xxwrep"
SPECIAL_TOKENS = [UNK, PAD, BOS, EOS, FLD, TK_MAJ, TK_UP, TK_REP, TK_WREP]

# ---- rules on the raw string ---------------------------------------------------------------------
_REPEATED_CHAR = re.compile(r"(\S)(\1{3,})")          # a character and 3+ more copies of it
_REPEATED_WORD = re.compile(r"(\b\w+\W+)(\1{3,})")    # a word (and its separator) 4+ times
_SPACES = re.compile(r" {2,}")


def replace_rep(text):
    """'cccc' → ' xxrep 4 c ': a run of 4+ equal characters becomes one count."""
    return _REPEATED_CHAR.sub(lambda m: f" {TK_REP} {len(m.group(2)) + 1} {m.group(1)} ", text)


def replace_wrep(text):
    """'a a a a ' → ' xxwrep 4 a ': a run of 4+ equal words becomes one count."""
    return _REPEATED_WORD.sub(
        lambda m: f" {TK_WREP} {len(m.group(2).split()) + 1} {m.group(1).strip()} ", text)


def spec_add_spaces(text):
    """Put spaces around / and # so they become tokens of their own."""
    return re.sub(r"([/#])", r" \1 ", text)


def rm_useless_spaces(text):
    return _SPACES.sub(" ", text)


# ---- rules on the tokens -------------------------------------------------------------------------
def replace_all_caps(tokens):
    """'STOP' → 'xxup', 'stop' (one-letter words like 'I' stay as they are)."""
    result = []
    for token in tokens:
        if token.isupper() and len(token) > 1:
            result.extend([TK_UP, token.lower()])
        else:
            result.append(token)
    return result


def deal_caps(tokens):
    """'The' → 'xxmaj', 'the'; every token ends up lowercase."""
    result = []
    for token in tokens:
        if token[:1].isupper() and token[1:].islower():
            result.append(TK_MAJ)
        result.append(token.lower())
    return result


DEFAULT_PRE_RULES = [replace_rep, replace_wrep, spec_add_spaces, rm_useless_spaces]
DEFAULT_POST_RULES = [replace_all_caps, deal_caps]

# A token is a special token, a run of word characters (with an inner apostrophe, "don't"), or
# any other single non-space character (",", ".", "!").
_TOKEN = re.compile(r"xx[a-z]+|\w+(?:'\w+)?|[^\w\s]")


class Tokenizer:
    """Text → list of tokens: pre-rules on the string, the split, post-rules on the tokens.

    ``Tokenizer()(text)`` tokenizes one document and starts it with ``xxbos``;
    ``process_all(texts)`` does a list of documents.
    """

    def __init__(self, pre_rules=None, post_rules=None, add_bos=True):
        self.pre_rules = DEFAULT_PRE_RULES if pre_rules is None else list(pre_rules)
        self.post_rules = DEFAULT_POST_RULES if post_rules is None else list(post_rules)
        self.add_bos = add_bos

    def __call__(self, text):
        if not isinstance(text, str):
            raise TypeError(f"Tokenizer: expected a string, got {type(text).__name__}")
        for rule in self.pre_rules:
            text = rule(text)
        tokens = _TOKEN.findall(text)
        for rule in self.post_rules:
            tokens = rule(tokens)
        return [BOS] + tokens if self.add_bos else tokens

    def process_all(self, texts):
        return [self(text) for text in texts]

    def __repr__(self):
        pre = ", ".join(rule.__name__ for rule in self.pre_rules)
        post = ", ".join(rule.__name__ for rule in self.post_rules)
        return f"Tokenizer(pre_rules=[{pre}], post_rules=[{post}])"
