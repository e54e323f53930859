"""The lesson's feature loss against a PyTorch re-implementation with the real pretrained VGG16
weights (float64: the loss, each of its terms and the gradient with respect to the prediction),
gram_matrix through the harness, the hooks taken off, and the LossMetrics callback's columns in
the epoch table."""
import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.data import ArrayDataset, DataBunch, DataLoader
from minitorch.learner import Learner
from minitorch.learner.loss_metrics import LossMetrics
from minitorch.vision.feature_loss import FeatureLoss, gram_matrix
from minitorch.vision.models import IMAGENET_STATS, VGG_MEAN, VGGInput, vgg16_features
from tests.torch_compare import assert_close, check, to_numpy
from tests.torch_twins_vgg import pretrained_features_state, torch_vgg16_features


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 8, 3, 3)])
def test_gram_matrix(shape):
    def torch_gram(x):
        n, c, h, w = x.shape
        x = x.view(n, c, -1)
        return (x @ x.transpose(1, 2)) / (c * h * w)
    x = np.random.default_rng(0).standard_normal(shape)
    check(gram_matrix, torch_gram, [x])


def torch_vgg_features(upto=30):
    return torch_vgg16_features(upto, pretrained_features_state()).double().eval().requires_grad_(False)


def torch_feature_loss(vgg, pred, target, ids, wgts, stats):
    """The notebook's loss, written plainly: the VGG input map, then the layers one by one."""
    m, s = (torch.tensor(v, dtype=torch.float64).view(1, 3, 1, 1) for v in stats)
    mean = torch.tensor(VGG_MEAN, dtype=torch.float64).view(1, 3, 1, 1)

    def feats(x):
        x = (x * s + m) * 255 - mean
        out = []
        for i, layer in enumerate(vgg):
            x = layer(x)
            if i in ids:
                out.append(x)
        return out

    def gram(x):
        n, c, h, w = x.shape
        x = x.view(n, c, -1)
        return x @ x.transpose(1, 2) / (c * h * w)
    l1 = torch.nn.functional.l1_loss
    fp, ft = feats(pred), feats(target)
    terms = [l1(pred, target)] + [l1(a, b) * w for a, b, w in zip(fp, ft, wgts)] + [
        l1(gram(a), gram(b)) * w ** 2 * 5e3 for a, b, w in zip(fp, ft, wgts)]
    return sum(terms), terms


@pytest.mark.parametrize("ids, wgts, size", [([15, 22, 29], [5, 15, 2], 32),
                                             ([8, 15], [1.5, 0.25], 16)])
def test_feature_loss_matches_torch_with_the_real_vgg(ids, wgts, size):
    rng = np.random.default_rng(0)
    target = rng.standard_normal((2, 3, size, size))
    pred = target + 0.3 * rng.standard_normal(target.shape)
    vgg = vgg16_features(upto=max(ids) + 1).double()
    loss_func = FeatureLoss(vgg, ids, wgts, input_map=VGGInput(IMAGENET_STATS))
    x = minitorch.tensor(pred, requires_grad=True)
    loss = loss_func(x, minitorch.tensor(target))
    upstream = rng.uniform(0.5, 2.0)
    (loss * upstream).backward()

    tx = torch.tensor(pred, requires_grad=True)
    t_loss, t_terms = torch_feature_loss(torch_vgg_features(max(ids) + 1), tx,
                                         torch.tensor(target), ids, wgts, IMAGENET_STATS)
    (t_loss * upstream).backward()
    tol = dict(rtol=1e-9, atol=1e-12)
    assert_close(loss, t_loss, what="loss", **tol)
    n = len(ids)
    assert loss_func.metric_names == (["pixel"] + [f"feat_{i}" for i in range(n)]
                                      + [f"gram_{i}" for i in range(n)])
    for name, term in zip(loss_func.metric_names, t_terms):
        assert_close(loss_func.metrics[name], term, what=name, **tol)
    assert_close(x.grad, tx.grad, what="gradient of the prediction", **tol)
    assert all(p.grad is None for p in vgg.parameters())
    loss_func.remove()


def test_the_hooks_come_off():
    vgg = vgg16_features(pretrained=False, upto=16)
    loss_func = FeatureLoss(vgg, [8, 15], [1, 1])
    assert all(len(vgg[i]._forward_hooks) == 1 for i in (8, 15))
    loss_func.remove()
    assert all(len(vgg[i]._forward_hooks) == 0 for i in (8, 15))
    loss_func = FeatureLoss(vgg, [8, 15], [1, 1])
    del loss_func
    assert all(len(vgg[i]._forward_hooks) == 0 for i in (8, 15))
    with pytest.raises(ValueError, match="one weight per layer expected, got 2 layers and 1"):
        FeatureLoss(vgg, [8, 15], [1])


class TwoPartLoss(nn.Module):
    """MSE + 0.5·L1, with its parts in ``metrics``, as FeatureLoss keeps them."""
    metric_names = ["mse", "half_l1"]

    def forward(self, pred, target):
        parts = [((pred - target) ** 2).mean(), (pred - target).abs().mean() * 0.5]
        self.metrics = dict(zip(self.metric_names, parts))
        return parts[0] + parts[1]


def test_loss_metrics_shows_the_parts_per_epoch(capsys):
    rng = np.random.default_rng(0)
    x, y = (rng.standard_normal((n, 4)).astype(np.float32) for n in (40, 40))
    xv, yv = rng.standard_normal((10, 4)).astype(np.float32), rng.standard_normal(
        (10, 4)).astype(np.float32)
    data = DataBunch(DataLoader(ArrayDataset(x, y), 8, shuffle=True, seed=0),
                     DataLoader(ArrayDataset(xv, yv), 4))
    model = nn.Linear(4, 4)
    learn = Learner(data, model, loss_func=TwoPartLoss(), callbacks=[LossMetrics()])
    learn.fit(2, 1e-2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "valid_loss", "mse", "half_l1", "time"]
    # the last epoch's columns are the means over the validation set (batches of 4, 4, 2)
    with minitorch.no_grad():
        d = to_numpy(model(minitorch.tensor(xv))) - yv
    want = [float((d ** 2).mean()), float(np.abs(d).mean() * 0.5)]
    np.testing.assert_allclose(learn.recorder.metrics[-1], want, rtol=1e-5)
    row = lines[-1].split()
    assert row[3:5] == [f"{v:.6f}" for v in learn.recorder.metrics[-1]]
    np.testing.assert_allclose(learn.recorder.val_losses[-1], sum(want), rtol=1e-5)
