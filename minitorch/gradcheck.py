"""Checking a backward against finite differences.  Read after ``ops/``.

For a function f and a random direction v (the "upstream gradient"), the chain rule says the
gradient that backward computes, ∂(v·f(x))/∂x, must match the slope that you can measure by
nudging each input element by ±eps:

    ∂(v·f)/∂xᵢ ≈ (v·f(x + eps·eᵢ) − v·f(x − eps·eᵢ)) / (2·eps)

Using a random v, rather than summing the output, catches a backward that ignores its upstream
gradient.  Everything runs in float64 so that eps = 1e-6 leaves ~10 good digits.

:func:`gradgradcheck` checks the second derivatives (``create_graph=True``) the same way: the
first derivatives are themselves a function — of x and of the upstream gradient u — whose
backward gives the second derivatives, so ``gradcheck`` of that function checks them.
"""
import numpy

from minitorch import backend
from minitorch.autograd import enable_grad, grad, no_grad
from minitorch.tensor import Tensor, float64


def _outputs(result):
    return [r for r in (result if isinstance(result, (tuple, list)) else (result,))
            if isinstance(r, Tensor) and r.dtype.kind == "f"]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """True when ``fn``'s backward matches central differences for every float input.

    ``inputs`` is a sequence of Tensors (float ones should be float64 and require grad) and
    other arguments passed through unchanged.  On a mismatch it raises (or returns False) with
    the worst elements listed.
    """
    inputs = list(inputs)
    for t in inputs:
        if isinstance(t, Tensor) and t.requires_grad and t.dtype != float64:
            raise TypeError(f"gradcheck needs float64 inputs (finite differences in float32 "
                            f"are too coarse), got {t.dtype}")
    generator = numpy.random.default_rng(seed)
    outputs = _outputs(fn(*inputs))
    directions = [backend.to_device(generator.standard_normal(o.shape), o.device) for o in outputs]

    def weighted_output():
        with no_grad():
            outs = _outputs(fn(*inputs))
        return float(sum((o.array * v).sum() for o, v in zip(outs, directions)))

    # The analytic gradient: backward of Σ v·f.
    for t in inputs:
        if isinstance(t, Tensor):
            t.grad = None
    total = None
    for o, v in zip(outputs, directions):
        term = (o * Tensor(v.astype(o.dtype))).sum()
        total = term if total is None else total + term
    if total is not None and total.requires_grad:
        total.backward()

    failures = []
    for k, t in enumerate(inputs):
        if not (isinstance(t, Tensor) and t.requires_grad):
            continue
        analytic = backend.to_numpy(t.grad.array) if t.grad is not None else numpy.zeros(t.shape)
        numeric = numpy.zeros(t.shape)
        if not t.array.flags.c_contiguous:
            raise ValueError("gradcheck nudges the inputs in place through a flat view: pass "
                             "contiguous tensors (t.clone().detach().requires_grad_())")
        flat = t.array.reshape(-1)  # a view: nudging it nudges the input
        for i in range(flat.size):
            original = float(flat[i])
            flat[i] = original + eps
            plus = weighted_output()
            flat[i] = original - eps
            minus = weighted_output()
            flat[i] = original
            numeric.reshape(-1)[i] = (plus - minus) / (2 * eps)
        bad = numpy.abs(analytic - numeric) > atol + rtol * numpy.abs(numeric)
        if bad.any():
            worst = numpy.argsort(-numpy.abs(analytic - numeric).reshape(-1))[:5]
            rows = "\n".join(
                f"    index {tuple(int(i) for i in numpy.unravel_index(j, t.shape))}: backward {analytic.reshape(-1)[j]:.10g}"
                f"  finite difference {numeric.reshape(-1)[j]:.10g}" for j in worst)
            failures.append(f"input {k} (shape {tuple(t.shape)}): {int(bad.sum())} of "
                            f"{bad.size} elements differ; worst:\n{rows}")
    if failures:
        if raise_exception:
            raise AssertionError("gradcheck failed for " + getattr(fn, "__name__", "fn") +
                                 ":\n" + "\n".join(failures))
        return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0,
                  raise_exception=True):
    """True when the second derivatives of ``fn`` match central differences of its first ones.

    The function checked is first(x, u) = ∂(Σ u · fn(x))/∂x, computed with
    ``grad(..., create_graph=True)``; ``gradcheck`` compares its backward with finite
    differences in both x and u.  ``grad_outputs`` (u, one per float output) are random
    float64 tensors unless given.  As ``torch.autograd.gradgradcheck``.
    """
    inputs = list(inputs)
    if grad_outputs is None:
        generator = numpy.random.default_rng(seed + 1)
        grad_outputs = [Tensor(backend.to_device(generator.standard_normal(o.shape), o.device),
                               requires_grad=True) for o in _outputs(fn(*inputs))]
    differentiated = [k for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]

    def first_derivatives(*args):
        xs, us = args[:len(inputs)], args[len(inputs):]
        with enable_grad():  # gradcheck evaluates under no_grad; this function needs a graph
            pairs = [(o, u) for o, u in zip(_outputs(fn(*xs)), us) if o.requires_grad]
            if not pairs:
                return ()
            grads = grad([o for o, _ in pairs], [xs[k] for k in differentiated],
                         [u for _, u in pairs], create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    first_derivatives.__name__ = f"the first derivatives of {getattr(fn, '__name__', 'fn')}"
    return gradcheck(first_derivatives, inputs + list(grad_outputs), eps, atol, rtol, seed,
                     raise_exception)
