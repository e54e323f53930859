"""Image quality measures against values worked out by hand: PSNR of a known error, SSIM of
constant images (closed form) and of random ones (every window summed in a plain loop), inside
and outside a box (every window sorted by hand), the Laplacian of one bright pixel, the
sharpness of a doubled image (and outside a box), the period-2 energy of a checkerboard
(Parseval) and of a smooth image, the colour spread of a pixel, the feature distance against
a torch re-implementation with the real VGG16 weights."""
import math

import numpy as np
import pytest
import torch

from minitorch.vision.models import VGGInput, vgg16_features
from minitorch.vision.quality import (
    FeatureDistance, checkerboard_ratio, colour_spread, laplacian, luminance, period2_energy, psnr,
    psnr_in_box, psnr_outside_box, sharpness_ratio, ssim, ssim_in_box, ssim_map,
    ssim_outside_box)
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


# ---- outside and inside the number's box ---------------------------------------------------------
def windows(shape_hw, size=11):
    """Every window of ssim_map: its top-left (i, j) and the pixels it covers."""
    for i in range(shape_hw[0] - size + 1):
        for j in range(shape_hw[1] - size + 1):
            yield i, j, {(y, x) for y in range(i, i + size) for x in range(j, j + size)}


@pytest.mark.parametrize("box", [(3, 4, 9, 8), (0, 0, 5, 12), (20, 14, 26, 22)])
def test_ssim_outside_and_inside_a_box_sort_the_windows_by_hand(box):
    rng = np.random.default_rng(4)
    target = rng.uniform(0, 1, (3, 24, 27))
    pred = np.clip(target + 0.1 * rng.standard_normal(target.shape), 0, 1)
    values = ssim_map(pred, target)
    assert values.mean() == pytest.approx(ssim(pred, target), rel=1e-15)
    x0, y0, x1, y1 = box
    in_box = {(y, x) for y in range(y0, y1) for x in range(x0, x1)}
    away = [values[i, j] for i, j, pixels in windows((24, 27)) if not pixels & in_box]
    touching = [values[i, j] for i, j, pixels in windows((24, 27)) if pixels & in_box]
    assert ssim_outside_box(pred, target, box) == pytest.approx(np.mean(away), rel=1e-12)
    assert ssim_in_box(pred, target, box) == pytest.approx(np.mean(touching), rel=1e-12)


def test_damage_inside_the_box_leaves_ssim_outside_it_at_one():
    target = np.random.default_rng(5).uniform(0, 1, (3, 32, 32))
    pred = target.copy()
    pred[:, 10:16, 8:20] = 1.0  # the box (8, 10, 20, 16)
    assert ssim_outside_box(pred, target, (8, 10, 20, 16)) == pytest.approx(1.0, abs=1e-12)
    assert ssim_in_box(pred, target, (8, 10, 20, 16)) < 0.9
    assert ssim(pred, target) < 1.0
    with pytest.raises(ValueError, match="every 11×11 window touches box"):
        ssim_outside_box(pred, target, (0, 0, 32, 32))
    with pytest.raises(ValueError, match=r"no 11×11 window touches box \(40, 40, 50, 50\)"):
        ssim_in_box(pred, target, (40, 40, 50, 50))


def test_sharpness_outside_a_box_leaves_the_box_out():
    rng = np.random.default_rng(6)
    target, pred = rng.uniform(0, 1, (1, 14, 12)), rng.uniform(0, 1, (1, 14, 12))
    box = (2, 3, 7, 9)
    keep = np.ones((14, 12), bool)
    keep[3:9, 2:7] = False
    keep = keep[1:-1, 1:-1]  # the Laplacian's pixel (i, j) is the image's (i + 1, j + 1)
    want = (laplacian(pred[0])[keep] ** 2).sum() / (laplacian(target[0])[keep] ** 2).sum()
    assert sharpness_ratio(pred, target, box) == pytest.approx(want, rel=1e-12)
    spoiled = pred.copy()
    spoiled[:, 4:8, 3:6] = 5.0  # strictly inside the box, away from its edge
    assert sharpness_ratio(spoiled, target, box) == pytest.approx(want, rel=1e-12)


# ---- the checkerboard and the colour made up -------------------------------------------------
@pytest.mark.parametrize("size", [(64, 64), (48, 80), (33, 65)])
def test_the_period2_energy_of_a_checkerboard_is_all_its_energy(size):
    """Parseval: Σ|FFT2(x)|² = H·W·Σx².  A checkerboard (or alternating rows, or columns) under
    the Hann window has all its power around the period-2 frequencies; a pattern with a period
    of 16 pixels has none there."""
    h, w = size[0] // 2 * 2, size[1] // 2 * 2  # an odd side loses its last pixel
    y, x = np.mgrid[:size[0], :size[1]]
    window = np.outer(np.hanning(h), np.hanning(w))
    for pattern in [(-1.0) ** (x + y), (-1.0) ** y, (-1.0) ** x]:
        image = 0.5 + 0.1 * pattern
        signal = (image[:h, :w] - image[:h, :w].mean()) * window
        total = h * w * (signal ** 2).sum()
        assert period2_energy(image) == pytest.approx(total, rel=1e-3)
    smooth = 0.5 + 0.3 * np.sin(2 * np.pi * x / 16) * np.cos(2 * np.pi * y / 16)
    signal = (smooth[:h, :w] - smooth[:h, :w].mean()) * window
    assert period2_energy(smooth) < 1e-6 * h * w * (signal ** 2).sum()


def test_checkerboard_ratio_sees_a_pixel_shuffle_pattern():
    rng = np.random.default_rng(7)
    y, x = np.mgrid[:64, :64]
    target = 0.5 + 0.2 * np.sin(x / 5.0) + 0.05 * rng.standard_normal((64, 64))
    target = np.repeat(target[None], 3, axis=0)
    # every 2×2 block gets the same sub-pixel offsets (a shuffle's ICNR start gone wrong)
    offsets = np.tile([[0.03, -0.03], [-0.01, 0.01]], (32, 32))
    ratio = checkerboard_ratio(target + offsets, target)
    want = period2_energy(target + offsets) / period2_energy(target)
    assert ratio == want and ratio > 1.5
    assert checkerboard_ratio(target, target) == 1.0


def test_colour_spread_in_grey_levels():
    grey = np.full((3, 4, 5), 0.4)
    assert colour_spread(grey) == 0.0
    tinted = grey.copy()
    tinted[:, 0, 0] = (0.1, 0.5, 0.3)  # one pixel of 20 spread over 0.4 · 255 = 102 levels
    assert colour_spread(tinted) == pytest.approx(102 / 20)
    with pytest.raises(ValueError, match=r"expected an RGB image \(3, H, W\), got \(1, 4, 5\)"):
        colour_spread(grey[:1])
