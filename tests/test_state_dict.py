"""state_dict, load_state_dict, and ``minitorch.save``/``minitorch.load``.

* A model's state round-trips through a file: same keys in the same order, same dtypes
  (``num_batches_tracked`` stays int64), same outputs.
* A PyTorch model's state (trained a little, so the BatchNorm statistics are not the defaults),
  converted to arrays, loads into the same architecture and gives the same outputs.
* Nested states (an optimizer's) round-trip with their ints, floats, tuples and None.
* A corrupt, truncated, pickled or mismatched file gives an error that names the file or the
  keys, and leaves the model exactly as it was; a failed save leaves the old file intact.
"""
import io
import os
import re

import numpy as np
import pytest
import torch

import minitorch
from minitorch import nn, optim
from minitorch.nn import functional as F
from torch_compare import assert_close, tolerance


def small_cnn(nn):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(8, 3))


def snapshot(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def assert_same_state(model, expected):
    state = snapshot(model)
    assert list(state) == list(expected)
    for key in expected:
        np.testing.assert_array_equal(state[key], expected[key], err_msg=key)
        assert state[key].dtype == expected[key].dtype, key


def trained_torch_cnn():
    """A torch model after two SGD steps: BatchNorm running stats and counts are not defaults."""
    torch.manual_seed(0)
    model = small_cnn(torch.nn)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(2):
        loss = torch.nn.functional.cross_entropy(model(torch.randn(6, 1, 8, 8)),
                                                 torch.randint(0, 3, (6,)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_round_trip_through_a_file(tmp_path):
    model = small_cnn(nn)
    model(minitorch.randn(4, 1, 8, 8))  # training forward: running stats move, count = 1
    path = tmp_path / "model.npz"
    minitorch.save(model.state_dict(), path)
    loaded = minitorch.load(path)
    assert list(loaded) == list(model.state_dict())
    assert all(isinstance(v, minitorch.Tensor) for v in loaded.values())
    assert loaded["1.num_batches_tracked"].dtype == np.int64
    assert loaded["1.num_batches_tracked"].item() == 1

    fresh = small_cnn(nn)
    fresh.load_state_dict(loaded)
    assert_same_state(fresh, snapshot(model))
    model.eval()
    fresh.eval()
    x = minitorch.randn(2, 1, 8, 8)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]  # no temporary file left behind


def test_file_is_plain_npz_without_pickle(tmp_path):
    model = nn.Linear(3, 2)
    path = tmp_path / "linear.ckpt"  # the name is used as given, no suffix added
    minitorch.save(model.state_dict(), path)
    with np.load(path, allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["weight"], model.weight.detach().numpy())
        assert set(archive.files) == {"weight", "bias", "__structure__"}


@pytest.mark.parametrize("via", ["arrays", "npz file", "torch tensors"])
def test_torch_state_dict_loads_and_gives_the_same_outputs(tmp_path, via):
    torch_model = trained_torch_cnn()
    torch_state = torch_model.state_dict()
    assert torch_state["1.num_batches_tracked"].item() == 2
    torch_path = tmp_path / "torch_model.pt"
    torch.save(torch_state, torch_path)  # what a PyTorch user has on disk
    arrays = {k: v.numpy() for k, v in torch.load(torch_path).items()}
    if via == "arrays":
        state = arrays
    elif via == "npz file":
        np.savez(tmp_path / "converted.npz", **arrays)  # no __structure__: a flat dict
        state = minitorch.load(tmp_path / "converted.npz")
    else:
        state = torch.load(torch_path)
    model = small_cnn(nn)
    model.load_state_dict(state)
    model.eval()
    for key, value in arrays.items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value, err_msg=key)
    x = np.random.default_rng(0).standard_normal((5, 1, 8, 8)).astype(np.float32)
    with torch.no_grad():
        expected = torch_model(torch.tensor(x))
    assert_close(model(minitorch.tensor(x)), expected, **tolerance(np.float32))


def test_nested_state_round_trips(tmp_path):
    state = {
        "state": {0: {"step": 3, "exp_avg": minitorch.randn(2, 3)},
                  1: {"step": 3, "exp_avg": minitorch.zeros(4)}},
        "param_groups": [{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8, "amsgrad": False,
                          "params": [0, 1], "name": "body", "foreach": None}],
        "epoch": 7,
        "raw": np.arange(5, dtype=np.int32),
    }
    path = tmp_path / "checkpoint.npz"
    minitorch.save(state, path)
    loaded = minitorch.load(path)
    assert list(loaded["state"]) == [0, 1]  # int keys stay ints
    assert loaded["state"][0]["step"] == 3
    np.testing.assert_array_equal(loaded["state"][0]["exp_avg"].numpy(),
                                  state["state"][0]["exp_avg"].numpy())
    assert loaded["param_groups"] == [{"lr": 0.01, "betas": (0.9, 0.999), "eps": 1e-8,
                                       "amsgrad": False, "params": [0, 1], "name": "body",
                                       "foreach": None}]
    assert loaded["epoch"] == 7
    assert isinstance(loaded["raw"], np.ndarray) and loaded["raw"].dtype == np.int32


def test_save_and_load_through_an_open_file():
    buffer = io.BytesIO()
    model = nn.Linear(3, 2)
    minitorch.save({"model": model.state_dict(), "step": 4}, buffer)
    buffer.seek(0)
    loaded = minitorch.load(buffer)
    assert loaded["step"] == 4
    np.testing.assert_array_equal(loaded["model"]["bias"].numpy(), model.bias.detach().numpy())
    with pytest.raises(RuntimeError, match="<file object>.*not a readable"):
        minitorch.load(io.BytesIO(b"garbage"))


def test_unsavable_values_are_refused_before_writing(tmp_path):
    path = tmp_path / "out.npz"
    with pytest.raises(TypeError, match=r"cannot save a function at model/fn"):
        minitorch.save({"model": {"fn": lambda x: x}}, path)
    assert not path.exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_file_names_the_file_and_changes_nothing(tmp_path, damage):
    model = small_cnn(nn)
    good = tmp_path / "good.npz"
    minitorch.save(model.state_dict(), good)
    data = good.read_bytes()
    bad = tmp_path / f"{damage}.npz"
    bad.write_bytes({"truncated": data[:len(data) // 2], "garbage": b"not a zip file" * 50,
                     "empty": b""}[damage])
    before = snapshot(model)
    with pytest.raises(RuntimeError, match=re.escape(str(bad)) + ".*not a readable"):
        model.load_state_dict(minitorch.load(bad))
    assert_same_state(model, before)


def test_corrupt_member_inside_a_valid_zip(tmp_path):
    # A bit flip inside a stored array: the zip's CRC check catches it when the array is read.
    model = nn.Linear(40, 30)
    path = tmp_path / "flipped.npz"
    minitorch.save(model.state_dict(), path)
    data = bytearray(path.read_bytes())
    start = data.index(b"NUMPY") + 200
    data[start] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(RuntimeError, match=re.escape(str(path))):
        minitorch.load(path)


def test_pickled_arrays_are_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, weight=np.array([{"x": 1}], dtype=object))
    with pytest.raises(RuntimeError, match=re.escape(str(path)) + ".*not a readable"):
        minitorch.load(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError, match="no such file: 'nowhere/model.npz'"):
        minitorch.load("nowhere/model.npz")


def test_mismatched_state_lists_every_problem_and_changes_nothing(tmp_path):
    model = small_cnn(nn)
    other = small_cnn(nn)
    del other[9]  # no Dropout: the head's keys become 9.weight and 9.bias
    path = tmp_path / "other.npz"
    minitorch.save(other.state_dict(), path)
    before = snapshot(model)
    with pytest.raises(RuntimeError) as error:
        model.load_state_dict(minitorch.load(path))
    message = str(error.value)
    assert "Error(s) in loading state_dict for Sequential" in message
    assert "missing keys: 10.weight, 10.bias" in message
    assert "unexpected keys: 9.weight, 9.bias" in message
    assert_same_state(model, before)

    state = snapshot(model)
    state["0.weight"] = state["0.weight"][:2]
    state["4.weight"] = np.zeros((8, 4, 5, 5), dtype=np.float32)
    with pytest.raises(RuntimeError, match=r"0.weight: checkpoint has shape \(2, 1, 3, 3\), the "
                                           r"model \(4, 1, 3, 3\); 4.weight: checkpoint has "
                                           r"shape \(8, 4, 5, 5\)"):
        model.load_state_dict(state)
    assert_same_state(model, before)


def test_non_numeric_value_is_reported_before_anything_is_copied():
    model = nn.Linear(2, 2)
    before = snapshot(model)
    state = snapshot(model)
    state["weight"] = np.zeros((2, 2))
    state["bias"] = np.array(["a", "b"])
    with pytest.raises(RuntimeError, match="bias: cannot be read as an array"):
        model.load_state_dict(state)
    assert_same_state(model, before)


def test_non_strict_loading_reports_missing_and_unexpected():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    state = {"0.weight": np.ones((2, 2), dtype=np.float32), "extra": np.zeros(1)}
    result = model.load_state_dict(state, strict=False)
    assert result.missing_keys == ["0.bias", "1.weight", "1.bias", "1.running_mean",
                                   "1.running_var", "1.num_batches_tracked"]
    assert result.unexpected_keys == ["extra"]
    assert (model[0].weight.detach().numpy() == 1).all()


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    model = nn.Linear(3, 3)
    minitorch.save(model.state_dict(), path)
    old = path.read_bytes()

    def crash(file, **arrays):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(minitorch.serialization.numpy, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        minitorch.save(nn.Linear(3, 3).state_dict(), path)
    assert path.read_bytes() == old
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_loaded_values_are_copied_into_the_existing_parameters():
    # An optimizer holds the Parameter objects: loading must write into them, not replace them.
    model = nn.Linear(2, 3)
    weight = model.weight
    version = weight._version
    model.load_state_dict({"weight": np.full((3, 2), 2.0), "bias": np.zeros(3)})
    assert model.weight is weight and weight.dtype == np.float32
    assert (weight.detach().numpy() == 2).all() and weight._version > version


def test_optimizer_state_round_trips_and_training_resumes_identically(tmp_path):
    def step(model, optimizer, x):
        optimizer.zero_grad()
        F.mse_loss(model(x), minitorch.zeros(4, 2)).backward()
        optimizer.step()

    x = minitorch.randn(4, 3)
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 2))
    optimizer = optim.Adam(model.parameters(), lr=1e-2, betas=(0.8, 0.99))
    step(model, optimizer, x)
    path = tmp_path / "checkpoint.npz"
    minitorch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, path)

    checkpoint = minitorch.load(path)
    resumed = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 2))
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer = optim.Adam(resumed.parameters(), lr=1.0)
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    assert resumed_optimizer.param_groups[0]["betas"] == (0.8, 0.99)
    for _ in range(2):
        step(model, optimizer, x)
        step(resumed, resumed_optimizer, x)
    assert_same_state(resumed, snapshot(model))
