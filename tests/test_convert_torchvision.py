"""Converting torchvision's ResNet weights (``python -m minitorch.vision.models.convert_torchvision``)
and ``resnet18(pretrained=True)`` finding them.

The ``.pth`` files are made here with torch, in torchvision's layout (a state_dict of ResNet-18's
names and shapes, random values), named as torchvision names them: ``resnet18-<first hex digits
of the file's sha256>.pth``.
"""
import hashlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from minitorch.vision import create_body, resnet18, resnet34
from minitorch.vision.models import convert_torchvision
from minitorch.vision.models.pretrained import WeightsError, load_resnet_state, resnet_file
from torch_compare import to_numpy

ROOT = Path(__file__).resolve().parents[1]


def torchvision_state(drop_batch_counts=False):
    """A ResNet-18 state_dict as torchvision's file holds it: torch tensors, float32 weights,
    int64 ``num_batches_tracked``."""
    generator = torch.Generator().manual_seed(0)
    state = {}
    for key, value in resnet18().state_dict().items():
        if key.endswith("num_batches_tracked"):
            if not drop_batch_counts:
                state[key] = torch.tensor(7)
        else:
            state[key] = torch.randn(tuple(value.shape), generator=generator)
    return state


def save_pth(state, folder, arch="resnet18"):
    """torch.save ``state`` and name the file as torchvision does, by its sha256."""
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / "weights.pth"
    torch.save(state, temporary)
    digest = hashlib.sha256(temporary.read_bytes()).hexdigest()
    return temporary.rename(folder / f"{arch}-{digest[:8]}.pth")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The documented command, run on a ResNet-18 file: (the torch state, the models folder)."""
    root = tmp_path_factory.mktemp("convert")
    state = torchvision_state()
    pth = save_pth(state, root / "downloads")
    assert convert_torchvision.main([str(pth), "--out", str(root / "models")]) == 0
    return state, root / "models"


def test_the_converted_file_loads_as_resnet18_pretrained(converted, monkeypatch):
    state, models = converted
    monkeypatch.setenv("MINITORCH_MODELS", str(models))
    assert resnet_file("resnet18").exists()
    model = resnet18(pretrained=True)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(to_numpy(value), state[key].numpy(), err_msg=key)
    body = create_body(resnet18, pretrained=True)  # what unet_learner(data, resnet18) builds on
    np.testing.assert_array_equal(to_numpy(body[0].weight), state["conv1.weight"].numpy())
    record = (models / "resnet18_torchvision.npz.sha256").read_text()
    assert record.split()[0] == hashlib.sha256(resnet_file("resnet18").read_bytes()).hexdigest()


def test_a_changed_or_unrecorded_file_is_refused(converted, tmp_path, monkeypatch):
    _, models = converted
    copy = tmp_path / "resnet18_torchvision.npz"
    copy.write_bytes(resnet_file("resnet18", models).read_bytes()[:-10])  # truncated
    record = (models / "resnet18_torchvision.npz.sha256").read_text()
    (tmp_path / "resnet18_torchvision.npz.sha256").write_text(record)
    with pytest.raises(WeightsError, match="sha256 mismatch"):
        load_resnet_state("resnet18", tmp_path)
    (tmp_path / "resnet18_torchvision.npz.sha256").unlink()
    with pytest.raises(WeightsError, match="has no resnet18_torchvision.npz.sha256 beside it"):
        load_resnet_state("resnet18", tmp_path)


def test_missing_weights_name_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("MINITORCH_MODELS", str(tmp_path))
    with pytest.raises(ValueError, match=r"resnet34\(pretrained=True\).*"
                       r"python -m minitorch.vision.models.convert_torchvision resnet34"):
        resnet34(pretrained=True)


def test_the_command_runs_as_documented(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    bad = tmp_path / "resnet18-00000000.pth"
    bad.write_bytes(b"not torch")
    result = subprocess.run([sys.executable, "-m", "minitorch.vision.models.convert_torchvision",
                             str(bad), "--out", str(tmp_path)], capture_output=True, text=True,
                            env=env, timeout=300)
    assert result.returncode == 1 and "its name says sha256 00000000" in result.stderr
    assert not list(tmp_path.glob("*.npz"))


def test_old_files_without_batch_counts_are_completed(tmp_path):
    pth = save_pth(torchvision_state(drop_batch_counts=True), tmp_path, arch="old")
    path = convert_torchvision.convert(pth, arch="resnet18", out=tmp_path / "models")
    with np.load(path, allow_pickle=False) as npz:
        assert npz["bn1.num_batches_tracked"] == 0 and npz["conv1.weight"].dtype == np.float32


class NotATensor:
    pass


def test_what_is_not_a_resnet18_state_dict_is_refused_before_writing(tmp_path):
    state = torchvision_state()
    state["fc.weight"] = torch.zeros(10, 512)
    with pytest.raises(WeightsError, match=r"wrong shapes \['fc.weight: \(10, 512\)"):
        convert_torchvision.convert(save_pth(state, tmp_path / "a"), out=tmp_path / "models")
    del state["fc.weight"]
    with pytest.raises(WeightsError, match=r"missing \['fc.weight'\]"):
        convert_torchvision.convert(save_pth(state, tmp_path / "b"), out=tmp_path / "models")
    pickled = tmp_path / "c" / "resnet18.pth"
    pickled.parent.mkdir()
    pickled.write_bytes(pickle.dumps({"conv1.weight": NotATensor()}, protocol=2))
    with pytest.raises(WeightsError, match="weights_only=True"):  # never unpickled
        convert_torchvision.convert(pickled, out=tmp_path / "models")
    assert not (tmp_path / "models").exists()
