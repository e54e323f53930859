"""Li et al.'s loss-landscape tools (``minitorch/vision/landscape.py``) against PyTorch: filter
normalisation against the authors' algorithm on torch tensors, the loss on a grid of weights
against the torch twin of the net loaded with the same moved weights, the Hessian-vector
product (gradients of gradients) against torch's double backward and the finite-difference one
against it where no ReLU kink lies in reach, Lanczos against the full eigendecomposition, and
the curvature of drawn surfaces against closed forms."""
import numpy as np
import pytest
import torch

import minitorch
from minitorch import backend, nn
from minitorch.vision.landscape import (
    filter_normalize, flatten, hessian_vector_product, hessian_vector_product_by_differences,
    lanczos, loss_surface, mean_loss, random_direction, surface_curvature, unflatten)
from minitorch.vision.models.cifar_resnet import CifarResNet
from torch_compare import DEVICE, assert_close, to_numpy
from torch_twins_papers import (
    TorchCifarResNet, torch_filter_normalize, torch_hessian_vector_product)


def on_device(arrays):
    return [backend.to_device(np.asarray(a), DEVICE) for a in arrays]


SHAPES = [  # (what, shape)
    ("conv", (4, 3, 3, 3)), ("1×1 conv", (6, 2, 1, 1)), ("linear", (5, 7)),
    ("batchnorm / bias", (4,)), ("one filter", (1, 2, 3, 3)),
]


@pytest.mark.parametrize("ignore_biasbn", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_filter_normalize_is_the_authors(dtype, ignore_biasbn):
    rng = np.random.default_rng(0)
    directions = [rng.standard_normal(s).astype(dtype) for _, s in SHAPES]
    weights = [rng.standard_normal(s).astype(dtype) * rng.uniform(0.1, 3) for _, s in SHAPES]
    weights[4][0] = 0.0  # a dead filter: its direction becomes 0 too
    ours = filter_normalize(on_device(directions), on_device(weights), ignore_biasbn)
    theirs = torch_filter_normalize([torch.tensor(d) for d in directions],
                                    [torch.tensor(w) for w in weights], ignore_biasbn)
    tol = dict(rtol=1e-12, atol=1e-14) if dtype == np.float64 else dict(rtol=1e-6, atol=1e-7)
    for (what, _), a, b in zip(SHAPES, ours, theirs):
        assert a.dtype == dtype, what
        assert_close(a, b, what=what, **tol)


def test_filter_normalize_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        filter_normalize(on_device([np.ones((2, 3))]), on_device([np.ones((3, 2))]))


def tiny_net(residual, seed=0, n=2, widths=(2, 3, 4)):
    """A 6n + 2-layer net (default 14 layers of widths (2, 3, 4)) on 1-channel 8×8 images,
    3 classes, float64, with batchnorm statistics made up (as after training)."""
    minitorch.manual_seed(seed)
    model = CifarResNet(n, widths, residual, in_channels=1, num_classes=3).double()
    rng = np.random.default_rng(seed)
    with minitorch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(rng.uniform(0.5, 1.5, m.weight.shape))
                m.bias.copy_(rng.uniform(-0.2, 0.2, m.bias.shape))
                m.running_mean.copy_(rng.uniform(-0.1, 0.1, m.running_mean.shape))
                m.running_var.copy_(rng.uniform(0.5, 1.5, m.running_var.shape))
    return model.to(DEVICE)


def twin_of(model, residual):
    twin = TorchCifarResNet(model.n, model.widths, residual, in_channels=1,
                            num_classes=3).double()
    twin.load_state_dict({k: torch.tensor(to_numpy(v)) for k, v in model.state_dict().items()})
    return twin.eval()


def tiny_batches(seed=0, sizes=(5, 3)):
    rng = np.random.default_rng(seed)
    arrays = [(rng.standard_normal((n, 1, 8, 8)), rng.integers(0, 3, n)) for n in sizes]
    mt = [(minitorch.tensor(x, device=DEVICE), minitorch.tensor(y, device=DEVICE))
          for x, y in arrays]
    return mt, arrays


def test_random_direction_has_the_weights_filter_norms_and_no_biasbn_part():
    model = tiny_net(True)
    params = list(model.parameters())
    minitorch.manual_seed(1)
    first = random_direction(params)
    minitorch.manual_seed(1)
    again = random_direction(params)
    other = random_direction(params)
    for p, d, d2, d3 in zip(params, first, again, other):
        d, w = to_numpy(d), to_numpy(p)
        assert d.shape == w.shape
        assert (d == to_numpy(d2)).all()  # seeded: repeatable
        if w.ndim == 1:
            assert (d == 0).all()
            continue
        assert not (d == to_numpy(d3)).all()  # a new draw differs
        axes = tuple(range(1, w.ndim))
        np.testing.assert_allclose(np.sqrt((d ** 2).sum(axes)), np.sqrt((w ** 2).sum(axes)),
                                   rtol=1e-10)


@pytest.mark.parametrize("residual", [True, False])
def test_loss_surface_matches_the_twin_loaded_with_the_moved_weights(residual):
    model = tiny_net(residual)
    batches, arrays = tiny_batches()
    loss_func = nn.CrossEntropyLoss()
    params = list(model.parameters())
    before = [to_numpy(p).copy() for p in params]
    minitorch.manual_seed(2)
    delta, eta = random_direction(params), random_direction(params)
    alphas, betas = np.array([-1.0, 0.0, 0.5]), np.array([0.0, 2.0])
    surface = loss_surface(model, loss_func, batches, [delta, eta], [alphas, betas])
    line = loss_surface(model, loss_func, batches, [delta], [alphas])
    assert surface.shape == (2, 3) and line.shape == (3,)
    for p, b in zip(params, before):  # θ* is back
        assert (to_numpy(p) == b).all()
    assert model.training  # and the mode as it was

    names = [name for name, _ in model.named_parameters()]
    x = torch.tensor(np.concatenate([a for a, _ in arrays]))
    y = torch.tensor(np.concatenate([b for _, b in arrays]))
    for i, beta in enumerate(betas):
        for j, alpha in enumerate(alphas):
            twin = twin_of(model, residual)
            with torch.no_grad():
                for name, p, d, e in zip(names, params, delta, eta):
                    moved = to_numpy(p) + alpha * to_numpy(d) + beta * to_numpy(e)
                    twin.get_parameter(name).copy_(torch.tensor(moved))
                expected = torch.nn.functional.cross_entropy(twin(x), y).item()
            assert surface[i, j] == pytest.approx(expected, rel=1e-12), (alpha, beta)
            if beta == 0:
                assert line[j] == pytest.approx(expected, rel=1e-12), alpha
    assert surface[0, 1] == pytest.approx(mean_loss(model, loss_func, batches), rel=1e-14)


def test_loss_surface_refuses_directions_without_axes():
    model = tiny_net(True)
    with pytest.raises(ValueError, match="one or two directions"):
        loss_surface(model, nn.CrossEntropyLoss(), tiny_batches()[0], [], [])


# float32 is what the lesson's Lanczos runs in.  Its tolerance is looser than a single op's: H v
# goes through two passes over a 20-op net, and summing in another order moves float32 results
# by ~1e-7 relative at every op (in torch too), ~2e-6 of the largest entry by the end.
HVP_TOLERANCES = {np.float64: lambda scale: dict(rtol=1e-9, atol=1e-12 * scale),
                  np.float32: lambda scale: dict(rtol=1e-5, atol=1e-5 * scale)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("residual", [True, False])
def test_hessian_vector_product_matches_torchs_double_backward(residual, dtype):
    model = tiny_net(residual, seed=3)
    batches, arrays = tiny_batches(seed=3, sizes=(5, 3))
    if dtype == np.float32:
        model = model.float()
        batches = [(xb.float(), yb) for xb, yb in batches]
    params = list(model.parameters())
    rng = np.random.default_rng(4)
    vector = on_device([rng.standard_normal(p.shape).astype(dtype) for p in params])
    ours = hessian_vector_product(model, nn.CrossEntropyLoss(), batches, vector)
    assert model.training  # the mode as it was
    assert all(h.dtype == dtype for h in ours)
    twin = twin_of(model, residual).to(torch.float64 if dtype == np.float64 else torch.float32)
    theirs = torch_hessian_vector_product(
        twin, torch.tensor(np.concatenate([a for a, _ in arrays]).astype(dtype)),
        torch.tensor(np.concatenate([b for _, b in arrays])),
        [torch.tensor(to_numpy(v)) for v in vector])
    scale = max(float(np.abs(t.numpy()).max()) for t in theirs)
    for (name, _), a, b in zip(model.named_parameters(), ours, theirs):
        assert_close(a, b, **HVP_TOLERANCES[dtype](scale), what=f"H v, {name}")


@pytest.mark.parametrize("residual", [True, False])
def test_finite_differences_give_the_same_product_where_no_kink_is_in_reach(residual):
    """With ε so small that no ReLU input changes sign between θ* − εv and θ* + εv (the
    nearest is ~1e-5 from 0 in these nets), the difference quotient is the exact product; a
    crossed kink would add its jump / 2ε (see the docstring)."""
    model = tiny_net(residual, seed=3)
    batches, _ = tiny_batches(seed=3, sizes=(8,))
    vector = on_device([np.random.default_rng(4).standard_normal(p.shape)
                        for p in model.parameters()])
    exact = hessian_vector_product(model, nn.CrossEntropyLoss(), batches, vector)
    quotient = hessian_vector_product_by_differences(model, nn.CrossEntropyLoss(), batches,
                                                     vector, eps=1e-7)
    scale = max(float(np.abs(to_numpy(h)).max()) for h in exact)
    for (name, _), a, b in zip(model.named_parameters(), quotient, exact):
        # rounding: ~1e-16 · |∇L| / ε
        assert_close(a, b, rtol=1e-6, atol=1e-7 * scale, what=f"H v, {name}")


def test_lanczos_finds_the_extreme_eigenvalues_of_a_known_spectrum():
    rng = np.random.default_rng(5)
    n = 60
    spectrum = np.concatenate([[-3.0, -1.5], rng.uniform(-0.5, 2.0, n - 4), [8.0, 20.0]])
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    matrix = on_device([(q * spectrum) @ q.T])[0]
    start = on_device([rng.standard_normal(n)])[0]
    full = lanczos(lambda v: matrix @ v, start, steps=n)
    np.testing.assert_allclose(full, np.sort(spectrum), atol=1e-9)
    few = lanczos(lambda v: matrix @ v, start, steps=25)
    assert len(few) == 25
    assert few[-1] == pytest.approx(20.0, rel=1e-8) and few[-2] == pytest.approx(8.0, rel=1e-6)
    assert few[0] == pytest.approx(-3.0, rel=1e-6)
    with pytest.raises(ValueError, match="steps"):
        lanczos(lambda v: v, start, steps=0)


def test_lanczos_stops_on_an_invariant_subspace():
    start = on_device([np.array([1.0, 1.0, 0.0, 0.0])])[0]
    matrix = on_device([np.diag([2.0, 5.0, 7.0, 9.0])])[0]
    values = lanczos(lambda v: matrix @ v, start, steps=4)  # start lies in a 2-d eigenspace
    np.testing.assert_allclose(values, [2.0, 5.0], atol=1e-12)


def test_lanczos_over_hessian_vector_products_gives_the_hessians_extremes():
    model = tiny_net(True, seed=6, n=1, widths=(1, 2, 2))  # 184 weights: H is 184 × 184
    batches, arrays = tiny_batches(seed=6, sizes=(8,))
    params = list(model.parameters())
    loss_func = nn.CrossEntropyLoss()
    like = [p.array for p in params]
    start = flatten(on_device([np.random.default_rng(7).standard_normal(p.shape)
                               for p in params]))
    ritz = lanczos(lambda v: flatten(hessian_vector_product(model, loss_func, batches,
                                                            unflatten(v, like))),
                   start, steps=40)
    twin = twin_of(model, True)
    x, y = torch.tensor(arrays[0][0]), torch.tensor(arrays[0][1])
    shapes = [p.shape for p in twin.parameters()]
    n = sum(int(np.prod(shape)) for shape in shapes)
    columns = []  # H e_i for every unit vector e_i, by torch's exact double backward
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 184 tiny double backwards: a second thread only spins
    try:
        for i in range(n):
            unit = torch.zeros(n, dtype=torch.float64)
            unit[i] = 1.0
            pieces = torch.split(unit, [int(np.prod(shape)) for shape in shapes])
            hv = torch_hessian_vector_product(twin, x, y, [p.reshape(shape) for p, shape
                                                           in zip(pieces, shapes)])
            columns.append(torch.cat([h.reshape(-1) for h in hv]))
    finally:
        torch.set_num_threads(threads)
    assert n == 184
    eigenvalues = torch.linalg.eigvalsh(torch.stack(columns, dim=1))
    assert ritz[-1] == pytest.approx(eigenvalues[-1].item(), rel=1e-8)
    assert ritz[0] == pytest.approx(eigenvalues[0].item(), rel=1e-6, abs=1e-8)


def test_flatten_and_unflatten_are_inverse():
    arrays = on_device([np.arange(6.0).reshape(2, 3), np.arange(4.0), np.ones((1, 2, 2))])
    flat = flatten(arrays)
    assert flat.shape == (14,)
    for a, b in zip(unflatten(flat, arrays), arrays):
        assert (to_numpy(a) == to_numpy(b)).all()


def quadratic(a, b, c, alphas, betas):
    """f(α, β) = a α² + b α β + c β² on the grid (rows β): its Hessian is [[2a, b], [b, 2c]]
    everywhere, and central differences are exact on a quadratic."""
    al, be = np.meshgrid(alphas, betas, indexing="xy")
    return a * al ** 2 + b * al * be + c * be ** 2


@pytest.mark.parametrize("a,b,c,what", [
    (1.0, 0.0, 1.0, "a round bowl"), (1.0, 0.0, 0.25, "an oval bowl"),
    (1.0, 0.0, -0.5, "a saddle"), (0.5, 1.5, 0.5, "a saddle turned 45°"),
    (2.0, 1.0, 1.0, "a tilted bowl"),
])
def test_surface_curvature_of_quadratics(a, b, c, what):
    alphas, betas = np.linspace(-1, 1, 9), np.linspace(-2, 2, 7)
    low, high = surface_curvature(quadratic(a, b, c, alphas, betas), alphas, betas)
    expected = np.linalg.eigvalsh(np.array([[2 * a, b], [b, 2 * c]]))
    assert low.shape == high.shape == (5, 7), what
    np.testing.assert_allclose(low, expected[0], atol=1e-10, err_msg=what)
    np.testing.assert_allclose(high, expected[1], atol=1e-10, err_msg=what)


def test_surface_curvature_refuses_a_surface_that_does_not_fit_its_axes():
    with pytest.raises(ValueError, match="at least 3 points"):
        surface_curvature(np.zeros((3, 4)), np.linspace(0, 1, 3), np.linspace(0, 1, 4))
    with pytest.raises(ValueError, match="at least 3 points"):
        surface_curvature(np.zeros((2, 2)), np.linspace(0, 1, 2), np.linspace(0, 1, 2))
