"""Looking at a loss surface: Li, Xu, Taylor, Studer and Goldstein (2018), "Visualizing the Loss
Landscape of Neural Nets".  Read after ``nn/module.py`` (parameters) and ``autograd.py``
(``backward``); the lesson ``lessons/paper_li2018_loss_landscape.py`` draws the pictures.

A net has hundreds of thousands of weights θ; its loss L(θ) cannot be drawn.  What can: the
loss on a plane through the trained weights θ*,

    f(α, β) = L(θ* + α δ + β η),

where δ and η are two random directions (and a line, f(α) = L(θ* + α δ)).  Random directions
alone mislead: a net with batchnorm gives the same outputs when a filter's weights are scaled,
so a step of 0.1 means a lot to a filter of norm 0.1 and nothing to one of norm 10.  The
paper's *filter normalisation* (:func:`filter_normalize`) rescales every filter of the random
direction — a conv's output channel, a linear layer's row — to the norm of the matching filter
of θ*, so α = 1 moves each filter by as much as its own size.  Biases and batchnorm parameters
(1-d) get no direction at all (the authors' ``--xignore biasbn``).  The loss is measured in eval
mode (batchnorm's running statistics), on a fixed set of images, without augmentation
(:func:`loss_surface`).

Two numbers say what a picture says:

* :func:`surface_curvature` — the 2×2 Hessian of the drawn surface f(α, β) at every point of
  the grid, by finite differences of neighbours: where both eigenvalues are ≥ 0 the surface is
  locally convex; where one is negative, it is a saddle or a ridge.
* :func:`lanczos` over :func:`hessian_vector_product` (gradients of gradients,
  ``create_graph=True``) — the extreme eigenvalues λ_min, λ_max of the full Hessian ∇²L(θ*)
  in all the weights.  |λ_min / λ_max| small means the minimum is a
  bowl in every direction (the paper's Figure 7 maps this ratio); large, that the loss falls
  away steeply somewhere although the gradient is nearly zero.  Lanczos needs only products
  H v, never H itself (which would be n × n for n weights).
"""
import math

import numpy  # host side: the small tridiagonal eigenproblem, the grid of losses

from minitorch import autograd, backend
from minitorch.autograd import no_grad
from minitorch.nn import eval_mode
from minitorch.tensor import Tensor, randn


# ---- directions ----------------------------------------------------------------------------------
def filter_normalize(direction, weights, ignore_biasbn=True):
    """The paper's filter normalisation: for every array ``d`` of ``direction`` and the matching
    weights ``w`` (arrays of the same shapes), each filter ``d[i]`` (the slice along the first
    axis: a conv's output channel, a linear layer's row) becomes ``d[i] / ‖d[i]‖ · ‖w[i]‖``.

    1-d arrays (biases, batchnorm's weight and bias) get zeros with ``ignore_biasbn`` (the
    paper's plots), else the weights themselves.  Returns new arrays."""
    normalized = []
    for d, w in zip(direction, weights, strict=True):
        if d.shape != w.shape:
            raise ValueError(f"filter_normalize: a direction of shape {d.shape} for weights of "
                             f"shape {w.shape}")
        xp = backend.array_module(backend.device_of(w))
        if d.ndim <= 1:
            normalized.append(xp.zeros_like(w) if ignore_biasbn else w.copy())
            continue
        axes = tuple(range(1, d.ndim))
        d_norm = xp.sqrt((d * d).sum(axis=axes, keepdims=True))
        w_norm = xp.sqrt((w * w).sum(axis=axes, keepdims=True))
        normalized.append(d * (w_norm / (d_norm + 1e-10)))  # the authors' 1e-10: no 0 / 0
    return normalized


def random_direction(params, ignore_biasbn=True):
    """A Gaussian direction with the shapes of ``params`` (a list of Parameters), drawn from
    minitorch's generator (seed it), filter-normalised to their current values."""
    draws = [randn(*p.shape, dtype=p.dtype, device=p.device).array for p in params]
    return filter_normalize(draws, [p.array for p in params], ignore_biasbn)


# ---- weights along directions and the loss there -----------------------------------------------
def set_weights(params, origin, directions=(), coefficients=()):
    """Put ``origin + Σ c_k · directions[k]`` into ``params`` (in place, outside the graph)."""
    with no_grad():
        for i, p in enumerate(params):
            value = origin[i].copy()
            for c, d in zip(coefficients, directions, strict=True):
                value += c * d[i]
            p.copy_(value)


def mean_loss(model, loss_func, batches):
    """The loss over ``batches`` (a list of (xb, yb)), each batch weighted by its size, with the
    model in eval mode and no graph; one device→host read."""
    total, count = 0, 0
    with eval_mode(model), no_grad():
        for xb, yb in batches:
            total = total + loss_func(model(xb), yb).array * len(yb)
            count += len(yb)
    return float(backend.to_numpy(total)) / count


def loss_surface(model, loss_func, batches, directions, axes, progress=None):
    """The loss at ``θ* + Σ_k c_k · directions[k]`` for every point of the grid spanned by
    ``axes`` (one array of coefficients per direction), θ* being the model's weights now.

    One direction gives a 1-d array of ``len(axes[0])`` losses; two give a 2-d array of shape
    ``(len(axes[1]), len(axes[0]))`` — rows β, columns α, as ``plt.contour(α, β, f)`` takes it.
    The weights are put back afterwards, also when an error interrupts.  ``progress(done,
    total)`` is called after every point."""
    if len(directions) != len(axes) or len(axes) not in (1, 2):
        raise ValueError(f"loss_surface: one or two directions, each with its axis of "
                         f"coefficients; got {len(directions)} directions and {len(axes)} axes")
    params = list(model.parameters())
    origin = [p.array.copy() for p in params]
    grids = numpy.meshgrid(*[numpy.asarray(a, dtype=numpy.float64) for a in axes],
                           indexing="xy")
    losses = numpy.empty(grids[0].shape)
    try:
        for done, index in enumerate(numpy.ndindex(losses.shape), start=1):
            set_weights(params, origin, directions, [float(g[index]) for g in grids])
            losses[index] = mean_loss(model, loss_func, batches)
            if progress is not None:
                progress(done, losses.size)
    finally:
        set_weights(params, origin)
    return losses


def surface_curvature(surface, alphas, betas):
    """The eigenvalues of the 2×2 Hessian of a drawn surface ``f[β, α]`` (rows β, columns α,
    evenly spaced) at every interior grid point, by central differences::

        f_αα = (f[i, j+1] − 2 f[i, j] + f[i, j−1]) / h_α²          (f_ββ likewise along rows)
        f_αβ = (f[i+1, j+1] − f[i+1, j−1] − f[i−1, j+1] + f[i−1, j−1]) / (4 h_α h_β)
        λ = (f_αα + f_ββ) / 2 ± √(((f_αα − f_ββ) / 2)² + f_αβ²)

    Returns ``(lambda_min, lambda_max)``, each of shape ``(len(betas) − 2, len(alphas) − 2)``:
    the surface is locally convex where ``lambda_min ≥ 0``."""
    f = numpy.asarray(surface, dtype=numpy.float64)
    if f.shape != (len(betas), len(alphas)) or min(f.shape) < 3:
        raise ValueError(f"surface_curvature: a surface of shape (len(betas), len(alphas)) with "
                         f"at least 3 points each way, got {f.shape} for {len(betas)} betas "
                         f"and {len(alphas)} alphas")
    h_a, h_b = alphas[1] - alphas[0], betas[1] - betas[0]
    f_aa = (f[1:-1, 2:] - 2 * f[1:-1, 1:-1] + f[1:-1, :-2]) / h_a ** 2
    f_bb = (f[2:, 1:-1] - 2 * f[1:-1, 1:-1] + f[:-2, 1:-1]) / h_b ** 2
    f_ab = (f[2:, 2:] - f[2:, :-2] - f[:-2, 2:] + f[:-2, :-2]) / (4 * h_a * h_b)
    mean, spread = (f_aa + f_bb) / 2, numpy.sqrt(((f_aa - f_bb) / 2) ** 2 + f_ab ** 2)
    return mean - spread, mean + spread


# ---- the Hessian in all the weights --------------------------------------------------------------
def loss_gradient(model, loss_func, batches):
    """∇L(θ) for the model's current weights: the gradient of the mean loss over ``batches``
    (eval mode, as the surface), as one array per parameter."""
    params = list(model.parameters())
    count = sum(len(yb) for _, yb in batches)
    model.zero_grad()
    try:
        with eval_mode(model):
            for xb, yb in batches:
                (loss_func(model(xb), yb) * (len(yb) / count)).backward()
        return [p.grad.array.copy() for p in params]
    finally:
        model.zero_grad()


def hessian_vector_product(model, loss_func, batches, vector):
    """H v, H = ∇²L(θ) at the model's weights, exactly: the gradient of the number ∇L · v
    (``vector``: one array per parameter), with gradients of gradients::

        g = autograd.grad(L, params, create_graph=True)        # ∇L, itself a graph
        H v = autograd.grad(Σ_k (g[k] · v[k]).sum(), params)

    A few gradients' worth of work (the second pass runs the derivative written with ops on
    Tensors); eval mode, batch by batch (H v is a sum over the images).
    Between ReLU kinks a ReLU net is smooth, and this is the Hessian there (what PyTorch's
    double backward, and the paper, compute)."""
    params = list(model.parameters())
    count = sum(len(yb) for _, yb in batches)
    directions = [Tensor(v) for v in vector]
    total = None
    with eval_mode(model):
        for xb, yb in batches:
            loss = loss_func(model(xb), yb) * (len(yb) / count)
            gradients = autograd.grad(loss, params, create_graph=True)
            dot = sum((g * v).sum() for g, v in zip(gradients, directions))
            products = [h.array for h in autograd.grad(dot, params)]
            total = products if total is None else [a + b for a, b in zip(total, products)]
    return total


def hessian_vector_product_by_differences(model, loss_func, batches, vector, eps=1e-3):
    """H v by central differences of first-order gradients, with no second derivatives::

        H v ≈ (∇L(θ + ε v) − ∇L(θ − ε v)) / (2 ε)

    On a smooth loss this converges to :func:`hessian_vector_product` as ε → 0 (error O(ε²);
    run it in float64: the difference of two nearly equal gradients loses the digits float32
    does not have).  A ReLU net is smooth only between kinks: every ReLU whose input changes
    sign between θ − εv and θ + εv adds its jump in gradient divided by 2ε.  With hundreds of
    millions of ReLU inputs over a batch some always sit that close to 0, so the quotient does
    *not* converge: it measures the curvature of the loss smoothed over a scale ε, kinks
    included, and the smaller ε, the larger their share.  The lesson compares the two."""
    params = list(model.parameters())
    origin = [p.array.copy() for p in params]
    try:
        set_weights(params, origin, [vector], [eps])
        plus = loss_gradient(model, loss_func, batches)
        set_weights(params, origin, [vector], [-eps])
        minus = loss_gradient(model, loss_func, batches)
    finally:
        set_weights(params, origin)
    return [(a - b) / (2 * eps) for a, b in zip(plus, minus)]


def flatten(arrays):
    """One flat vector of all the arrays (the parameters' order)."""
    xp = backend.array_module(backend.device_of(arrays[0]))
    return xp.concatenate([a.reshape(-1) for a in arrays])


def unflatten(vector, like):
    """The inverse of :func:`flatten`: arrays shaped as ``like``."""
    arrays, start = [], 0
    for a in like:
        arrays.append(vector[start:start + a.size].reshape(a.shape))
        start += a.size
    return arrays


def lanczos(matvec, start, steps):
    """Eigenvalue estimates of a symmetric operator from ``steps`` Lanczos iterations.

    From a start vector q₁ the iteration builds an orthonormal basis q₁ … q_k of the Krylov
    space {q₁, A q₁, A² q₁, …} and the tridiagonal matrix T = Qᵀ A Q::

        w = A q_j − β_{j−1} q_{j−1};  α_j = w · q_j;  w ← w − α_j q_j;  β_j = ‖w‖;
        q_{j+1} = w / β_j

    T's eigenvalues (the Ritz values) approach A's from the outside in: the largest and the
    most negative converge first, after a few dozen products even when A has a million rows.
    Every new vector is orthogonalised against all earlier ones again (rounding otherwise
    brings back copies of converged eigenvectors).  ``matvec(v)`` computes A v on flat arrays.
    Returns the Ritz values, ascending, as a NumPy array."""
    if steps < 1:
        raise ValueError(f"lanczos: steps must be at least 1, got {steps}")
    def read(x):  # a scalar from the device: the iteration's only reads
        return float(backend.to_numpy(x))

    basis = [start / math.sqrt(read((start * start).sum()))]
    alphas, betas = [], []
    for j in range(min(steps, start.size)):
        w = matvec(basis[j])
        alphas.append(read((w * basis[j]).sum()))
        w = w - alphas[j] * basis[j] - (betas[j - 1] * basis[j - 1] if j else 0)
        for q in basis:  # full reorthogonalisation
            w = w - read((w * q).sum()) * q
        beta = math.sqrt(read((w * w).sum()))
        if j == steps - 1 or beta < 1e-10 * max(abs(a) for a in alphas):
            break  # the last step, or an invariant subspace: T is exact
        betas.append(beta)
        basis.append(w / beta)
    k = len(alphas)
    tridiagonal = numpy.diag(alphas) + numpy.diag(betas[:k - 1], 1) + numpy.diag(betas[:k - 1], -1)
    return numpy.linalg.eigvalsh(tridiagonal)
