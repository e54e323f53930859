"""Every basic op against PyTorch: one table row per op, one factory that makes the tests.

A row names the op, says how to call it (one function that takes the library, ``minitorch`` or
``torch``, so both run literally the same code), which shapes and settings to try, and which
values its inputs may take (``log`` wants positive numbers, ``abs`` wants none near its kink).
From each row the factory below makes these tests:

* ``test_against_torch[row-float64]`` and ``[row-float32]``: forward, then backward with a random
  upstream gradient, compared with torch (float64 to ~1e-10, float32 to torch's defaults);
* ``test_noncontiguous[row]``: the same with inputs that are strided views, not fresh arrays;
* ``test_gradcheck[row]``: backward against central finite differences, in float64;
* ``test_second_order[row-contiguous]`` and ``[row-noncontiguous]``: the derivatives of the
  derivatives (``create_graph=True``) against torch's, in float64: the first gradients under a
  random upstream gradient that requires grad, then the gradient of their random weighted sum
  with respect to the inputs and that upstream gradient;
* ``test_gradgradcheck[row]``: those second derivatives against finite differences of the
  first ones; and ``test_third_order[row]`` for a few rows.

Shapes for elementwise, broadcasting and reduction ops come from hypothesis strategies (with
size-1 and zero-size dims, and negative ``dim`` values); the rest use small fixed lists that
cover each op's cases (vectors and batches for matmul, repeats and masks for indexing, ...).
"""
import dataclasses
from typing import Callable

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minitorch
from torch_compare import DEVICE, assert_close, check, check_higher_order, noncontiguous

# Few examples per test (there are hundreds of tests); derandomized so a failure repeats.
EXAMPLES = settings(max_examples=10, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


# ---- what a row is made of ---------------------------------------------------------------------------
@dataclasses.dataclass
class Case:
    """One call of an op: the shapes of its float inputs, extra arrays (masks, indices: passed
    after the floats, never differentiated) and keyword settings (dim, keepdim, ...)."""

    shapes: list
    kwargs: dict = dataclasses.field(default_factory=dict)
    extras: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Row:
    """One op in the table: how to call it on either library, which cases, which input values."""

    name: str
    fn: Callable            # fn(lib, *floats, *extras, **kwargs), lib = minitorch or torch
    cases: object           # a hypothesis strategy of Case, or a list of Case (all are run)
    values: Callable = None  # values(rng, shape) -> float64 array: the op's input domain
    grad: bool = True       # False: forward only (comparisons, argmax, one_hot)
    gradcheck: bool = True  # False where finite differences cannot work (infinite slopes)

    def __post_init__(self):
        self.values = self.values or normal

    def draw(self, data):
        """The cases one test example runs: one drawn case, or the whole fixed list."""
        if isinstance(self.cases, list):
            return self.cases
        return [data.draw(self.cases, label="case")]

    def arrays(self, case, dtype, seed=0):
        rng = np.random.default_rng(seed)
        return [np.array(self.values(rng, s), dtype=dtype) for s in case.shapes] + list(case.extras)


def F(lib):
    """Where the functional ops live: ``torch.nn.functional`` for torch, the top level for us."""
    return torch.nn.functional if lib is torch else lib


def nnF(lib):
    """``nn.functional`` of either library (for functions torch keeps only there, e.g. gelu)."""
    return lib.nn.functional


def method(name, *args):
    """A row function that calls the tensor method ``name`` (the same on both libraries)."""
    return lambda lib, x, *more, **kwargs: getattr(x, name)(*args, *more, **kwargs)


# ---- input domains ------------------------------------------------------------------------------------
def normal(rng, shape):
    return rng.standard_normal(shape)


def positive(rng, shape):
    return rng.uniform(0.5, 2.5, shape)


def away_from_zero(rng, shape):
    """Magnitudes in [0.5, 2] with random signs: no input near a kink (abs, relu) or a pole."""
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def small_integers(rng, shape):
    """Whole numbers in [-2, 2] as floats: comparisons then meet many ties."""
    return rng.integers(-2, 3, shape).astype(np.float64)


def with_zeros(rng, shape):
    """0, 1, −1.5 and 2: the points where pow's derivative needs care."""
    return rng.choice([0.0, 1.0, -1.5, 2.0], shape)


# ---- shape strategies ----------------------------------------------------------------------------------
def elementwise(n_inputs=1, min_side=0, **kwargs):
    """Shapes that broadcast together (up to 3 dims, sides 0..4), as Cases."""
    if n_inputs == 1:
        shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=min_side, max_side=4).map(
            lambda s: [s])
    else:
        shapes = hnp.mutually_broadcastable_shapes(
            num_shapes=n_inputs, min_dims=0, max_dims=3, min_side=min_side, max_side=4).map(
            lambda b: list(b.input_shapes))
    return shapes.map(lambda s: Case(s, dict(kwargs)))


@st.composite
def reductions(draw, dims=("none", "int", "tuple"), min_dims=0, min_side=0, keepdim=True,
               empty_tuple=True, **settings_):
    """A shape plus a ``dim`` (None, one possibly negative int, or a tuple, empty too unless
    ``empty_tuple=False``) and ``keepdim`` (if the op has one); each further keyword, a list of
    values, adds a setting drawn from it."""
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=min_side, max_side=4))
    ndim = len(shape)
    kwargs = {name: draw(st.sampled_from(values)) for name, values in settings_.items()}
    kind = draw(st.sampled_from(dims))
    if kind == "int":
        kwargs["dim"] = draw(st.integers(-max(ndim, 1), max(ndim, 1) - 1))
    elif kind == "tuple" and ndim:
        # the empty tuple too: PyTorch's sum, mean and var then reduce every dim
        kwargs["dim"] = tuple(draw(st.lists(st.integers(-ndim, ndim - 1),
                                            min_size=0 if empty_tuple else 1,
                                            unique_by=lambda d: d % ndim)))
    if "dim" in kwargs and keepdim:
        kwargs["keepdim"] = draw(st.booleans())
    return Case([shape], kwargs)


def fixed(shapes, **kwargs):
    """A hand-picked Case: ``fixed([(2, 3)], dim=1, extras=[index])``."""
    extras = kwargs.pop("extras", [])
    return Case(list(shapes), kwargs, list(extras))


@st.composite
def where_cases(draw):
    a, b, cond = draw(hnp.mutually_broadcastable_shapes(
        num_shapes=3, min_dims=0, max_dims=3, min_side=0, max_side=4)).input_shapes
    mask = np.asarray(np.random.default_rng(len(cond)).random(cond) > 0.5)
    return Case([a, b], extras=[mask])


INDEX = np.array([0, 2, 0, 3])          # int64, with a repeat: row 0 gets two gradients
MASK_4x5 = np.random.default_rng(1).random((4, 5)) > 0.5
MASK_ROWS = np.array([True, False, True, True])

# ---- the table: one row per op -------------------------------------------------------------------------
ROWS = [
    # arithmetic, tensor with tensor (broadcasting, size-1 and zero-size dims)
    Row("add", lambda lib, a, b: a + b, elementwise(2)),
    Row("sub", lambda lib, a, b: a - b, elementwise(2)),
    Row("mul", lambda lib, a, b: a * b, elementwise(2)),
    Row("div", lambda lib, a, b: a / b, elementwise(2), values=away_from_zero),
    Row("pow", lambda lib, a, b: a ** b, elementwise(2), values=positive),
    Row("pow_at_zero", lambda lib, a, b: a.abs() ** b.abs(), elementwise(2, min_side=1),
        values=with_zeros, gradcheck=False),
    # arithmetic with a Python number on either side
    Row("add_scalar", lambda lib, x: (x + 2.5) + (1 + x), elementwise()),
    Row("sub_scalar", lambda lib, x: (x - 2.5) * (1.5 - x), elementwise()),
    Row("mul_scalar", lambda lib, x: (x * 2.5) + (-3 * x), elementwise()),
    Row("div_scalar", lambda lib, x: (x / 2.5) + (1.5 / x), elementwise(), values=away_from_zero),
    Row("pow_scalar", lambda lib, x, p: x ** p,
        [fixed([(3, 4)], p=p) for p in (0, 1, 2, 3, -1, 0.5, -1.5, 2.5)], values=positive),
    Row("pow_scalar_at_zero", lambda lib, x, p: x ** p,
        [fixed([(3, 4)], p=p) for p in (0, 1, 2, 3)], values=with_zeros, gradcheck=False),
    Row("rpow", lambda lib, x: 2.0 ** x, elementwise()),
    # one input
    Row("neg", lambda lib, x: -x, elementwise()),
    Row("abs", lambda lib, x: x.abs(), elementwise(), values=away_from_zero),
    Row("exp", lambda lib, x: x.exp(), elementwise()),
    Row("log", lambda lib, x: x.log(), elementwise(), values=positive),
    Row("sqrt", lambda lib, x: x.sqrt(), elementwise(), values=positive),
    Row("sin", lambda lib, x: x.sin(), elementwise()),
    Row("cos", lambda lib, x: x.cos(), elementwise()),
    Row("tanh", lambda lib, x: x.tanh(), elementwise()),
    Row("sigmoid", lambda lib, x: x.sigmoid(), elementwise()),
    Row("sigmoid_extremes", lambda lib, x: (x * 40).sigmoid(), elementwise(min_side=1)),
    # (log σ(15x) needs σ's tails to full relative precision, e.g. σ(−60) ≈ 8.8e−27, not 0)
    Row("sigmoid_tails", lambda lib, x: (x * 15).sigmoid().log(), elementwise(min_side=1)),
    Row("relu", lambda lib, x: x.relu(), elementwise(), values=away_from_zero),
    Row("leaky_relu", lambda lib, x, **kw: F(lib).leaky_relu(x, **kw),
        elementwise(negative_slope=0.1), values=away_from_zero),
    # slopes outside (0, 1] take the forward's `where` branch (max(x, slope·x) is wrong there)
    Row("leaky_relu_steep", lambda lib, x, **kw: F(lib).leaky_relu(x, **kw),
        elementwise(negative_slope=2.0), values=away_from_zero),
    Row("leaky_relu_negative_slope", lambda lib, x, **kw: F(lib).leaky_relu(x, **kw),
        elementwise(negative_slope=-0.5), values=away_from_zero),
    Row("gelu", lambda lib, x: nnF(lib).gelu(x), elementwise()),
    Row("gelu_tanh", lambda lib, x: nnF(lib).gelu(x, approximate="tanh"), elementwise()),
    # far in the tails Φ(x) is 0 or 1 and the tanh saturates: both must still match torch
    Row("gelu_tails", lambda lib, x: (nnF(lib).gelu(x * 12),
                                      nnF(lib).gelu(x * 12, approximate="tanh")),
        elementwise(min_side=1)),
    Row("silu", lambda lib, x: nnF(lib).silu(x), elementwise()),
    Row("silu_tails", lambda lib, x: nnF(lib).silu(x * 40), elementwise(min_side=1)),
    Row("softplus", lambda lib, x: nnF(lib).softplus(x), elementwise()),
    # β scales the input; a low threshold puts some of the inputs on the linear side
    Row("softplus_beta_threshold", lambda lib, x, **kw: nnF(lib).softplus(x, **kw),
        elementwise(beta=2.0, threshold=1.5), values=away_from_zero),
    # far past the threshold (linear) and far below it (e^(βx) underflows): torch's values
    Row("softplus_tails", lambda lib, x: nnF(lib).softplus(x * 60), elementwise(min_side=1),
        values=away_from_zero),
    Row("elu", lambda lib, x: nnF(lib).elu(x), elementwise(), values=away_from_zero),
    Row("elu_alpha", lambda lib, x, **kw: nnF(lib).elu(x, **kw), elementwise(alpha=0.5),
        values=away_from_zero),
    # e^x of x ≪ 0 underflows and x ≫ 0 must not overflow the branch that is dropped
    Row("elu_tails", lambda lib, x: nnF(lib).elu(x * 400), elementwise(min_side=1),
        values=away_from_zero),
    Row("clamp", lambda lib, x, **kw: x.clamp(**kw),
        [fixed([(3, 4)], min=-0.25, max=0.75), fixed([(3, 4)], min=0.1),
         fixed([(3, 4)], max=-0.2), fixed([(0, 4)], min=0.0)], values=away_from_zero),
    Row("maximum", lambda lib, a, b: lib.maximum(a, b), elementwise(2)),
    Row("minimum", lambda lib, a, b: lib.minimum(a, b), elementwise(2)),
    Row("where", lambda lib, a, b, cond: lib.where(cond, a, b), where_cases()),
    Row("where_scalar", lambda lib, x, cond: lib.where(cond, x, 0.5) + lib.where(cond, -1.0, x),
        [fixed([(4, 5)], extras=[MASK_4x5]), fixed([(4, 5)], extras=[MASK_ROWS[None, :1]])]),
    # at the kinks and ties, where the derivative is a convention: the same one as torch's
    # (no gradcheck: finite differences straddle the kink)
    Row("relu_at_zero", lambda lib, x: x.relu(), [fixed([(4, 5)])], small_integers,
        gradcheck=False),
    Row("abs_at_zero", lambda lib, x: x.abs(), [fixed([(4, 5)])], small_integers,
        gradcheck=False),
    Row("leaky_relu_at_zero", lambda lib, x: F(lib).leaky_relu(x, 0.2), [fixed([(4, 5)])],
        small_integers, gradcheck=False),
    Row("clamp_at_bounds", lambda lib, x: x.clamp(-1.0, 1.0), [fixed([(4, 5)])],
        small_integers, gradcheck=False),
    Row("maximum_ties", lambda lib, a, b: lib.maximum(a, b), [fixed([(4, 5), (5,)])],
        small_integers, gradcheck=False),
    Row("minimum_ties", lambda lib, a, b: lib.minimum(a, b), [fixed([(4, 5), (4, 1)])],
        small_integers, gradcheck=False),
    # comparisons: bool results, no gradient
    Row("eq", lambda lib, a, b: (a == b, a == 1.0), elementwise(2), small_integers, grad=False),
    Row("ne", lambda lib, a, b: (a != b, a != 1.0), elementwise(2), small_integers, grad=False),
    Row("lt", lambda lib, a, b: (a < b, a < 1.0), elementwise(2), small_integers, grad=False),
    Row("le", lambda lib, a, b: (a <= b, a <= 1.0), elementwise(2), small_integers, grad=False),
    Row("gt", lambda lib, a, b: (a > b, 1.0 > a), elementwise(2), small_integers, grad=False),
    Row("ge", lambda lib, a, b: (a >= b, 1.0 >= a), elementwise(2), small_integers, grad=False),
    # matrix products: vectors on either side, batches, broadcast batch dims, empty dims
    Row("matmul", lambda lib, a, b: a @ b, [
        fixed([(3,), (3,)]), fixed([(3,), (3, 4)]), fixed([(2, 3), (3,)]),
        fixed([(2, 3), (3, 4)]), fixed([(5, 2, 3), (5, 3, 4)]), fixed([(5, 2, 3), (3, 4)]),
        fixed([(3,), (5, 3, 4)]), fixed([(5, 2, 3), (3,)]), fixed([(2, 1, 2, 3), (4, 3, 2)]),
        fixed([(0, 3), (3, 2)]), fixed([(2, 0), (0, 3)])]),
    Row("matmul_function", lambda lib, a, b: lib.matmul(a, b), [fixed([(3, 1, 2, 3), (4, 3, 2)])]),
    Row("mm", lambda lib, a, b: lib.mm(a, b) + a.mm(b), [fixed([(2, 3), (3, 4)]),
                                                          fixed([(0, 3), (3, 2)])]),
    Row("bmm", lambda lib, a, b: lib.bmm(a, b) + a.bmm(b), [fixed([(5, 2, 3), (5, 3, 4)])]),
    Row("mT", lambda lib, x: x.mT * 2, [fixed([(2, 3)]), fixed([(4, 2, 3)])]),
    # reductions: dim None / int / tuple, negative dims, keepdim
    Row("sum", method("sum"), reductions()),
    Row("mean", method("mean"), reductions(min_side=1)),
    Row("var", method("var"), reductions(min_dims=1, min_side=2, empty_tuple=False,
                                          unbiased=[True, False])),
    Row("std", method("std"), reductions(min_dims=1, min_side=2, empty_tuple=False,
                                          unbiased=[True, False])),
    Row("max", method("max"), reductions(dims=("none", "int"), min_side=1)),
    Row("min", method("min"), reductions(dims=("none", "int"), min_side=1)),
    Row("max_ties", method("max"), [fixed([(4, 5)])], values=small_integers, gradcheck=False),
    Row("min_ties", method("min"), [fixed([(4, 5)])], values=small_integers, gradcheck=False),
    Row("norm", method("norm"), reductions(min_side=1, empty_tuple=False, p=[2])),
    # 'fro' (the default) over all dims, one or two: over three torch refuses it
    Row("norm_fro", method("norm"), reductions(dims=("none", "int"), min_side=1)),
    Row("norm_fro_two_dims", method("norm"), [fixed([(2, 3, 4)], dim=(0, 2))]),
    Row("norm_p", method("norm"), reductions(min_side=1, empty_tuple=False,
                                             p=[1, float("inf"), float("-inf")]),
        values=away_from_zero),
    Row("normalize", lambda lib, x, **kw: nnF(lib).normalize(x, **kw), [
        fixed([(3, 4)]), fixed([(2, 3, 4)], dim=-1), fixed([(3, 4)], p=1, dim=0),
        fixed([(4, 5)], p=float("inf"))], values=away_from_zero),
    Row("amax", method("amax"), reductions(dims=("int", "tuple"), min_side=1)),
    Row("amin", method("amin"), reductions(dims=("int", "tuple"), min_side=1)),
    # ties: amax shares the gradient evenly among the winners (max(dim) gives it to one)
    Row("amax_ties", method("amax"), [fixed([(4, 5)], dim=1), fixed([(4, 5)], dim=(0, 1)),
                                      fixed([(4, 5)])], values=small_integers, gradcheck=False),
    Row("amin_ties", method("amin"), [fixed([(4, 5)], dim=0, keepdim=True)],
        values=small_integers, gradcheck=False),
    Row("logsumexp", method("logsumexp"), reductions(dims=("int", "tuple"), min_dims=1,
                                                     min_side=1, empty_tuple=False)),
    # e^{100x} overflows without the shift by the maximum
    Row("logsumexp_large", lambda lib, x: (x * 100).logsumexp(1), [fixed([(3, 4)])]),
    Row("argmax", method("argmax"), reductions(dims=("none", "int"), min_side=1), grad=False),
    Row("argmin", method("argmin"), reductions(dims=("none", "int"), min_side=1), grad=False),
    Row("softmax", method("softmax"), reductions(dims=("int",), min_dims=1, keepdim=False)),
    Row("log_softmax", method("log_softmax"), reductions(dims=("int",), min_dims=1, keepdim=False)),
    Row("softmax_large", lambda lib, x: (x * 1000).softmax(-1), [fixed([(3, 5)])]),
    Row("log_softmax_large", lambda lib, x: (x * 1000).log_softmax(-1), [fixed([(3, 5)])]),
    Row("max_of_two", lambda lib, a, b: (lib.max(a, b), lib.min(a, b)), elementwise(2)),
    # shapes
    Row("reshape", lambda lib, x, shape: x.reshape(shape), [
        fixed([(2, 3, 4)], shape=(6, 4)), fixed([(2, 3, 4)], shape=(4, -1)),
        fixed([(1,)], shape=()), fixed([(0, 3)], shape=(3, 0)), fixed([()], shape=(1, 1))]),
    Row("view", lambda lib, x, shape: x.view(*shape), [
        fixed([(2, 6)], shape=(3, 4)), fixed([(2, 6)], shape=(-1,)),
        fixed([(2, 6)], shape=(2, 3, 2))]),
    Row("flatten", method("flatten"), [
        fixed([(2, 3, 4)]), fixed([(2, 3, 4)], start_dim=1), fixed([(2, 3, 4)], start_dim=-2),
        fixed([(2, 3, 4, 2)], start_dim=1, end_dim=2), fixed([()]), fixed([(2, 0, 3)])]),
    Row("flip", lambda lib, x, dims: lib.flip(x, dims), [
        fixed([(2, 3, 4)], dims=(0,)), fixed([(2, 3, 4)], dims=(0, 2)),
        fixed([(2, 3, 4)], dims=(-1,)), fixed([(3, 4)], dims=()), fixed([(0, 3)], dims=(1,))]),
    Row("flip_method", lambda lib, x: x.flip(1) + x.flip(0, 1), [fixed([(3, 4)])]),
    Row("cumsum", lambda lib, x, dim: x.cumsum(dim), [
        fixed([(3, 4)], dim=0), fixed([(3, 4)], dim=-1), fixed([(2, 3, 4)], dim=1),
        fixed([(0, 3)], dim=1), fixed([()], dim=0)]),
    Row("sort", method("sort"), [
        fixed([(3, 5)]), fixed([(3, 5)], dim=0, descending=True), fixed([(2, 3, 4)], dim=1),
        fixed([(6,)], descending=True), fixed([()])]),
    # ties: a stable sort keeps their order, ascending and descending (torch's stable=True)
    Row("sort_ties_stable", method("sort"), [
        fixed([(4, 5)], stable=True), fixed([(4, 5)], stable=True, descending=True),
        fixed([(4, 5)], dim=0, stable=True, descending=True)],
        values=small_integers, gradcheck=False),
    Row("argsort", method("argsort"), [fixed([(3, 5)]), fixed([(3, 5)], dim=0, descending=True)],
        grad=False),
    Row("topk", lambda lib, x, **kw: x.topk(**kw), [
        fixed([(3, 5)], k=2), fixed([(3, 5)], k=3, dim=0, largest=False), fixed([(4, 6)], k=6),
        fixed([(4, 6)], k=0)]),
    Row("permute", lambda lib, x, dims: x.permute(*dims), [
        fixed([(2, 3, 4)], dims=(2, 0, 1)), fixed([(2, 3, 4)], dims=(-1, 0, -2)),
        fixed([(2, 0, 1)], dims=(1, 2, 0))]),
    Row("transpose", method("transpose"), [
        fixed([(2, 3, 4)], dim0=0, dim1=2), fixed([(2, 3, 4)], dim0=-1, dim1=-2),
        fixed([(2, 3)], dim0=1, dim1=0)]),
    Row("T", lambda lib, x: x.T, [fixed([(2, 3)]), fixed([(4,)])]),
    Row("squeeze", method("squeeze"), [
        fixed([(1, 3, 1)]), fixed([(1, 3, 1)], dim=0), fixed([(1, 3, 1)], dim=-1),
        fixed([(1, 3, 1)], dim=1), fixed([(1, 3, 1)], dim=(0, 2)), fixed([(1,)], dim=0)]),
    Row("unsqueeze", method("unsqueeze"), [
        fixed([(2, 3)], dim=0), fixed([(2, 3)], dim=-1), fixed([(2, 3)], dim=1),
        fixed([()], dim=0)]),
    Row("expand", lambda lib, x, sizes: x.expand(*sizes), [
        fixed([(3, 1)], sizes=(2, 3, 4)), fixed([(3, 1)], sizes=(-1, 4)),
        fixed([(1,)], sizes=(0,)), fixed([()], sizes=(2, 2))]),
    Row("repeat", lambda lib, x, sizes: x.repeat(*sizes), [
        fixed([(2, 3)], sizes=(2, 1)), fixed([(2, 3)], sizes=(2, 1, 3)),
        fixed([(3,)], sizes=(0,))]),
    Row("cat", lambda lib, *xs, dim: lib.cat(xs, dim=dim), [
        fixed([(2, 3), (4, 3)], dim=0), fixed([(2, 3), (2, 0), (2, 1)], dim=-1),
        fixed([(2, 3, 1), (2, 3, 2)], dim=2)]),
    Row("stack", lambda lib, *xs, dim: lib.stack(xs, dim=dim), [
        fixed([(2, 3), (2, 3)], dim=0), fixed([(2, 3), (2, 3), (2, 3)], dim=-1),
        fixed([(2, 3), (2, 3)], dim=1), fixed([(), ()], dim=0)]),
    Row("split", method("split"), [
        fixed([(7, 2)], split_size=3), fixed([(2, 7)], split_size=[2, 0, 5], dim=-1),
        fixed([(2, 4)], split_size=4, dim=1)]),
    Row("chunk", method("chunk"), [
        fixed([(7, 2)], chunks=3), fixed([(2, 6)], chunks=4, dim=-1), fixed([(2, 2)], chunks=5)]),
    Row("narrow", method("narrow"), [
        fixed([(4, 5)], dim=0, start=1, length=2), fixed([(4, 5)], dim=-1, start=-3, length=3),
        fixed([(2, 3, 4)], dim=1, start=3, length=0), fixed([(2, 3, 4)], dim=2, start=0,
                                                           length=4)]),
    # a transposed (strided) tensor made contiguous, so that view can flatten it
    Row("contiguous_view", lambda lib, x: x.t().contiguous().view(-1),
        [fixed([(3, 4)]), fixed([(1, 4)]), fixed([(0, 2)])]),
    Row("contiguous_permuted", lambda lib, x: x.permute(2, 0, 1).contiguous().view(4, -1) * 2,
        [fixed([(2, 3, 4)])]),
    Row("contiguous_of_contiguous", lambda lib, x: x.contiguous() * 1.5, elementwise()),
    Row("tril", lambda lib, x, **kw: lib.tril(x, **kw), [
        fixed([(4, 5)]), fixed([(4, 5)], diagonal=1), fixed([(2, 3, 4)], diagonal=-1),
        fixed([(5, 3)], diagonal=-6), fixed([(3, 5)], diagonal=7), fixed([(0, 3)])]),
    Row("triu", lambda lib, x, **kw: x.triu(**kw), [
        fixed([(4, 5)]), fixed([(4, 5)], diagonal=-2), fixed([(2, 3, 4)], diagonal=1),
        fixed([(5, 3)], diagonal=-6), fixed([(3, 5)], diagonal=7), fixed([(1, 1)])]),
    Row("pad", lambda lib, x, **kw: F(lib).pad(x, **kw), [
        fixed([(2, 3)], pad=(1, 2)), fixed([(2, 3, 4)], pad=(1, 0, 2, 1), value=1.5),
        fixed([(2, 3)], pad=(0, 0, 0, 2), value=-1.0),
        # negative amounts crop, as in PyTorch
        fixed([(2, 3)], pad=(-1, 2)), fixed([(3, 4, 5)], pad=(1, -2, -1, 0), value=0.5),
        fixed([(2, 3)], pad=(-3, 0))]),
    # indexing: basic (views), integer arrays with repeats, boolean masks, None and Ellipsis
    Row("getitem", lambda lib, x, *index, key: x[key(*index)], [
        fixed([(4, 5)], key=lambda: 1), fixed([(4, 5)], key=lambda: -1),
        fixed([(4, 5)], key=lambda: (slice(1, None), 2)),
        fixed([(4, 5)], key=lambda: (Ellipsis, slice(None, None, 2))),
        fixed([(4, 5)], key=lambda: (None, slice(None), -2)),
        fixed([(4, 5)], key=lambda: (slice(3, 1),)),
        fixed([(2, 4, 5)], key=lambda: (Ellipsis, None, 0)),
        fixed([(4, 5)], key=lambda: [0, 0, 2]),
        fixed([(4, 5)], key=lambda i: i, extras=[INDEX]),
        fixed([(4, 5)], key=lambda i: (slice(None), i), extras=[INDEX]),
        fixed([(4, 5)], key=lambda i, j: (i, j), extras=[INDEX, INDEX[::-1].copy()]),
        fixed([(4, 3, 5)], key=lambda i, j: (i, slice(None), j), extras=[INDEX, INDEX + 1]),
        fixed([(4, 5)], key=lambda m: m, extras=[MASK_4x5]),
        fixed([(4, 5)], key=lambda m: m, extras=[MASK_ROWS]),
        fixed([(4, 5)], key=lambda m: m, extras=[np.zeros(4, dtype=bool)]),
        fixed([(4, 5)], key=lambda i: i, extras=[np.array(2)]),
        fixed([(5, 4)], key=lambda m: (slice(None), m), extras=[MASK_ROWS])]),
    Row("masked_fill", lambda lib, x, mask, value: x.masked_fill(mask, value), [
        fixed([(4, 5)], value=-1.5, extras=[MASK_4x5]),
        fixed([(3, 4)], value=0.0, extras=[MASK_ROWS[None, :]])]),
    Row("gather", lambda lib, x, index, dim: x.gather(dim, index), [
        fixed([(3, 4)], dim=1, extras=[np.array([[0, 0], [3, 1], [2, 2]])]),
        fixed([(3, 4)], dim=0, extras=[np.array([[0, 2, 2, 1]])]),
        fixed([(3, 4)], dim=-1, extras=[np.array([[1], [0]])]),
        fixed([(2, 3, 4)], dim=1, extras=[np.zeros((2, 5, 4), dtype=np.int64)])]),
    Row("one_hot", lambda lib, x, **kw: F(lib).one_hot(x, **kw), [
        fixed([], extras=[np.array([0, 3, 1, 3])]),
        fixed([], num_classes=5, extras=[np.array([[0, 3], [1, 4]])])], grad=False),
    # copies and conversions
    Row("clone", method("clone"), elementwise()),
    # (no gradcheck: a trip through float32 rounds away the finite differences' nudges)
    Row("to_dtype", lambda lib, x, dtype: x.to(getattr(lib, dtype)) * 3,
        [fixed([(3, 4)], dtype="float64"), fixed([(3, 4)], dtype="float32")], gradcheck=False),
    Row("to_integer", lambda lib, x: (x * 3).to(lib.int64), [fixed([(3, 4)])], grad=False),
]

TORCH_ROWS = [pytest.param(row, id=row.name) for row in ROWS]
GRAD_ROWS = [pytest.param(row, id=row.name) for row in ROWS if row.grad and row.gradcheck]


def _calls(row, case):
    """The minitorch and torch versions of one call (the case's settings bound in)."""
    return (lambda *xs: row.fn(minitorch, *xs, **case.kwargs),
            lambda *xs: row.fn(torch, *xs, **case.kwargs))


# ---- the factory: what every row is tested for -------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("row", TORCH_ROWS)
@EXAMPLES
@given(data=st.data())
def test_against_torch(row, dtype, data):
    """Forward and the gradient of a random upstream gradient match torch."""
    for case in row.draw(data):
        check(*_calls(row, case), row.arrays(case, dtype), check_grad=row.grad)


@pytest.mark.parametrize("row", TORCH_ROWS)
@EXAMPLES
@given(data=st.data())
def test_noncontiguous(row, data):
    """The same, with every input a strided view of a wider array (float64)."""
    for case in row.draw(data):
        arrays = [noncontiguous(a) for a in row.arrays(case, np.float64)]
        check(*_calls(row, case), arrays, keep_layout=True, check_grad=row.grad)


@pytest.mark.parametrize("row", GRAD_ROWS)
@EXAMPLES
@given(data=st.data())
def test_gradcheck(row, data):
    """backward agrees with central finite differences (float64, random upstream gradient)."""
    for case in row.draw(data):
        arrays = row.arrays(case, np.float64)
        n_floats = len(case.shapes)
        inputs = [minitorch.tensor(a, device=DEVICE, requires_grad=i < n_floats)
                  for i, a in enumerate(arrays)]
        assert minitorch.gradcheck(lambda *xs: row.fn(minitorch, *xs, **case.kwargs), inputs)


SECOND_ORDER_ROWS = [pytest.param(row, id=row.name) for row in ROWS if row.grad]
THIRD_ORDER_ROWS = [pytest.param(row, id=row.name) for row in ROWS if row.name in (
    "mul", "div", "tanh", "sigmoid", "exp", "log", "pow", "matmul", "softmax", "log_softmax",
    "var", "getitem")]


@pytest.mark.parametrize("layout", ["contiguous", "noncontiguous"])
@pytest.mark.parametrize("row", SECOND_ORDER_ROWS)
@EXAMPLES
@given(data=st.data())
def test_second_order(row, layout, data):
    """Second derivatives (create_graph=True) match torch's, in float64."""
    for case in row.draw(data):
        arrays = row.arrays(case, np.float64)
        if layout == "noncontiguous":
            arrays = [noncontiguous(a) for a in arrays]
        check_higher_order(*_calls(row, case), arrays, keep_layout=layout == "noncontiguous")


@pytest.mark.parametrize("row", GRAD_ROWS)
@EXAMPLES
@given(data=st.data())
def test_gradgradcheck(row, data):
    """Second derivatives agree with finite differences of the first (float64)."""
    for case in row.draw(data):
        arrays = row.arrays(case, np.float64)
        n_floats = len(case.shapes)
        inputs = [minitorch.tensor(a, device=DEVICE, requires_grad=i < n_floats)
                  for i, a in enumerate(arrays)]
        assert minitorch.gradgradcheck(lambda *xs: row.fn(minitorch, *xs, **case.kwargs), inputs)


@pytest.mark.parametrize("row", THIRD_ORDER_ROWS)
@EXAMPLES
@given(data=st.data())
def test_third_order(row, data):
    """Third derivatives (a gradient of a gradient of a gradient) match torch's."""
    for case in row.draw(data):
        check_higher_order(*_calls(row, case), row.arrays(case, np.float64), order=3)


def test_every_row_has_a_unique_name():
    names = [row.name for row in ROWS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


@pytest.mark.parametrize("name", ["var", "std"])
def test_var_over_empty_dim_is_over_every_dim(name):
    """dim=() reduces every dim, as PyTorch's forward does.  PyTorch's backward of var and std
    reads dim=() as no dim at all (it gives 2·(x − mean) for var with unbiased=False, and inf
    with unbiased=True), so the torch table leaves the empty tuple out for these two; here the
    value is compared with torch's and the gradient held to finite differences."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    values = getattr(minitorch.tensor(x, device=DEVICE), name)(dim=())
    assert_close(values, getattr(torch.tensor(x), name)(dim=()), rtol=1e-12, atol=1e-12,
                 what=f"{name}(dim=())")
    inputs = [minitorch.tensor(x, device=DEVICE, requires_grad=True)]
    assert minitorch.gradcheck(lambda t: getattr(t, name)(dim=()), inputs)


@pytest.mark.parametrize("slope", [0.2, 1.0, 0.0, 2.0, -0.5])
def test_leaky_relu_special_values_as_torch(slope):
    """±inf, NaN, ±0 and tiny values through both branches of LeakyReLU's forward, bit for bit."""
    x = np.array([np.inf, -np.inf, np.nan, 0.0, -0.0, 1e-30, -1e-30, 3.0, -3.0], np.float32)
    with np.errstate(invalid="ignore"):
        got = minitorch.nn.functional.leaky_relu(minitorch.tensor(x, device=DEVICE), slope)
    want = torch.nn.functional.leaky_relu(torch.tensor(x), slope).numpy()
    got = minitorch.backend.to_numpy(got.array)
    assert np.array_equal(got, want, equal_nan=True), f"minitorch {got}\ntorch     {want}"
    assert np.array_equal(np.signbit(got), np.signbit(want)), "signs of zero differ"


def test_logsumexp_of_infinite_and_empty_rows_as_torch():
    """A row of −inf sums to 0: its log is −inf (not the nan of −inf − (−inf)); a row holding
    +inf gives +inf; an empty dim gives −inf.  The same as torch."""
    x = np.array([[-np.inf, -np.inf], [0.0, 1.0], [np.inf, 0.0]], np.float32)
    for array, dim in ((x, 1), (np.zeros((2, 0), np.float32), 1)):
        got = minitorch.tensor(array, device=DEVICE).logsumexp(dim)
        want = torch.tensor(array).logsumexp(dim).numpy()
        got = minitorch.backend.to_numpy(got.array)
        np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=f"on {array.tolist()}")


def test_topk_refuses_k_beyond_the_dim():
    with pytest.raises(RuntimeError, match=r"topk: k must be in \[0, 2\].*got 3"):
        minitorch.tensor([1.0, 2.0], device=DEVICE).topk(3)
    with pytest.raises(RuntimeError):                   # torch refuses it too
        torch.tensor([1.0, 2.0]).topk(3)


def test_norm_of_a_zero_row_has_the_gradient_zero_as_torch():
    """A zero vector's length has no slope; both give it the gradient 0 (the subgradient).  (Its
    second derivative does not exist: torch gives nan there, minitorch 0.)"""
    x = np.array([[0.0, 0.0, 0.0], [3.0, -4.0, 0.0]])
    upstream = np.array([0.5, -2.0])
    got = minitorch.tensor(x, device=DEVICE, requires_grad=True)
    got.norm(dim=1).backward(minitorch.tensor(upstream, device=DEVICE))
    want = torch.tensor(x, requires_grad=True)
    want.norm(dim=1).backward(torch.tensor(upstream))
    assert_close(got.grad, want.grad, 1e-12, 0.0, "the gradient of norm(dim=1)")


def test_norm_refuses_what_it_does_not_compute():
    x = minitorch.ones(2, 3, 4, device=DEVICE)
    with pytest.raises(ValueError, match="norm: p must be 1, 2, 'fro', inf or -inf, got 3"):
        x.norm(p=3)
    with pytest.raises(RuntimeError, match=r"p='fro' is over all dims, one or two.*\(0, 1, 2\)"):
        x.norm(dim=(0, 1, 2))
    with pytest.raises(RuntimeError):                   # torch refuses that one too
        torch.ones(2, 3, 4).norm(dim=(0, 1, 2))
