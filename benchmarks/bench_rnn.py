"""Time a 2-layer GRU and LSTM, forward + backward, in minitorch and in PyTorch on the CPU.

Shapes: sequence 70, batch 64, input = hidden = 64 and 512 (the human-numbers lesson uses 64).
Each case runs minitorch (fused recurrences, the default) and torch in the same process,
interleaved round by round so that both see the same machine load; the table gives the median
time of a forward+backward and the ratio minitorch / torch.  ``--composed`` adds the readable,
op-by-op version (``fused=False``) as a third column.

    python benchmarks/bench_rnn.py [--rounds 7] [--threads 2] [--composed] [--device cuda]

Record the table in benchmarks/README.md with the date and the machine.
"""
import argparse
import statistics
import sys
import time

import numpy as np
import torch

import minitorch
from minitorch import nn

SEQ, BATCH, LAYERS = 70, 64, 2


def minitorch_step(model, x, h0):
    output, state = model(x, h0)
    output.sum().backward()


def torch_step(model, x, h0):
    output, state = model(x, h0)
    output.sum().backward()


def make_case(kind, hidden, device, fused):
    """Twin models with the same weights, and their inputs (float32, torch's default)."""
    torch_class = getattr(torch.nn, kind)
    torch_model = torch_class(hidden, hidden, LAYERS).to("cuda" if device == "cuda" else "cpu")
    mt_model = getattr(nn, kind)(hidden, hidden, LAYERS, fused=fused)
    mt_model.load_state_dict({k: v.detach().cpu().numpy()
                              for k, v in torch_model.state_dict().items()})
    mt_model.to(device)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SEQ, BATCH, hidden)).astype(np.float32)
    h = rng.standard_normal((LAYERS, BATCH, hidden)).astype(np.float32)
    torch_device = "cuda" if device == "cuda" else "cpu"
    mt_x = minitorch.tensor(x, device=device, requires_grad=True)
    torch_x = torch.tensor(x, device=torch_device, requires_grad=True)
    if kind == "LSTM":
        mt_h = (minitorch.tensor(h, device=device), minitorch.tensor(h, device=device))
        torch_h = (torch.tensor(h, device=torch_device), torch.tensor(h, device=torch_device))
    else:
        mt_h, torch_h = minitorch.tensor(h, device=device), torch.tensor(h, device=torch_device)
    return (mt_model, mt_x, mt_h), (torch_model, torch_x, torch_h)


def timed(step, args, device):
    if device == "cuda":
        torch.cuda.synchronize()
        minitorch.backend.cupy.cuda.Device().synchronize()
    start = time.perf_counter()
    step(*args)
    if device == "cuda":
        torch.cuda.synchronize()
        minitorch.backend.cupy.cuda.Device().synchronize()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--composed", action="store_true", help="also time fused=False")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 512])
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    header = "| model | hidden | minitorch (ms) | torch (ms) | ratio |"
    rule = "|---|---:|---:|---:|---:|"
    if args.composed:
        header += " composed (ms) | composed ratio |"
        rule += "---:|---:|"
    print(f"2 layers, seq {SEQ}, batch {BATCH}, float32, forward+backward, device {args.device}, "
          f"torch threads {args.threads}, median of {args.rounds}")
    print(header)
    print(rule)
    for kind in ("GRU", "LSTM"):
        for hidden in args.hidden:
            mt_case, torch_case = make_case(kind, hidden, args.device, fused=True)
            composed_case = make_case(kind, hidden, args.device, fused=False)[0] \
                if args.composed else None
            times = {"mt": [], "torch": [], "composed": []}
            for round_ in range(args.rounds + 1):  # round 0 warms up and is not counted
                t_mt = timed(minitorch_step, mt_case, args.device)
                t_torch = timed(torch_step, torch_case, args.device)
                t_composed = timed(minitorch_step, composed_case, args.device) \
                    if composed_case else None
                if round_:
                    times["mt"].append(t_mt)
                    times["torch"].append(t_torch)
                    times["composed"].append(t_composed)
            mt_ms = 1e3 * statistics.median(times["mt"])
            torch_ms = 1e3 * statistics.median(times["torch"])
            row = f"| {kind} | {hidden} | {mt_ms:.1f} | {torch_ms:.1f} | {mt_ms / torch_ms:.2f}× |"
            if args.composed:
                composed_ms = 1e3 * statistics.median(times["composed"])
                row += f" {composed_ms:.1f} | {composed_ms / torch_ms:.2f}× |"
            print(row, flush=True)


if __name__ == "__main__":
    sys.exit(main())
