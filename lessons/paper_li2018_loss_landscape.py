# %% [markdown]
# # Li et al. (2018) in miniature: what the skip connections do to the loss surface
#
# He et al. found that deep plain nets train worse than shallow ones and that residual
# connections fix it (`lessons/paper_he2015_degradation.py` reproduces that).  *Why* they fix
# it is what "Visualizing the Loss Landscape of Neural Nets" (Li, Xu, Taylor, Studer and
# Goldstein, 2018) shows in pictures: around the weights a ResNet-56 trains to, the loss is a
# smooth, nearly convex bowl; around those of the same net without its skip connections it is
# a chaotic terrain of ridges and holes, and it gets worse with depth (their Figure 5).  The
# terrain is what SGD has to cross — the plain net's test error on CIFAR-10 was 13.31 % against
# the ResNet-56's 5.89 % (20 layers: 8.18 % against 7.37 %; 110 layers: 16.44 % against
# 5.79 %).
#
# The trick that makes such pictures honest is *filter normalisation*: take two random
# directions δ, η in weight space, rescale each of their filters to the size of the matching
# filter of the trained weights θ*, and draw f(α, β) = L(θ* + αδ + βη) for α, β in [−1, 1].
# Read `minitorch/vision/landscape.py` beside this lesson: the directions, the surface, and
# two numbers that say what the picture says — how much of the drawn surface near θ* is
# locally convex, and the ratio |λ_min / λ_max| of the extreme eigenvalues of the full Hessian
# at θ* (their Figure 7's measure), found by Lanczos from Hessian-vector products.
#
# The nets are the 56-layer plain and residual nets that the He et al. lesson trained and saved
# (`--weights`, default `lesson_output/paper_he2015_degradation/models/`); when they are not
# there this lesson trains them first, with the same functions and settings (the deep half of
# that lesson's run).  Run it as a script (`python lessons/paper_li2018_loss_landscape.py`;
# `--quick` for a smoke run of under a minute on tiny nets; `--device cuda` for the GPU) or open
# it as a notebook.  The figures go to `--out` (default
# `lesson_output/paper_li2018_loss_landscape/`).

# %%
import argparse
import sys
import time
from pathlib import Path

import numpy  # host side: the grid, the figures

import minitorch
from minitorch import nn
from minitorch.files import atomic_write
from minitorch.plot import finish_figure, subplots
from minitorch.vision import mnist_databunch
from minitorch.vision.cifar_recipe import train_cifar_net
from minitorch.vision.landscape import (
    flatten, hessian_vector_product, hessian_vector_product_by_differences, lanczos,
    loss_surface, mean_loss, random_direction, surface_curvature, unflatten)
from minitorch.vision.models.cifar_resnet import CifarResNet, blocks_per_stage

parser = argparse.ArgumentParser(description="Li et al. 2018: loss landscapes with and "
                                             "without skip connections")
parser.add_argument("--quick", action="store_true",
                    help="a smoke run: 14-layer nets of widths (2, 4, 8) trained here for one "
                         "epoch on 256 images, a 5×5 grid on 128 images (the test suite's run)")
parser.add_argument("--weights", default="lesson_output/paper_he2015_degradation/models",
                    help="the folder with plain<depth>.npz and residual<depth>.npz, written by "
                         "lessons/paper_he2015_degradation.py (trained here when absent)")
parser.add_argument("--depth", type=int, default=56, help="6n + 2 layers (default 56)")
parser.add_argument("--images", type=int, default=512,
                    help="the fixed training images the loss is measured on")
parser.add_argument("--grid", type=int, default=13,
                    help="points per axis of the 2-d plot over [-1, 1] (odd, so θ* is on it)")
parser.add_argument("--line", type=int, default=41, help="points of the 1-d slice over [-1, 1]")
parser.add_argument("--radius", type=float, default=0.5,
                    help="'near the minimum': grid points within this distance of θ*")
parser.add_argument("--hessian-images", type=int, default=128,
                    help="the first this many of the fixed images, for the Hessian")
parser.add_argument("--hessian-batch", type=int, default=32,
                    help="images per Hessian-vector product pass (the double-backward graph "
                         "kept in memory grows with it)")
parser.add_argument("--lanczos-steps", type=int, default=20)
parser.add_argument("--seed", type=int, default=0, help="the seed of the random directions")
parser.add_argument("--surface3d", action="store_true", help="also draw the surfaces in 3-d")
parser.add_argument("--device", default=None, help="'cpu' or 'cuda' (default: $MINITORCH_DEVICE)")
parser.add_argument("--out", default="lesson_output/paper_li2018_loss_landscape",
                    help="folder for the figures and the results")
args = parser.parse_args([] if "ipykernel" in sys.modules else None)
if args.quick:
    args.depth, args.images, args.grid, args.line = 14, 128, 5, 5
    args.hessian_images, args.lanczos_steps = 64, 4
    args.weights = str(Path(args.out) / "models")
if args.hessian_batch < 1:
    parser.error(f"--hessian-batch must be at least 1, got {args.hessian_batch}")
if args.grid < 3 or args.grid % 2 == 0:
    parser.error("--grid must be odd and at least 3 (θ* at the centre, neighbours around it)")
blocks_per_stage(args.depth)  # a clear error now for a depth that is not 6n + 2
OUT = Path(args.out)
OUT.mkdir(parents=True, exist_ok=True)
device = minitorch.backend.canonical_device(args.device) if args.device else \
    minitorch.backend.default_device()
print(f"figures and results go to {OUT}/")

# %% [markdown]
# ## The trained nets
#
# Each checkpoint holds the weights (batchnorm's running statistics included), the net's shape
# and the normalisation statistics its training data had.  When one is missing, the nets are
# trained here by `train_cifar_net` with the He et al. lesson's defaults: 8,192 Fashion-MNIST
# images, 6 epochs, SGD with momentum, lr 0.1 with step decay after a warm-up, widths (8, 16,
# 32).

# %%
KINDS = ("residual", "plain")
RECIPE = dict(widths=[2, 4, 8], train_images=256, epochs=1, warmup_error=0.8) if args.quick \
    else dict(widths=[8, 16, 32], train_images=8_192, epochs=6, warmup_error=0.8)


def train_and_save(kind, path):
    """Train the net as the He et al. lesson does and save the checkpoint it would."""
    print(f"{path} is missing: training {kind}-{args.depth} first")
    minitorch.manual_seed(0)
    data = mnist_databunch("fashion_mnist", bs=128, padding=0, limit=RECIPE["train_images"],
                           valid_limit=min(2_000, RECIPE["train_images"]), device=device)
    stats = [float(s[0]) for s in data.stats]
    data = mnist_databunch("fashion_mnist", bs=128, padding=0, limit=RECIPE["train_images"],
                           valid_limit=min(2_000, RECIPE["train_images"]), stats=stats, seed=0,
                           device=device)
    minitorch.manual_seed(0)
    model = CifarResNet(blocks_per_stage(args.depth), tuple(RECIPE["widths"]),
                        residual=kind == "residual", in_channels=1)
    train_cifar_net(data, model, RECIPE["epochs"], lr=0.1, warmup_error=RECIPE["warmup_error"])
    path.parent.mkdir(parents=True, exist_ok=True)
    minitorch.save(dict(model=model.state_dict(), kind=kind, depth=args.depth,
                        widths=RECIPE["widths"], stats=stats, seed=0,
                        train_images=RECIPE["train_images"], epochs=RECIPE["epochs"], lr=0.1,
                        warmup_error=RECIPE["warmup_error"]),
                   path)


NETS = {}  # kind -> (model, checkpoint)
for kind in KINDS:
    path = Path(args.weights) / f"{kind}{args.depth}.npz"
    if not path.exists():
        train_and_save(kind, path)
    checkpoint = minitorch.load(path)
    if checkpoint["kind"] != kind or checkpoint["depth"] != args.depth:
        raise ValueError(f"{path} holds a {checkpoint['kind']}-{checkpoint['depth']} net, "
                         f"expected {kind}-{args.depth}")
    model = CifarResNet(blocks_per_stage(args.depth), tuple(checkpoint["widths"]),
                        residual=kind == "residual", in_channels=1)
    model.load_state_dict(checkpoint["model"])
    NETS[kind] = (model.to(device).eval(), checkpoint)
    print(f"{kind}-{args.depth}: {path} (widths {tuple(checkpoint['widths'])}, trained "
          f"{checkpoint['epochs']} epochs on {checkpoint['train_images']:,} images)")

# %% [markdown]
# ## The fixed images
#
# The loss is measured on the first training images, normalised with the statistics the nets
# were trained with, without augmentation (the DataBunch's `fix_dl`: the training items in
# order, with the validation transforms), the nets in eval mode (batchnorm uses its running
# statistics, so an image's loss does not depend on which others share its batch).

# %%
fixed = mnist_databunch("fashion_mnist", bs=128, padding=0, limit=args.images, valid_limit=128,
                        stats=NETS["plain"][1]["stats"], device=device)
BATCHES = list(fixed.fix_dl)
print(f"{sum(len(yb) for _, yb in BATCHES)} fixed images in {len(BATCHES)} batches; classes "
      f"{fixed.classes}")


def first_images(n):
    """The first ``n`` of the fixed images."""
    batches, left = [], n
    for xb, yb in BATCHES:
        batches.append((xb[:left], yb[:left]))
        left -= len(batches[-1][1])
        if left <= 0:
            return batches
    raise ValueError(f"--hessian-images {n} is more than --images {args.images}")


loss_func = nn.CrossEntropyLoss()
for kind, (model, _) in NETS.items():
    print(f"{kind}-{args.depth}: loss at θ* on the {args.images} fixed images "
          f"{mean_loss(model, loss_func, BATCHES):.4f}")

# %% [markdown]
# ## Filter-normalised directions
#
# For each net two Gaussian directions δ, η with the shapes of its weights; every filter of
# each (a conv's output channel, the linear layer's rows) rescaled to the norm of the same
# filter in θ*; biases and batchnorm parameters left out (direction 0).  Each net gets its own
# pair (its filters have their own norms), drawn from the same seed.

# %%
DIRECTIONS = {}
for kind, (model, _) in NETS.items():
    minitorch.manual_seed(args.seed)
    params = list(model.parameters())
    DIRECTIONS[kind] = (random_direction(params), random_direction(params))

# %% [markdown]
# ## 1-d slices
#
# f(α) = L(θ* + αδ) for α from −1 to 1: the loss along a line through the minimum.

# %%
started = time.perf_counter()
LINE = numpy.linspace(-1, 1, args.line)
SLICES = {kind: loss_surface(model, loss_func, BATCHES, [DIRECTIONS[kind][0]], [LINE])
          for kind, (model, _) in NETS.items()}
fig, axes = subplots(1, 2, figsize=(10, 3.8))
for ax, kind in zip(axes[0], KINDS):
    ax.plot(LINE, SLICES[kind], color="tab:blue" if kind == "residual" else "tab:red")
    ax.set(title=f"{kind}-{args.depth}", xlabel="α", ylabel="loss", yscale="log")
    ax.grid(alpha=0.3)
fig.suptitle("1-d slices f(α) = L(θ* + αδ), filter-normalised δ")
finish_figure(fig, OUT / "slices_1d.png")
print(f"1-d slices: {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## 2-d contours
#
# f(α, β) on a grid over [−1, 1]², θ* at the centre.  The same contour levels for both nets, so
# that the two pictures compare.  (The paper draws 51×51 points; a 13×13 grid already shows
# the difference, at a fifteenth of the cost.)

# %%
started = time.perf_counter()
AXIS = numpy.linspace(-1, 1, args.grid)


def progress(done, total):
    if done % args.grid == 0:
        print(f"  {done}/{total} points, {time.perf_counter() - started:.0f} s", flush=True)


SURFACES = {}
for kind, (model, _) in NETS.items():
    print(f"{kind}-{args.depth}: the 2-d surface")
    SURFACES[kind] = loss_surface(model, loss_func, BATCHES, list(DIRECTIONS[kind]),
                                  [AXIS, AXIS], progress=progress)
low = min(s.min() for s in SURFACES.values())
high = max(s.max() for s in SURFACES.values())
LEVELS = numpy.geomspace(max(low, 1e-3), high, 25)  # log-spaced: the bowl and the cliffs
fig, axes = subplots(1, 2, figsize=(11, 4.8))
for ax, kind in zip(axes[0], KINDS):
    contours = ax.contour(AXIS, AXIS, SURFACES[kind], levels=LEVELS, cmap="viridis",
                          linewidths=0.8)
    ax.clabel(contours, contours.levels[::4], fontsize=7, fmt="%.2g")
    ax.plot(0, 0, "k+")
    ax.set(title=f"{kind}-{args.depth}", xlabel="α", ylabel="β", aspect="equal")
fig.suptitle("2-d contours of L(θ* + αδ + βη), the same 25 log-spaced levels")
finish_figure(fig, OUT / "contours_2d.png")

if args.surface3d:
    from matplotlib.figure import Figure
    fig = Figure(figsize=(11, 4.8))
    A, B = numpy.meshgrid(AXIS, AXIS)
    for i, kind in enumerate(KINDS):
        ax = fig.add_subplot(1, 2, i + 1, projection="3d")
        ax.plot_surface(A, B, numpy.log10(SURFACES[kind]), cmap="viridis")
        ax.set(title=f"{kind}-{args.depth}", xlabel="α", ylabel="β", zlabel="log10 loss")
    finish_figure(fig, OUT / "surfaces_3d.png")
print(f"2-d surfaces: {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## How convex is the drawn surface?
#
# At every inner grid point the 2×2 Hessian of the drawn f(α, β), from its neighbours
# (`surface_curvature`): locally convex where both its eigenvalues are ≥ 0.  The map shows
# |λ_min / λ_max| of that 2×2 Hessian where it has a negative eigenvalue — the look of the
# paper's Figure 7 (blue: convex, yellow: strongly non-convex), in the plane of the picture
# rather than in all the weights.

# %%
inner = AXIS[1:-1]
A, B = numpy.meshgrid(inner, inner)
near = numpy.hypot(A, B) <= args.radius + 1e-9
CONVEXITY = {}
fig, axes = subplots(1, 2, figsize=(11, 4.8))
for ax, kind in zip(axes[0], KINDS):
    lam_min, lam_max = surface_curvature(SURFACES[kind], AXIS, AXIS)
    convex = lam_min >= 0
    ratio = numpy.where(convex, 0.0, numpy.abs(lam_min) / numpy.maximum(numpy.abs(lam_max),
                                                                         1e-12))
    CONVEXITY[kind] = dict(near=convex[near].mean(), everywhere=convex.mean())
    image = ax.pcolormesh(inner, inner, numpy.minimum(ratio, 1.0), cmap="viridis", vmin=0,
                          vmax=1, shading="nearest")
    ax.contour(inner, inner, numpy.hypot(A, B), levels=[args.radius], colors="white",
               linewidths=0.8, linestyles="dotted")
    ax.set(title=f"{kind}-{args.depth}: {100 * CONVEXITY[kind]['near']:.0f} % convex within "
                 f"{args.radius}", xlabel="α", ylabel="β", aspect="equal")
fig.colorbar(image, ax=axes[0].tolist(), label="|λ_min / λ_max| where λ_min < 0 (0: convex)")
finish_figure(fig, OUT / "convexity_2d.png")

# %% [markdown]
# ## The Hessian at the minimum, in all the weights
#
# The plane is two directions out of a few hundred thousand.  Lanczos finds the extreme
# eigenvalues of the full Hessian ∇²L(θ*) from Hessian-vector products alone; each product is
# the gradient of the number ∇L · v, so it takes gradients of gradients
# (`autograd.grad(..., create_graph=True)`, see `hessian_vector_product`) — on the first
# `--hessian-images` images, `--lanczos-steps` products per net, in the nets' own float32 (the
# extreme eigenvalues need a few significant digits, and Lanczos re-orthogonalises every new
# vector, so float32's rounding does not pile up).  The paper's measure is the
# ratio |λ_min / λ_max|: near 0, the minimum is a bowl in every direction; large, the surface
# bends down steeply somewhere even at the minimum.

# %%
HESSIAN = {}
# H v is a sum over the images (eval mode: each image's loss depends on it alone), so the
# products are taken --hessian-batch images at a time and added up: the same H v (to rounding),
# and only one small batch's double-backward graph in memory at once.
hessian_batches = [(xb[i:i + args.hessian_batch], yb[i:i + args.hessian_batch])
                   for xb, yb in first_images(args.hessian_images)
                   for i in range(0, len(yb), args.hessian_batch)]
for kind, (model, _) in NETS.items():
    started = time.perf_counter()
    like = [p.array for p in model.parameters()]

    def hessian_times(vector):
        return flatten(hessian_vector_product(model, loss_func, hessian_batches,
                                              unflatten(vector, like)))

    minitorch.manual_seed(args.seed)
    start = flatten([minitorch.randn(*a.shape, device=device).array for a in like])
    ritz = lanczos(hessian_times, start, args.lanczos_steps)
    HESSIAN[kind] = dict(lam_min=ritz[0], lam_max=ritz[-1], ratio=abs(ritz[0] / ritz[-1]),
                         seconds=time.perf_counter() - started)
    print(f"{kind}-{args.depth}: λ_max {ritz[-1]:.4g}, λ_min {ritz[0]:.4g}, "
          f"|λ_min/λ_max| {abs(ritz[0] / ritz[-1]):.4f} ({HESSIAN[kind]['seconds']:.0f} s)")

# %% [markdown]
# ### Why not finite differences of gradients?
#
# Without second derivatives one would take H v ≈ (∇L(θ* + εv) − ∇L(θ* − εv)) / 2ε.  For a
# smooth loss that converges as ε shrinks.  A ReLU net is smooth only between kinks, and over a
# few hundred images it has ~10⁸ ReLU inputs: whatever ε, some of them change sign between
# θ* − εv and θ* + εv, and each adds its jump in gradient divided by 2ε.  The quotient then
# measures the loss smoothed over ε, kinks included — a different quantity, which does not
# settle as ε shrinks.  Here is how far it is from the exact product, along one random unit
# direction v, in float64 (so that rounding is not what we see):

# %%
FINITE_DIFFERENCES = {}
for kind, (_, checkpoint) in NETS.items():
    model64 = CifarResNet(blocks_per_stage(args.depth), tuple(checkpoint["widths"]),
                          residual=kind == "residual", in_channels=1).double()
    model64.load_state_dict(checkpoint["model"])  # cast to float64 as it loads
    model64.to(device).eval()
    batches64 = [(xb.double(), yb) for xb, yb in hessian_batches]
    like = [p.array for p in model64.parameters()]
    minitorch.manual_seed(args.seed + 1)
    v = flatten([minitorch.randn(*a.shape, dtype="float64", device=device).array
                 for a in like])
    v = v / float(minitorch.backend.to_numpy((v * v).sum())) ** 0.5
    exact = flatten(hessian_vector_product(model64, loss_func, batches64, unflatten(v, like)))
    size = float(minitorch.backend.to_numpy((exact * exact).sum())) ** 0.5
    FINITE_DIFFERENCES[kind] = []
    for eps in (1e-2, 1e-3, 1e-4):
        quotient = flatten(hessian_vector_product_by_differences(
            model64, loss_func, batches64, unflatten(v, like), eps=eps))
        gap = float(minitorch.backend.to_numpy(((quotient - exact) ** 2).sum())) ** 0.5 / size
        FINITE_DIFFERENCES[kind].append(gap)
        print(f"{kind}-{args.depth}, ε = {eps:g}: ‖difference quotient − H v‖ / ‖H v‖ = {gap:.3g}")

# %% [markdown]
# ## Results

# %%
rows = ["| net | loss at θ* | loss range on the grid | 1-d slice at α = ±1 | convex within "
        f"{args.radius} | convex on the grid | Hessian λ_max | Hessian λ_min "
        "| abs(λ_min / λ_max) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
centre = args.grid // 2
for kind in KINDS:
    s, c, h = SURFACES[kind], CONVEXITY[kind], HESSIAN[kind]
    rows.append(f"| {kind}-{args.depth} | {s[centre, centre]:.4f} | {s.min():.3g} – {s.max():.3g} "
                f"| {SLICES[kind][0]:.3g}, {SLICES[kind][-1]:.3g} | {100 * c['near']:.0f} % "
                f"| {100 * c['everywhere']:.0f} % | {h['lam_max']:.4g} | {h['lam_min']:.4g} "
                f"| {h['ratio']:.4f} |")
setting = (f"{args.depth} layers, {args.images} fixed training images, a {args.grid}×{args.grid}"
           f" grid over [-1, 1]², {args.line}-point slices, Hessian on {args.hessian_images} "
           f"images with {args.lanczos_steps} Lanczos steps, seed {args.seed}, device {device}")
table = "\n".join(rows)
table += ("\n\nH v by finite differences against the exact product, relative error at "
          "ε = 1e-2, 1e-3, 1e-4: " + "; ".join(
              f"{kind}-{args.depth} " + ", ".join(f"{gap:.3g}" for gap in gaps)
              for kind, gaps in FINITE_DIFFERENCES.items()))
print(f"\nResults ({setting}):\n{table}")
with atomic_write(OUT / "results.md", mode="w") as file:
    file.write(f"{setting}\n\n{table}\n")
