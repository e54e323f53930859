"""The one harness every torch-comparison test uses.

``check(mt_fn, torch_fn, arrays, ...)`` runs the same inputs through minitorch and PyTorch,
compares the outputs (dtype and values), then back-propagates the *same random upstream
gradient* through both and compares the gradient of every input (and of every parameter pair
given).  On a mismatch the assertion lists the worst elements, not just "not close".

``check_higher_order(...)`` does the same for the derivatives of the derivatives
(``create_graph=True``): the first gradients, under a random upstream gradient that itself
requires grad, then the gradient of Σ first_gradient · v (v random) with respect to the inputs
*and* the upstream gradient, in both frameworks — and, with ``order=3``, once more.

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
    if isinstance(x, torch.Tensor):  # (force: a second derivative may be torch's ZeroTensor)
        return x.detach().cpu().numpy(force=True)
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



def _gradients(lib, outputs, wrt, grad_outputs=None, create_graph=False):
    """``lib.autograd.grad`` of the outputs that require grad (None: no output), with None for
    every tensor of ``wrt`` they do not use."""
    keep = [k for k, o in enumerate(outputs) if o is not None and o.requires_grad]
    if not keep:
        return [None] * len(wrt)
    grad_outputs = None if grad_outputs is None else [grad_outputs[k] for k in keep]
    return list(lib.autograd.grad([outputs[k] for k in keep], wrt, grad_outputs,
                                  create_graph=create_graph, allow_unused=True))


def _sum_of_products(lib, tensors, directions):
    """Σ (t · v).sum() over the tensors that are not None, as one tensor (None if all are)."""
    device = DEVICE if lib is minitorch else TORCH_DEVICE
    total = None
    for t, v in zip(tensors, directions):
        if t is not None:
            term = (t * lib.tensor(v, dtype=t.dtype, device=device)).sum()
            total = term if total is None else total + term
    return total


def _compare_gradients(mt_grads, torch_grads, names, tol, order):
    """Gradients agree; None (a tensor the graph does not use) counts as zeros."""
    for m, t, name in zip(mt_grads, torch_grads, names):
        what = f"order-{order} derivative with respect to {name}"
        if m is None or t is None:
            given = t if m is None else m
            assert given is None or not to_numpy(given).any(), \
                f"{what}: {'minitorch' if m is None else 'torch'} has none, the other is not 0"
            continue
        assert_same_dtype(m, t, what=what)
        assert_close(m, t, what=what, **tol)


def check_higher_order(mt_fn, torch_fn, arrays, order=2, requires_grad=True, rtol=None,
                       atol=None, seed=0, keep_layout=False, params=()):
    """Derivatives up to ``order`` (2 or 3) of ``mt_fn`` against ``torch_fn``, in float64.

    First the gradients g₁ of the outputs with respect to the float inputs x, under random
    upstream gradients u that require grad themselves (``grad(outputs, x, u,
    create_graph=True)``); then g₂ = ∂(Σ g₁ · v)/∂(x, u) for a random v, and for order 3
    g₃ = ∂(Σ g₂ · w)/∂(x, u).  Each step is compared with torch's.  ``params`` (as in
    ``check``: (name, minitorch tensor, torch tensor), a layer's weights) count among the x.
    """
    tol = tolerance(np.float64)
    if rtol is not None:
        tol["rtol"] = rtol
    if atol is not None:
        tol["atol"] = atol
    generator = np.random.default_rng(seed + 2)
    mt_inputs, torch_inputs = as_inputs(arrays, requires_grad, keep_layout)
    variables = [k for k, t in enumerate(torch_inputs)
                 if isinstance(t, torch.Tensor) and t.requires_grad]
    mt_x = [mt_inputs[k] for k in variables] + [m for _, m, _ in params]
    torch_x = [torch_inputs[k] for k in variables] + [t for _, _, t in params]
    mt_out = [o for o in _float_outputs(mt_fn(*mt_inputs))
              if isinstance(o, minitorch.Tensor) and o.dtype.kind == "f"]
    torch_out = [o for o in _float_outputs(torch_fn(*torch_inputs))
                 if isinstance(o, torch.Tensor) and o.is_floating_point()]
    assert len(mt_out) == len(torch_out), f"{len(mt_out)} outputs vs torch's {len(torch_out)}"
    upstream = [np.asarray(generator.standard_normal(tuple(o.shape)), dtype=to_numpy(o).dtype)
                for o in torch_out]
    mt_u = [minitorch.tensor(u, device=DEVICE, requires_grad=True) for u in upstream]
    torch_u = [torch.tensor(u, device=TORCH_DEVICE, requires_grad=True) for u in upstream]
    names = [f"input {k}" for k in variables] + [name for name, _, _ in params]
    mt_grads = _gradients(minitorch, mt_out, mt_x, mt_u, create_graph=True)
    torch_grads = _gradients(torch, torch_out, torch_x, torch_u, create_graph=True)
    _compare_gradients(mt_grads, torch_grads, names, tol, order=1)
    names += [f"the upstream gradient of output {k}" for k in range(len(torch_u))]
    shapes = [tuple(t.shape) for t in torch_x]
    for step in range(2, order + 1):
        directions = [generator.standard_normal(shape) for shape in shapes]
        mt_total = _sum_of_products(minitorch, mt_grads, directions)
        torch_total = _sum_of_products(torch, torch_grads, directions)
        mt_grads = _gradients(minitorch, [mt_total], mt_x + mt_u, create_graph=step < order)
        torch_grads = _gradients(torch, [torch_total], torch_x + torch_u,
                                 create_graph=step < order)
        _compare_gradients(mt_grads, torch_grads, names, tol, order=step)
        shapes = [tuple(t.shape) for t in torch_x + torch_u]
