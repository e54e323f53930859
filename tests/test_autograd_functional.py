"""Second derivatives at work: the Hessian-vector product and Newton's method.

``hvp`` (``minitorch/autograd_functional.py``) against the Hessian of a small network built
entry by entry — row j is the gradient of the j-th entry of the gradient, one ``grad`` each —
and against ``torch.autograd.functional``; then Newton's method, its Hessian assembled from
Hessian-vector products H·eⱼ, converging quadratically to a minimum known in closed form.
"""
import numpy as np
import pytest
import torch

import minitorch
from minitorch.autograd import grad
from minitorch.autograd_functional import hvp
from torch_compare import DEVICE, assert_close, to_numpy, tolerance

TOL = tolerance(np.float64)


def mt(array, requires_grad=False):
    return minitorch.tensor(array, dtype=minitorch.float64, device=DEVICE,
                            requires_grad=requires_grad)


# ---- a small network: one tanh layer, a linear read-out, squared error --------------------------
RNG = np.random.default_rng(0)
X, Y = RNG.standard_normal((6, 3)), RNG.standard_normal((6, 1))
PARAMS = [RNG.standard_normal((4, 3)), RNG.standard_normal(4), RNG.standard_normal((1, 4))]


def loss(lib, x, y):
    """The network's mean squared error as a function of its three weight tensors."""
    def f(w1, b1, w2):
        return ((((x @ w1.T) + b1).tanh() @ w2.T - y) ** 2).mean()
    return f


def hessian_entry_by_entry(f, params):
    """The Hessian of ``f`` as an (n, n) NumPy array: the gradient g as a graph, then for each
    of its n entries gⱼ, ∇gⱼ — the j-th row."""
    gradients = grad(f(*params), params, create_graph=True)
    flat = minitorch.cat([g.reshape(-1) for g in gradients])
    rows = []
    for j in range(flat.shape[0]):
        row = grad(flat[j], params, retain_graph=True)
        rows.append(np.concatenate([to_numpy(r).reshape(-1) for r in row]))
    return np.stack(rows)


def test_hvp_is_the_hessian_times_v_on_a_small_network():
    params = [mt(p, requires_grad=True) for p in PARAMS]
    f = loss(minitorch, mt(X), mt(Y))
    hessian = hessian_entry_by_entry(f, params)
    torch_f = loss(torch, torch.tensor(X), torch.tensor(Y))
    torch_hessian = torch.autograd.functional.hessian(torch_f, tuple(torch.tensor(p) for p in PARAMS))
    n = hessian.shape[0]
    flat_torch = np.block([[to_numpy(torch_hessian[i][j]).reshape(PARAMS[i].size, PARAMS[j].size)
                            for j in range(3)] for i in range(3)])
    assert_close(hessian, flat_torch, what="the Hessian, entry by entry", **TOL)
    assert_close(hessian, hessian.T, what="the Hessian's symmetry", rtol=1e-12, atol=1e-12)
    v = np.random.default_rng(1).standard_normal(n)
    pieces = np.split(v, np.cumsum([p.size for p in PARAMS])[:-1])
    value, product = hvp(f, tuple(params), tuple(mt(piece.reshape(p.shape))
                                                 for piece, p in zip(pieces, PARAMS)))
    assert isinstance(product, tuple) and len(product) == 3
    flat_product = np.concatenate([to_numpy(p).reshape(-1) for p in product])
    assert_close(flat_product, hessian @ v, what="hvp against H @ v", **TOL)
    assert_close(value, torch_f(*[torch.tensor(p) for p in PARAMS]), what="the value", **TOL)
    assert all(p.grad is None for p in params), "hvp must leave the inputs' .grad alone"


def test_hvp_as_torch_with_create_graph():
    """A single tensor in, the result differentiable: d/dx Σ (H·v) is a third derivative."""
    x = np.random.default_rng(2).standard_normal((2, 3))
    v = np.random.default_rng(3).standard_normal((2, 3))

    def f(t):
        return (t.sin() * t.exp()).sum()

    mx, tx = mt(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    m_value, m_product = hvp(f, mx, mt(v), create_graph=True)
    t_value, t_product = torch.autograd.functional.hvp(f, tx, torch.tensor(v), create_graph=True)
    assert_close(m_value, t_value, what="value", **TOL)
    assert_close(m_product, t_product, what="hvp", **TOL)
    assert m_value.requires_grad and m_product.requires_grad
    m_third, = grad(m_product.sum(), mx)
    t_third, = torch.autograd.grad(t_product.sum(), tx)
    assert_close(m_third, t_third, what="the derivative of Σ H·v", **TOL)
    plain_value, plain_product = hvp(f, mx, mt(v))
    assert not plain_value.requires_grad and not plain_product.requires_grad


def test_hvp_of_an_unused_or_linear_input_is_zero_unless_strict():
    def f(a, b):
        return (a * a).sum() + b.sum()  # linear in b: its Hessian block is zero

    a, b = np.ones(3), np.ones(2)
    _, (ha, hb) = hvp(f, (mt(a), mt(b)), (mt(a), mt(b)))
    _, (ta, tb) = torch.autograd.functional.hvp(f, (torch.tensor(a), torch.tensor(b)),
                                                (torch.tensor(a), torch.tensor(b)))
    assert_close(ha, ta, what="hvp of a", **TOL)
    assert_close(hb, tb, what="hvp of b", **TOL)
    for lib, tensor in ((minitorch, mt), (torch, torch.tensor)):
        functional = minitorch.autograd.functional if lib is minitorch else \
            torch.autograd.functional
        with pytest.raises(RuntimeError, match="jacobian of the user-provided function with "
                                               "respect to input 1 is independent"):
            functional.hvp(f, (tensor(a), tensor(b)), (tensor(a), tensor(b)), strict=True)


HVP_ERRORS = [
    ("v_left_out", lambda lib, t: (lambda x: (x * x).sum(), t(np.ones(3)), None),
     r"v can only be None if the input to the user-provided function is a single Tensor with a "
     r"single element"),
    ("v_size", lambda lib, t: (lambda x: (x * x).sum(), t(np.ones(3)), t(np.ones(2))),
     r"v has invalid size: should be .*3.* but got .*2"),
    ("v_entry_size", lambda lib, t: (lambda x, y: (x * y).sum(), (t(np.ones(3)), t(np.ones(3))),
                                     (t(np.ones(3)), t(np.ones(4)))),
     r"Entry 1 in v has invalid size"),
    ("not_scalar", lambda lib, t: (lambda x: x * x, t(np.ones(3)), t(np.ones(3))),
     r"should contain a single element"),
    ("not_a_tensor", lambda lib, t: (lambda x: ((x * x).sum(), x), t(np.ones(3)), t(np.ones(3))),
     r"should return a single Tensor"),
]


@pytest.mark.parametrize("name, make, message", HVP_ERRORS, ids=[e[0] for e in HVP_ERRORS])
def test_hvp_errors_are_torchs(name, make, message):
    for lib, functional, tensor in ((minitorch, minitorch.autograd.functional, mt),
                                    (torch, torch.autograd.functional, torch.tensor)):
        with pytest.raises(RuntimeError, match=message):
            functional.hvp(*make(lib, tensor))


# ---- Newton's method -----------------------------------------------------------------------------
def test_newtons_method_converges_quadratically_to_the_closed_form():
    """f(x) = Σ exp(Ax) − cᵀAx.  ∇f = Aᵀ(exp(Ax) − c) vanishes where exp(Ax) = c, so the minimum
    is x* = A⁻¹ log c; the Hessian Aᵀ diag(exp(Ax)) A is positive definite.  Newton's steps,
    x ← x − H⁻¹∇f with H assembled column by column as H·eⱼ = hvp(f, x, eⱼ), reach x* to
    rounding in a few steps, each error at most a constant times the square of the last."""
    n = 5
    rng = np.random.default_rng(4)
    a = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    c = rng.uniform(0.5, 2.0, n)
    closed_form = np.linalg.solve(a, np.log(c))
    ma, mc = mt(a), mt(c)

    def f(x):
        z = ma @ x
        return z.exp().sum() - (mc * z).sum()

    x = np.zeros(n)
    errors = [np.linalg.norm(x - closed_form)]
    for _ in range(8):
        point = mt(x, requires_grad=True)
        gradient, = grad(f(point), point)
        columns = [to_numpy(hvp(f, point, mt(np.eye(n)[j]))[1]) for j in range(n)]
        hessian = np.stack(columns, axis=1)
        x = x - np.linalg.solve(hessian, to_numpy(gradient))
        errors.append(np.linalg.norm(x - closed_form))
        if errors[-1] < 1e-13:
            break
    assert errors[-1] < 1e-12, f"Newton did not converge: errors {errors}"
    assert len(errors) <= 7, f"too many steps for Newton's method: errors {errors}"
    # quadratic: e(k+1) ≤ C·e(k)² while the errors are above rounding
    ratios = [later / earlier ** 2 for earlier, later in zip(errors, errors[1:])
              if earlier > 1e-6 and later > 1e-14]
    assert ratios and max(ratios) < 5, f"not quadratic: e(k+1)/e(k)² = {ratios}, errors {errors}"
    assert_close(x, closed_form, what="Newton's minimum vs A⁻¹ log c", rtol=1e-12, atol=1e-12)
