"""One DataBunch contract for every kind of data: the Learner's ``summary``, ``get_preds``,
``show_results`` and ``predict`` work the same on the human-numbers language model and on an
image-to-image bunch (targets that are images, normalised with ``do_y=True``)."""
import numpy as np
import pytest

import minitorch
from minitorch import nn
from minitorch.data import DataBunch, DatasetType
from minitorch.learner import Learner
from minitorch.nn import functional as F
from minitorch.text import CrossEntropyFlat, TextLMDataBunch, human_numbers_databunch
from minitorch.vision import ImageImageList, ImageList, imagenet_stats
from minitorch.vision.image import normalised_grid

BS, BPTT = 8, 5


class TinyLM(nn.Module):
    """No state kept between batches, so it predicts a batch of any size (one item too)."""

    def __init__(self, nv, nh=16):
        super().__init__()
        self.i_h = nn.Embedding(nv, nh)
        self.rnn = nn.GRU(nh, nh, batch_first=True)
        self.h_o = nn.Linear(nh, nv)

    def forward(self, x):
        out, _ = self.rnn(self.i_h(x))
        return self.h_o(out)


@pytest.fixture
def lm_learner():
    minitorch.manual_seed(0)
    data = human_numbers_databunch(bs=BS, bptt=BPTT, max_tokens=(400, 120))
    return Learner(data, TinyLM(len(data.vocab)), silent=True)


def test_the_language_model_bunch_is_a_databunch(lm_learner):
    data = lm_learner.data
    assert isinstance(data, TextLMDataBunch) and isinstance(data, DataBunch)
    assert data.dl(DatasetType.Train) is data.train_dl and data.dl() is data.valid_dl
    assert isinstance(lm_learner.loss_func, CrossEntropyFlat) and data.c == 38
    xb, yb = data.one_batch(DatasetType.Valid)
    first_x, first_y = next(iter(data.valid_dl))
    np.testing.assert_array_equal(xb.numpy(), first_x.numpy())
    np.testing.assert_array_equal(yb.numpy(), first_y.numpy())
    assert xb.shape == (BS, BPTT) and xb.device == "cpu"
    with pytest.raises(ValueError, match="has no Test set"):
        data.dl(DatasetType.Test)
    data.batch_size = 4
    assert data.train_dl.bs == data.valid_dl.bs == 4 and next(iter(data.train_dl))[0].shape == (4, BPTT)


def test_summary_get_preds_show_results_and_predict_on_human_numbers(lm_learner, tmp_path):
    learn, nv = lm_learner, 38
    summary = learn.summary()
    assert "Embedding" in summary and f"[{BS}, {BPTT}, {nv}]" in summary
    assert "Total params:" in summary
    preds, targets = learn.get_preds()
    n_valid = len(learn.data.valid_dl) * BS
    assert tuple(preds.shape) == (n_valid, BPTT, nv) and tuple(targets.shape) == (n_valid, BPTT)
    np.testing.assert_allclose(preds.numpy().sum(-1), 1, rtol=1e-5)  # softmax'd scores
    figure = learn.show_results(rows=2, path=tmp_path / "results.png")
    assert (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert [ax.get_title() for ax in figure.axes[:3]] == ["text", "target", "prediction"]
    xb, _ = next(iter(learn.data.valid_dl))
    text, tokens, probs = learn.predict(xb[0])
    assert tuple(probs.shape) == (BPTT, nv) and tokens.shape == (BPTT,)
    np.testing.assert_array_equal(tokens, probs.numpy().argmax(-1))
    assert text.text == str(text) == learn.data.vocab.textify(tokens)  # a Text item
    shown = learn.data.show_batch(rows=2, path=tmp_path / "batch.png")
    assert [ax.get_title() for ax in shown.axes[:2]] == ["text", "target"]


def ramps(n, size):
    """n colour ramps of size × size, each with its own slope: smooth images in [0.2, 0.8]."""
    grid = normalised_grid(size, size)
    rng = np.random.default_rng(1)
    slopes = rng.uniform(-0.15, 0.15, (n, 3, 2))
    return (0.5 + slopes[..., 0, None, None] * grid[..., 0] + slopes[..., 1, None, None]
            * grid[..., 1]).astype(np.float32)


def test_image_to_image_learner_shows_input_prediction_and_target(tmp_path):
    minitorch.manual_seed(0)
    lo, hi = ramps(12, 8), ramps(12, 16)
    data = (ImageImageList.from_arrays(lo).split_by_idx(range(4))
            .label_from_func(lambda path: hi[int(path.name)])
            .databunch(bs=4).normalize(imagenet_stats, do_y=True))
    assert isinstance(data.valid_ds.y, ImageList) and data.c == 3
    up = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(3, 3, 3, padding=1))
    learn = Learner(data, up, loss_func=F.mse_loss, silent=True)
    mean, std = (np.array(s, np.float32)[:, None, None] for s in imagenet_stats)
    preds, targets = learn.get_preds()
    assert tuple(preds.shape) == tuple(targets.shape) == (4, 3, 16, 16)
    np.testing.assert_allclose(targets.numpy() * std + mean, hi[:4], atol=1e-5)  # normalised y
    figure = learn.show_results(rows=2, path=tmp_path / "results.png")
    assert len(figure.axes) == 6 and (tmp_path / "results.png").read_bytes()[:4] == b"\x89PNG"
    assert [ax.get_title() for ax in figure.axes[:3]] == ["input", "prediction", "target"]
    target_image = figure.axes[2].get_images()[0].get_array()  # denormalised: the pixels
    np.testing.assert_allclose(np.asarray(target_image), hi[0].transpose(1, 2, 0), atol=1e-5)
    image, pred, raw = learn.predict(data.valid_ds[0][0])  # the input as an Image, pixels in [0, 1]
    assert image.shape == (3, 16, 16) and tuple(raw.shape) == (3, 16, 16)
    np.testing.assert_allclose(image.data.numpy(), np.clip(preds.numpy()[0] * std + mean, 0, 1),
                               atol=1e-5)  # pixels
    learn.fit(1, 1e-3)  # trains: the loop takes image targets as they come
