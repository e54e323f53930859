"""The engine itself: how gradients flow, accumulate, stop, and fail loudly.

``test_ops.py`` checks each op's derivative; this file checks what ``autograd.backward`` does
with them: a tensor used twice gets the sum of both gradients, leaves accumulate across calls,
intermediate gradients are dropped, the graph is freed after backward, in-place changes to saved
tensors are caught, deep graphs do not hit Python's recursion limit, and every mistake a learner
is likely to make ends in an error that says what went wrong.  Then gradients of gradients
(``create_graph=True``, ``autograd.grad``, ``backward(inputs=)``) against torch: ``.grad`` that
accumulates with its graph, ``retain_graph``'s default, ``allow_unused``, create_graph under
no_grad, the version check, and torch's errors word for word.
"""
import importlib
import pkgutil

import numpy as np
import pytest
import torch

import minitorch
from torch_compare import DEVICE, TORCH_DEVICE, assert_close, tolerance


def leaf(values, dtype=minitorch.float64):
    return minitorch.tensor(values, dtype=dtype, device=DEVICE, requires_grad=True)


def torch_leaf(values, dtype=torch.float64):
    return torch.tensor(values, dtype=dtype, device=TORCH_DEVICE, requires_grad=True)


def grad_of(t):
    return minitorch.backend.to_numpy(t.grad.array)


# ---- graphs where one tensor feeds several ops: gradients add up, compared with torch ---------------
# (each graph uses only operators and methods, so the same function runs on both libraries)
def _twice(a):
    return (a + a).sum()


def _squared(a):
    return (a * a).sum()


def _diamond(a):
    b = a * 2
    return (b.exp() + b.sin() * b).sum()


def _shared_weight(a):
    # one tensor used by three branches that meet again, one of them through a reduction
    h = a.tanh()
    return (h @ h.T).sum() + (h * a).mean() + h.max()


def _split_unused_piece(a):
    first, second = a.split(1, dim=0)  # second is never used: it contributes zero
    return (first * 3).sum()


def _reuse_after_view(a):
    v = a.reshape(-1)
    return (v[0] * a).sum() + v.sum()


GRAPHS = [_twice, _squared, _diamond, _shared_weight, _split_unused_piece, _reuse_after_view]


@pytest.mark.parametrize("graph", GRAPHS, ids=lambda g: g.__name__.strip("_"))
def test_shared_uses_add_their_gradients(graph):
    values = np.random.default_rng(0).standard_normal((2, 3))
    a, ta = leaf(values), torch_leaf(values)
    graph(a).backward()
    graph(ta).backward()
    assert_close(a.grad, ta.grad, what=graph.__name__, **tolerance(np.float64))


def test_leaves_accumulate_across_backward_calls():
    w = leaf([1.0, 2.0])
    (w * 3).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_allclose(grad_of(w), [3 + 2, 3 + 4])
    w.grad = None  # what zero_grad(set_to_none=True) does: the next backward starts over
    (w * 3).sum().backward()
    np.testing.assert_allclose(grad_of(w), [3, 3])


def test_backward_on_a_leaf_gives_it_the_gradient():
    w = leaf([1.0, 2.0])
    w.backward(minitorch.tensor([0.5, -1.0], dtype=minitorch.float64, device=DEVICE))
    np.testing.assert_allclose(grad_of(w), [0.5, -1.0])


def test_intermediate_gradients_are_not_kept_unless_retained():
    x = leaf([1.0, 2.0])
    hidden = x * 2
    kept = hidden.exp()
    kept.retain_grad()
    (kept * hidden).sum().backward()
    assert hidden.grad is None and not hidden.is_leaf
    np.testing.assert_allclose(grad_of(kept), [2.0, 4.0])  # d(kept·hidden)/d kept = hidden
    assert x.is_leaf and x.grad is not None


def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    with minitorch.no_grad():
        y = x * 2
        assert not minitorch.is_grad_enabled()
        with minitorch.enable_grad():
            z = x * 2
    assert minitorch.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and z.grad_fn is not None
    with minitorch.set_grad_enabled(False):
        assert not (x + 1).requires_grad
    assert minitorch.is_grad_enabled()


@pytest.mark.parametrize("lib", [minitorch, torch], ids=["minitorch", "torch"])
def test_grad_mode_decorators_with_and_without_parentheses(lib):
    """torch 2 takes ``@torch.no_grad`` as well as ``@torch.no_grad()``; so do we."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)

    @lib.no_grad
    def bare(t):
        assert not lib.is_grad_enabled()
        return t * 2

    @lib.no_grad()
    def called(t):
        return t * 2

    @lib.enable_grad
    def inside(t):
        return t * 2

    assert bare.__name__ == "bare"                       # functools.wraps keeps the name
    assert not bare(x).requires_grad and not called(x).requires_grad
    assert lib.is_grad_enabled() and (x * 2).requires_grad   # off inside the function only
    with lib.no_grad():
        assert inside(x).requires_grad and not (x * 2).requires_grad
    manager = lib.no_grad()
    for _ in range(2):                                   # one manager, used twice
        with manager:
            assert not (x * 2).requires_grad
        assert lib.is_grad_enabled()


def test_one_grad_mode_object_entered_inside_itself():
    manager, x = minitorch.enable_grad(), leaf([1.0])
    with minitorch.no_grad():
        with manager:
            with minitorch.no_grad():
                with manager:
                    assert (x * 2).requires_grad
                assert not minitorch.is_grad_enabled()   # the inner exit restored its own mode
            assert minitorch.is_grad_enabled()
        assert not minitorch.is_grad_enabled()
    assert minitorch.is_grad_enabled()


def test_grad_mode_refuses_what_is_not_a_function():
    with pytest.raises(TypeError, match="no_grad takes no argument.*got int"):
        minitorch.no_grad(3)


def test_grad_mode_as_a_decorator_and_as_a_call():
    x = leaf([1.0, 2.0])

    @minitorch.no_grad()
    def evaluate(t):
        return t * 2

    assert not evaluate(x).requires_grad and evaluate(x).grad_fn is None
    assert (x * 2).requires_grad  # the decorator switched recording off only inside evaluate
    try:
        minitorch.set_grad_enabled(False)  # a plain call sets the mode until changed again
        assert not minitorch.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        minitorch.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_detach_shares_data_but_stops_the_gradient():
    x = leaf([1.0, 2.0])
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None
    (x * d).sum().backward()  # d is a constant here: dL/dx = d
    np.testing.assert_allclose(grad_of(x), [2.0, 4.0])
    y = minitorch.tensor([1.0, 2.0], device=DEVICE)
    alias = y.detach()
    alias.add_(1)
    np.testing.assert_allclose(y.numpy(), [2.0, 3.0])  # the same memory


def test_requires_grad_flags():
    x = minitorch.tensor([1.0, 2.0], device=DEVICE)
    assert not x.requires_grad and x.is_leaf
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    assert not (minitorch.tensor([1.0], device=DEVICE) * x.detach()).requires_grad


def test_retain_graph_allows_a_second_backward():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    first = grad_of(x).copy()
    y.backward()
    np.testing.assert_allclose(grad_of(x), 2 * first)


def test_second_backward_through_a_freed_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_backward_frees_what_forward_saved():
    x = leaf([1.0, 2.0])
    product = x * x
    assert product.grad_fn.saved_tensors  # Mul saved both inputs for its backward
    product.sum().backward()
    assert product.grad_fn._saved is None and product.grad_fn.inputs == ()


def test_changing_a_saved_tensor_in_place_makes_backward_raise():
    w = leaf([1.0, 2.0])
    x = minitorch.tensor([3.0, 4.0], dtype=minitorch.float64, device=DEVICE)
    y = w * x  # Mul saved x: dL/dw = x
    x.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*Mul"):
        y.sum().backward()


def test_changing_a_view_of_a_saved_tensor_is_caught_too():
    w = leaf([1.0, 2.0, 3.0])
    x = minitorch.tensor([3.0, 4.0, 5.0], dtype=minitorch.float64, device=DEVICE)
    y = (w * x).sum()
    x[1:].mul_(2)  # a basic slice is a view: it shares x's version counter
    with pytest.raises(RuntimeError, match="inplace"):
        y.backward()


def test_changing_a_split_piece_of_a_saved_tensor_is_caught_too():
    w = leaf([1.0, 2.0, 3.0, 4.0])
    x = minitorch.tensor([3.0, 4.0, 5.0, 6.0], dtype=minitorch.float64, device=DEVICE)
    y = (w * x).sum()
    first, second = x.split(2)
    second.add_(1)  # the pieces of split are views: they share x's version counter
    with pytest.raises(RuntimeError, match="inplace"):
        y.backward()


def test_changing_an_unsaved_tensor_in_place_is_allowed():
    w = leaf([1.0, 2.0])
    x = minitorch.tensor([3.0, 4.0], dtype=minitorch.float64, device=DEVICE)
    y = w + x  # Add saves nothing: its gradient does not depend on x
    x.add_(1)
    y.sum().backward()
    np.testing.assert_allclose(grad_of(w), [1.0, 1.0])


INPLACE_METHODS = [
    ("add_", lambda t: t.add_(1)), ("sub_", lambda t: t.sub_(1)), ("mul_", lambda t: t.mul_(2)),
    ("div_", lambda t: t.div_(2)), ("fill_", lambda t: t.fill_(0)), ("zero_", lambda t: t.zero_()),
    ("copy_", lambda t: t.copy_(minitorch.zeros(2, device=DEVICE))),
    ("__setitem__", lambda t: t.__setitem__(0, 5.0)), ("clamp_", lambda t: t.clamp_(0, 1)),
    ("normal_", lambda t: t.normal_()), ("uniform_", lambda t: t.uniform_()),
]


@pytest.mark.parametrize("name, change", INPLACE_METHODS, ids=[n for n, _ in INPLACE_METHODS])
def test_in_place_changes_of_a_tensor_that_requires_grad(name, change):
    w = leaf([1.0, 2.0], dtype=minitorch.float32)
    with pytest.raises(RuntimeError, match=f"{name}.*no_grad"):
        change(w)
    version = w._version
    with minitorch.no_grad():  # how optimizers update weights
        change(w)
    assert w._version == version + 1


def test_a_10000_op_chain_backpropagates_without_recursion():
    x = leaf([0.5])
    y = x
    for _ in range(10_000):
        y = y * 1.0001 + 0.0
    y.sum().backward()
    np.testing.assert_allclose(grad_of(x), [1.0001 ** 10_000], rtol=1e-9)


def test_float64_end_to_end_and_python_floats_give_float32():
    x = leaf([1.0, 2.0])
    y = (x * 0.5 + 1).exp().sum() / 3
    assert y.dtype == minitorch.float64
    y.backward()
    assert x.grad.dtype == minitorch.float64
    assert minitorch.tensor(1.5).dtype == minitorch.float32
    assert minitorch.tensor([1.5, 2]).dtype == minitorch.float32


def test_integer_tensors_never_require_grad():
    with pytest.raises(RuntimeError, match="floating-point.*int64"):
        minitorch.tensor([1, 2], requires_grad=True)
    x = leaf([0.2, 1.7, 0.9])
    assert not x.argmax().requires_grad
    assert not x.long().requires_grad
    assert not (x > 1).requires_grad
    values, indices = x.max(dim=0)
    assert values.requires_grad and not indices.requires_grad


def test_max_dim_backward_uses_only_the_values():
    x, tx = leaf([[1.0, 5.0], [7.0, 2.0]]), torch_leaf([[1.0, 5.0], [7.0, 2.0]])
    (x.max(dim=1).values * 2).sum().backward()
    (tx.max(dim=1).values * 2).sum().backward()
    assert_close(x.grad, tx.grad, **tolerance(np.float64))


# ---- errors a learner can act on: each one names what was expected and what came -----------------
def _x23():
    return minitorch.ones(2, 3, device=DEVICE)


ERRORS = [
    ("add_shapes", lambda: _x23() + minitorch.ones(4, device=DEVICE),
     RuntimeError, r"add: shapes \(2, 3\) and \(4,\)"),
    ("mul_shapes", lambda: _x23() * minitorch.ones(3, 2, device=DEVICE),
     RuntimeError, r"mul: shapes \(2, 3\) and \(3, 2\)"),
    ("where_shapes", lambda: minitorch.where(_x23() > 0, _x23(), minitorch.ones(2, device=DEVICE)),
     RuntimeError, r"where: shapes .*\(2, 3\).*\(2,\)"),
    ("matmul_inner", lambda: _x23() @ _x23(),
     RuntimeError, r"matmul: shapes \(2, 3\) and \(2, 3\) cannot be multiplied"),
    ("matmul_batch", lambda: minitorch.ones(2, 2, 3, device=DEVICE) @ minitorch.ones(4, 3, 2),
     RuntimeError, r"matmul: the batch dims of shapes \(2, 2, 3\) and \(4, 3, 2\)"),
    ("reshape", lambda: _x23().reshape(4, 2),
     RuntimeError, r"reshape: shape \[4, 2\] is invalid for an input of shape \(2, 3\)"),
    ("cat", lambda: minitorch.cat([_x23(), minitorch.ones(2, 4, device=DEVICE)], dim=0),
     RuntimeError, r"cat: .*\(2, 3\) and \(2, 4\)"),
    ("stack", lambda: minitorch.stack([_x23(), minitorch.ones(3, 2, device=DEVICE)]),
     RuntimeError, r"stack.*\(2, 3\) and \(3, 2\)"),
    ("dim_range", lambda: _x23().sum(dim=2),
     IndexError, r"sum: dimension out of range .*\[-2, 1\], but got 2"),
    ("expand", lambda: _x23().expand(2, 4),
     RuntimeError, r"expand: .*\(2, 3\)"),
    ("expand_new_dim_keep", lambda: _x23().expand(-1, 2, 3),
     RuntimeError, r"expand: size -1 .* new leading dim; got sizes \(-1, 2, 3\)"),
    ("non_scalar_backward", lambda: (leaf([1.0, 2.0]) * 2).backward(),
     RuntimeError, r"grad can be implicitly created only for scalar outputs.*\(2,\)"),
    ("gradient_shape", lambda: (leaf([1.0, 2.0]) * 2).backward(minitorch.ones(3, device=DEVICE)),
     RuntimeError, r"gradient has shape \(3,\), but the tensor has shape \(2,\)"),
    ("no_grad_backward", lambda: _x23().sum().backward(),
     RuntimeError, r"does not require grad"),
    ("numpy_of_requires_grad", lambda: leaf([1.0]).numpy(),
     RuntimeError, r"detach\(\)\.numpy\(\)"),
    ("item_of_many", lambda: _x23().item(),
     ValueError, r"one element, got shape \(2, 3\)"),
    ("bool_of_many", lambda: bool(_x23()),
     RuntimeError, r"ambiguous"),
    ("gather_index_dtype", lambda: _x23().gather(1, minitorch.zeros(2, 1, device=DEVICE)),
     RuntimeError, r"gather: index must be an integer tensor, got float32"),
    ("masked_fill_mask", lambda: _x23().masked_fill(minitorch.ones(3, 2, device=DEVICE) > 0, 0),
     RuntimeError, r"masked_fill: shapes \(2, 3\) and \(3, 2\)"),
    ("masked_fill_larger_mask",
     lambda: _x23().masked_fill(minitorch.ones(4, 2, 3, device=DEVICE) > 0, 0),
     RuntimeError, r"masked_fill: the mask of shape \(4, 2, 3\) must broadcast to .*\(2, 3\)"),
    ("one_hot_range", lambda: minitorch.one_hot(minitorch.tensor([0, 3]), num_classes=3).tolist(),
     RuntimeError, r"one_hot: class value 3 is out of range \[0, 3\)"),
    ("view_of_transposed", lambda: _x23().t().view(6),
     RuntimeError, r"view: shape \[6\] is not compatible with the memory layout .*\.reshape"),
    ("pad_below_zero", lambda: minitorch.nn.functional.pad(_x23(), (-2, -2)),
     RuntimeError, r"pad: the input size 3, padded by -2 and -2, would be -1"),
]


@pytest.mark.parametrize("name, make, error, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_errors_say_what_went_wrong(name, make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.cuda
@pytest.mark.skipif(not minitorch.cuda_is_available(), reason="needs a GPU (CuPy)")
def test_mixing_devices_names_both():
    on_cpu = minitorch.ones(2, device="cpu")
    on_gpu = minitorch.ones(2, device="cuda")
    with pytest.raises(RuntimeError,
                       match="Add: expected all tensors on one device.*'cpu'.*'cuda'"):
        on_cpu + on_gpu
    with pytest.raises(RuntimeError, match="MatMul: .*'cuda'.*'cpu'"):
        on_gpu @ on_cpu


@pytest.mark.cuda
@pytest.mark.skipif(not minitorch.cuda_is_available(), reason="needs a GPU (CuPy)")
def test_gradients_flow_back_across_devices():
    x = minitorch.tensor([1.0, 2.0], dtype=minitorch.float64, device="cpu", requires_grad=True)
    (x.to("cuda") * 3).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(grad_of(x), [3.0, 3.0])


@pytest.mark.cuda
@pytest.mark.skipif(not minitorch.cuda_is_available(), reason="needs a GPU (CuPy)")
def test_second_derivatives_flow_back_across_devices():
    x = minitorch.tensor([1.0, 2.0], dtype=minitorch.float64, device="cpu", requires_grad=True)
    g, = minitorch.autograd.grad((x.to("cuda") ** 3).sum(), x, create_graph=True)
    second, = minitorch.autograd.grad(g.sum(), x)
    assert g.device == "cpu" and second.device == "cpu"
    np.testing.assert_allclose(minitorch.backend.to_numpy(second.array), [6.0, 12.0])


# ---- gradcheck can fail: a wrong backward is caught, including one that ignores its upstream -------
class _ForgetsUpstream(minitorch.autograd.Function):
    """y = x², with a backward that returns 2x instead of dL/dy · 2x."""

    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, grad):
        x, = self.saved_tensors
        return 2 * x


class _WrongFactor(minitorch.autograd.Function):
    """y = x³, with a backward that returns dL/dy · 2x² instead of dL/dy · 3x²."""

    def forward(self, x):
        self.save_for_backward(x)
        return x ** 3

    def backward(self, grad):
        x, = self.saved_tensors
        return grad * 2 * x * x


@pytest.mark.parametrize("op", [_ForgetsUpstream, _WrongFactor], ids=lambda c: c.__name__)
def test_gradcheck_catches_a_wrong_backward(op):
    x = leaf(np.random.default_rng(0).standard_normal((2, 3)))
    with pytest.raises(AssertionError,
                       match="(?s)gradcheck failed.*worst.*backward.*finite difference"):
        minitorch.gradcheck(lambda t: op()(t), [x])
    assert minitorch.gradcheck(lambda t: op()(t), [x], raise_exception=False) is False


def test_gradcheck_refuses_float32():
    with pytest.raises(TypeError, match="float64.*float32"):
        minitorch.gradcheck(lambda t: t * 2, [leaf([1.0], dtype=minitorch.float32)])


def test_reshape_shares_the_version_counter_only_when_it_is_a_view():
    """A reshape that can be a view shares its input's version counter (an in-place change of
    either is a change of both); one that had to copy has its own, as in PyTorch."""
    x = minitorch.ones(2, 3, device=DEVICE)
    as_view, as_copy = x.reshape(6), x.t().reshape(6)
    as_view.add_(1)
    assert x._version == 1 and as_view._version == 1
    as_copy.add_(1)
    assert x._version == 1 and as_copy._version == 1
    assert as_copy.tolist() == [2.0] * 6 and x.tolist() == [[2.0] * 3] * 2


# ---- gradients of gradients: create_graph, autograd.grad, backward(inputs=) ---------------------
def _cube_sin(lib):
    return lambda x: (x ** 3 * x.sin()).sum()


def both_leaves(values):
    return leaf(values), torch_leaf(values)


def test_grad_with_create_graph_to_third_order_of_a_leaf_used_twice():
    """x appears in two factors (and twice inside x³): every order adds the uses up."""
    values = [0.3, -1.2, 2.0]
    for lib, x in zip((minitorch, torch), both_leaves(values)):
        first, = lib.autograd.grad(_cube_sin(lib)(x), x, create_graph=True)
        second, = lib.autograd.grad(first.sum(), x, create_graph=True)
        third, = lib.autograd.grad(second.sum(), x)
        if lib is minitorch:
            ours = (first, second, third)
        else:
            for k, (m, t) in enumerate(zip(ours, (first, second, third))):
                assert_close(m, t, what=f"derivative {k + 1}", **tolerance(np.float64))


def test_dot_grad_accumulates_with_its_graph_under_create_graph():
    x, tx = both_leaves([0.5, 1.5])
    for _ in range(2):
        (x ** 3).sum().backward(create_graph=True)
        (tx ** 3).sum().backward(create_graph=True)
    assert x.grad.grad_fn is not None and x.grad.requires_grad  # .grad is in the graph
    assert_close(x.grad, tx.grad, what=".grad after two backwards", **tolerance(np.float64))
    ours, = minitorch.autograd.grad(x.grad.sum(), x)
    theirs, = torch.autograd.grad(tx.grad.sum(), tx)
    assert_close(ours, theirs, what="d(.grad)/dx", **tolerance(np.float64))
    # a plain backward afterwards adds into that same .grad, as torch does
    kept = x.grad
    (x * 2).sum().backward()
    assert x.grad is kept
    np.testing.assert_allclose(grad_of(x), 2 * 3 * np.array([0.25, 2.25]) + 2)


def test_dot_grad_of_a_constant_gradient_is_outside_the_graph():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward(create_graph=True)  # d/dx = 3: depends on nothing that needs grad
    assert not x.grad.requires_grad and x.grad.grad_fn is None
    np.testing.assert_allclose(grad_of(x), [3.0, 3.0])


def test_grad_leaves_every_dot_grad_alone():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    x.grad = minitorch.tensor([7.0, 7.0], dtype=minitorch.float64, device=DEVICE)
    g, = minitorch.autograd.grad((x * w).sum(), x)
    np.testing.assert_allclose(minitorch.backend.to_numpy(g.array), [3.0, 4.0])
    np.testing.assert_allclose(grad_of(x), [7.0, 7.0])
    assert w.grad is None


def test_retain_graph_defaults_to_create_graph():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    minitorch.autograd.grad(y, x, create_graph=True)
    minitorch.autograd.grad(y, x)  # kept by the create_graph call ...
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        minitorch.autograd.grad(y, x)  # ... and freed by the plain one
    z = (x.exp() * x).sum()
    z.backward(create_graph=True)
    z.backward()
    with pytest.raises(RuntimeError, match="second time"):
        z.backward()


def test_a_gradient_of_a_freed_graph_cannot_be_differentiated():
    """create_graph with retain_graph=False frees the first graph, which the gradient's graph
    reaches into (through the non-leaf h): differentiating it again is an error, as in torch."""
    for lib, x in zip((minitorch, torch), both_leaves([1.0, 2.0])):
        h = x * 2
        g, = lib.autograd.grad((h.sin() * h).sum(), x, create_graph=True, retain_graph=False)
        with pytest.raises(RuntimeError, match="second time"):
            lib.autograd.grad(g.sum(), x)


def test_create_graph_under_no_grad_still_records_the_gradient():
    """The backward's own mode is create_graph, whatever the surrounding mode (as torch)."""
    for lib, x in zip((minitorch, torch), both_leaves([0.5, -1.0])):
        y = (x ** 3).sum()
        with lib.no_grad():
            g, = lib.autograd.grad(y, x, create_graph=True)
            assert not lib.is_grad_enabled()
        assert g.requires_grad
        second, = lib.autograd.grad(g.sum(), x)
        np.testing.assert_allclose(to_np(second), 6 * np.array([0.5, -1.0]))


def to_np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else \
        minitorch.backend.to_numpy(t.array)


def test_allow_unused_gives_none():
    for lib, (x, unused) in ((minitorch, (leaf([1.0]), leaf([2.0]))),
                             (torch, (torch_leaf([1.0]), torch_leaf([2.0])))):
        gx, gu = lib.autograd.grad((x * 3).sum(), [x, unused], allow_unused=True)
        assert gu is None and to_np(gx).tolist() == [3.0]


def test_grad_with_respect_to_a_non_leaf_and_with_several_outputs():
    values = np.random.default_rng(0).standard_normal(4)
    found = []
    for lib, x in zip((minitorch, torch), both_leaves(values)):
        h = x.tanh()
        y1, y2 = (h * h).sum(), h.exp()
        u = [None, lib.ones(4, dtype=y2.dtype) * 0.5]
        found.append(lib.autograd.grad([y1, y2], [h, x], u, create_graph=True))
    for k, (m, t) in enumerate(zip(*found)):
        assert_close(m, t, what=f"gradient {k}", **tolerance(np.float64))


def test_backward_inputs_accumulates_only_into_those():
    for lib, x in zip((minitorch, torch), both_leaves([1.0, 2.0])):
        w = x * 3
        h = w * 2
        w.retain_grad()
        (h * h).sum().backward(inputs=[h])
        assert x.grad is None and to_np(h.grad).tolist() == [12.0, 24.0]


def test_grad_computes_only_the_gradients_it_needs_and_keeps_the_graph_whole():
    """grad(y, x) asks the ops for x's gradients only; the graph it retains still gives every
    gradient to a later backward."""
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    product = x * w
    y = (product * product).sum()
    g, = minitorch.autograd.grad(y, x, retain_graph=True)
    assert product.grad_fn.needs_input_grad == (True, True)
    y.backward()
    np.testing.assert_allclose(grad_of(w), 2 * np.array([3.0, 8.0]) * np.array([1.0, 2.0]))
    np.testing.assert_allclose(minitorch.backend.to_numpy(g.array), grad_of(x))


def test_changing_an_input_in_place_is_caught_under_create_graph_too():
    """exp's plain backward reads its saved output, so changing its input is harmless there;
    its graph backward recomputes from the input, so the change would make it wrong: caught."""
    x = leaf([1.0, 2.0])
    h = x * 1.0
    y = h.exp().sum()
    with minitorch.no_grad():
        h.add_(1)  # (a non-leaf changed outside the graph's view)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*Exp.*create_graph"):
        minitorch.autograd.grad(y, x, create_graph=True)
    w = leaf([1.0, 2.0])
    saved = minitorch.tensor([3.0, 4.0], dtype=minitorch.float64, device=DEVICE)
    z = (w * saved).sum()
    saved.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*Mul"):
        minitorch.autograd.grad(z, w, create_graph=True)


def test_an_op_without_a_graph_backward_names_itself():
    """An op without a backward_graph refuses create_graph with its name, rather than hand out
    a gradient that is silently a constant; plain backward still works."""
    class Cube(minitorch.autograd.Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x ** 3

        def backward(self, grad):
            x, = self.saved_tensors
            return 3 * grad * x * x

    x = leaf([1.0, 2.0])
    y = Cube()(x).sum()
    with pytest.raises(NotImplementedError, match="Cube has no backward_graph yet.*create_graph"):
        minitorch.autograd.grad(y, x, create_graph=True, retain_graph=True)
    assert minitorch.backend.to_numpy(minitorch.autograd.grad(y, x)[0].array).tolist() == [3, 12]


def _function_classes():
    """Every Function subclass defined in a module of minitorch.ops (base classes included)."""
    found = set()
    for info in pkgutil.iter_modules(minitorch.ops.__path__, "minitorch.ops."):
        for value in vars(importlib.import_module(info.name)).values():
            if isinstance(value, type) and issubclass(value, minitorch.autograd.Function) \
                    and value.__module__ == info.name:
                found.add(value)
    return sorted(found, key=lambda c: (c.__module__, c.__name__))


def test_every_differentiable_op_has_a_graph_backward():
    """create_graph=True works through every op: a differentiable Function in minitorch.ops
    without its own backward_graph (a new op someone forgot) fails here, by name."""
    classes = _function_classes()
    assert len(classes) > 50 and minitorch.ops.conv.Conv2d in classes
    missing = [f"{c.__module__}.{c.__name__}" for c in classes if c.differentiable
               and c.backward_graph is minitorch.autograd.Function.backward_graph]
    assert not missing, f"differentiable ops without a backward_graph: {missing}"


def test_a_graph_backward_must_return_tensors():
    class Leaky(minitorch.autograd.Function):
        def forward(self, x):
            return x * 2

        def backward_graph(self, grad):
            return grad.array * 2  # an array: the second derivative would silently be lost

    x = leaf([1.0])
    with pytest.raises(TypeError, match="Leaky.backward_graph returned a ndarray, not a Tensor"):
        minitorch.autograd.grad(Leaky()(x).sum(), x, create_graph=True)


def test_first_order_grad_returns_its_own_memory():
    x = leaf([1.0, 2.0])
    upstream = minitorch.tensor([1.0, 1.0], dtype=minitorch.float64, device=DEVICE)
    g, = minitorch.autograd.grad(x * 1.0, x, upstream)
    g.add_(5)
    assert upstream.tolist() == [1.0, 1.0]


def _leaf_pair(make):
    return make([1.0, 2.0])


def _twice(lib, x):
    y = (x.exp() * x).sum()
    lib.autograd.grad(y, x)
    lib.autograd.grad(y, x)


# (name, call(lib, make_leaf), message): each raises the same RuntimeError in both libraries
GRAPH_ERRORS = [
    ("output_without_grad", lambda lib, mk: lib.autograd.grad(
        lib.ones(2, dtype=lib.float64).sum(), mk([1.0])),
     r"element 0 of tensors does not require grad and does not have a grad_fn"),
    ("input_without_grad", lambda lib, mk: lib.autograd.grad(
        (mk([1.0]) * 2).sum(), lib.ones(1, dtype=lib.float64)),
     r"One of the differentiated Tensors does not require grad"),
    ("unused_input", lambda lib, mk: lib.autograd.grad(
        (mk([1.0]) * 2).sum(), [mk([1.0]), mk([2.0])]),
     r"The differentiated Tensor at index 0 appears to not have been used in the graph\. "
     r"Set allow_unused=True"),
    ("non_scalar", lambda lib, mk: (lambda x: lib.autograd.grad(x * 2, x))(_leaf_pair(mk)),
     r"grad can be implicitly created only for scalar outputs"),
    ("grad_output_shape", lambda lib, mk: (lambda x: lib.autograd.grad(
        x * 2, x, lib.ones(3, dtype=lib.float64)))(_leaf_pair(mk)),
     r"Mismatch in shape: grad_output\[0\] has a shape of .*3.* and output\[0\] has a shape "
     r"of .*2"),
    ("grad_output_count", lambda lib, mk: (lambda x: lib.autograd.grad(
        [x * 2, x * 3], x, [lib.ones(2, dtype=lib.float64)]))(_leaf_pair(mk)),
     r"got 2 tensors and 1 gradients"),
    ("no_inputs", lambda lib, mk: lib.autograd.grad((_leaf_pair(mk) * 2).sum(), []),
     r"`inputs` argument to `grad\(\)` cannot be empty\."),
    ("backward_no_inputs", lambda lib, mk: (_leaf_pair(mk) * 2).sum().backward(inputs=[]),
     r"`inputs` argument to `backward\(\)` cannot be empty\."),
    ("second_time", lambda lib, mk: _twice(lib, _leaf_pair(mk)),
     r"Trying to backward through the graph a second time"),
]


@pytest.mark.parametrize("name, call, message", GRAPH_ERRORS, ids=[e[0] for e in GRAPH_ERRORS])
def test_grad_errors_are_torchs(name, call, message):
    for lib, make in ((minitorch, leaf), (torch, torch_leaf)):
        with pytest.raises(RuntimeError, match=message):
            call(lib, make)
