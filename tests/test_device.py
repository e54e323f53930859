"""The GPU code path: moving between devices, host values meeting device tensors, index checks
that CuPy does not make, and the CuPy stand-in's own rules.

Read after ``tests/fake_cupy/cupy/__init__.py``.  These tests need a 'cuda' device: a real GPU
with CuPy, or the stand-in (``MINITORCH_DEVICE=cuda`` on a machine without a GPU, as the second
run of ``.ci/run`` does).  Without either they are the allowed ``cuda`` skips.  Each one failed on
the stand-in before the fix it names.
"""
import numpy as np
import pytest

import minitorch
from minitorch import backend, nn
from minitorch.nn import functional as F
from minitorch.ops import conv
from minitorch.speed.cpu import tuned_for_cpu
from torch_compare import to_numpy

needs_cuda = [pytest.mark.cuda,
              pytest.mark.skipif(not minitorch.cuda_is_available(), reason="needs a GPU (CuPy)")]
pytestmark = needs_cuda


def _stand_in():
    cupy = pytest.importorskip("cupy")
    if not hasattr(cupy, "_stand_in"):
        pytest.skip("these check the stand-in itself")  # on a real GPU: nothing to check
    return cupy


# ---- moving between devices (autograd converted every output with the input's array module) ----
def test_to_cuda_and_back_keeps_each_output_on_its_device_and_gradients_flow():
    x = minitorch.tensor([1.0, -2.0, 3.0], device="cpu", requires_grad=True)
    on_gpu = x.to("cuda")
    assert on_gpu.device == "cuda" and backend.device_of(on_gpu.array) == "cuda"
    back = (on_gpu * 2).cpu()
    assert back.device == "cpu" and isinstance(back.array, np.ndarray)
    back.sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_array_equal(to_numpy(x.grad), [2.0, 2.0, 2.0])


def test_an_unused_output_of_a_move_gets_a_zero_gradient_on_its_own_device():
    x = minitorch.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    a, b = x.cpu().split(1)
    (a * 5).sum().backward()
    assert x.grad.device == "cuda"
    np.testing.assert_array_equal(to_numpy(x.grad), [5.0, 0.0])


# ---- host values written into device tensors ---------------------------------------------------
def test_setitem_and_inplace_ops_accept_host_arrays():
    t = minitorch.zeros(2, 3, device="cuda")
    t[0] = np.array([1.0, 2.0, 3.0], dtype=np.float32)
    t[1] = [4.0, 5.0, 6.0]
    t.add_(np.ones(3, dtype=np.float32))
    t.sub_(np.full(3, 0.5, dtype=np.float32), alpha=2)
    t.mul_(np.array([2.0, 2.0, 2.0], dtype=np.float32))
    t.div_(np.array([1.0, 2.0, 4.0], dtype=np.float32))
    np.testing.assert_allclose(to_numpy(t), [[2, 2, 1.5], [8, 5, 3]])
    assert t.device == "cuda"


def test_as_tensor_like_moves_a_tensor_to_the_device_of_like():
    weight = minitorch.tensor([1.0, 2.0, 0.5], device="cpu")
    moved = minitorch.as_tensor(weight, like=minitorch.zeros(1, device="cuda"))
    assert moved.device == "cuda"
    logits = minitorch.randn(4, 3, device="cuda", requires_grad=True)
    target = minitorch.tensor([0, 2, 1, 2], device="cuda")
    loss = nn.CrossEntropyLoss(weight=weight)(logits, target)
    expected = nn.CrossEntropyLoss(weight=weight)(logits.detach().cpu(), target.cpu())
    np.testing.assert_allclose(loss.item(), expected.item(), rtol=1e-6)
    loss.backward()
    assert logits.grad.device == "cuda"


# ---- indices: CuPy wraps an out-of-range index around instead of raising ---------------------------
OUT_OF_RANGE = [
    ("getitem", lambda: minitorch.arange(3.0, device="cuda")[minitorch.tensor([0, 3], device="cuda")],
     r"index 3 is out of bounds for dimension 0 with size 3"),
    ("getitem_negative",
     lambda: minitorch.zeros(2, 3, device="cuda")[:, minitorch.tensor([-4], device="cuda")],
     r"index -4 is out of bounds for dimension 1 with size 3"),
    ("gather", lambda: minitorch.zeros(2, 3, device="cuda").gather(
        1, minitorch.tensor([[0], [3]], device="cuda")), r"gather: index out of range"),
    ("embedding", lambda: nn.Embedding(10, 2).to("cuda")(minitorch.tensor([1, 12], device="cuda")),
     r"embedding: index 12 is out of range for a table of 10 rows"),
    ("cross_entropy", lambda: F.cross_entropy(minitorch.zeros(2, 4, device="cuda"),
                                              minitorch.tensor([1, 4], device="cuda")),
     r"cross_entropy: target class 4 is out of range for 4 classes"),
]


@pytest.mark.parametrize("name, make, message", OUT_OF_RANGE, ids=[r[0] for r in OUT_OF_RANGE])
def test_an_out_of_range_index_raises_when_the_next_value_is_read(name, make, message):
    out = make()  # on the GPU the check waits on the device (no sync of its own) ...
    with pytest.raises(IndexError, match=message):
        out.sum().item()  # ... and raises with the next value that leaves it
    assert minitorch.zeros(1, device="cuda").item() == 0  # the failed check is gone


def test_the_index_check_travels_with_the_value_in_one_sync():
    cupy = _stand_in()
    logits = minitorch.zeros(8, 4, device="cuda")
    target = minitorch.tensor([0, 1, 2, 3, 0, 1, 2, 3], device="cuda")
    with cupy._stand_in.counting() as counts:
        loss = F.cross_entropy(logits, target)
        value = loss.item()
    assert abs(value - np.log(4)) < 1e-6
    assert counts.syncs_total() == 1, counts


# ---- in place on an expanded tensor (CuPy's broadcast views are writable) --------------------------
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_inplace_on_an_expanded_tensor_is_refused_as_in_torch(device):
    if device == "cuda" and not minitorch.cuda_is_available():
        pytest.skip("needs a GPU")
    base = minitorch.zeros(1, 3, device=device)
    wide = base.expand(4, 3)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        wide.add_(1.0)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        wide[0] = 2.0
    np.testing.assert_array_equal(to_numpy(base), np.zeros((1, 3)))
    wide.clone().add_(1.0)  # a copy owns its memory


# ---- the stand-in raises where CuPy raises ---------------------------------------------------------------
def test_the_stand_in_refuses_what_cupy_refuses():
    cupy = _stand_in()
    device = cupy.arange(6.0).reshape(2, 3)
    with pytest.raises(TypeError, match="Implicit conversion to a NumPy array"):
        np.asarray(device)
    with pytest.raises(TypeError, match="Unsupported type"):
        device + np.ones(3)
    with pytest.raises(TypeError, match="Unsupported type"):
        np.ones(3) * device
    with pytest.raises(TypeError, match="Unsupported type"):
        cupy.maximum(device, np.zeros(3))
    with pytest.raises(TypeError, match="Unsupported type"):
        device[0] = np.zeros(3)
    with pytest.raises(AttributeError):
        cupy.not_a_cupy_function  # noqa: B018
    assert (np.float32(2) * device).dtype == np.float64  # scalars mix freely
    assert device.T.copy().flags.c_contiguous and (device.T + 1).flags.c_contiguous
    assert device[cupy.asarray([3])].get().tolist() == [[3.0, 4.0, 5.0]]  # 3 wraps to row 1
    wide = cupy.broadcast_to(cupy.zeros(3), (2, 3))
    wide[1, 1] = 7.0  # writable, and it writes the one shared element
    assert wide.get().tolist() == [[0.0, 7.0, 0.0], [0.0, 7.0, 0.0]]


def test_the_stand_in_counts_syncs_and_copies_by_minitorch_line():
    cupy = _stand_in()
    with cupy._stand_in.counting() as counts:
        t = minitorch.tensor(np.ones(3, dtype=np.float32), device="cuda")
        t.sum().item()
        t.numpy()
    assert counts.copies_total() == 1 and counts.syncs_total() == 2, counts
    # .item() and .numpy() only pass the transfer on: the line that asked for it is counted
    assert all(where.startswith("test_device.py:") for where in (*counts.copies, *counts.syncs))
    with cupy._stand_in.counting() as counts:
        F.cross_entropy(minitorch.zeros(2, 3, device="cuda"), [0, 1])  # a target list: uploaded
    assert list(counts.copies) and all(w.startswith("minitorch/") for w in counts.copies), counts


# ---- random masks drawn on the device -------------------------------------------------------------
def test_dropout_masks_are_drawn_on_the_device_and_repeat_with_the_seed():
    cupy = _stand_in()
    x = minitorch.ones(64, 32, device="cuda")
    masks = []
    for _ in range(2):
        minitorch.manual_seed(3)
        with cupy._stand_in.counting() as counts:
            masks.append(to_numpy(F.dropout(x, 0.5, training=True).detach().array))
        assert counts.copies_total() == 0, counts  # no mask uploaded
    np.testing.assert_array_equal(masks[0], masks[1])
    assert set(np.unique(masks[0])) == {0.0, 2.0} and 0.4 < (masks[0] == 0).mean() < 0.6


# ---- the GPU code path (speed/cpu.py's tuned_for_cpu, speed/gpu.py's fuse) against the CPU's ----
def test_adam_fused_update_on_the_device_matches_the_cpu_update():
    minitorch.manual_seed(0)
    shapes = [(5, 3), (7,)]
    start = [minitorch.randn(*s, dtype=minitorch.float64, device="cpu") for s in shapes]
    params = {d: [t.clone().to(d) for t in start] for d in ("cpu", "cuda")}
    for d in params:
        for p in params[d]:
            p.requires_grad_(True)
    opts = {d: minitorch.optim.Adam(params[d], lr=0.1, betas=(0.8, 0.9), weight_decay=0.01)
            for d in params}
    rng = np.random.default_rng(1)
    for _ in range(4):
        grads = [rng.standard_normal(s) for s in shapes]
        for d in params:
            for p, g in zip(params[d], grads):
                p.grad = minitorch.tensor(g, device=d)
            opts[d].step()
    for a, b in zip(params["cpu"], params["cuda"]):
        np.testing.assert_allclose(to_numpy(b), to_numpy(a), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(to_numpy(opts["cuda"].state[b]["exp_avg_sq"]),
                                   to_numpy(opts["cpu"].state[a]["exp_avg_sq"]), rtol=1e-13)


def test_the_gpu_takes_the_plain_forms_of_the_conv_reductions():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 2048)), rng.standard_normal((2, 4, 2048))
    on_cpu = conv.grouped_matmul_bt(a.reshape(6, -1), b.reshape(8, -1), 2)  # pieces of 512
    on_gpu = conv.grouped_matmul_bt(backend.to_device(a.reshape(6, -1), "cuda"),
                                    backend.to_device(b.reshape(8, -1), "cuda"), 2)
    np.testing.assert_allclose(to_numpy(on_gpu), on_cpu, rtol=1e-12)
    m = rng.standard_normal((4, 300))
    np.testing.assert_allclose(to_numpy(conv.row_sums(backend.array_module("cuda"),
                                                      backend.to_device(m, "cuda"))),
                               conv.row_sums(np, m), rtol=1e-12)
    assert tuned_for_cpu(m) and not tuned_for_cpu(backend.to_device(m, "cuda"))


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_fused_elementwise_parts_match_the_cpu(training):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5, 5))
    upstream = rng.standard_normal((4, 3, 5, 5))
    results = {}
    for device in ("cpu", "cuda"):
        layer = nn.BatchNorm2d(3).double().to(device)
        with minitorch.no_grad():
            layer.weight.copy_(minitorch.tensor([0.5, 1.5, -2.0], dtype=minitorch.float64))
            layer.bias.copy_(minitorch.tensor([0.1, 0.0, 0.3], dtype=minitorch.float64))
        layer.train(training)
        xt = minitorch.tensor(x, device=device, requires_grad=True)
        out = layer(xt)
        out.backward(minitorch.tensor(upstream, device=device))
        results[device] = [to_numpy(t) for t in (out, xt.grad, layer.weight.grad,
                                                 layer.bias.grad, layer.running_var)]
    for gpu, cpu in zip(results["cuda"], results["cpu"]):
        np.testing.assert_allclose(gpu, cpu, rtol=1e-12, atol=1e-14)
