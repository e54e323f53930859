"""The machine's other cores: big matrix products and copies cut in pieces, one per core.
Read after ``cpu.py`` and ``ops/conv.py``, on a second reading (``speed/__init__.py`` says why).

NumPy lets go of Python's global lock inside a matrix product or a copy, so two Python threads
can each run one half of a big product at the same time, on two cores.  This file does exactly
that, for the two kinds of work that take most of a small CNN's training step on the CPU:

* :func:`matmul` — a product cut along its longer output dimension (each piece its own BLAS
  call, writing its own columns or rows of the result);
* :func:`contiguous` — a large copy (im2col's copy of the window view) cut along its first
  axis;

and, in conv2d's stride-1 forward, the blocks of output rows (``ops/conv.py``,
``column_blocks``), each thread making its own block's columns and product (:func:`each`).

Where the time of a step goes (cProfile of the lesson's model C, batch 128, one BLAS thread,
CPU time, 2026-12-05): the conv products 33 %, the im2col copies and padding 15 %, batchnorm and
ReLU 20 %, Python's own bookkeeping (autograd, the ops' setup) most of the rest.  The first two
are what is cut here; the rest stays on one thread, which bounds what a second core can buy
here to about a quarter of the step (PyTorch's oneDNN and OpenMP also spread the normalisations
and the element-wise ops).

**OpenBLAS's own threads are turned off.**  By default OpenBLAS cuts every product over all the
cores itself, and that was why minitorch gained nothing from the second core: only the products
(a third of the step) were spread, and OpenBLAS's threads *spin* after each call waiting for
the next one, burning the core that NumPy's copies and element-wise ops wanted.  When another
program holds a core it is worse: a two-thread product waits for a descheduled thread (products
of 0.4–0.6 ms timed at 9–20 ms, the 2-core machine shared with other programs, 2026-12-05), and the
ResNet-MNIST lesson ran in 7–8 minutes with OpenBLAS's two threads against 5½ with one
(``lessons/README.md``).  So, when this machinery is on, OpenBLAS is told to use one thread
(:func:`one_blas_thread`: its own C function ``openblas_set_num_threads`` called through ctypes
— no dependency, where ``threadpoolctl`` would be one for a single call; NumPy's wheels all
bundle OpenBLAS), and the pieces here run on a small pool of threads of ours that *sleep*
between jobs.

**Only for cores nobody else is using.**  Two threads each running float32 products on this
2-core machine did 1.87 times the work of one in the same time while the other core was idle,
and 0.95–1.07 times while another program was running there (2026-12-05): a piece handed to a
thread that must wait for a core only makes the caller wait for it.  Cut regardless, the
lesson's model C step took 1.1–1.2× as long as uncut on the shared machine.  So every cut asks
first how many cores are idle right now (:func:`threads_free`, from Linux's count of running
threads) and cuts for those only; on the busy machine the step then took 0.9–1.07× its uncut
time (six alternating rounds).  And the pieces of a job are not assigned: every thread, the
caller included, takes the next piece not yet taken, so a helper that wakes late costs a wake
(about 50 µs), not a wait.  Only work of about 0.1 ms and more is cut.  Not yet measured: a
whole step on an idle machine — while this was written the shared machine never had a core
idle for long (``benchmarks/README.md``, "Threads", has the commands that record it).  The
pool's threads share one malloc arena (:func:`one_malloc_arena` says why).

**The numbers are the same.**  A copy cut in pieces is the copy.  A piece of a product
computes whole entries of the result, each the same sum of the same terms; in float32 the cut
products were bit for bit those of one call in all 225 random shapes tried above the size
threshold (OpenBLAS 0.3.31, AVX-512), and the lesson's models train to the same bits with the
threads on and off (``tests/test_threads.py``).  In float64 every cut product tried differed in
the last bits (the cause, somewhere in OpenBLAS's double-precision kernels, was not pinned
down), so float64 products are not cut.

**Why it buys so little** (``benchmarks/profile_step.py``, 2026-12-05, quiet machine: model C
27.0 ms a step on one thread, 27.8 with the pool, torch 18.6 / 12.7 with one / two threads).
The lesson's conv products are thin and memory-bound: cut in two, one took 0.57 instead of
0.73 ms (1.3×, not 2×: the cores share the memory bus).  The weight gradient's products sum
over the long axis into a small result, and cutting the output makes each thread read all of
it again (the conv's backward got slower with the pool).  And batchnorm, ReLU and Python's
bookkeeping (a third of the step) stay on one thread.

**So the pool is opt-in.**  Measured at last on a quiet machine (2026-12-05, 02:28–02:30 UTC,
``benchmarks/README.md``, "Threads"), the pool made model A's step slower (7.1 against 5.0 ms:
its products and copies are too small to pay for the wakes) and model C's no faster (21.8
against 21.1 ms: the cut work is a third of its step).  What stays on by default is the first
trick: OpenBLAS runs one thread.  ``MINITORCH_THREADS=N`` (N ≥ 2) turns the pool on, for a
machine where it measures faster; unset or 1 it is off.  Setting ``OPENBLAS_NUM_THREADS`` (or
``OMP_NUM_THREADS``) yourself leaves OpenBLAS as you set it; unless it is 1, products are then
not cut here (two layers of threads would fight over the cores).
On the GPU nothing here applies: every function takes NumPy arrays only and otherwise does the
plain thing.
"""
import ctypes
import os
import platform
import queue
import threading
import time

import numpy

# Work below these sizes is not cut: a piece must be worth waking a thread (about 50 µs).
MIN_PRODUCT_FLOPS = 4_000_000      # 2·M·K·N: about 0.1 ms of one core's BLAS at the lesson's shapes
MIN_COPY_BYTES = 1 << 20           # 1 MiB: about 0.1 ms of copying
LOOK_EVERY = 0.02                  # seconds between two looks at how busy the machine is


def cores():
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


CORES = cores()


def threads_wanted():
    """How many threads may work: $MINITORCH_THREADS, else one (the pool is opt-in: on a quiet
    2-core machine it made the lesson's small model A's step slower, 7.1 against 5.0 ms, and
    model C's no faster, 21.8 against 21.1 ms — ``benchmarks/README.md``, "Threads")."""
    setting = os.environ.get("MINITORCH_THREADS", "")
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ValueError(f"MINITORCH_THREADS must be a positive integer, got {setting!r}")
        return int(setting)
    return 1


# ---- OpenBLAS's own threads ----------------------------------------------------------------------
def one_blas_thread():
    """Tell every OpenBLAS library loaded in this process to use one thread.  Returns True when
    at least one was found and told.

    NumPy's wheels bundle OpenBLAS under a name of their own (``libscipy_openblas64_…``) with
    its set-threads function renamed to match; the loaded libraries are read from
    ``/proc/self/maps`` (Linux), so this is a no-op elsewhere and with another BLAS."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:  # pragma: no cover - not Linux
        return False
    told = False
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:  # pragma: no cover - a mapping that is not a loadable library
            continue
        for name in ("scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
                     "openblas_set_num_threads64_", "openblas_set_num_threads"):
            set_threads = getattr(library, name, None)
            if set_threads is not None:
                set_threads(1)
                told = True
                break
    return told


def one_malloc_arena():
    """Make glibc's ``malloc`` serve every thread from one arena (``M_ARENA_MAX`` = 1).

    The pool's threads allocate too (a conv block's columns and product).  By default glibc
    gives each thread an arena of its own, and with ``cpu.keep_freed_memory``'s settings each
    arena keeps what it once held: the super-resolution lesson's quick run peaked at 708 MiB
    with the pool cutting against 474 MiB without, and at 490 MiB with one arena (2026-12-05).
    A handful of large allocations per step contend for the one lock at no measurable cost.
    Skipped, like ``keep_freed_memory``, with ``MINITORCH_MALLOC=default``; returns True when
    applied."""
    if os.environ.get("MINITORCH_MALLOC", "") == "default" or \
            platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    m_arena_max = -8  # from glibc's <malloc.h>
    return bool(ctypes.CDLL("libc.so.6").mallopt(m_arena_max, 1))


# ---- the pool ------------------------------------------------------------------------------------
class _Job:
    """A list of tasks; each thread that joins takes the next task nobody has taken."""

    def __init__(self, tasks):
        self.tasks, self.results, self.error = tasks, [None] * len(tasks), None
        self.lock, self.taken, self.left = threading.Lock(), 0, len(tasks)
        self.done = threading.Event()

    def work(self, inside):
        inside.active = True              # a job within a job runs in its own thread
        try:
            self.take_pieces()
        finally:
            inside.active = False

    def take_pieces(self):
        while True:
            with self.lock:
                index = self.taken
                if index >= len(self.tasks):
                    return
                self.taken += 1
            try:
                self.results[index] = self.tasks[index]()
            except BaseException as error:  # handed to the caller, which raises it
                self.error = self.error or error
            with self.lock:
                self.left -= 1
                if self.left == 0:
                    self.done.set()


class _Pool:
    """Threads that sleep until a job comes, then help with it (daemon threads: they never keep
    the program alive)."""

    def __init__(self):
        self.jobs, self.workers, self.pid = queue.SimpleQueue(), [], os.getpid()
        self.native_ids = []              # the helpers' thread ids, to look them up in /proc
        self.inside = threading.local()   # .active: this thread is working on a job

    def helpers(self, count):
        if self.pid != os.getpid():       # a forked child has none of its parent's threads
            self.__init__()
        while len(self.workers) < count:
            worker = threading.Thread(target=self.serve, daemon=True,
                                      name=f"minitorch-{len(self.workers) + 1}")
            worker.start()
            self.workers.append(worker)

    def serve(self):
        self.native_ids.append(threading.get_native_id())
        while True:
            self.jobs.get().work(self.inside)

    def run(self, tasks):
        """Each task's result, in order; the first error raised by a task is raised here."""
        if len(tasks) == 1 or getattr(self.inside, "active", False):  # no job within a job
            return [task() for task in tasks]
        self.helpers(len(tasks) - 1)
        job = _Job(tasks)
        for _ in range(len(tasks) - 1):
            self.jobs.put(job)
        job.work(self.inside)             # the caller takes pieces too ...
        job.done.wait()                   # ... and waits only for pieces already running
        if job.error is not None:
            raise job.error
        return job.results


_pool = _Pool()
THREADS = 1
BLAS_CUT_HERE = False  # whether products are cut here (OpenBLAS then runs one thread)


def set_threads(count):
    """Use ``count`` threads (1: everything here off) from now on; returns the previous count.
    Reads no environment; tests use it to compare the two ways in one process."""
    global THREADS
    previous, THREADS = THREADS, int(count)
    return previous


def configure():
    """Run at import.  Unless the user has set OpenBLAS's threads, give OpenBLAS one thread
    (its spinning second thread slowed the lessons; see the module docstring).  Read
    $MINITORCH_THREADS; when more than one thread works, give every thread one malloc arena and
    cut products here — unless the user gave OpenBLAS more than one thread (two layers of
    threads would fight over the cores)."""
    global BLAS_CUT_HERE
    set_threads(threads_wanted())
    user_set = [os.environ.get(v, "") for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")]
    one_blas = (user_set[0] or user_set[1]) == "1" if any(user_set) else one_blas_thread()
    BLAS_CUT_HERE = THREADS > 1 and one_blas
    if THREADS > 1:
        one_malloc_arena()


_busy = {"checked": -1.0, "free": 1}


def threads_free():
    """How many threads to cut work for right now: THREADS, but no more than the cores that
    nobody else is using.

    On a machine shared with other programs, a piece given to a second thread waits until the
    scheduler finds that thread a core, while the caller waits for the piece: measured on the
    2-core machine with other programs running, the lesson's model C step took 1.1–1.2× as long
    cut as whole.  So before cutting, look at the number of threads running or ready to run on
    the whole machine (the fourth field of Linux's ``/proc/loadavg``, less the caller and the
    pool's own running threads) and cut only for the cores left idle.  Looked at every LOOK_EVERY seconds at most;
    a machine without ``/proc/loadavg`` is taken to be idle.  Whether a product is cut never
    changes its numbers (see the module docstring), only how fast it is.
    """
    if THREADS == 1 or getattr(_pool.inside, "active", False):  # (inside a job: no cutting)
        return 1
    now = time.monotonic()
    if now - _busy["checked"] > LOOK_EVERY:
        _busy["checked"] = now
        others = running_threads() - 1 - helpers_running()
        _busy["free"] = max(1, min(THREADS, CORES - others))
    return _busy["free"]


def helpers_running():
    """How many of the pool's threads are running right now (state R in
    ``/proc/self/task/<id>/stat``): just after a job one may still be on its way back to sleep,
    and it must not be counted as another program."""
    running = 0
    for native_id in list(_pool.native_ids):
        try:
            with open(f"/proc/self/task/{native_id}/stat") as stat:
                running += stat.read().rsplit(")", 1)[1].split()[0] == "R"
        except (OSError, IndexError):  # pragma: no cover - not Linux, or the thread is gone
            pass
    return running


def running_threads():
    """The threads running or ready to run on the whole machine, this one included (the fourth
    field of Linux's ``/proc/loadavg``, "running/total"); 1 where it cannot be read."""
    try:
        with open("/proc/loadavg") as loadavg:
            return int(loadavg.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return 1


def parallel(tasks):
    """Run the zero-argument callables ``tasks`` on up to THREADS threads; their results in order.

    The one entry point of the pool (what ``matmul`` and ``contiguous`` use); an error raised
    in a task is raised here, in the caller's thread, after every running task has finished."""
    if THREADS == 1:
        return [task() for task in tasks]
    return _pool.run(list(tasks))


def each(function, items, data):
    """``[function(item) for item in items]``, the calls spread over the threads (see
    :func:`parallel`) when ``data``, the array they work on, is a NumPy array; on the GPU one
    after another (CuPy queues its kernels on one stream: threads would only contend)."""
    if not isinstance(data, numpy.ndarray):
        return [function(item) for item in items]
    return parallel([lambda item=item: function(item) for item in items])


def pieces_for(data, nbytes):
    """How many pieces work of ``nbytes`` bytes on the array ``data`` is worth cutting into:
    one per thread for NumPy arrays, none smaller than MIN_COPY_BYTES; 1 on the GPU."""
    if not isinstance(data, numpy.ndarray):
        return 1
    return max(1, min(threads_free(), nbytes // MIN_COPY_BYTES))


def cuts(length, pieces):
    """``pieces`` slices of about equal size covering range(length)."""
    edges = [length * i // pieces for i in range(pieces + 1)]
    return [slice(edges[i], edges[i + 1]) for i in range(pieces)]


# ---- the seam: what the ops call -----------------------------------------------------------------
def matmul(a, b):
    """``a @ b`` for 2-D arrays; a large float32 NumPy product is cut along the longer dimension
    of the result into one piece per free thread (the same numbers as one call; float64 is not
    cut, see the module docstring)."""
    if not (BLAS_CUT_HERE and THREADS > 1 and isinstance(a, numpy.ndarray)
            and isinstance(b, numpy.ndarray) and a.ndim == 2 and b.ndim == 2
            and a.dtype == b.dtype == numpy.float32):
        return a @ b
    (m, k), n = a.shape, b.shape[1]
    pieces = min(threads_free(), 2 * m * k * n // MIN_PRODUCT_FLOPS, max(m, n))
    if pieces < 2 or a.shape[1] != b.shape[0]:
        return a @ b
    out = numpy.empty((m, n), dtype=a.dtype)
    if n >= m:   # columns of the result: columns of b
        def piece(s):
            return lambda: numpy.matmul(a, b[:, s], out=out[:, s])
    else:        # rows of the result: rows of a
        def piece(s):
            return lambda: numpy.matmul(a[s], b, out=out[s])
    parallel([piece(s) for s in cuts(max(m, n), pieces)])
    return out


def contiguous(xp, x):
    """``xp.ascontiguousarray(x)``, a large NumPy copy cut along its first axis that is long enough
    (a window view's channels, or its kernel rows for a one-channel image)."""
    if THREADS == 1 or not isinstance(x, numpy.ndarray) or x.flags.c_contiguous \
            or x.nbytes < 2 * MIN_COPY_BYTES:
        return xp.ascontiguousarray(x)
    pieces = min(threads_free(), x.nbytes // MIN_COPY_BYTES)
    axis = next((i for i, size in enumerate(x.shape) if size >= pieces), None)
    if pieces < 2 or axis is None:
        return numpy.ascontiguousarray(x)
    out = numpy.empty(x.shape, dtype=x.dtype)
    index = (slice(None),) * axis
    parallel([lambda s=s: numpy.copyto(out[index + (s,)], x[index + (s,)])
              for s in cuts(x.shape[axis], pieces)])
    return out


configure()
