"""The GAN models (``minitorch/vision/models/gan.py``) against fastai v1's layer formulas, and
the Fréchet distance (``minitorch/vision/gan_eval.py``) against hand computations."""
import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn
from minitorch.optim import Adam
from minitorch.vision import AdaptiveLoss
from minitorch.vision.gan_eval import (
    feature_stats, frechet_distance, frechet_distance_features, sqrtm_psd)
from minitorch.vision.models import basic_critic, basic_generator, gan_critic
from torch_compare import assert_close, to_numpy
from torch_twins_gan import torch_gan_critic


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def conv(ni, nf, ks, bias):
    return ni * nf * ks * ks + (nf if bias else 0)


def generator_formula(in_size, n_ch, noise_sz, nf, extra):
    """Channels: nf·in_size/8 at 4×4, halved at each doubling up to in_size/2; every stage a
    transposed conv without bias + batchnorm (2·C); the last transposed conv has no bias."""
    c = nf * in_size // 8
    total = conv(noise_sz, c, 4, False) + 2 * c
    size = 4
    while size < in_size // 2:
        total += conv(c, c // 2, 4, False) + c  # 2 · (c // 2) batchnorm parameters
        c //= 2
        size *= 2
    total += extra * (conv(c, c, 3, False) + 2 * c)
    return total + conv(c, n_ch, 4, False)


def critic_formula(in_size, n_ch, nf, extra, batchnorm=True):
    """The first conv has a bias (no norm); then conv+batchnorm stages doubling the channels
    down to 4×4 (without batchnorm: a conv with a bias); a last 4×4 conv to 1 without bias."""
    def stage(ni, nf_, ks):
        return conv(ni, nf_, ks, not batchnorm) + (2 * nf_ if batchnorm else 0)
    total = conv(n_ch, nf, 4, True) + extra * stage(nf, nf, 3)
    c, size = nf, in_size // 2
    while size > 4:
        total += stage(c, 2 * c, 4)
        c *= 2
        size //= 2
    return total + conv(c, 1, 4, False)


def gan_critic_formula(n_ch, nf, n_blocks):
    """Spectral norm keeps the conv's parameters (weight_orig, bias; u and v are buffers);
    self-attention on n channels: query and key n→n/8, value n→n, no bias, and gamma."""
    total = conv(n_ch, nf, 4, True) + 2 * conv(nf, nf, 3, True)
    c = 2 * nf
    for i in range(n_blocks):
        total += conv(c, 2 * c, 4, True)
        if i == 0:
            n = 2 * c
            total += 2 * n * (n // 8) + n * n + 1
        c *= 2
    return total + conv(c, 1, 4, False)


@pytest.mark.parametrize("in_size, n_ch, noise_sz, nf, extra", [
    (32, 1, 100, 32, 0), (32, 1, 100, 64, 0), (64, 3, 100, 64, 1), (16, 3, 10, 8, 2)])
def test_basic_generator_and_critic_parameter_counts(in_size, n_ch, noise_sz, nf, extra):
    g = basic_generator(in_size, n_ch, noise_sz=noise_sz, n_features=nf, n_extra_layers=extra)
    c = basic_critic(in_size, n_ch, n_features=nf, n_extra_layers=extra)
    assert n_params(g) == generator_formula(in_size, n_ch, noise_sz, nf, extra)
    assert n_params(c) == critic_formula(in_size, n_ch, nf, extra)
    # WGAN-GP's critic: no batchnorm anywhere, a bias on every conv but the last
    c_gp = basic_critic(in_size, n_ch, n_features=nf, n_extra_layers=extra, norm_type=None)
    assert n_params(c_gp) == critic_formula(in_size, n_ch, nf, extra, batchnorm=False)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in c_gp.modules())
    with minitorch.no_grad():
        fake = g(minitorch.randn(3, noise_sz, 1, 1))
        assert fake.shape == (3, n_ch, in_size, in_size)
        assert float(abs(fake.array).max()) <= 1  # tanh
        assert c(fake).shape == (1,)  # the mean over the batch


def test_wgan_lesson_models_by_hand():
    """The lesson's width, written out: 100→128 (4×4) →64 (8) →32 (16) →1 (32); 1→32 (16)
    →64 (8) →128 (4) →1."""
    g, c = basic_generator(32, 1, n_features=32), basic_critic(32, 1, n_features=32)
    assert n_params(g) == (100 * 128 * 16 + 256) + (128 * 64 * 16 + 128) + (
        64 * 32 * 16 + 64) + 32 * 1 * 16 == 369_600
    assert n_params(c) == (1 * 32 * 16 + 32) + (32 * 64 * 16 + 128) + (
        64 * 128 * 16 + 256) + 128 * 16 == 166_816
    assert isinstance(c[1], nn.Sequential) and len(c[1]) == 0  # fastai's empty extra block


@pytest.mark.parametrize("n_ch, nf, n_blocks", [(3, 128, 3), (3, 8, 3), (1, 16, 2)])
def test_gan_critic_parameter_count(n_ch, nf, n_blocks):
    model = gan_critic(n_channels=n_ch, nf=nf, n_blocks=n_blocks)
    assert n_params(model) == gan_critic_formula(n_ch, nf, n_blocks)
    assert sum(isinstance(m, nn.LeakyReLU) and m.negative_slope == 0.2
               for m in model.modules()) == 3 + n_blocks


def test_gan_critic_gives_25_logits_per_128_pixel_image():
    model = gan_critic(nf=8).eval()
    with minitorch.no_grad():
        assert model(minitorch.randn(2, 3, 128, 128)).shape == (2, 25)


# ---- the Fréchet distance ------------------------------------------------------------------------
def rotation(theta):
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


FRECHET_CASES = [
    # (mu1, sigma1, mu2, sigma2, by hand)
    ([0.], [[4.]], [3.], [[1.]], 9 + (2 - 1) ** 2),                    # 1-d: (μ diff)² + (σ1 − σ2)²
    ([1., 2.], np.diag([4., 9.]), [1., 0.], np.diag([1., 1.]), 4 + 1 + 4),  # diagonal
    # commuting (same eigenvectors): Σ (√a − √b)² over the eigenvalues
    ([0., 0.], rotation(0.3) @ np.diag([9., 1.]) @ rotation(0.3).T, [1., 1.],
     rotation(0.3) @ np.diag([4., 4.]) @ rotation(0.3).T, 2 + 1 + 1),
    # not commuting: for 2×2, tr √M = √(tr M + 2 √det M) with M = Σ1 Σ2
    ([0., 0.], np.array([[2., 1.], [1., 2.]]), [0., 0.], np.diag([1., 4.]),
     2 + 2 + 1 + 4 - 2 * np.sqrt(np.trace(np.array([[2., 1.], [1., 2.]]) @ np.diag([1., 4.]))
                                  + 2 * np.sqrt(3. * 4.))),
    ([0.5, -1.], np.eye(2), [0.5, -1.], np.eye(2), 0.),
]


@pytest.mark.parametrize("mu1, sigma1, mu2, sigma2, expected", FRECHET_CASES)
def test_frechet_distance_by_hand(mu1, sigma1, mu2, sigma2, expected):
    assert frechet_distance(mu1, sigma1, mu2, sigma2) == pytest.approx(expected, abs=1e-10)
    assert frechet_distance(mu2, sigma2, mu1, sigma1) == pytest.approx(expected, abs=1e-10)


def test_sqrtm_psd_squares_back():
    a = np.random.default_rng(0).standard_normal((5, 5))
    m = a @ a.T
    root = sqrtm_psd(m)
    np.testing.assert_allclose(root @ root, m, atol=1e-10)
    np.testing.assert_allclose(root, root.T, atol=1e-12)


def test_frechet_distance_of_features():
    """Samples of two known Gaussians: the statistics are the unbiased mean and covariance, and
    the distance of the samples approaches the distance of the Gaussians."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20000, 2)) @ np.diag([2., 1.]) + [1., 0.]
    b = rng.standard_normal((20000, 2))
    mu, sigma = feature_stats(a[:5])
    np.testing.assert_allclose(mu, a[:5].mean(0))
    np.testing.assert_allclose(sigma, np.cov(a[:5].T))
    assert frechet_distance_features(a, b) == pytest.approx(1 + 1, abs=0.05)
    assert frechet_distance_features(minitorch.tensor(b[:1000]), b[1000:3000]) < 0.02
    with pytest.raises(ValueError, match="n_samples, n_features"):
        feature_stats(np.zeros(5))


# ---- gan_critic trained against its torch twin -------------------------------------------------
def test_gan_critic_trains_step_by_step_as_its_torch_twin():
    """The super-resolution critic, pretrained as the lesson does (BCE with logits on one label per
    image, AdaptiveLoss, Adam), from the same weights and spectral-norm vectors, on the same
    batches: every loss and, at the end, every weight and power-iteration vector as torch's
    (float64; dropout off, the only random draw).  It was written when the lesson's critic stayed
    at chance: torch's does too (lessons/README.md)."""
    minitorch.manual_seed(3)
    model = gan_critic(nf=8, n_blocks=2, p=0.).double()
    twin = torch_gan_critic(nf=8, n_blocks=2, p=0.).double()
    twin.load_state_dict({k: torch.tensor(to_numpy(v)) for k, v in model.state_dict().items()})
    with minitorch.no_grad():
        model[4][2].gamma.fill_(0.5)      # self-attention switched on from the start
    with torch.no_grad():
        twin[4][2].gamma.fill_(0.5)
    opt = Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.99))
    twin_opt = torch.optim.Adam(twin.parameters(), lr=1e-3, betas=(0.9, 0.99))
    loss_func = AdaptiveLoss(nn.BCEWithLogitsLoss())
    rng = np.random.default_rng(0)
    for step in range(4):
        x = rng.standard_normal((4, 3, 32, 32))
        y = rng.integers(0, 2, 4)
        loss = loss_func(model(minitorch.tensor(x)), minitorch.tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        out = twin(torch.tensor(x))
        twin_loss = torch.nn.functional.binary_cross_entropy_with_logits(
            out, torch.tensor(y, dtype=out.dtype)[:, None].expand_as(out))
        twin_opt.zero_grad()
        twin_loss.backward()
        twin_opt.step()
        assert_close(to_numpy(loss), twin_loss.detach().numpy(), rtol=1e-10, atol=1e-12,
                     what=f"loss at step {step}")
    twin_state = twin.state_dict()
    for name, value in model.state_dict().items():
        assert_close(to_numpy(value), twin_state[name].numpy(), rtol=1e-8, atol=1e-11, what=name)
