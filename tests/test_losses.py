"""Every loss against PyTorch: as a function (``F.*``) and as a module (``nn.*Loss``).

One table row per loss and setting: the inputs to draw and the keyword arguments.  Each row runs
through ``torch_compare.check`` for every reduction, in float64 (tight) and float32 (torch's
default tolerances): the loss, the gradient of the input, and the gradient of the target where
PyTorch gives one (the regression and binary losses).  Float64 rows also go through
``minitorch.gradcheck``, and the derivatives of the derivatives (``create_graph=True``) through
``check_higher_order`` (every row and reduction; third order on a few) and
``minitorch.gradgradcheck``.  Then the edge cases: huge logits, ignored targets, out-of-range
classes, bad shapes.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import minitorch
from minitorch import nn
from minitorch.nn import functional as F
from torch_compare import DEVICE, TORCH_DEVICE, check, check_higher_order

RNG = np.random.default_rng(0)


def logits(*shape):
    return lambda dtype: RNG.standard_normal(shape).astype(dtype) * 2


def classes(n_classes, *shape, ignore=None):
    """Class indices; with ``ignore``, about a quarter of them set to that index."""
    def draw(dtype):
        t = RNG.integers(0, n_classes, shape)
        if ignore is not None:
            t[RNG.random(shape) < 0.25] = ignore
        return t
    return draw


def probabilities(*shape):
    return lambda dtype: RNG.uniform(0.02, 0.98, shape).astype(dtype)


def targets01(*shape):
    return lambda dtype: RNG.integers(0, 2, shape).astype(dtype)


def normal(*shape):
    return lambda dtype: RNG.standard_normal(shape).astype(dtype)


WEIGHT5 = np.array([0.5, 2.0, 1.0, 0.1, 3.0])
POS_WEIGHT4 = np.array([1.0, 3.0, 0.5, 2.0])

# name, loss function name, nn module name, input makers, keyword arguments, target needs grad
LOSSES = [
    ("ce", "cross_entropy", "CrossEntropyLoss", [logits(6, 5), classes(5, 6)], {}, False),
    ("ce_weight", "cross_entropy", "CrossEntropyLoss", [logits(6, 5), classes(5, 6)],
     {"weight": WEIGHT5}, False),
    ("ce_ignore", "cross_entropy", "CrossEntropyLoss", [logits(8, 5), classes(5, 8, ignore=2)],
     {"ignore_index": 2, "weight": WEIGHT5}, False),
    ("ce_ignore_default", "cross_entropy", "CrossEntropyLoss",
     [logits(8, 5), classes(5, 8, ignore=-100)], {}, False),
    ("ce_smooth", "cross_entropy", "CrossEntropyLoss", [logits(6, 5), classes(5, 6)],
     {"label_smoothing": 0.1}, False),
    ("ce_smooth_weight_ignore", "cross_entropy", "CrossEntropyLoss",
     [logits(8, 5), classes(5, 8, ignore=-1)],
     {"label_smoothing": 0.2, "weight": WEIGHT5, "ignore_index": -1}, False),
    ("ce_spatial", "cross_entropy", "CrossEntropyLoss", [logits(2, 5, 3, 4), classes(5, 2, 3, 4)],
     {"weight": WEIGHT5, "label_smoothing": 0.05}, False),
    ("ce_probabilities", "cross_entropy", "CrossEntropyLoss", [logits(6, 5), probabilities(6, 5)],
     {"weight": WEIGHT5, "label_smoothing": 0.1}, True),
    ("ce_probabilities_spatial", "cross_entropy", "CrossEntropyLoss",
     [logits(2, 5, 3), probabilities(2, 5, 3)], {}, True),
    ("ce_unbatched", "cross_entropy", "CrossEntropyLoss", [logits(5), classes(5)], {}, False),
    ("nll", "nll_loss", "NLLLoss", [logits(6, 5), classes(5, 6)], {}, False),
    ("nll_weight_ignore", "nll_loss", "NLLLoss", [logits(8, 5), classes(5, 8, ignore=0)],
     {"weight": WEIGHT5, "ignore_index": 0}, False),
    ("nll_spatial", "nll_loss", "NLLLoss", [logits(2, 5, 3), classes(5, 2, 3)], {}, False),
    ("bce_logits", "binary_cross_entropy_with_logits", "BCEWithLogitsLoss",
     [logits(5, 4), probabilities(5, 4)], {}, True),
    ("bce_logits_pos_weight", "binary_cross_entropy_with_logits", "BCEWithLogitsLoss",
     [logits(5, 4), targets01(5, 4)], {"pos_weight": POS_WEIGHT4}, True),
    ("bce_logits_weight", "binary_cross_entropy_with_logits", "BCEWithLogitsLoss",
     [logits(5, 4), probabilities(5, 4)],
     {"weight": np.linspace(0.5, 2, 4), "pos_weight": POS_WEIGHT4}, True),
    ("bce", "binary_cross_entropy", "BCELoss", [probabilities(5, 4), probabilities(5, 4)], {},
     True),
    ("bce_weight", "binary_cross_entropy", "BCELoss", [probabilities(3, 4), targets01(3, 4)],
     {"weight": np.linspace(0.5, 2, 4)}, True),
    ("mse", "mse_loss", "MSELoss", [normal(4, 3), normal(4, 3)], {}, True),
    ("l1", "l1_loss", "L1Loss", [normal(4, 3), normal(4, 3)], {}, True),
    ("smooth_l1", "smooth_l1_loss", "SmoothL1Loss", [normal(6, 5), normal(6, 5)], {}, True),
    ("smooth_l1_beta", "smooth_l1_loss", "SmoothL1Loss", [normal(6, 5), normal(6, 5)],
     {"beta": 0.3}, True),
    ("smooth_l1_beta0", "smooth_l1_loss", "SmoothL1Loss", [normal(6, 5), normal(6, 5)],
     {"beta": 0.0}, True),
]
IDS = [row[0] for row in LOSSES]
DTYPES = [np.float64, np.float32]


def _kwargs(kwargs, dtype, framework):
    """The row's keyword arguments with arrays made into each framework's tensors."""
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, np.ndarray):
            value = value.astype(dtype)
            value = (minitorch.tensor(value, device=DEVICE) if framework == "mt"
                     else torch.tensor(value, device=TORCH_DEVICE))
        out[key] = value
    return out


def _log_probs_if_nll(name, arrays):
    """nll_loss takes log-probabilities: turn the row's logits into them."""
    if name.startswith("nll"):
        x = arrays[0]
        shifted = x - x.max(axis=1, keepdims=True)
        arrays[0] = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return arrays


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,function,module,makers,kwargs,target_grad", LOSSES, ids=IDS)
def test_loss_function_matches_torch(name, function, module, makers, kwargs, target_grad,
                                     dtype, reduction):
    arrays = _log_probs_if_nll(name, [make(dtype) for make in makers])
    mt_kwargs = _kwargs(kwargs, dtype, "mt")
    torch_kwargs = _kwargs(kwargs, dtype, "torch")
    check(lambda x, t: getattr(F, function)(x, t, reduction=reduction, **mt_kwargs),
          lambda x, t: getattr(TF, function)(x, t, reduction=reduction, **torch_kwargs),
          arrays, requires_grad=[True, target_grad])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,function,module,makers,kwargs,target_grad", LOSSES, ids=IDS)
def test_loss_module_matches_torch(name, function, module, makers, kwargs, target_grad, dtype):
    arrays = _log_probs_if_nll(name, [make(dtype) for make in makers])
    mt_loss = getattr(nn, module)(**_kwargs(kwargs, dtype, "mt"))
    torch_loss = getattr(torch.nn, module)(**_kwargs(kwargs, dtype, "torch"))
    assert repr(mt_loss) == repr(torch_loss)
    assert list(mt_loss.state_dict()) == list(torch_loss.state_dict())
    check(mt_loss, torch_loss, arrays, requires_grad=[True, target_grad])


@pytest.mark.parametrize("name,function,module,makers,kwargs,target_grad", LOSSES, ids=IDS)
def test_loss_gradcheck(name, function, module, makers, kwargs, target_grad):
    arrays = _log_probs_if_nll(name, [make(np.float64) for make in makers])
    x = minitorch.tensor(arrays[0], requires_grad=True)
    t = minitorch.tensor(arrays[1], requires_grad=target_grad)
    mt_kwargs = _kwargs(kwargs, np.float64, "mt")
    for reduction in ("mean", "none"):
        assert minitorch.gradcheck(
            lambda a, b: getattr(F, function)(a, b, reduction=reduction, **mt_kwargs), [x, t])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name,function,module,makers,kwargs,target_grad", LOSSES, ids=IDS)
def test_loss_second_order(name, function, module, makers, kwargs, target_grad, reduction):
    """Second derivatives (create_graph=True) against torch's, float64: with respect to the
    input, the target where it takes a gradient, and the upstream gradient."""
    arrays = _log_probs_if_nll(name, [make(np.float64) for make in makers])
    mt_kwargs, torch_kwargs = _kwargs(kwargs, np.float64, "mt"), _kwargs(kwargs, np.float64, "torch")
    check_higher_order(lambda x, t: getattr(F, function)(x, t, reduction=reduction, **mt_kwargs),
                       lambda x, t: getattr(TF, function)(x, t, reduction=reduction,
                                                          **torch_kwargs),
                       arrays, requires_grad=[True, target_grad])


THIRD_ORDER = ["ce", "ce_smooth_weight_ignore", "ce_spatial", "ce_probabilities", "nll_spatial",
               "bce_logits_pos_weight", "bce", "mse", "smooth_l1_beta"]


@pytest.mark.parametrize("name,function,module,makers,kwargs,target_grad",
                         [row for row in LOSSES if row[0] in THIRD_ORDER], ids=THIRD_ORDER)
def test_loss_third_order(name, function, module, makers, kwargs, target_grad):
    arrays = _log_probs_if_nll(name, [make(np.float64) for make in makers])
    mt_kwargs, torch_kwargs = _kwargs(kwargs, np.float64, "mt"), _kwargs(kwargs, np.float64, "torch")
    check_higher_order(lambda x, t: getattr(F, function)(x, t, **mt_kwargs),
                       lambda x, t: getattr(TF, function)(x, t, **torch_kwargs),
                       arrays, requires_grad=[True, target_grad], order=3)


@pytest.mark.parametrize("name,function,module,makers,kwargs,target_grad", LOSSES, ids=IDS)
def test_loss_gradgradcheck(name, function, module, makers, kwargs, target_grad):
    arrays = _log_probs_if_nll(name, [make(np.float64) for make in makers])
    x = minitorch.tensor(arrays[0], device=DEVICE, requires_grad=True)
    t = minitorch.tensor(arrays[1], device=DEVICE, requires_grad=target_grad)
    mt_kwargs = _kwargs(kwargs, np.float64, "mt")
    for reduction in ("mean", "none"):
        assert minitorch.gradgradcheck(
            lambda a, b: getattr(F, function)(a, b, reduction=reduction, **mt_kwargs), [x, t])


@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_is_stable_for_huge_logits(dtype):
    x = np.array([[1e4, -1e4, 0.0, 50.0], [-1e4, 1e4, -50.0, 3.0]], dtype=dtype)
    y = np.array([[0.0, 1.0, 1.0, 0.0], [0.0, 1.0, 0.5, 1.0]], dtype=dtype)
    out = check(lambda a, b: F.binary_cross_entropy_with_logits(
                    a, b, pos_weight=minitorch.tensor(np.array([2.0, 1, 1, 3], dtype=dtype))),
                lambda a, b: TF.binary_cross_entropy_with_logits(
                    a, b, pos_weight=torch.tensor(np.array([2.0, 1, 1, 3], dtype=dtype))),
                [x, y])
    assert np.isfinite(out[0].item())


def test_cross_entropy_huge_logits_are_finite():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5.0]])
    check(F.cross_entropy, TF.cross_entropy, [x, np.array([1, 0])])


@pytest.mark.parametrize("bad", [5, 7, -3])
def test_cross_entropy_out_of_range_target_names_the_value(bad):
    x = minitorch.randn(3, 5)
    target = minitorch.tensor([0, bad, 1])
    # On the GPU the check is read with the next value that leaves the device: read the loss.
    with pytest.raises(IndexError, match=f"target class {bad} is out of range for 5 classes"):
        F.cross_entropy(x, target).item()
    with pytest.raises(IndexError, match=f"target class {bad}"):
        nn.NLLLoss()(x, target).item()


def test_ignored_target_outside_the_class_range_is_accepted():
    # ignore_index=-100 lies outside [0, C), but marks "no label", not a bad label
    x = np.random.default_rng(3).standard_normal((4, 3))
    check(F.cross_entropy, TF.cross_entropy, [x, np.array([0, -100, 2, -100])])


def test_class_target_shape_and_dtype_errors():
    x = minitorch.randn(4, 3)
    with pytest.raises(ValueError, match=r"expects a target of shape \(4,\), got \(3,\)"):
        F.cross_entropy(x, minitorch.tensor([0, 1, 2]))
    with pytest.raises(RuntimeError, match="dtype int64 or uint8 .* got float32"):
        F.nll_loss(x, minitorch.zeros(4))
    with pytest.raises(RuntimeError, match=r"must have the input's shape \(4, 3\), got \(4,\)"):
        F.cross_entropy(x, minitorch.zeros(4))
    with pytest.raises(ValueError, match="one entry per class"):
        F.cross_entropy(x, minitorch.tensor([0, 1, 2, 0]), weight=minitorch.ones(4))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(x, x, reduction="avg")


def test_binary_losses_check_their_inputs():
    p = minitorch.tensor([[0.5, 1.5]])
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(p, minitorch.tensor([[0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"target size \(2,\) must be the same as input size"):
        F.binary_cross_entropy_with_logits(minitorch.randn(1, 2), minitorch.ones(2))


def test_bce_clamps_log_at_minus_100_like_torch():
    check(F.binary_cross_entropy, TF.binary_cross_entropy,
          [np.array([0.0, 1.0, 0.5, 1e-50]), np.array([1.0, 0.0, 0.5, 1.0])],
          requires_grad=[False, True])


def test_legacy_size_average_and_reduce_flags():
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert nn.MSELoss(reduce=False).reduction == "none"
    assert nn.CrossEntropyLoss(None, True, -100, True).reduction == "mean"


def test_every_target_ignored_gives_nan_mean_like_torch():
    x = np.random.default_rng(4).standard_normal((3, 4))
    with np.errstate(invalid="ignore"):
        out = check(lambda a, t: F.cross_entropy(a, t, ignore_index=1),
                    lambda a, t: TF.cross_entropy(a, t, ignore_index=1),
                    [x, np.array([1, 1, 1])], check_grad=False)
    assert np.isnan(out[0].item())
