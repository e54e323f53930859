"""``minitorch.cuda``: asking about the GPU, with ``torch.cuda``'s names.

Read after ``backend.py``.

Code written for PyTorch starts by asking whether there is a GPU::

    device = minitorch.device("cuda" if minitorch.cuda.is_available() else "cpu")

Here the GPU is reached through CuPy, so "available" means CuPy is installed and sees a GPU.
minitorch drives one GPU, ``cuda:0``: :func:`device_count` is 1 when there is one, else 0.
"""
from minitorch import backend


def is_available():
    """True when CuPy is installed and sees a GPU (then ``device='cuda'`` works)."""
    return backend.cuda_is_available()


def device_count():
    """How many GPUs minitorch can use: 1 (``cuda:0``) when a GPU is available, else 0."""
    return backend.cuda_device_count()


def current_device():
    """The index of the GPU in use: always 0.  Without a GPU it raises, as torch does."""
    if not is_available():
        raise RuntimeError("minitorch.cuda.current_device(): no GPU is available (CuPy is not "
                           "installed or sees no GPU)")
    return 0
