"""Weight reparametrisations: weight norm and spectral norm, as ``torch.nn.utils`` has them.

Read after ``module.py`` (forward pre-hooks) and ``conv.py``.  Both replace a layer's ``weight``
Parameter by other Parameters from which the weight is recomputed before every forward, by a
forward pre-hook:

* **weight norm** (Salimans & Kingma 2016): w = g · v / ‖v‖, with ‖v‖ taken over every dim but
  ``dim`` (one norm per output channel for dim = 0).  Training g and v separately decouples the
  length of each weight vector from its direction.  Parameters ``weight_g`` and ``weight_v``.
* **spectral norm** (Miyato et al. 2018): w = W / σ(W), σ the largest singular value of W seen
  as a matrix (rows: ``dim``; columns: everything else).  It bounds how much the layer can
  stretch its input (a Lipschitz constraint), which keeps a GAN critic's gradients sane.  σ is
  estimated by power iteration: one step per training forward, carried over between steps in
  the buffers ``weight_u`` and ``weight_v``, so σ = uᵀ W v is cheap.  Parameter
  ``weight_orig``.

The names and layouts are PyTorch's, so a state_dict of a PyTorch model that uses them loads.
Gradient clipping lives in ``clip_grad.py``; it is re-exported here, where PyTorch has it.
"""
from minitorch import backend
from minitorch.tensor import Tensor, randn
from minitorch.autograd import no_grad
from minitorch.nn.clip_grad import clip_grad_norm_, clip_grad_value_  # noqa: F401
from minitorch.nn.module import Parameter


# ---- weight norm ----------------------------------------------------------------------------------
def _norm_except_dim(v, dim):
    """‖v‖ over every dim but ``dim``, keeping the dims (so it broadcasts against v).
    ``dim = -1`` (what None becomes, as in PyTorch) means the norm of the whole tensor."""
    if dim == -1:
        return (v * v).sum().sqrt()
    other = tuple(d for d in range(v.ndim) if d != dim)
    return (v * v).sum(other, keepdim=True).sqrt()


class WeightNorm:
    """The forward pre-hook that sets ``module.<name>`` = g · v / ‖v‖ before each forward."""

    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Reparametrise ``module.<name>`` as ``<name>_g`` (the lengths) and ``<name>_v`` (the
    directions).  ``dim=None`` uses one length for the whole tensor."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, WeightNorm) and hook.name == name:
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter "
                               f"{name}")
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"weight_norm: {type(module).__name__} has no parameter {name!r}")
    fn = WeightNorm(name, -1 if dim is None else dim % weight.ndim)
    del module._parameters[name]
    with no_grad():
        g = _norm_except_dim(weight.detach(), fn.dim)
    module.register_parameter(name + "_g", Parameter(g.array.copy()))
    module.register_parameter(name + "_v", Parameter(weight.array))
    setattr(module, name, fn.compute_weight(module))
    module.register_forward_pre_hook(fn)
    return module


def remove_weight_norm(module, name="weight"):
    """Fold g and v back into one ``<name>`` Parameter and remove the hook."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, WeightNorm) and hook.name == name:
            with no_grad():
                weight = hook.compute_weight(module)
            delattr(module, name)
            del module._parameters[name + "_g"]
            del module._parameters[name + "_v"]
            module.register_parameter(name, Parameter(weight.array))
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"weight_norm of {name!r} not found in {type(module).__name__}")


# ---- spectral norm --------------------------------------------------------------------------------
def _normalize(vector, eps):
    """vector / max(‖vector‖, eps), on raw arrays."""
    xp = backend.array_module(backend.device_of(vector))
    return vector / xp.maximum(xp.sqrt((vector * vector).sum()), eps)


class SpectralNorm:
    """The forward pre-hook that sets ``module.<name>`` = W / σ(W) before each forward."""

    def __init__(self, name, n_power_iterations, dim, eps):
        if n_power_iterations < 0:
            raise ValueError(f"spectral_norm: expected n_power_iterations to be non-negative, "
                             f"got {n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = \
            name, n_power_iterations, dim, eps

    def reshape_weight_to_matrix(self, weight):
        """W as a matrix: ``dim`` becomes the rows, the other dims are flattened into columns."""
        if self.dim != 0:
            order = [self.dim] + [d for d in range(weight.ndim) if d != self.dim]
            weight = weight.permute(*order)
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            # v ← Wᵀu/‖Wᵀu‖, u ← Wv/‖Wv‖: converges to the top singular vectors.  The buffers
            # are updated in place; the weight's gradient treats u and v as constants.
            matrix = weight_mat.array
            with no_grad():
                for _ in range(self.n_power_iterations):
                    v.array[...] = _normalize(matrix.T @ u.array, self.eps)
                    u.array[...] = _normalize(matrix @ v.array, self.eps)
                    u._version_counter[0] += 1
                    v._version_counter[0] += 1
        # Copies, so that a later forward's in-place update cannot touch this graph.
        u_const, v_const = Tensor(u.array.copy()), Tensor(v.array.copy())
        sigma = (u_const * (weight_mat @ v_const)).sum()
        return weight / sigma

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its largest singular value before every forward.

    ``dim`` (the rows of the matrix) defaults to 0, and to 1 for ConvTranspose2d, whose weight
    has the output channels there.  u and v start as random unit vectors.
    """
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, SpectralNorm) and hook.name == name:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter "
                               f"{name}")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r}")
    fn = SpectralNorm(name, n_power_iterations, dim, eps)
    height, width = fn.reshape_weight_to_matrix(weight.detach()).shape
    u = randn(height, dtype=weight.dtype, device=weight.device)
    v = randn(width, dtype=weight.dtype, device=weight.device)
    u.array, v.array = _normalize(u.array, eps), _normalize(v.array, eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())  # a plain attribute until the first forward
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(fn)
    return module


def remove_spectral_norm(module, name="weight"):
    """Fold W / σ into one ``<name>`` Parameter and remove the hook and the buffers."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, SpectralNorm) and hook.name == name:
            with no_grad():
                weight = hook.compute_weight(module, do_power_iteration=False)
            delattr(module, name)
            for suffix in ("_u", "_v", "_orig"):
                delattr(module, name + suffix)
            module.register_parameter(name, Parameter(weight.array))
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"spectral_norm of {name!r} not found in {type(module).__name__}")
