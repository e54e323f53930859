"""The CPU's tricks: the shapes OpenBLAS is fastest with, and an allocator that keeps freed
memory.  Read after ``backend.py`` and ``ops/conv.py``, on a second reading
(``minitorch/speed/__init__.py`` says why).

On the CPU the time of a small network's step goes to BLAS calls and to memory: the shape of a
product decides which of OpenBLAS's kernels runs, and every op allocates a fresh array, which
glibc may hand back to the operating system and fault in again at the next step.  Both were
measured (``benchmarks/README.md``):

* :func:`tuned_for_cpu` chooses the CPU-tuned forms in ``ops/blas.py`` and ``ops/conv.py``: row
  sums as a stack of BLAS dot products (about 2× faster than ``.sum(axis=1)``) and a small
  weight gradient summed over pieces of 512 positions (OpenBLAS runs the one long, skinny
  product 3–4× slower than the pieces); on the GPU the plain forms;
* :func:`keep_freed_memory` (applied when minitorch is imported): one training step of the
  lesson's basic CNN took 1.44× PyTorch's time with glibc's default behaviour and 1.01× with
  the setting, the ResNet-ish model 1.58× and 1.05× (``bench_train_step.py``, 2026-11-27).
"""
import ctypes
import os
import platform

from minitorch.speed.gpu import on_gpu


def tuned_for_cpu(array):
    """Whether to use the shapes measured fastest with OpenBLAS on the CPU (True) or the plain
    forms (False, on the GPU), for ``array``'s device.  The one place this choice is made.

    On the CPU, ops/conv.py sums rows as a stack of BLAS dot products (2× faster than
    ``.sum(axis=1)``), cuts a weight gradient's long, thin product into pieces of 512 positions
    summed afterwards (3-4× faster in OpenBLAS) and keeps the batch innermost.  On the GPU each
    of those hurts: a stack of dot products becomes a batched GEMV launching one tiny GEMM per
    row, where ``.sum(axis)`` is one reduction kernel; the pieces need transposed (strided)
    4-D operands, which CuPy's batched matmul first copies, where cuBLAS takes the whole long
    product in one call (it splits the long dimension itself); so the GPU takes the plain forms.
    """
    return not on_gpu(array)


# ---- the C allocator --------------------------------------------------------------------------------
def keep_freed_memory():
    """Ask glibc's ``malloc`` to keep freed memory for reuse instead of returning it to the OS.

    Every training step allocates and frees the same large arrays (activations, im2col columns,
    gradients).  By default glibc hands any block over 128 KiB back to the operating system when
    it is freed (``munmap``, or trimming the heap), and the next step's identical request then
    page-faults the memory back in, page by page: on the lesson's models that costs a third of a
    step.  Raising the mmap and trim thresholds keeps those blocks in the heap for reuse.  It is
    the same setting as the environment variables ``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_`` and ``MALLOC_TOP_PAD_``, and it applies to the whole process — so
    a benchmark that runs PyTorch beside minitorch gives both the same allocator.

    Called once, when this file is imported (``minitorch/__init__.py`` imports it first), on
    Linux with glibc; set ``MINITORCH_MALLOC=default`` to leave the allocator alone.  Returns
    True when the settings were applied.
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    m_trim_threshold, m_top_pad, m_mmap_threshold = -1, -2, -3  # from glibc's <malloc.h>
    return all([libc.mallopt(m_mmap_threshold, 1 << 30),   # serve blocks up to 1 GiB from the heap
                libc.mallopt(m_trim_threshold, 1 << 30),   # keep up to 1 GiB of free heap
                libc.mallopt(m_top_pad, 256 << 20)])       # grow the heap 256 MiB at a time


if os.environ.get("MINITORCH_MALLOC", "") != "default":
    keep_freed_memory()
