"""``minitorch.accelerator``: PyTorch's device-agnostic way of asking for the GPU.

Recent PyTorch code (its own ``mnist/main.py`` among it) asks ``torch.accelerator`` rather than
``torch.cuda``, because an accelerator may be a CUDA GPU, an Apple GPU ('mps'), an XPU...
minitorch knows one kind of accelerator, a CUDA GPU through CuPy, so these answer the same
questions as ``minitorch.cuda``.
"""
from minitorch import backend


def is_available():
    """True when an accelerator (here: a GPU that CuPy sees) can be used."""
    return backend.cuda_is_available()


def device_count():
    """How many accelerators minitorch can use: 1 or 0."""
    return backend.cuda_device_count()


def current_accelerator(check_available=False):
    """``device('cuda')`` when a GPU is available, else None.  (torch returns the kind it was
    built for even when none is present, unless ``check_available``; minitorch is built for
    whatever is installed, so both answers are the same here.)"""
    return backend.device("cuda") if backend.cuda_is_available() else None
