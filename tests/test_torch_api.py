"""PyTorch's everyday names beyond the ops: devices, ``cuda``/``accelerator``, ``inference_mode``,
the ``new_*`` constructors, contiguity, ``narrow``, ``nn.init.orthogonal_``, and saving (a whole
model is refused, a PyTorch pickle is refused, both saying what to do instead).

Each is compared with what torch does for the same call where torch has it; where minitorch
differs on purpose (one GPU, device equality), the test says so.
"""
import copy
import io
import pickle

import numpy as np
import pytest
import torch

import minitorch
from minitorch import backend, nn
from tests.torch_compare import DEVICE, assert_close, tolerance, to_numpy

GPU = backend.cuda_is_available()


# ---- minitorch.device ----------------------------------------------------------------------------
DEVICE_SPELLINGS = [("cpu",), ("cuda",), ("cuda:0",), ("cuda", 0), ("cpu", 0), ("cpu:0",)]


@pytest.mark.parametrize("args", DEVICE_SPELLINGS, ids=[repr(a) for a in DEVICE_SPELLINGS])
def test_device_attributes_print_as_torch(args):
    ours, theirs = minitorch.device(*args), torch.device(*args)
    assert (ours.type, ours.index) == (theirs.type, theirs.index)
    assert (str(ours), repr(ours), f"{ours}") == (str(theirs), repr(theirs), f"{theirs}")
    assert minitorch.device(ours) is ours  # a device given a device is that device


BAD_DEVICES = [("tpu",), ("cuda:x",), ("cuda", -1), ("cuda:0", 0)]


@pytest.mark.parametrize("args", BAD_DEVICES, ids=[repr(a) for a in BAD_DEVICES])
def test_bad_device_raises_as_torch(args):
    with pytest.raises(RuntimeError) as theirs:
        torch.device(*args)
    with pytest.raises(RuntimeError) as ours:
        minitorch.device(*args)
    assert str(ours.value)  # and says what was wrong
    assert type(ours.value) is type(theirs.value)


def test_a_second_gpu_is_refused_by_name():
    """torch can name cuda:1 (and fails when it is used); minitorch drives one GPU and says so."""
    with pytest.raises(RuntimeError, match="one cuda device, index 0"):
        minitorch.device("cuda:1")


def test_device_equality_hash_and_copies():
    cpu, gpu = minitorch.device("cpu"), minitorch.device("cuda")
    # the same device whichever way it is written (torch: 'cuda' and 'cuda:0' differ; one GPU here)
    assert gpu == minitorch.device("cuda:0") == minitorch.device("cuda", 0)
    assert gpu == "cuda" and gpu == "cuda:0" and "cuda:0" == gpu
    assert cpu == "cpu" and cpu != "cuda" and cpu != gpu and gpu != "cpu" and cpu != "tpu"
    assert not (cpu == 3) and cpu != None  # noqa: E711
    assert len({cpu, minitorch.device("cpu", 0), gpu, minitorch.device("cuda:0")}) == 2
    assert {"cpu": 1}[minitorch.device("cpu")] == 1
    for copied in (copy.copy(gpu), copy.deepcopy(gpu), pickle.loads(pickle.dumps(gpu))):
        assert copied == gpu and (copied.type, copied.index) == (gpu.type, gpu.index)


def test_a_device_works_wherever_a_device_string_does():
    device = minitorch.device(DEVICE)
    x = minitorch.tensor([1.0, 2.0], device=device)
    assert x.device == device and x.device == DEVICE and x.is_cuda == (DEVICE == "cuda")
    assert minitorch.zeros(2, 3, device=device).device == device
    assert minitorch.ones(2, device=device).to(device).device == device
    assert minitorch.randn(2, device=device).to(minitorch.device("cpu")).device == "cpu"
    model = nn.Linear(3, 2).to(device)
    assert all(p.device == device for p in model.parameters())
    model.to(minitorch.device("cpu"), non_blocking=True)
    assert all(p.device == "cpu" for p in model.parameters())
    assert model.to(x).weight.device == device  # a tensor says where (and which dtype)


def test_tensor_device_is_torch_device_like():
    """``x.device`` has torch's type/index and prints as torch's: device(type='cpu')."""
    x = minitorch.tensor([1.0], device=DEVICE)
    y = torch.tensor([1.0])
    if DEVICE == "cpu":
        assert repr(x.device) == repr(y.device) and str(x.device) == str(y.device)
    else:
        assert repr(x.device) == "device(type='cuda', index=0)" and str(x.device) == "cuda:0"
    assert x.device.type == DEVICE


def test_cuda_and_accelerator_agree_with_the_backend():
    assert minitorch.cuda.is_available() == GPU == minitorch.accelerator.is_available()
    assert minitorch.cuda.device_count() == int(GPU) == minitorch.accelerator.device_count()
    accelerator = minitorch.accelerator.current_accelerator()
    assert accelerator == (minitorch.device("cuda") if GPU else None)
    if GPU:
        assert minitorch.cuda.current_device() == 0
    else:
        with pytest.raises(RuntimeError, match="no GPU"):
            minitorch.cuda.current_device()
        with pytest.raises(RuntimeError, match="CuPy is not installed or sees no GPU"):
            minitorch.zeros(2, device=minitorch.device("cuda"))


def test_the_device_idiom_of_pytorch_scripts():
    """``device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')``."""
    dev = minitorch.device("cuda") if minitorch.cuda.is_available() else minitorch.device("cpu")
    x = minitorch.randn(4, 3).to(dev)
    model = nn.Linear(3, 2).to(dev)
    assert model(x).device == dev


# ---- inference_mode ------------------------------------------------------------------------------
def _state(lib, w):
    return lib.is_grad_enabled(), lib.is_inference_mode_enabled(), (w * 2).requires_grad


@pytest.mark.parametrize("form", ["context", "decorator", "bare decorator", "disabled",
                                  "nested", "disabled inside no_grad"])
def test_inference_mode_as_torch(form):
    results = []
    for lib in (minitorch, torch):
        w = lib.ones(2, requires_grad=True)
        if form == "context":
            with lib.inference_mode():
                inside = _state(lib, w)
        elif form == "decorator":
            inside = lib.inference_mode()(lambda: _state(lib, w))()
        elif form == "bare decorator":
            @lib.inference_mode
            def evaluate():
                return _state(lib, w)
            inside = evaluate()
        elif form == "disabled":
            with lib.inference_mode(False):
                inside = _state(lib, w)
        elif form == "nested":
            with lib.inference_mode():
                with lib.inference_mode(False):
                    off = _state(lib, w)
                inside = (off, _state(lib, w))
        else:
            with lib.no_grad():
                with lib.inference_mode(False):
                    inside = _state(lib, w)
        results.append((inside, _state(lib, w)))
    assert results[0] == results[1], f"minitorch {results[0]}, torch {results[1]}"


# ---- new_* constructors, contiguity, narrow, to(copy) -------------------------------------------
NEW_CALLS = [
    ("new_zeros", lambda x: x.new_zeros(2, 3)),
    ("new_zeros tuple", lambda x: x.new_zeros((4,))),
    ("new_ones", lambda x: x.new_ones((2, 2))),
    ("new_full", lambda x: x.new_full((3,), 7)),
    ("new_full float", lambda x: x.new_full((2,), 1.5)),
    ("new_tensor", lambda x: x.new_tensor([[1, 2], [3, 4]])),
    ("new_empty shape", lambda x: x.new_empty(2, 5).shape),
    ("dtype given", lambda x: x.new_zeros(2, dtype=x.new_tensor(0).int().dtype)),
]


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("label, call", NEW_CALLS, ids=[c[0] for c in NEW_CALLS])
def test_new_constructors_as_torch(label, call, dtype):
    ours = call(minitorch.ones(3, dtype=getattr(minitorch, dtype), device=DEVICE))
    theirs = call(torch.ones(3, dtype=getattr(torch, dtype)))
    if isinstance(theirs, torch.Size):
        assert tuple(ours) == tuple(theirs)
        return
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert ours.device == DEVICE and not ours.requires_grad
    assert_close(ours, theirs, rtol=0, atol=0, what=label)


def test_new_tensor_can_require_grad_and_leaves_the_source():
    x = minitorch.zeros(2, dtype=minitorch.float64, device=DEVICE)
    y = x.new_tensor([1.0, 2.0], requires_grad=True)
    assert y.requires_grad and y.is_leaf and y.dtype == x.dtype and not x.requires_grad


VIEWS = [
    ("fresh", lambda x: x),
    ("transposed", lambda x: x.t()),
    ("row slice", lambda x: x[1:]),
    ("column slice", lambda x: x[:, 1:3]),
    ("every other row", lambda x: x[::2]),
    ("one column", lambda x: x[:, 2]),
    ("narrowed rows", lambda x: x.narrow(0, 1, 2)),
    ("narrowed columns", lambda x: x.narrow(1, 0, 2)),
    ("contiguous of transposed", lambda x: x.t().contiguous()),
]


@pytest.mark.parametrize("label, make", VIEWS, ids=[v[0] for v in VIEWS])
def test_is_contiguous_and_contiguous_as_torch(label, make):
    base = np.arange(20.0).reshape(4, 5)
    if DEVICE == "cpu":
        ours = make(minitorch.from_numpy(base.copy()))
    else:
        ours = make(minitorch.tensor(base, device=DEVICE))
    theirs = make(torch.tensor(base))
    assert ours.is_contiguous() == theirs.is_contiguous()
    made = ours.contiguous()
    assert made.is_contiguous() and (made is ours) == theirs.is_contiguous()
    assert_close(made.view(-1), theirs.contiguous().view(-1), rtol=0, atol=0, what=label)


def test_view_of_a_transposed_tensor_raises_torchs_error():
    message = "view size is not compatible with input tensor's size and stride"
    with pytest.raises(RuntimeError, match=message):
        torch.ones(2, 3).t().view(-1)
    with pytest.raises(RuntimeError, match=message + r".*\.reshape\(\.\.\.\).*\.contiguous\(\)"):
        minitorch.ones(2, 3, device=DEVICE).t().view(-1)


NARROW_ERRORS = [((0, 5, 1), IndexError, r"start out of range \(expected to be in range of "
                  r"\[-4, 4\], but got 5\)"),
                 ((0, -5, 1), IndexError, r"but got -5"),
                 ((0, 2, 3), RuntimeError, r"start \(2\) \+ length \(3\) exceeds dimension "
                  r"size \(4\)"),
                 ((0, 1, -1), RuntimeError, r"length must be non-negative"),
                 ((1, 0, 1), IndexError, r"dimension out of range")]


@pytest.mark.parametrize("args, error, message", NARROW_ERRORS,
                         ids=[str(e[0]) for e in NARROW_ERRORS])
def test_narrow_errors_as_torch(args, error, message):
    with pytest.raises(error):
        torch.ones(4).narrow(*args)
    with pytest.raises(error, match=message):
        minitorch.ones(4, device=DEVICE).narrow(*args)


def test_narrow_is_a_view_and_tril_needs_a_matrix():
    x = minitorch.zeros(4, 3, device=DEVICE)
    with minitorch.no_grad():
        x.narrow(0, 1, 2).fill_(1.0)
    assert to_numpy(x)[:, 0].tolist() == [0.0, 1.0, 1.0, 0.0]
    for lib in (minitorch, torch):
        for fn in (lib.tril, lib.triu):
            with pytest.raises(RuntimeError, match="at least 2 dimensions"):
                fn(lib.ones(3))


def test_to_copy_and_non_blocking():
    x = minitorch.ones(3, device=DEVICE)
    assert x.to(DEVICE) is x and x.to(DEVICE, non_blocking=True) is x
    copied = x.to(DEVICE, copy=True)
    assert copied is not x
    with minitorch.no_grad():
        copied.add_(1.0)
    assert to_numpy(x).tolist() == [1.0, 1.0, 1.0]
    assert x.to(minitorch.float64, copy=True).dtype == minitorch.float64


# ---- nn.init.orthogonal_ -------------------------------------------------------------------------
def _torch_orthogonal_of(draw, gain):
    """torch.nn.init.orthogonal_'s algorithm on a given normal draw (rows × flattened cols)."""
    rows, cols = draw.shape
    flat = torch.tensor(draw)
    if rows < cols:
        flat = flat.t()
    q, r = torch.linalg.qr(flat)
    q = q * torch.diag(r, 0).sign()
    if rows < cols:
        q = q.t()
    return (q * gain).numpy()


@pytest.mark.parametrize("shape, gain", [((5, 3), 1.0), ((3, 5), 1.0), ((4, 4), 2.0),
                                         ((6, 2, 3), 0.5), ((2, 3, 2, 2), 1.0)])
def test_orthogonal_is_torchs_algorithm_on_the_same_draw(shape, gain):
    weight = minitorch.empty(*shape, dtype=minitorch.float64, device=DEVICE)
    minitorch.manual_seed(3)
    nn.init.orthogonal_(weight, gain=gain)
    minitorch.manual_seed(3)  # the same draw again, for torch's algorithm
    rows = shape[0]
    draw = backend.rng().standard_normal((rows, int(np.prod(shape)) // rows))
    expected = _torch_orthogonal_of(draw, gain).reshape(shape)
    assert_close(weight, expected, what="orthogonal_", **tolerance(np.float64))
    flat = to_numpy(weight).reshape(rows, -1)
    small = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    assert np.allclose(small, gain ** 2 * np.eye(len(small)), atol=1e-12)


def test_orthogonal_errors_and_float32():
    for lib in (minitorch, torch):
        with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
            lib.nn.init.orthogonal_(lib.ones(3))
    w = nn.Linear(6, 4).weight
    nn.init.orthogonal_(w)
    assert w.dtype == minitorch.float32 and w.requires_grad and w.is_leaf
    flat = to_numpy(w)
    assert np.allclose(flat @ flat.T, np.eye(4), atol=1e-5)


# ---- saving a whole model, loading a PyTorch pickle ---------------------------------------------
def test_saving_a_whole_model_is_refused_with_the_way_that_works(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    for target in (model, {"model": model}, optimizer_of(model)):
        with pytest.raises(TypeError, match=r"minitorch.save\(model.state_dict\(\), f\).*"
                                            r"model.load_state_dict\(minitorch.load\(f\)\)"):
            minitorch.save(target, tmp_path / "model.pt")
        assert not (tmp_path / "model.pt").exists()
    minitorch.save(model.state_dict(), tmp_path / "model.pt")  # what the message says, works
    again = nn.Sequential(nn.Linear(3, 2), nn.ReLU())
    again.load_state_dict(minitorch.load(tmp_path / "model.pt", weights_only=True))
    for a, b in zip(again.parameters(), model.parameters()):
        assert_close(a, b.detach(), rtol=0, atol=0)


def optimizer_of(model):
    return minitorch.optim.SGD(model.parameters(), lr=0.1)


@pytest.mark.parametrize("how", ["whole model", "state dict", "legacy pickle", "pickle.dump"])
def test_a_pytorch_pickle_is_refused_and_the_conversion_it_suggests_works(tmp_path, how):
    torch_model = torch.nn.Linear(3, 2)
    path = tmp_path / "torch.pt"
    if how == "whole model":
        torch.save(torch_model, path)
    elif how == "state dict":
        torch.save(torch_model.state_dict(), path)
    elif how == "legacy pickle":
        torch.save(torch_model.state_dict(), path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps({"weight": torch_model.weight.detach().numpy()}))
    with pytest.raises(RuntimeError, match=r"(PyTorch checkpoint|Python pickle).*numpy\.savez"):
        minitorch.load(path)
    # The conversion the message gives: arrays in an .npz from PyTorch, loaded here.
    np.savez(tmp_path / "weights.npz", **{k: v.cpu().numpy()
                                          for k, v in torch_model.state_dict().items()})
    model = nn.Linear(3, 2)
    model.load_state_dict(minitorch.load(tmp_path / "weights.npz"))
    assert_close(model.weight.detach(), torch_model.weight, rtol=0, atol=0)


def test_load_accepts_torchs_keywords():
    buffer = io.BytesIO()
    minitorch.save({"w": minitorch.ones(2)}, buffer)
    for kwargs in ({"weights_only": True}, {"map_location": minitorch.device("cpu")},
                   {"map_location": "cpu", "weights_only": False}):
        buffer.seek(0)
        assert minitorch.load(buffer, **kwargs)["w"].device == "cpu"


# ---- creation and questions: eye, linspace, rand_like, is_tensor, numel, allclose, equal ---------
CREATIONS = [
    ("eye", lambda lib: lib.eye(3)),
    ("eye rectangular float64", lambda lib: lib.eye(2, 4, dtype=lib.float64)),
    ("eye int", lambda lib: lib.eye(3, 2, dtype=lib.int64)),
    ("linspace", lambda lib: lib.linspace(0, 1, 5)),
    ("linspace reversed float64", lambda lib: lib.linspace(2.5, -1, 8, dtype=lib.float64)),
    ("linspace one step", lambda lib: lib.linspace(3, 7, 1)),
    ("linspace no steps", lambda lib: lib.linspace(0, 1, 0)),
]


@pytest.mark.parametrize("label, make", CREATIONS, ids=[c[0] for c in CREATIONS])
def test_creation_functions_as_torch(label, make):
    ours, theirs = make(minitorch), make(torch)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert_close(ours, theirs, what=label, **tolerance(np.dtype(str(ours.dtype))
                                                       if ours.dtype.kind == "f" else np.float64))


@pytest.mark.parametrize("name", ["rand_like", "randn_like"])
def test_random_like_takes_shape_dtype_and_device(name):
    source = minitorch.zeros(200, 50, dtype=minitorch.float64, device=DEVICE)
    sample = getattr(minitorch, name)(source)
    assert sample.shape == source.shape and sample.dtype == source.dtype
    assert sample.device == source.device and not sample.requires_grad
    values = to_numpy(sample)
    if name == "rand_like":
        assert 0 <= values.min() and values.max() < 1 and abs(values.mean() - 0.5) < 0.02
    else:
        assert abs(values.mean()) < 0.03 and abs(values.std() - 1) < 0.03
    other = getattr(minitorch, name)(source, dtype=minitorch.float32, requires_grad=True)
    assert other.dtype == minitorch.float32 and other.requires_grad


QUESTIONS = [
    ("is_tensor", lambda lib: (lib.is_tensor(lib.ones(2)), lib.is_tensor([1.0]))),
    ("numel", lambda lib: lib.numel(lib.ones(2, 3, 4))),
    ("allclose", lambda lib: lib.allclose(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.000001]))),
    ("allclose far", lambda lib: lib.allclose(lib.tensor([1.0, 2.0]), lib.tensor([1.0, 2.1]))),
    ("allclose broadcast tolerances", lambda lib: lib.allclose(
        lib.tensor([[1.0, 2.0]]), lib.tensor([1.05, 2.0]), rtol=0.1, atol=0.0)),
    ("allclose nan", lambda lib: (lib.allclose(lib.tensor([float("nan")]),
                                               lib.tensor([float("nan")])),
                                  lib.allclose(lib.tensor([float("nan")]),
                                               lib.tensor([float("nan")]), equal_nan=True))),
    ("equal", lambda lib: (lib.equal(lib.tensor([1, 2]), lib.tensor([1, 2])),
                           lib.equal(lib.tensor([1, 2]), lib.tensor([1, 3])),
                           lib.equal(lib.tensor([1, 2]), lib.tensor([[1, 2]])))),
]


@pytest.mark.parametrize("label, ask", QUESTIONS, ids=[q[0] for q in QUESTIONS])
def test_questions_answer_as_torch(label, ask):
    assert ask(minitorch) == ask(torch)


@pytest.mark.parametrize("call", [lambda lib: lib.mm(lib.ones(2, 3), lib.ones(3)),
                                  lambda lib: lib.bmm(lib.ones(2, 3), lib.ones(3, 2)),
                                  lambda lib: lib.bmm(lib.ones(2, 2, 3), lib.ones(3, 3, 2))],
                         ids=["mm of a vector", "bmm of matrices", "bmm of two batch sizes"])
def test_mm_and_bmm_refuse_what_torch_refuses(call):
    with pytest.raises(RuntimeError):
        call(torch)
    with pytest.raises(RuntimeError, match="must be a|same batch size"):
        call(minitorch)
