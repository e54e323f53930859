"""Convolution layers: Conv2d and ConvTranspose2d.

Read after ``linear.py``; the math (im2col and one matrix product) is in ``ops/conv.py``.  A
conv layer is a Linear layer that slides: the same small weight (out_channels, in_channels /
groups, kh, kw) is applied at every position of the image, so it has few parameters and finds
a pattern wherever it occurs.

Sizes, per spatial dim, for input size n, kernel k, stride s, padding p, dilation d:

    Conv2d:          out = ⌊(n + 2p − d(k − 1) − 1) / s⌋ + 1
    ConvTranspose2d: out = (n − 1)s − 2p + d(k − 1) + output_padding + 1

ConvTranspose2d is the gradient of Conv2d with respect to its input, which is why it *grows*
the image (the U-Net decoder uses it); its weight is laid out (in_channels,
out_channels / groups, kh, kw), transposed from Conv2d's, as in PyTorch.
"""
from minitorch.nn import functional as F
from minitorch.nn import init
from minitorch.nn.linear import new_parameter
from minitorch.nn.module import Module
from minitorch.ops.common import pair
from minitorch.ops.windows import same_padding


def check_image_input(layer, input, channels):
    """Raise an error naming ``layer`` unless ``input`` is (N, C, H, W) or (C, H, W) with
    C = ``channels``."""
    if input.ndim not in (3, 4) or input.shape[-3] != channels:
        raise RuntimeError(
            f"{layer!r}: expected input of shape (N, {channels}, H, W) or ({channels}, H, W) "
            f"({channels} channels), got shape {tuple(input.shape)}")


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share: settings, parameters, init and repr."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 transposed, output_padding, groups, bias, padding_mode, device, dtype):
        super().__init__()
        name = type(self).__name__
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must both be divisible by groups ({groups})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", name)
        self.stride = pair(stride, "stride", name)
        self.dilation = pair(dilation, "dilation", name)
        self.output_padding = pair(output_padding, "output_padding", name)
        self.groups, self.transposed, self.padding_mode = groups, transposed, padding_mode
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of "
                                 "'same', 'valid'")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 f"convolutions (stride={self.stride})")
            self.padding = padding
        else:
            self.padding = pair(padding, "padding", name)
        if padding_mode not in ("zeros", "replicate", "reflect", "circular"):
            raise ValueError(f"{name}: padding_mode must be 'zeros', 'replicate', 'reflect' or "
                             f"'circular', got {padding_mode!r}")
        # The padding as F.pad takes it, (left, right, top, bottom).  'same' needs
        # d(k − 1) in total per dim; when that is odd the extra one goes right/bottom, as in
        # PyTorch (ops/windows.py's same_padding).
        if self.padding == "same":
            (top, bottom), (left, right) = same_padding(self.kernel_size, self.dilation)
            self._pad_lrtb = (left, right, top, bottom)
        elif self.padding == "valid":
            self._pad_lrtb = (0, 0, 0, 0)
        else:
            ph, pw = self.padding
            self._pad_lrtb = (pw, pw, ph, ph)
        if transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = new_parameter(*shape, device=device, dtype=dtype)
        if bias:
            self.bias = new_parameter(out_channels, device=device, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default: weight and bias uniform in ±1/√fan_in (kaiming_uniform_, a = √5)."""
        init.default_init_(self.weight, self.bias)

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-d convolution (a cross-correlation, as in every framework) over (N, C, H, W) input.

    Default init (PyTorch's): weight and bias uniform in ±1/√fan_in with
    fan_in = in_channels / groups · kh · kw.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, device, dtype)

    def forward(self, input):
        check_image_input(self, input, self.in_channels)
        unbatched = input.ndim == 3
        if unbatched:
            input = input.unsqueeze(0)
        left, right, top, bottom = self._pad_lrtb
        if self.padding_mode == "zeros" and left == right and top == bottom:
            output = F.conv2d(input, self.weight, self.bias, self.stride, (top, left),
                              self.dilation, self.groups)
        else:  # padding with the image's pixels, or the uneven 'same' padding of an even
            # kernel: pad first, then convolve without padding
            mode = "constant" if self.padding_mode == "zeros" else self.padding_mode
            output = F.conv2d(F.pad(input, self._pad_lrtb, mode=mode), self.weight, self.bias,
                              self.stride, 0, self.dilation, self.groups)
        return output.squeeze(0) if unbatched else output


class ConvTranspose2d(_ConvNd):
    """The transpose (input-gradient) of Conv2d: upsamples (N, C, H, W) by about ``stride``.

    ``output_padding`` (or ``output_size`` in forward) picks among the output sizes that a
    strided Conv2d would map back to the same input size.  Default init as Conv2d's, with
    fan_in computed from the weight's layout (out_channels / groups · kh · kw).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: only 'zeros' padding_mode is supported, got "
                             f"{padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"ConvTranspose2d: padding must be an int or a pair, got "
                             f"{padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        output_size = tuple(output_size)[-2:]
        padding = []
        for d in range(2):
            smallest = ((input.shape[d - 2] - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            if not smallest <= output_size[d] < smallest + self.stride[d]:
                raise ValueError(f"{self!r}: requested an output size of {output_size}, but "
                                 f"valid sizes of dim {d} range from {smallest} to "
                                 f"{smallest + self.stride[d] - 1} for an input of shape "
                                 f"{tuple(input.shape)}")
            padding.append(output_size[d] - smallest)
        return tuple(padding)

    def forward(self, input, output_size=None):
        check_image_input(self, input, self.in_channels)
        unbatched = input.ndim == 3
        if unbatched:
            input = input.unsqueeze(0)
        output = F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                    self._output_padding(input, output_size), self.groups,
                                    self.dilation)
        return output.squeeze(0) if unbatched else output
