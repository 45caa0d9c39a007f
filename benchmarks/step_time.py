"""Time one training step of the row-wise network in float32 and in bfloat16.

Usage (from the repository root)::

    .venv/bin/python benchmarks/step_time.py            # prints a Markdown table
    .venv/bin/python benchmarks/step_time.py --out benchmarks/results/step_time.md

A step is what :func:`aeimpute.training.train` does per batch, without the corruption draws:
the forward pass (under bfloat16 autocast or not), a squared-error loss, the backward pass and
the training loop's AdamW update (fused where torch has the kernel), on random data of the
shapes the tabular benchmark's tables give the network (letter: 16 columns, width 128; digits:
64 columns, width 256). One torch thread.
Whether bfloat16 pays depends on the CPU: with AVX-512 BF16 or AMX it is computed natively,
without them it is emulated and slower (``Imputer(precision="auto")`` then keeps float32).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

#: (encoded columns, hidden width, refinement passes)
SHAPES = [(16, 64, 1), (16, 128, 0), (16, 128, 1), (64, 128, 1), (64, 256, 0), (64, 256, 1)]


def step_ms(p: int, width: int, refine: int, bfloat16: bool, steps: int, batch: int) -> float:
    """Mean milliseconds of one training step (after 10 warm-up steps)."""
    import torch

    from aeimpute.nn import DenoisingAutoencoder
    from aeimpute.training import _adamw, _autocast

    gen = torch.Generator().manual_seed(0)
    net = DenoisingAutoencoder(p, p, width, width // 2, 1, list(range(p)), refine)
    opt = _adamw(list(net.parameters()), 1e-3, 0.0)
    dtype = torch.bfloat16 if bfloat16 else None
    x = torch.randn(batch, p, generator=gen)
    mask = torch.rand(batch, p, generator=gen) > 0.3
    x = torch.where(mask, x, torch.zeros_like(x))
    for i in range(steps + 10):
        if i == 10:
            start = time.perf_counter()
        with _autocast(torch.device("cpu"), dtype):
            out = net(x, mask).float()
        loss = ((out - x) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return (time.perf_counter() - start) / steps * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--steps", type=int, default=60, help="timed steps per cell (default 60)")
    p.add_argument("--batch", type=int, default=512, help="rows per step (default 512)")
    p.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = p.parse_args(argv)

    import torch

    from aeimpute.runtime import native_bfloat16

    torch.set_num_threads(1)
    native = native_bfloat16(torch.device("cpu"))
    lines = [
        f"One training step, batch {args.batch}, one thread, torch {torch.__version__}; "
        f"this CPU computes bfloat16 natively: {'yes' if native else 'no'}.",
        "",
        "| columns | width | refine | float32 (ms) | bfloat16 (ms) | speed-up |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for cols, width, refine in SHAPES:
        f32 = step_ms(cols, width, refine, False, args.steps, args.batch)
        bf16 = step_ms(cols, width, refine, True, args.steps, args.batch)
        cells = [cols, width, refine, f"{f32:.1f}", f"{bf16:.1f}", f"{f32 / bf16:.2f}x"]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        print(lines[-1], flush=True)
    text = "\n".join(lines)
    if args.out is not None:
        args.out.write_text(text + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
