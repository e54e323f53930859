"""Normalisation layers: BatchNorm1d and BatchNorm2d, then LayerNorm.

Read after ``conv.py``; the math (normalise, then scale and shift, with its backward) is in
``ops/norm.py``.  In training mode each channel is normalised with the mean and variance of the
current batch, and those statistics are folded into running averages

    running = (1 − momentum) · running + momentum · batch_statistic

(the variance with Bessel's correction, n/(n − 1)).  In evaluation mode the running averages
are used instead, so one image gives the same answer whatever batch it comes in.
``momentum=None`` makes the running statistics a plain cumulative average: momentum 1/k at
the k-th batch, which is why the number of batches seen is kept (``num_batches_tracked``, a
buffer that PyTorch saves too).

Layer normalisation (Ba et al., 2016) normalises each *sample* instead, over its last dims
(``normalized_shape``: a transformer's features), so it has no running statistics and behaves
the same in training and evaluation, whatever the batch size.
"""
from minitorch.tensor import int64, ones, zeros
from minitorch.autograd import no_grad
from minitorch.nn import functional as F
from minitorch.nn import init
from minitorch.nn.module import Module, Parameter


class _BatchNorm(Module):
    """What BatchNorm1d and BatchNorm2d share; they differ only in the input shapes accepted."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(ones(num_features, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(zeros(num_features, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, device=device,
                                                               dtype=dtype))
            self.register_buffer("running_var", ones(num_features, device=device,
                                                             dtype=dtype))
            self.register_buffer("num_batches_tracked", zeros((), dtype=int64,
                                                                      device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self):
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        """PyTorch's default: scale 1, shift 0, running mean 0 and variance 1."""
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def _check_input(self, input):
        """Raise if ``input`` has the wrong shape; each subclass (1d, 2d) knows what it takes."""
        raise NotImplementedError(f"{type(self).__name__} must define _check_input(input)")

    def forward(self, input):
        self._check_input(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        update_running_stats = self.training and self.track_running_stats
        if update_running_stats:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # cumulative average: the k-th batch counts 1/k
                momentum = 1.0 / float(self.num_batches_tracked.item())
        # Batch statistics in training mode, and in eval mode when there are no running ones.
        use_batch_stats = self.training or self.running_mean is None
        running_mean = self.running_mean if (not self.training or
                                             self.track_running_stats) else None
        running_var = self.running_var if (not self.training or
                                           self.track_running_stats) else None
        return F.batch_norm(input, running_mean, running_var, self.weight, self.bias,
                            use_batch_stats, momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) features or (N, C, L) sequences, per channel C."""

    def _check_input(self, input):
        if input.ndim not in (2, 3) or input.shape[1] != self.num_features:
            raise ValueError(
                f"{self!r}: expected input of shape (N, {self.num_features}) or "
                f"(N, {self.num_features}, L) ({self.num_features} features), got shape "
                f"{tuple(input.shape)}")


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) images, per channel C (statistics over N, H and W)."""

    def _check_input(self, input):
        if input.ndim != 4 or input.shape[1] != self.num_features:
            raise ValueError(
                f"{self!r}: expected input of shape (N, {self.num_features}, H, W) "
                f"({self.num_features} channels), got shape {tuple(input.shape)}")


class LayerNorm(Module):
    """Normalise each sample over its last dims, ``normalized_shape`` (an int for the last dim,
    or a tuple), then scale and shift per element by ``weight`` (ones) and ``bias`` (zeros),
    which exist when ``elementwise_affine`` (``bias=False`` drops the shift)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else normalized_shape
        self.normalized_shape = tuple(int(n) for n in shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(ones(self.normalized_shape, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(zeros(self.normalized_shape, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")
