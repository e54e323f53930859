"""Tensors as values: creating them, their dtypes, converting them, printing them.

Tables again: each row builds a tensor the same way in minitorch and in torch (one function
taking the library), and the test compares dtype, shape and values.  The dtype rows pin down
PyTorch's inference and promotion rules: Python floats give float32, ``int + 1.5`` is float32,
``float32 * float64`` is float64 but ``float32 [3] * float64 []`` stays float32, ``int / int``
is float32, ``exp(int)`` is float32.
"""
import numpy as np
import pytest
import torch

import minitorch
from torch_compare import DEVICE, TORCH_DEVICE, assert_close


def compare(mt_value, torch_value, what):
    """Same dtype (by name), same shape, same values."""
    assert str(mt_value.dtype) == str(torch_value.dtype).replace("torch.", ""), \
        f"{what}: minitorch dtype {mt_value.dtype}, torch {torch_value.dtype}"
    assert_close(mt_value, torch_value, rtol=1e-6, atol=1e-6, what=what)


# ---- creation functions, with no dtype given: inference must match torch's -----------------------------
def _device(lib):
    return DEVICE if lib is minitorch else TORCH_DEVICE


CREATION = [
    ("tensor_float", lambda lib: lib.tensor(1.5)),
    ("tensor_int", lambda lib: lib.tensor(2)),
    ("tensor_bool", lambda lib: lib.tensor([True, False])),
    ("tensor_mixed_list", lambda lib: lib.tensor([1, 2.5])),
    ("tensor_nested", lambda lib: lib.tensor([[1, 2], [3, 4]])),
    ("tensor_empty", lambda lib: lib.tensor([])),
    ("tensor_float64_array", lambda lib: lib.tensor(np.array([1.0, 2.0]))),
    ("tensor_int32_array", lambda lib: lib.tensor(np.array([1, 2], dtype=np.int32))),
    ("tensor_dtype", lambda lib: lib.tensor([1, 2], dtype=lib.float64)),
    ("tensor_of_tensor", lambda lib: lib.tensor(lib.tensor([1.5]).double())),
    ("tensor_of_0d_tensors", lambda lib: lib.tensor([lib.tensor(1.5), lib.tensor(2.5)])),
    ("zeros", lambda lib: lib.zeros(2, 3, device=_device(lib))),
    ("zeros_tuple", lambda lib: lib.zeros((2, 3), device=_device(lib))),
    ("zeros_empty", lambda lib: lib.zeros(0, 3, device=_device(lib))),
    ("ones_int", lambda lib: lib.ones(2, dtype=lib.int64, device=_device(lib))),
    ("full_float", lambda lib: lib.full((2, 3), 1.5, device=_device(lib))),
    ("full_int", lambda lib: lib.full((2,), 7, device=_device(lib))),
    ("full_bool", lambda lib: lib.full((2,), True, device=_device(lib))),
    ("arange_int", lambda lib: lib.arange(5, device=_device(lib))),
    ("arange_start_end", lambda lib: lib.arange(2, 7, 2, device=_device(lib))),
    ("arange_float_step", lambda lib: lib.arange(0, 1, 0.25, device=_device(lib))),
    ("arange_float_start", lambda lib: lib.arange(1.0, 4, device=_device(lib))),
    ("arange_dtype", lambda lib: lib.arange(5, dtype=lib.float64, device=_device(lib))),
    ("zeros_like", lambda lib: lib.zeros_like(lib.tensor([[1, 2]], device=_device(lib)))),
    ("ones_like", lambda lib: lib.ones_like(lib.tensor([1.0], device=_device(lib)).double())),
    ("full_like", lambda lib: lib.full_like(lib.tensor([1.0, 2.0], device=_device(lib)), 3)),
]


@pytest.mark.parametrize("name, make", CREATION, ids=[c[0] for c in CREATION])
def test_creation_matches_torch(name, make):
    made = make(minitorch)
    assert made.device == DEVICE
    compare(made, make(torch), name)
    assert made.is_leaf and not made.requires_grad


# ---- dtype promotion: what an op between two dtypes gives ---------------------------------------------
def _ints(lib):
    return lib.tensor([1, 2, 3], device=_device(lib))


def _floats(lib):
    return lib.tensor([0.5, 1.5, 2.5], device=_device(lib))


PROMOTION = [
    ("int_plus_float_number", lambda lib: _ints(lib) + 1.5),
    ("int_plus_int_number", lambda lib: _ints(lib) + 2),
    ("float_number_minus_int", lambda lib: 1.5 - _ints(lib)),
    ("int32_times_float_number", lambda lib: _ints(lib).int() * 2.5),
    ("int32_plus_int64", lambda lib: _ints(lib).int() + _ints(lib)),
    ("float32_times_float64", lambda lib: _floats(lib) * _floats(lib).double()),
    ("float32_times_float64_0d", lambda lib: _floats(lib) * lib.tensor(2.0).double().to(
        _device(lib))),
    ("int_plus_float64_0d", lambda lib: _ints(lib) + lib.tensor(0.5).double().to(_device(lib))),
    ("float64_plus_int_number", lambda lib: _floats(lib).double() + 1),
    ("int_div_int", lambda lib: _ints(lib) / _ints(lib)),
    ("int_div_number", lambda lib: _ints(lib) / 2),
    ("number_div_int", lambda lib: 3 / _ints(lib)),
    ("int_times_float", lambda lib: _ints(lib) * _floats(lib)),
    ("bool_plus_int_number", lambda lib: (_ints(lib) > 1) + 1),
    ("bool_times_float_number", lambda lib: (_ints(lib) > 1) * 1.5),
    ("bool_times_float", lambda lib: (_ints(lib) > 1) * _floats(lib)),
    ("int_pow_int", lambda lib: _ints(lib) ** 2),
    ("int_pow_float", lambda lib: _ints(lib) ** 0.5),
    ("number_pow_int", lambda lib: 2 ** _ints(lib)),
    ("float_number_pow_int", lambda lib: 2.0 ** _ints(lib)),
    ("int_compare_float_number", lambda lib: _ints(lib) > 1.5),
    ("float32_compare_float64", lambda lib: _floats(lib) >= _floats(lib).double()),
    ("exp_int", lambda lib: _ints(lib).exp()),
    ("sqrt_int", lambda lib: _ints(lib).sqrt()),
    ("sigmoid_int", lambda lib: _ints(lib).sigmoid()),
    ("abs_int", lambda lib: (-_ints(lib)).abs()),
    ("relu_int", lambda lib: (1 - _ints(lib)).relu()),
    ("sum_bool", lambda lib: (_ints(lib) > 1).sum()),
    ("sum_int32", lambda lib: _ints(lib).int().sum()),
    ("max_int", lambda lib: _ints(lib).max()),
    ("matmul_int", lambda lib: _ints(lib) @ _ints(lib)),
    ("maximum_int_float", lambda lib: lib.maximum(_ints(lib), _floats(lib))),
    ("where_int_float", lambda lib: lib.where(_ints(lib) > 1, _ints(lib), _floats(lib))),
    ("where_float_number", lambda lib: lib.where(_ints(lib) > 1, _floats(lib), 0.0)),
    ("where_two_floats", lambda lib: lib.where(_ints(lib) > 1, 1.0, 0.0)),
    ("where_two_ints", lambda lib: lib.where(_ints(lib) > 1, 1, 0)),
    ("cat_int_float", lambda lib: lib.cat([_ints(lib), _floats(lib)])),
    ("stack_int_float64", lambda lib: lib.stack([_ints(lib), _floats(lib).double()])),
    ("masked_fill_int", lambda lib: _ints(lib).masked_fill(_ints(lib) > 1, 0)),
    ("float_to_int", lambda lib: (_floats(lib) * -1.7).long()),
    ("int_to_float", lambda lib: _ints(lib).float()),
    ("to_dtype_of_tensor", lambda lib: _ints(lib).to(_floats(lib).double())),
    ("bool_to_int", lambda lib: (_ints(lib) > 1).int()),
]


@pytest.mark.parametrize("name, make", PROMOTION, ids=[p[0] for p in PROMOTION])
def test_dtype_promotion_matches_torch(name, make):
    compare(make(minitorch), make(torch), name)


# ---- Tensor methods spelled as in torch (the ops behind them are tested in test_ops.py) -------------
def _matrix(lib):
    return lib.tensor([[0.5, -1.5, 2.0], [1.0, 3.0, -0.5]], device=_device(lib))


METHODS = [
    ("ne", lambda x: x.ne(1.0)), ("lt", lambda x: x.lt(1.0)), ("le", lambda x: x.le(1.0)),
    ("gt", lambda x: x.gt(1.0)), ("ge", lambda x: x.ge(1.0)), ("eq", lambda x: x.eq(x)),
    ("logical_not", lambda x: x.gt(0).logical_not()), ("invert", lambda x: ~(x > 0)),
    ("and_or", lambda x: ((x > 0) & (x < 2)) | (x < -1)),
    ("t", lambda x: x.t()), ("t_vector", lambda x: x[0].t()), ("T", lambda x: x.T),
    ("view_as", lambda x: x.view_as(x.t())), ("expand_as", lambda x: x[:1].expand_as(x)),
    ("max_positional_dim", lambda x: x.max(1)[0]), ("min_other", lambda x: x.min(x.t().t() * 0)),
    ("half", lambda x: x.half()), ("double", lambda x: x.double()),
    ("size_unpacked", lambda x: x.reshape(x.size(1), x.size(0))),
    ("sum_positional", lambda x: x.sum(0, True)), ("var_positional", lambda x: x.var(1, False)),
    ("permute_list", lambda x: x[None].permute([2, 0, 1])), ("clamp_min", lambda x: x.clamp(0)),
]


@pytest.mark.parametrize("name, call", METHODS, ids=[m[0] for m in METHODS])
def test_methods_match_torch(name, call):
    compare(call(_matrix(minitorch)), call(_matrix(torch)), name)


# ---- random numbers -------------------------------------------------------------------------------------
def _standard_normal(v):
    return abs(v.mean()) < 0.2 and 0.85 < v.std() < 1.15


RANDOM = [  # name, draw, shape, dtype, what the values must look like
    ("randn", lambda: minitorch.randn(200, 3, device=DEVICE), (200, 3), "float32",
     _standard_normal),
    ("randn_float64", lambda: minitorch.randn(500, dtype=minitorch.float64), (500,), "float64",
     _standard_normal),
    ("rand", lambda: minitorch.rand((100,), device=DEVICE), (100,), "float32",
     lambda v: v.min() >= 0 and v.max() < 1 and 0.4 < v.mean() < 0.6),
    ("randint", lambda: minitorch.randint(3, 9, (50,), device=DEVICE), (50,), "int64",
     lambda v: set(v.tolist()) == set(range(3, 9))),
    ("randint_high_only", lambda: minitorch.randint(4, (50,)), (50,), "int64",
     lambda v: set(v.tolist()) == set(range(4))),
    ("randperm", lambda: minitorch.randperm(10, device=DEVICE), (10,), "int64",
     lambda v: sorted(v.tolist()) == list(range(10))),
]


@pytest.mark.parametrize("name, draw, shape, dtype, plausible", RANDOM,
                         ids=[r[0] for r in RANDOM])
def test_random_tensors(name, draw, shape, dtype, plausible):
    minitorch.manual_seed(123)
    first = draw()
    assert first.shape == shape and str(first.dtype) == dtype
    minitorch.manual_seed(123)
    np.testing.assert_array_equal(first.numpy(), draw().numpy())  # the seed fixes the numbers
    assert not np.array_equal(first.numpy(), draw().numpy())      # and the stream moves on
    assert plausible(first.numpy()), f"{name}: implausible values {first.numpy()[:10]}"


def test_random_in_place_fills_are_seeded():
    minitorch.manual_seed(7)
    a = minitorch.zeros(4, device=DEVICE).normal_()
    b = minitorch.zeros(4, dtype=minitorch.float64, device=DEVICE).uniform_(-2, 2)
    minitorch.manual_seed(7)
    np.testing.assert_array_equal(a.numpy(), minitorch.zeros(4, device=DEVICE).normal_().numpy())
    assert a.dtype == minitorch.float32 and b.dtype == minitorch.float64
    assert (b.numpy() >= -2).all() and (b.numpy() < 2).all()


# ---- leaving minitorch: numpy, item, tolist; sharing memory with NumPy --------------------------------
def test_from_numpy_shares_memory():
    array = np.array([1.0, 2.0, 3.0])
    t = minitorch.from_numpy(array)  # always a CPU tensor: it wraps the NumPy array itself
    assert t.dtype == minitorch.float64 and t.device == "cpu"
    array[0] = 10.0
    assert t.tolist() == [10.0, 2.0, 3.0]
    with minitorch.no_grad():
        t[1] = 20.0
    assert array[1] == 20.0
    with pytest.raises(TypeError, match="numpy.ndarray, got list"):
        minitorch.from_numpy([1.0, 2.0])


def test_tensor_copies_its_data():
    array = np.array([1.0, 2.0])
    t = minitorch.tensor(array, device=DEVICE)
    array[0] = 5.0
    assert t.tolist() == [1.0, 2.0]


CONVERSIONS = [
    ("item_float", lambda lib: lib.tensor([2.5]).item()),
    ("item_int", lambda lib: lib.tensor(3).item()),
    ("item_bool", lambda lib: (lib.tensor(3) > 2).item()),
    ("tolist_nested", lambda lib: lib.tensor([[1, 2], [3, 4]]).tolist()),
    ("tolist_float", lambda lib: lib.tensor([0.5, 1.5]).tolist()),
    ("tolist_0d", lambda lib: lib.tensor(1.5).tolist()),
    ("float", lambda lib: float(lib.tensor([2.5]))),
    ("int", lambda lib: int(lib.tensor([7]))),
    ("len", lambda lib: len(lib.tensor([[1, 2], [3, 4], [5, 6]]))),
    ("size", lambda lib: tuple(lib.zeros(2, 3).size())),
    ("size_dim", lambda lib: lib.zeros(2, 3).size(-1)),
    ("dim", lambda lib: lib.zeros(2, 3).dim()),
    ("numel", lambda lib: lib.zeros(2, 3).numel()),
    ("is_floating_point", lambda lib: (lib.zeros(2).is_floating_point(),
                                       lib.arange(2).is_floating_point())),
    ("as_index", lambda lib: [10, 20, 30][lib.tensor(1)]),
    ("format_0d", lambda lib: f"{lib.tensor(1.23456):.3f} {lib.tensor(7):>4}"),
    ("iterate_rows", lambda lib: [row.tolist() for row in lib.tensor([[1, 2], [3, 4]])]),
    ("unpack", lambda lib: [v.item() for v in lib.tensor([5, 6])]),
    ("contains", lambda lib: (3 in lib.tensor([[1, 2], [3, 4]]), 5 in lib.tensor([1, 2]))),
]


@pytest.mark.parametrize("name, make", CONVERSIONS, ids=[c[0] for c in CONVERSIONS])
def test_conversions_to_python_match_torch(name, make):
    ours, theirs = make(minitorch), make(torch)
    assert ours == theirs and type(ours) is type(theirs), f"{name}: {ours!r} vs {theirs!r}"


def test_numpy_returns_an_array_with_the_dtype():
    t = minitorch.tensor([[1.0, 2.0]], dtype=minitorch.float64, device=DEVICE)
    array = t.numpy()
    assert isinstance(array, np.ndarray) and array.dtype == np.float64
    np.testing.assert_array_equal(array, [[1.0, 2.0]])
    np.testing.assert_array_equal(minitorch.tensor([1.0], requires_grad=True).detach().numpy(), [1])


def test_to_moves_and_casts():
    t = minitorch.tensor([1.7, -2.5], device=DEVICE)
    assert t.to(DEVICE) is t and t.to(minitorch.float32) is t
    assert t.to(minitorch.float64).dtype == minitorch.float64
    assert t.to(dtype=minitorch.int64).tolist() == [1, -2]  # truncation toward zero, as torch
    both = t.to("cpu", minitorch.float64)
    assert both.device == "cpu" and both.dtype == minitorch.float64
    assert t.type(minitorch.float64).dtype == minitorch.float64
    assert t.cpu().device == "cpu"


# ---- any / all are tensors, as in torch ---------------------------------------------------------------
LOGICAL = [
    ("any", lambda x: x.any()), ("all", lambda x: x.all()),
    ("any_dim", lambda x: x.any(dim=1)), ("all_dim_keepdim", lambda x: x.all(0, keepdim=True)),
    ("any_negative_dim", lambda x: x.any(-1)), ("all_float", lambda x: (x * 1.5).all(dim=0)),
]


@pytest.mark.parametrize("name, reduce", LOGICAL, ids=[r[0] for r in LOGICAL])
def test_any_all_match_torch(name, reduce):
    values = [[0, 1, 2], [3, 4, 5]]
    ours = reduce(minitorch.tensor(values, device=DEVICE))
    compare(ours, reduce(torch.tensor(values)), name)
    assert isinstance(ours, minitorch.Tensor)


# ---- repr ---------------------------------------------------------------------------------------------
def _cpu(make, *args, **kwargs):
    return lambda: make(*args, device="cpu", **kwargs)


REPRS = [
    (_cpu(minitorch.tensor, [1.0, 2.0]), "tensor([1., 2.])"),
    (_cpu(minitorch.tensor, [[1, 2], [3, 4]]), "tensor([[1, 2],\n        [3, 4]])"),
    (_cpu(minitorch.tensor, [True, False]), "tensor([ True, False])"),
    (_cpu(minitorch.tensor, [1.0, 2.0], dtype=minitorch.float64),
     "tensor([1., 2.], dtype=float64)"),
    (_cpu(minitorch.tensor, [1, 2], dtype=minitorch.int32), "tensor([1, 2], dtype=int32)"),
    (_cpu(minitorch.tensor, [1.0], requires_grad=True), "tensor([1.], requires_grad=True)"),
    (lambda: minitorch.tensor([1.0], device="cpu", requires_grad=True) * 2,
     "tensor([2.], grad_fn=<MulBackward>)"),
    (_cpu(minitorch.zeros, 0), "tensor([])"),
]


@pytest.mark.parametrize("make, expected", REPRS, ids=[r[1].split("(", 1)[1][:20] for r in REPRS])
def test_repr(make, expected):
    assert repr(make()) == expected


def test_repr_names_a_gpu_device():
    """As torch prints a GPU tensor: ``tensor([1.], device='cuda:0')``; nothing on the CPU."""
    t = minitorch.tensor([1.0], device=DEVICE)
    assert ("device='cuda:0'" in repr(t)) == (DEVICE == "cuda")
    assert "device" not in repr(t.cpu())


# ---- creation errors ----------------------------------------------------------------------------------
ERRORS = [
    ("unknown_device", lambda: minitorch.zeros(2, device="tpu"), ValueError,
     r"unknown device 'tpu': expected one of \('cpu', 'cuda'\)"),
    ("int_requires_grad", lambda: minitorch.zeros(2, dtype=minitorch.int64, requires_grad=True),
     RuntimeError, "only floating-point tensors can require gradients, got dtype int64"),
    ("wrap_a_list", lambda: minitorch.Tensor([1.0]), TypeError,
     "Tensor wraps a NumPy or CuPy array, got list"),
    ("len_0d", lambda: len(minitorch.tensor(1.0)), TypeError, "len\\(\\) of a 0-d tensor"),
    ("iterate_0d", lambda: list(minitorch.tensor(1.0)), TypeError, "iteration over a 0-d tensor"),
    ("index_float", lambda: [1, 2][minitorch.tensor(1.0)], TypeError, "integer tensors"),
    ("mean_int", lambda: minitorch.arange(3).mean(), RuntimeError,
     "mean\\(\\): expected a floating-point tensor, got dtype int64"),
    ("t_of_3d", lambda: minitorch.zeros(2, 3, 4).t(), RuntimeError,
     "t\\(\\) expects a tensor with <= 2 dimensions, got shape \\(2, 3, 4\\)"),
]


@pytest.mark.parametrize("name, make, error, message", ERRORS, ids=[e[0] for e in ERRORS])
def test_creation_errors(name, make, error, message):
    with pytest.raises(error, match=message):
        make()


# ---- .data: PyTorch's detached alias over the same values ------------------------------------------------
def _data_through_alias(lib):
    """Old-style PyTorch code changes a parameter through ``.data``; the change must land."""
    w = lib.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True, device=_device(lib))
    alias = w.data
    assert not alias.requires_grad and alias.grad_fn is None
    alias.add_(1.0)       # allowed: the alias does not require grad
    w.data.mul_(2.0)      # a fresh alias each time, all over the same storage
    return w.detach()


def _data_assignment(lib):
    """``p.data = t`` swaps the values (any shape) and keeps the tensor a leaf that requires grad."""
    w = lib.tensor([1.0, 2.0], requires_grad=True, device=_device(lib))
    w.data = lib.tensor([[5.0, 6.0, 7.0]], device=_device(lib))
    assert w.requires_grad and w.is_leaf
    return (w * 2).sum() + w.detach().sum()


@pytest.mark.parametrize("make", [_data_through_alias, _data_assignment], ids=["alias", "assignment"])
def test_data_is_a_detached_alias_as_in_torch(make):
    compare(make(minitorch).detach(), make(torch).detach(), make.__name__)


def test_data_refuses_a_non_tensor():
    w = minitorch.zeros(2, requires_grad=True)
    with pytest.raises(TypeError, match="expected a Tensor, got list"):
        w.data = [1.0, 2.0]
