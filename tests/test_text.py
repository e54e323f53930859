"""The text toolkit: tokenizer rules, vocabulary, the human-numbers data and the LM loader,
and the flattening layers for (batch, time, …) outputs (against PyTorch)."""
import math

import numpy as np
import pytest
import torch

import minitorch
from minitorch.text import (
    SPECIAL_TOKENS, BatchNorm1dFlat, CrossEntropyFlat, LanguageModelLoader, Tokenizer, Vocab,
    human_numbers_databunch, human_numbers_text, human_numbers_tokens, number_to_words)
from torch_compare import check


@pytest.fixture(scope="module")
def streams():
    train, valid = human_numbers_tokens()
    return train[0], valid[0]


# ---- numbers in words ----------------------------------------------------------------------------
@pytest.mark.parametrize("n,words", [
    (1, "one"), (13, "thirteen"), (20, "twenty"), (21, "twenty one"), (100, "one hundred"),
    (101, "one hundred one"), (110, "one hundred ten"), (999, "nine hundred ninety nine"),
    (1000, "one thousand"), (8001, "eight thousand one"),
    (8312, "eight thousand three hundred twelve"),
    (9999, "nine thousand nine hundred ninety nine"),
])
def test_number_to_words(n, words):
    assert number_to_words(n) == words


def test_human_numbers_text_joins_with_commas():
    assert human_numbers_text(range(1, 4)) == "one, two, three"


# ---- the lesson's data ---------------------------------------------------------------------------
def test_stream_lengths_and_first_tokens(streams):
    train, valid = streams
    assert len(valid) == 13017  # the lesson's validation stream
    assert len(train) == 50082
    assert train[:8] == ["xxbos", "one", ",", "two", ",", "three", ",", "four"]
    assert valid[:8] == ["xxbos", "eight", "thousand", "one", ",", "eight", "thousand", "two"]
    assert valid[-6:] == ["nine", "thousand", "nine", "hundred", "ninety", "nine"]
    assert train[-3:] == [",", "eight", "thousand"]
    assert valid.count("xxbos") == 1 and train.count("xxbos") == 1  # one document each


def test_vocabulary_is_the_lessons(streams):
    vocab = Vocab.create([streams[0]])
    assert len(vocab) == 38
    assert vocab.itos[:8] == ["xxunk", "xxpad", "xxbos", "xxfld", "xxmaj", "xxup", "xxrep",
                              "xxwrep"]
    assert vocab.itos[8:11] == [",", "hundred", "thousand"]  # the most frequent tokens next
    assert set(vocab.itos[8:]) == set(streams[0]) - {"xxbos"}
    ids = vocab.numericalize(streams[1][:6])
    assert ids.dtype == np.int64
    assert vocab.textify(ids) == "xxbos eight thousand one , eight"
    assert vocab.textify(minitorch.tensor(ids)) == "xxbos eight thousand one , eight"
    assert vocab.numericalize(["never-seen", "one"]).tolist() == [0, vocab.stoi["one"]]


def test_vocab_create_options():
    docs = [["a", "a", "a", "b", "b", "c"]]
    assert Vocab.create(docs, min_freq=2).itos[8:] == ["a", "b"]
    assert Vocab.create(docs, min_freq=1).itos[8:] == ["a", "b", "c"]
    assert len(Vocab.create(docs, max_vocab=9)) == 9
    # later fastai: xxeos reserved too, and padding to a multiple of 8 with 'xxfake'
    padded = Vocab.create(docs, special_tokens=SPECIAL_TOKENS, pad_to=8)
    assert padded.itos[:9] == SPECIAL_TOKENS and len(padded) == 16
    assert padded.itos[-1] == "xxfake"
    with pytest.raises(ValueError, match="more than once"):
        Vocab(["a", "b", "a"])


# ---- tokenizer rules -----------------------------------------------------------------------------
@pytest.mark.parametrize("text,tokens", [
    ("one, two, three", ["xxbos", "one", ",", "two", ",", "three"]),
    ("The cat", ["xxbos", "xxmaj", "the", "cat"]),
    ("STOP it", ["xxbos", "xxup", "stop", "it"]),
    ("I am", ["xxbos", "i", "am"]),
    ("wow!!!!", ["xxbos", "wow", "xxrep", "4", "!"]),
    ("very very very very good", ["xxbos", "xxwrep", "4", "very", "good"]),
    ("don't  stop", ["xxbos", "don't", "stop"]),
    ("a/b #1", ["xxbos", "a", "/", "b", "#", "1"]),
])
def test_tokenizer_rules(text, tokens):
    assert Tokenizer()(text) == tokens


def test_tokenizer_rejects_non_text():
    with pytest.raises(TypeError, match="expected a string"):
        Tokenizer()(["one"])


# ---- the language-model loader -------------------------------------------------------------------
@pytest.mark.parametrize("bptt", [3, 20, 70])
@pytest.mark.parametrize("which", ["train", "valid"])
def test_batches_are_the_stream_shifted_by_one(bptt, which):
    data = human_numbers_databunch(bs=64, bptt=bptt)
    dl = data.train_dl if which == "train" else data.valid_dl
    stream = data.vocab.numericalize(human_numbers_tokens()[0 if which == "train" else 1][0])
    n = len(stream)
    assert dl.total_tokens == n
    batches = [(x.numpy(), y.numpy()) for x, y in dl]
    assert len(batches) == len(dl) == math.ceil(n / (64 * bptt))
    starts = np.array([int(i * n / 64) for i in range(64)])
    for k, (x, y) in enumerate(batches):
        assert x.shape == y.shape == (64, bptt) and x.dtype == np.int64
        # each row reads the stream from its start onwards, wrapping at the end
        positions = (starts[:, None] + k * bptt + np.arange(bptt)) % n
        np.testing.assert_array_equal(x, stream[positions])
        np.testing.assert_array_equal(y, stream[(positions + 1) % n])
        np.testing.assert_array_equal(y[:, :-1], x[:, 1:])  # target = input shifted by one
        if k + 1 < len(batches):  # ... across the batch boundary too
            np.testing.assert_array_equal(batches[k + 1][0][:, 0], y[:, -1])


def test_loader_shuffles_documents_only_when_asked():
    docs = [np.arange(10 * d, 10 * d + 10) for d in range(6)]
    fixed = LanguageModelLoader(docs, bs=2, bptt=5, shuffle=False)
    first = [x.numpy() for x, _ in fixed]
    np.testing.assert_array_equal(first[0][0], np.arange(5))
    again = [x.numpy() for x, _ in fixed]
    assert all((a == b).all() for a, b in zip(first, again))
    minitorch.manual_seed(3)
    shuffled = LanguageModelLoader(docs, bs=2, bptt=5, shuffle=True)
    epoch1 = np.concatenate([x.numpy()[0] for x, _ in shuffled])
    epoch2 = np.concatenate([x.numpy()[0] for x, _ in shuffled])
    assert not (epoch1 == epoch2).all()
    # whole documents move: every run of 10 that starts a document stays in order
    stream = shuffled.stream()
    assert sorted(stream.tolist()) == list(range(60))
    for start in range(0, 60, 10):
        assert stream[start] % 10 == 0
        np.testing.assert_array_equal(np.diff(stream[start:start + 10]), 1)


def test_loader_rejects_bad_settings():
    with pytest.raises(ValueError, match="bs and bptt must be positive"):
        LanguageModelLoader([np.arange(10)], bs=0, bptt=3)
    with pytest.raises(ValueError, match="fewer than 2 tokens"):
        LanguageModelLoader([np.arange(1)], bs=1, bptt=3)


def test_quick_slice_keeps_the_full_vocabulary():
    data = human_numbers_databunch(bs=8, bptt=5, max_tokens=(300, 100))
    assert len(data.vocab) == 38
    assert data.train_dl.total_tokens == 300 and data.valid_dl.total_tokens == 100


# ---- flattening layers against torch -------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("training", [True, False])
def test_batchnorm1d_flat_matches_torch_on_flattened_input(dtype, training):
    mt_bn = BatchNorm1dFlat(5).to(dtype=dtype)
    torch_bn = torch.nn.BatchNorm1d(5).to(getattr(torch, dtype))
    rng = np.random.default_rng(0)
    torch_bn.running_mean.copy_(torch.tensor(rng.standard_normal(5)))
    torch_bn.running_var.copy_(torch.tensor(rng.uniform(0.5, 2, 5)))
    torch_bn.weight.data.copy_(torch.tensor(rng.standard_normal(5)))
    mt_bn.load_state_dict({k: v.numpy() for k, v in torch_bn.state_dict().items()})
    mt_bn.train(training)
    torch_bn.train(training)
    x = rng.standard_normal((4, 7, 5)).astype(dtype)
    check(mt_bn, lambda x: torch_bn(x.reshape(-1, 5)).reshape(4, 7, 5), [x],
          params=[("weight", mt_bn.weight, torch_bn.weight), ("bias", mt_bn.bias, torch_bn.bias)])
    np.testing.assert_allclose(mt_bn.running_mean.numpy(), torch_bn.running_mean.numpy(),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_cross_entropy_flat_matches_torch(dtype):
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((4, 6, 9)).astype(dtype)
    target = rng.integers(0, 9, (4, 6))
    check(lambda s, t: CrossEntropyFlat()(s, t),
          lambda s, t: torch.nn.functional.cross_entropy(s.reshape(-1, 9), t.reshape(-1)),
          [scores, target])


def test_flat_layers_reject_wrong_shapes():
    with pytest.raises(ValueError, match="need targets of shape"):
        CrossEntropyFlat()(minitorch.randn(2, 3, 4), minitorch.zeros(2, 4, dtype=minitorch.int64))
    with pytest.raises(ValueError, match="BatchNorm1dFlat"):
        BatchNorm1dFlat(4)(minitorch.randn(2, 3, 4, 1))
