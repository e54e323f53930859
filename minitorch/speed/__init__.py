"""``minitorch.speed``: what made minitorch fast, kept beside the ideas.  Skip it on a first reading.

The files a student reads first (``backend.py``, ``ops/``, ``learner/``) say *what* is computed;
this package holds the engineering that decides how fast, each trick with what it was measured
to buy (``benchmarks/README.md`` has the runs).  Nothing here changes what is computed: without
a trick the same math is done, only slower (rounded differently at most, where a sum is taken in
another order).  Read it on a second reading, after the engine.

* ``gpu.py`` — keeping the GPU busy: a batch uploaded in one copy (``to_device_together``),
  element-wise chains fused into one kernel (``fuse``), branch-free code where reading a value
  would stall the GPU (``reads_are_cheap``), and index checks that wait on the device and travel
  back with the next value read (``check_later``, ``check_index_arrays``, ``read_back``).
* ``cpu.py`` — the CPU's own: the shapes OpenBLAS was measured fastest with
  (``tuned_for_cpu``), and glibc's allocator told to keep freed memory (``keep_freed_memory``).
* ``threads.py`` — the machine's other cores: large matrix products and im2col copies cut in
  pieces that a small pool of sleeping threads runs side by side (``matmul``, ``contiguous``,
  ``each``; opt-in with ``MINITORCH_THREADS=2``), and OpenBLAS's own spinning threads turned off
  (``one_blas_thread``, by default).

A package, not a file, and a file per resource, because each trick is about one resource's
costs (a kernel launch, a sync, a BLAS call, a page fault, an idle core).  The package sits under
``backend.py``: it knows CuPy's and glibc's tricks and nothing of minitorch, and
``backend.to_numpy`` reads from the GPU through ``gpu.read_back`` so that the pending checks
travel with every read.
"""
