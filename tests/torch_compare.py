"""The one harness every torch-comparison test uses.

``check(mt_fn, torch_fn, arrays, ...)`` runs the same inputs through minitorch and PyTorch,
compares the outputs (dtype and values), then back-propagates the *same random upstream
gradient* through both and compares the gradient of every input (and of every parameter pair
given).  On a mismatch the assertion lists the worst elements, not just "not close".

Tolerances: float64 is held to ~1e-10; float32 to ``torch.testing.assert_close``'s defaults
(rtol 1.3e-6, atol 1e-5), which a test may loosen only with a comment saying why.
"""
import os

import numpy as np
import torch

import minitorch

DEVICE = os.environ.get("MINITORCH_DEVICE", "cpu")
# The reference always runs on the CPU, even when minitorch runs on the GPU: torch's CUDA
# kernels use TF32 for float32 matmul and convolution by default on recent GPUs (errors near
# 1e-3), far beyond the float32 tolerance below.  Were it ever moved, TF32 stays off.
TORCH_DEVICE = "cpu"
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

TOLERANCES = {np.float64: dict(rtol=1e-7, atol=1e-10), np.float32: dict(rtol=1.3e-6, atol=1e-5)}


def tolerance(dtype, **overrides):
    tol = dict(TOLERANCES[np.dtype(dtype).type])
    tol.update(overrides)
    return tol


def to_numpy(x):
    if isinstance(x, minitorch.Tensor):
        return minitorch.backend.to_numpy(x.array)
    if minitorch.backend.is_array(x):  # a CuPy array (or the stand-in's) leaves the device
        return minitorch.backend.to_numpy(x)
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def assert_close(actual, expected, rtol, atol, what="value"):
    """Like numpy's assert_allclose, but the message shows the five worst elements."""
    actual, expected = to_numpy(actual), to_numpy(expected)
    assert actual.shape == expected.shape, \
        f"{what}: minitorch shape {actual.shape} != torch shape {expected.shape}"
    if actual.dtype.kind in "biu" or expected.dtype.kind in "biu":
        mismatch = actual != expected
        assert not mismatch.any(), f"{what}: {int(mismatch.sum())} elements differ:\n" \
            f"minitorch {actual[mismatch][:5]}\ntorch     {expected[mismatch][:5]}"
        return
    a, e = actual.astype(np.float64), expected.astype(np.float64)
    both_nan = np.isnan(a) & np.isnan(e)
    err = np.where(both_nan, 0.0, np.abs(a - e))
    err = np.where(np.isinf(a) & (a == e), 0.0, err)
    bad = ~(err <= atol + rtol * np.abs(e)) & ~both_nan  # NaN in both is agreement
    if bad.any():
        order = np.argsort(-np.nan_to_num(err, nan=np.inf).reshape(-1))[:5]
        rows = "\n".join(
            f"    at {tuple(int(j) for j in np.unravel_index(i, a.shape))}: "
            f"minitorch {a.reshape(-1)[i]:.10g}  "
            f"torch {e.reshape(-1)[i]:.10g}  |diff| {err.reshape(-1)[i]:.3g}" for i in order)
        raise AssertionError(f"{what}: {int(bad.sum())} of {bad.size} elements differ beyond "
                             f"rtol={rtol}, atol={atol}; worst:\n{rows}")


def assert_same_dtype(actual, expected, what="value"):
    """minitorch and torch agree on the dtype (float32 must not drift to float64, for one)."""
    if isinstance(actual, minitorch.Tensor) and isinstance(expected, torch.Tensor):
        theirs = str(expected.dtype).replace("torch.", "")
        assert str(actual.dtype) == theirs, \
            f"{what}: minitorch dtype {actual.dtype}, torch {theirs}"


def noncontiguous(array):
    """The same values in a layout that is not C-contiguous (a strided slice of a wider array)."""
    if array.ndim == 0:
        return array
    wide = np.repeat(array, 2, axis=-1)
    view = wide[..., ::2]
    assert not view.flags.c_contiguous or array.shape[-1] <= 1 or array.size == 0
    return view


def as_inputs(arrays, requires_grad, keep_layout=False):
    """Matching minitorch and torch tensors for a list of numpy arrays (or other arguments)."""
    mt_inputs, torch_inputs = [], []
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray):
            mt_inputs.append(a)
            torch_inputs.append(a)
            continue
        wants_grad = requires_grad[i] if isinstance(requires_grad, (list, tuple)) else (
            requires_grad and a.dtype.kind == "f")
        if keep_layout and DEVICE == "cpu":
            m = minitorch.from_numpy(a)  # keeps the (possibly non-contiguous) layout
        else:
            m = minitorch.tensor(a, device=DEVICE)
        m.requires_grad_(wants_grad)
        # a.copy(), not np.ascontiguousarray, which turns a 0-d array into a 1-d one
        t = torch.tensor(a.copy(), device=TORCH_DEVICE, requires_grad=wants_grad)
        mt_inputs.append(m)
        torch_inputs.append(t)
    return mt_inputs, torch_inputs


def _float_outputs(result):
    items = result if isinstance(result, (tuple, list)) else (result,)
    return list(items)


def check(mt_fn, torch_fn, arrays, requires_grad=True, rtol=None, atol=None, seed=0,
          keep_layout=False, params=(), check_grad=True):
    """Forward and backward of ``mt_fn`` against ``torch_fn`` on the same inputs.

    ``params`` is a list of (name, minitorch_tensor, torch_tensor) whose gradients are compared
    too (a layer's weights).  Returns the minitorch outputs for further checks.
    """
    float_dtypes = [a.dtype for a in arrays if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    dtype = float_dtypes[0] if float_dtypes else np.float64
    tol = tolerance(dtype)
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    mt_inputs, torch_inputs = as_inputs(arrays, requires_grad, keep_layout)
    mt_out = _float_outputs(mt_fn(*mt_inputs))
    torch_out = _float_outputs(torch_fn(*torch_inputs))
    assert len(mt_out) == len(torch_out), f"{len(mt_out)} outputs vs torch's {len(torch_out)}"
    for k, (m, t) in enumerate(zip(mt_out, torch_out)):
        assert_same_dtype(m, t, what=f"output {k}")
        assert_close(m, t, what=f"output {k}", **tol)
    if not check_grad:
        return mt_out

    generator = np.random.default_rng(seed + 1)
    mt_total, torch_total = None, None
    for m, t in zip(mt_out, torch_out):
        if not (isinstance(m, minitorch.Tensor) and m.requires_grad):
            continue
        upstream = generator.standard_normal(m.shape).astype(to_numpy(t).dtype)
        mt_term = (m * minitorch.tensor(upstream, device=DEVICE)).sum()
        torch_term = (t * torch.tensor(upstream, device=TORCH_DEVICE)).sum()
        mt_total = mt_term if mt_total is None else mt_total + mt_term
        torch_total = torch_term if torch_total is None else torch_total + torch_term
    if mt_total is None:
        return mt_out
    mt_total.backward()
    torch_total.backward()
    for k, (m, t) in enumerate(zip(mt_inputs, torch_inputs)):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            assert m.grad is not None or t.grad is None, f"input {k}: minitorch has no gradient"
            if t.grad is None:
                continue
            assert_same_dtype(m.grad, t.grad, what=f"gradient of input {k}")
            assert_close(m.grad, t.grad, what=f"gradient of input {k}", **tol)
    for name, m, t in params:
        assert (m.grad is None) == (t.grad is None), f"gradient of {name}: one of them is None"
        if t.grad is not None:
            assert_close(m.grad, t.grad, what=f"gradient of {name}", **tol)
    return mt_out
