"""Converting torchvision's pretrained ResNet weights into minitorch's format — one command::

    python -m minitorch.vision.models.convert_torchvision resnet34-b627a593.pth

Read ``pretrained.py`` first (where weight files live and how they are checked).  minitorch
cannot download ImageNet weights, and it never unpickles a file (a pickle can run any code when
it is loaded).  torchvision's ``.pth`` files are pickles of tensors; this command opens one with
``torch.load(..., weights_only=True)`` — PyTorch's loader that refuses anything but tensors and
plain containers — so it needs torch installed, once, on the machine that converts.

It checks the file before it writes anything:

1. when the name carries torchvision's hash (``resnet34-b627a593.pth``: the first hex digits of
   the file's sha256, as ``torch.hub`` checks them), that the file has that hash;
2. that it is a state_dict of the architecture (``--arch``, else the name, else the number of
   blocks in ``layer3``): the same keys and shapes as minitorch's ``resnet34()``
   (``num_batches_tracked``, absent from files saved before PyTorch 0.4, is filled with 0 as
   PyTorch does);

then writes ``<arch>_torchvision.npz`` into ``$MINITORCH_MODELS`` (else
``~/.cache/minitorch/models``, or ``--out``) through a temporary name, with its sha256 in
``<arch>_torchvision.npz.sha256`` beside it.  ``resnet34(pretrained=True)`` — and so
``unet_learner(data, models.resnet34)`` — then loads it.
"""
import argparse
import re
import sys
from pathlib import Path

import numpy

from minitorch.files import atomic_write
from minitorch.vision.models.pretrained import (
    RESNET_NAMES, WeightsError, models_dir, resnet_file, sha256_of, write_npz)
from minitorch.vision.models.resnet import resnet18, resnet34

_HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,64})\.")
_ARCHITECTURES = {"resnet18": resnet18, "resnet34": resnet34}


def read_torchvision_file(path):
    """The state_dict in torchvision's file ``path``, as NumPy arrays, read with
    ``torch.load(weights_only=True)``."""
    try:
        import torch
    except ImportError as error:
        raise WeightsError("converting a .pth file needs torch (pip install torch): minitorch "
                           "itself never unpickles a file") from error
    path = Path(path)
    match = _HASH_IN_NAME.search(path.name)
    if match and not sha256_of(path).startswith(match.group(1)):
        raise WeightsError(f"{path}: its name says sha256 {match.group(1)}…, but the file's is "
                           f"{sha256_of(path)[:len(match.group(1))]}…: truncated or another file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (torch raises many kinds for a bad file)
        raise WeightsError(f"{path}: not a file torch.load(weights_only=True) accepts "
                           f"({type(error).__name__}: {error})") from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise WeightsError(f"{path}: expected a state_dict (names → tensors), got "
                           f"{type(state).__name__}")
    return {key: value.detach().cpu().numpy() for key, value in state.items()}


def guess_arch(path, state):
    """'resnet18' or 'resnet34': from the file name, else from the blocks of ``layer3``."""
    for name in RESNET_NAMES:
        if Path(path).name.startswith(name):
            return name
    blocks = {int(key.split(".")[1]) for key in state if key.startswith("layer3.")}
    by_blocks = {2: "resnet18", 6: "resnet34"}
    if len(blocks) not in by_blocks:
        raise WeightsError(f"{path}: cannot tell the architecture (layer3 has {len(blocks)} "
                           "blocks); give --arch resnet18 or resnet34")
    return by_blocks[len(blocks)]


def check_against(arch, state):
    """The state_dict for minitorch's ``arch``: same keys, same shapes, float32; missing
    ``num_batches_tracked`` filled with 0.  Raises naming every difference."""
    model = _ARCHITECTURES[arch]()
    expected = {k: v.shape for k, v in model.state_dict().items()}
    state = dict(state)
    for key in expected:
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = numpy.zeros((), dtype=numpy.int64)
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k}: {tuple(state[k].shape)} (expected {tuple(expected[k])})"
             for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k])]
    if missing or unexpected or wrong:
        raise WeightsError(f"not a torchvision {arch} state_dict: missing {missing[:5]}, "
                           f"unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}")
    return {k: (v.astype(numpy.int64) if k.endswith("num_batches_tracked")
                else numpy.ascontiguousarray(v, dtype=numpy.float32)) for k, v in state.items()}


def convert(pth, arch=None, out=None):
    """Convert torchvision's file ``pth``; returns the path of the ``.npz`` written."""
    pth = Path(pth)
    if not pth.is_file():
        raise FileNotFoundError(f"no file {pth}")
    state = read_torchvision_file(pth)
    arch = arch or guess_arch(pth, state)
    if arch not in RESNET_NAMES:
        raise WeightsError(f"--arch must be one of {list(RESNET_NAMES)}, got {arch!r}")
    state = check_against(arch, state)
    path = resnet_file(arch, out)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_npz(path, state)
    digest = sha256_of(path)
    with atomic_write(path.with_name(path.name + ".sha256"), mode="w") as file:
        file.write(f"{digest}  {path.name}  converted from {pth.name} (sha256 "
                   f"{sha256_of(pth)})\n")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m minitorch.vision.models.convert_torchvision",
        description="Convert torchvision's pretrained ResNet-18/34 (.pth) into minitorch's .npz")
    parser.add_argument("pth", help="torchvision's file, e.g. resnet34-b627a593.pth")
    parser.add_argument("--arch", choices=RESNET_NAMES, help="default: from the file")
    parser.add_argument("--out", help=f"folder to write into (default: {models_dir()})")
    args = parser.parse_args(argv)
    try:
        path = convert(args.pth, args.arch, args.out)
    except (WeightsError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"wrote {path}; {path.stem.split('_')[0]}(pretrained=True) now loads it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
