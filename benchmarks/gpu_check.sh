#!/usr/bin/env bash
# One prepared GPU check, for a session that is lent a GPU: at most 8 minutes on one H100, in one
# call, with no network.  It runs minitorch from this tree (PYTHONPATH, never pip install) and
# writes short logs to $OUT (default ./gpu_check_out):
#
#   00_env.log      the machine, the versions, and the first-kernel compile time
#   10_suite.log    the whole test suite with MINITORCH_DEVICE=cuda (parallel when pytest-xdist is there)
#   20_loop.log     the lesson's training loop against torch (tests/test_training_vs_torch.py)
#   30_step.log     one training step against torch CUDA: models A and C, the GRU (bench_gpu_step.py)
#   40_mnist.log, 41_numbers.log   both lessons with --quick --device cuda
#   summary.log     one line per stage: its exit status and seconds
#
# The MNIST files must travel with the command: MINITORCH_DATA (default ./shared/data, holding
# mnist/).  GPU_CHECK_STAND_IN=1 runs the same script on the CuPy stand-in (tests/fake_cupy), as
# a dry run on a machine without a GPU; its timings mean nothing (GPU_CHECK_LIMIT_SCALE=4 gives
# the slower CPU four times each stage's limit).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=${OUT:-$ROOT/gpu_check_out}
mkdir -p "$OUT"
export MINITORCH_DATA=${MINITORCH_DATA:-$ROOT/shared/data}
export MINITORCH_DEVICE=cuda MPLBACKEND=Agg PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH}
if [ "${GPU_CHECK_STAND_IN:-0}" = 1 ]; then
    export PYTHONPATH=$ROOT/tests/fake_cupy:$PYTHONPATH
fi
PY=${PYTHON:-python}
: > "$OUT/summary.log"

stage() {  # stage NAME SECONDS COMMAND...: run with a time limit, log the tail, note the status
    local name=$1 limit=$(( $2 * ${GPU_CHECK_LIMIT_SCALE:-1} ))
    shift 2
    local start=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.full" 2>&1
    local status=$?
    tail -n 60 "$OUT/$name.full" > "$OUT/$name.log"
    rm -f "$OUT/$name.full"
    echo "$name: exit $status in $((SECONDS - start)) s (limit $limit s)" | tee -a "$OUT/summary.log"
}

[ -d "$MINITORCH_DATA/mnist" ] || echo "no MNIST under MINITORCH_DATA=$MINITORCH_DATA" \
    | tee -a "$OUT/summary.log"

stage 00_env 40 bash -c '
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "no nvidia-smi"
    '"$PY"' - <<PY
import time, numpy, torch
t = time.perf_counter(); import cupy; print("import cupy", round(time.perf_counter() - t, 2), "s")
print("cupy", cupy.__version__, "numpy", numpy.__version__, "torch", torch.__version__,
      "torch.cuda", torch.cuda.is_available())
t = time.perf_counter(); (cupy.arange(10.0) * 2).sum().item()
print("first elementwise kernel (compile + run)", round(time.perf_counter() - t, 3), "s")
import minitorch
from minitorch import nn
t = time.perf_counter()
x = minitorch.randn(8, 1, 28, 28, device="cuda", requires_grad=True)
nn.Conv2d(1, 8, 3).to("cuda")(x).relu().sum().backward(); x.grad.sum().item()
print("first conv forward+backward (compile + run)", round(time.perf_counter() - t, 3), "s")
t = time.perf_counter()
x = minitorch.randn(8, 1, 28, 28, device="cuda", requires_grad=True)
nn.Conv2d(1, 8, 3).to("cuda")(x).relu().sum().backward(); x.grad.sum().item()
print("second conv forward+backward", round(time.perf_counter() - t, 3), "s")
PY'

if $PY -c "import xdist" 2>/dev/null; then WORKERS=(-n 8); else WORKERS=(); fi
stage 10_suite 230 $PY -m pytest -q -x "${WORKERS[@]}" -p no:cacheprovider \
    --ignore=tests/test_training_vs_torch.py  # its own stage, next
stage 20_loop 60 $PY -m pytest -q -p no:cacheprovider tests/test_training_vs_torch.py
stage 30_step 60 $PY benchmarks/bench_gpu_step.py --steps 30
stage 40_mnist 70 $PY lessons/lesson7_resnet_mnist.py --quick --device cuda --out "$OUT/mnist"
stage 41_numbers 40 $PY lessons/lesson7_human_numbers.py --quick --device cuda --out "$OUT/numbers"
cat "$OUT/summary.log"
