"""Second derivatives put to work: the Hessian-vector product, as ``torch.autograd.functional``.

Read after ``autograd.py`` (its module docstring explains ``create_graph``).  Also reachable as
``minitorch.autograd.functional.hvp``, torch's path.

The Hessian H of a scalar function f(x) has n² entries for n inputs: far too many to build for
a network.  But the product H·v with one vector v costs only about two gradients, because it
is itself a gradient: with g(x) = ∇f(x),

    H·v = ∇ₓ (g(x) · v)        (differentiate the number g · v once more)

so ``grad(f, x, create_graph=True)`` gives g as a graph, and a second ``grad`` of g · v gives
H·v.  That (or, strictly, vᵀH; the two are equal whenever f's second derivatives are
continuous, since then H is symmetric) is what :func:`hvp` computes.  PyTorch's ``hvp``
computes H·v without assuming symmetry, by differentiating a third time (its documentation
calls it the double-backward trick, and says it is slower); ``vhp`` there is what we compute.

Newton's method (x ← x − H⁻¹ ∇f) and conjugate-gradient solvers need nothing but such products;
``tests/test_autograd_functional.py`` builds a Hessian column by column from them, H·eⱼ, and
runs Newton's method with it.
"""
from minitorch.autograd import enable_grad, grad
from minitorch.tensor import Tensor, ones_like, zeros_like


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H·v): the Hessian of the scalar ``func`` at ``inputs`` times ``v``.

    ``inputs`` is a Tensor or a tuple of Tensors (``func`` takes them as arguments), ``v`` the
    same shapes (it may be left out when the input is one Tensor of one element).  The result
    has the structure of ``inputs``; an input that the gradient does not depend on gets zeros,
    or, with ``strict=True``, an error.  Without ``create_graph`` both results are outside any
    graph; with it, they can be differentiated again.  As ``torch.autograd.functional.hvp``.
    """
    is_tuple = isinstance(inputs, (tuple, list))
    inputs = tuple(inputs) if is_tuple else (inputs,)
    # Our own leaves (sharing the caller's data), so the caller's tensors keep their .grad.
    inputs = tuple(x.view_as(x) if create_graph and x.requires_grad else
                   x.detach().requires_grad_(True) for x in inputs)
    vs = _checked_v(v, inputs, is_tuple, create_graph)
    with enable_grad():
        output = func(*inputs)
        if not isinstance(output, Tensor):
            raise RuntimeError("The function given to hvp should return a single Tensor")
        if output.numel() != 1:
            raise RuntimeError("The Tensor returned by the function given to hvp should contain "
                               "a single element")
        if strict and not output.requires_grad:
            raise RuntimeError("The output of the user-provided function is independent of input "
                               "0. This is not allowed in strict mode.")
        gradients = [None] * len(inputs)
        if output.requires_grad:
            gradients = grad(output, inputs, create_graph=True, allow_unused=True)
        used = [i for i, g in enumerate(gradients) if g is not None and g.requires_grad]
        if strict and len(used) < len(inputs):
            i = next(i for i in range(len(inputs)) if i not in used)
            raise RuntimeError(
                "While computing the hessian, found that the jacobian of the user-provided "
                f"function with respect to input {i} is independent of the input. This is not "
                "allowed in strict mode. You should ensure that your function is twice "
                "differentiable and that the jacobian depends on the inputs (this would be "
                "violated by a linear function for example).")
        products = [None] * len(inputs)
        if used:  # H·v = ∇ₓ (g · v): one more gradient, of the gradients weighted by v
            products = grad([gradients[i] for i in used], inputs, [vs[i] for i in used],
                            create_graph=create_graph, allow_unused=True)
    if strict and any(p is None for p in products):
        i = next(i for i, p in enumerate(products) if p is None)
        raise RuntimeError(
            f"The hessian of the user-provided function with respect to input {i} is "
            "independent of the input. This is not allowed in strict mode. You should ensure "
            "that your function is thrice differentiable and that the hessian depends on the "
            "inputs.")
    products = tuple(zeros_like(x) if p is None else p for x, p in zip(inputs, products))
    if not create_graph:
        output, products = output.detach(), tuple(p.detach() for p in products)
    return output, (products if is_tuple else products[0])


def _checked_v(v, inputs, is_tuple, create_graph):
    """``v`` as a tuple matching ``inputs`` one for one, with torch's errors (kept in its graph
    only under ``create_graph``)."""
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        return (ones_like(inputs[0]),)
    vs = tuple(v) if isinstance(v, (tuple, list)) else (v,)
    if len(vs) != len(inputs):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(inputs)} but got "
                           f"{len(vs)}.")
    for i, (x, u) in enumerate(zip(inputs, vs)):
        if tuple(u.shape) != tuple(x.shape):
            where = f"Entry {i} in " if is_tuple else ""
            raise RuntimeError(f"{where}v has invalid size: should be {tuple(x.shape)} but got "
                               f"{tuple(u.shape)}.")
    return tuple(u.view_as(u) if create_graph and u.requires_grad else u.detach() for u in vs)
