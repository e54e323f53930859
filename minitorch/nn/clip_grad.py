"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_``, as ``torch.nn.utils`` has
them.  Read ``nn/module.py`` first (where the parameters come from) and ``optim/optimizer.py``
(what happens to the gradients next).

One bad batch can produce a huge gradient and throw a network far from where it was (RNNs are
the classic victims).  Clipping bounds the step between ``backward()`` and
``optimizer.step()``:

* by norm: treat all the gradients as one long vector; if its length is above ``max_norm``,
  scale every gradient by the same factor so the length becomes ``max_norm``.  The direction
  of the step is kept; only its size is limited.
* by value: clamp every element into ``[-clip_value, clip_value]``.  Simpler, but it changes
  the direction.

Both work in place on the raw gradient arrays, with the array module of each gradient, so they
run on NumPy and CuPy alike.
"""
import math
import warnings

from minitorch.tensor import Tensor, float32, tensor


def _as_parameter_list(parameters, function):
    """A single tensor, a list, or a generator (model.parameters()) as a list of tensors."""
    if isinstance(parameters, Tensor):
        return [parameters]
    is_generator = hasattr(parameters, "__next__")
    parameters = list(parameters)
    if is_generator and not parameters:
        warnings.warn(f"{function}: `parameters` is an empty generator, no gradient clipping "
                      "will occur (was it used up earlier?)", stacklevel=3)
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"{function}: expected Tensors (parameters), but item {i} is a "
                            f"{type(p).__name__}")
    return parameters


def _vector_norm(array, norm_type, xp):
    """The p-norm of all the elements of ``array``, as a 0-d array (torch.linalg.vector_norm)."""
    magnitudes = xp.abs(array)
    if norm_type == math.inf:
        return magnitudes.max()
    if norm_type == -math.inf:
        return magnitudes.min()
    if norm_type == 0:  # the number of non-zero elements
        return (magnitudes != 0).sum().astype(array.dtype)
    if norm_type == 2:  # the usual case, without the cost of a general power
        return xp.sqrt((magnitudes * magnitudes).sum())
    return (magnitudes ** norm_type).sum() ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    r"""Scale the gradients of ``parameters`` in place so that their total norm is at most
    ``max_norm``; return the total norm *before* clipping, as a 0-d tensor.

    The total norm is the ``norm_type``-norm of all the gradients joined into one vector (which
    equals the norm of the vector of per-parameter norms)::

        N = ‖(‖g₁‖ₚ, ‖g₂‖ₚ, ..., ‖gₙ‖ₚ)‖ₚ
        gᵢ ← gᵢ · min(max_norm / (N + 1e-6), 1)

    The 1e-6 keeps the division finite when every gradient is zero.  Parameters without a
    gradient are skipped.  ``norm_type`` may be ``float('inf')`` (the largest absolute element).
    With ``error_if_nonfinite=True`` a NaN or infinite total norm raises instead of scaling the
    gradients by it (which would turn them all into NaN or zero).
    """
    parameters = _as_parameter_list(parameters, "clip_grad_norm_")
    max_norm, norm_type = float(max_norm), float(norm_type)
    if not max_norm >= 0:  # `not >=` also catches NaN
        raise ValueError(f"clip_grad_norm_: max_norm must be >= 0, got {max_norm}")
    with_grads = [p for p in parameters if p.grad is not None]
    if not with_grads:  # nothing to clip; PyTorch returns a float32 zero
        return tensor(0.0, dtype=float32)

    xp = with_grads[0].xp
    grads = [p.grad.array for p in with_grads]
    norms = xp.stack([_vector_norm(g, norm_type, xp) for g in grads])
    total_norm = _vector_norm(norms, norm_type, xp)
    if error_if_nonfinite and not bool(xp.isfinite(total_norm)):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {float(total_norm)}, so they cannot be clipped. To "
                           "scale the gradients by it anyway, set error_if_nonfinite=False")
    # Multiply even when the factor is 1, as PyTorch does: no `if` that would make the GPU wait
    # for the norm to reach the CPU.
    scale = xp.minimum(max_norm / (total_norm + 1e-6), 1.0)
    for g in grads:
        g *= scale.astype(g.dtype)
    return Tensor(xp.asarray(total_norm))


def clip_grad_value_(parameters, clip_value):
    """Clamp every gradient element of ``parameters`` into ``[-clip_value, clip_value]``, in
    place.  Parameters without a gradient are skipped."""
    parameters = _as_parameter_list(parameters, "clip_grad_value_")
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for p in parameters:
        if p.grad is not None:
            p.xp.clip(p.grad.array, -clip_value, clip_value, out=p.grad.array)
