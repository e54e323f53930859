"""Image quality measures against values worked out by hand: PSNR of a known error, SSIM of
constant images (closed form) and of random ones (every window summed in a plain loop), the
Laplacian of one bright pixel, the sharpness of a doubled image, the feature distance against
a torch re-implementation with the real VGG16 weights."""
import math

import numpy as np
import pytest
import torch

from minitorch.vision.models import VGGInput, vgg16_features
from minitorch.vision.quality import (
    FeatureDistance, laplacian, luminance, psnr, psnr_in_box, psnr_outside_box,
    sharpness_ratio, ssim)
from torch_twins_vgg import pretrained_features_state, torch_vgg16_features


def test_psnr_of_a_known_error():
    target = np.random.default_rng(0).uniform(0.2, 0.8, (3, 16, 20))
    assert psnr(target + 0.1, target) == pytest.approx(20.0, abs=1e-9)  # 10·log10(1/0.01)
    assert psnr(target, target) == math.inf
    # an error of 0.1 on one channel only: MSE = 0.01 / 3
    pred = target.copy()
    pred[1] += 0.1
    assert psnr(pred, target) == pytest.approx(10 * math.log10(300), abs=1e-9)


def test_psnr_inside_and_outside_a_box():
    target = np.zeros((3, 10, 10))
    pred = target.copy()
    pred[:, 2:4, 1:6] = 0.5  # rows 2-3, columns 1-5: the box (x0, y0, x1, y1) = (1, 2, 6, 4)
    assert psnr_in_box(pred, target, (1, 2, 6, 4)) == pytest.approx(10 * math.log10(4))
    assert psnr_outside_box(pred, target, (1, 2, 6, 4)) == math.inf
    # a box twice as big holds the error in half its pixels
    assert psnr_in_box(pred, target, (1, 2, 6, 6)) == pytest.approx(10 * math.log10(8))
    with pytest.raises(ValueError, match="holds no pixel"):
        psnr_in_box(pred, target, (20, 20, 30, 30))


def test_ssim_of_constant_images_is_the_luminance_term():
    a, b = 0.2, 0.6
    x, y = np.full((1, 16, 16), a), np.full((1, 16, 16), b)
    c1 = 0.01 ** 2
    assert ssim(x, y) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-12)
    assert ssim(y, y) == pytest.approx(1.0, rel=1e-12)


def ssim_by_loops(x, y):
    """Wang et al.'s definition: every 11×11 window that fits, Gaussian weights σ = 1.5."""
    r = np.arange(11) - 5
    w = np.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * 1.5 ** 2))
    w /= w.sum()
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    values = []
    for i in range(x.shape[0] - 10):
        for j in range(x.shape[1] - 10):
            px, py = x[i:i + 11, j:j + 11], y[i:i + 11, j:j + 11]
            mx, my = (w * px).sum(), (w * py).sum()
            vx, vy = (w * (px - mx) ** 2).sum(), (w * (py - my) ** 2).sum()
            cov = (w * (px - mx) * (py - my)).sum()
            values.append((2 * mx * my + c1) * (2 * cov + c2)
                          / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    return np.mean(values)


@pytest.mark.parametrize("noise", [0.02, 0.2])
def test_ssim_against_the_window_loop_on_the_luminance(noise):
    rng = np.random.default_rng(1)
    target = rng.uniform(0, 1, (3, 17, 14))
    pred = np.clip(target + noise * rng.standard_normal(target.shape), 0, 1)
    y_pred = 0.299 * pred[0] + 0.587 * pred[1] + 0.114 * pred[2]
    y_target = 0.299 * target[0] + 0.587 * target[1] + 0.114 * target[2]
    np.testing.assert_allclose(luminance(pred), y_pred, rtol=1e-12)
    assert ssim(pred, target) == pytest.approx(ssim_by_loops(y_pred, y_target), rel=1e-10)


def test_laplacian_and_sharpness_ratio():
    dot = np.zeros((5, 5))
    dot[2, 2] = 1.0
    np.testing.assert_array_equal(laplacian(dot), [[0, 1, 0], [1, -4, 1], [0, 1, 0]])
    target = np.random.default_rng(2).uniform(0, 0.5, (1, 12, 12))
    assert sharpness_ratio(2 * target, target) == pytest.approx(4.0)  # (2·∇²)² / (∇²)²
    assert sharpness_ratio(np.full_like(target, 0.3), target) == 0.0
    with pytest.raises(ValueError, match="the target is flat"):
        sharpness_ratio(target, np.full_like(target, 0.3))


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"prediction \(3, 4, 4\) and target \(3, 4, 5\) differ"):
        psnr(np.zeros((3, 4, 4)), np.zeros((3, 4, 5)))
    with pytest.raises(ValueError, match=r"expected an image \(C, H, W\) with C = 1 or 3"):
        ssim(np.zeros((2, 20, 20)), np.zeros((2, 20, 20)))
    with pytest.raises(ValueError, match="smaller than the 11×11 window"):
        ssim(np.zeros((8, 8)), np.zeros((8, 8)))


def test_feature_distance_against_torch_with_the_real_vgg():
    rng = np.random.default_rng(3)
    target = rng.uniform(0, 1, (2, 3, 32, 32))
    pred = np.clip(target + 0.1 * rng.standard_normal(target.shape), 0, 1)
    measure = FeatureDistance(vgg16_features(upto=30), VGGInput(stats=None))
    vgg = torch_vgg16_features(30, pretrained_features_state()).double()
    mean = torch.tensor([122.67892, 116.66877, 104.00699], dtype=torch.float64).view(1, 3, 1, 1)

    def feats(x):
        h, out = torch.tensor(x) * 255 - mean, []
        for i, layer in enumerate(vgg):
            h = layer(h)
            if i in (8, 15, 22, 29):
                out.append(h)
        return out
    with torch.no_grad():
        want = [(a - b).abs().mean().item() for a, b in zip(feats(pred), feats(target))]
    # minitorch runs the network in float32 (the measure's dtype), torch here in float64
    assert measure.per_layer(pred, target) == pytest.approx(want, rel=1e-4)
    assert measure(pred, target) == pytest.approx(np.mean(want), rel=1e-4)
    assert measure(target, target) == 0.0


def test_sharpness_ratio_by_hand():
    # grey 4×4 images (1 channel: the luminance is the image); the Laplacian has 2×2 values
    target = np.array([[[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]], float)
    pred = np.array([[[0, 0, 0, 0], [0, 0.5, 0.5, 0], [0, 0, 0, 0], [0, 0, 0, 0]]], float)
    # target: ∇² at (1,1) = -4, (1,2) = 1, (2,1) = 1, (2,2) = 0 → energy 16 + 1 + 1 = 18
    # pred:   ∇² at (1,1) = 0.5 - 2 = -1.5, (1,2) = -1.5, (2,1) = 0.5, (2,2) = 0.5 → energy 5
    assert sharpness_ratio(pred, target) == pytest.approx(5 / 18)
    rgb_target, rgb_pred = np.repeat(target, 3, axis=0), np.repeat(pred, 3, axis=0)
    assert sharpness_ratio(rgb_pred, rgb_target) == pytest.approx(5 / 18)  # Y of grey = grey
