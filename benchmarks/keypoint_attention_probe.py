"""Probe: would self-attention over time help the keypoint network on unseen recordings?

Usage (from the repository root, after ``make test`` created ``.venv``)::

    .venv/bin/python benchmarks/keypoint_attention_probe.py --setups flies --out /tmp/a
    .venv/bin/python benchmarks/keypoint_attention_probe.py --from-csv /tmp/a/*.csv ...

DISK (a transformer over the time window) reports large gains over interpolation on
motion-capture gaps. ``KeypointImputer``'s network is a dilated temporal convolution; this
probe adds one block-local self-attention layer after its dilated blocks (frames in blocks of
``BLOCK``; each block attends to itself and its two neighbours, 4 heads, a learned bias per
relative position, then a feed-forward layer; both residual) and fits it exactly as
``KeypointImputer`` fits its own network, defaults otherwise. Global attention is not
probed: ``transform`` runs the network over whole recordings in 16,384-frame chunks, which
it would make quadratic.

Protocol: that of ``benchmarks/keypoint_recordings.py`` ("other recordings", leave one out):
every part of each set-up is repaired by the model fitted on the other parts, over the same
``COVERAGE_DRAWS + 1`` gap draws, and scored as the RMSE ratio to linear interpolation of
the same gaps (run here). The default network's ratios are read from the per-gap results of
``keypoint_recordings.py`` (``--baseline``: the same draws and seeds; on one thread its fit
is deterministic, so it is the model the default would fit here). This is a measurement to
decide whether to build attention into ``KeypointImputer``, not a feature.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

os.environ.setdefault("AEIMPUTE_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from keypoint_recordings import (  # noqa: E402
    ALL_DRAWS,
    COVERAGE_DRAWS,
    MORE_DRAWS,
    SETUPS,
    common_options,
    draw_seed,
    gap_draw,
    others_of,
    ratio_table,
    results_of,
    scored,
    split_setups,
    summarise,
    write_report,
)

#: frames per attention block (each block sees 3 blocks: about +-BLOCK frames)
BLOCK = 32
HEADS = 4
ATTENTION = "local attention" + ALL_DRAWS
LINEAR = "linear" + ALL_DRAWS


def attentive_network(config: dict):
    """``KeypointImputer``'s network with a block-local self-attention layer after its
    dilated blocks."""
    import torch
    from torch import nn

    from aeimpute.keypoints.model import n_inputs
    from aeimpute.nn import TemporalConvNet

    class LocalAttention(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(width)
            self.qkv = nn.Linear(width, 3 * width)
            self.proj = nn.Linear(width, width)
            self.bias = nn.Parameter(torch.zeros(HEADS, 4 * BLOCK - 1))
            self.ff = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 2 * width),
                                    nn.GELU(), nn.Linear(2 * width, width))  # fmt: skip
            query = torch.arange(BLOCK)[:, None]
            key = torch.arange(3 * BLOCK)[None, :] - BLOCK
            self.register_buffer("offset", key - query + 2 * BLOCK - 1, persistent=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            b, t, c = x.shape
            n = -(-t // BLOCK)
            h = nn.functional.pad(self.norm(x), (0, 0, 0, n * BLOCK - t))
            q, k, v = (z.reshape(b, n, BLOCK, HEADS, c // HEADS).permute(0, 3, 1, 2, 4)
                       for z in self.qkv(h).chunk(3, dim=-1))  # fmt: skip

            def beside(z: torch.Tensor) -> torch.Tensor:  # each block with its neighbours
                z = nn.functional.pad(z, (0, 0, 0, 0, 1, 1))
                return torch.cat([z[:, :, :-2], z[:, :, 1:-1], z[:, :, 2:]], dim=3)

            real = (torch.arange(n * BLOCK, device=x.device) < t).to(x.dtype)
            real = beside(real.reshape(1, 1, n, BLOCK, 1))[0, 0, ..., 0] > 0  # (n, 3 BLOCK)
            bias = self.bias[:, self.offset][None, :, None]  # (1, heads, 1, BLOCK, 3 BLOCK)
            bias = bias + torch.where(real, 0.0, -math.inf)[None, None, :, None, :]
            out = nn.functional.scaled_dot_product_attention(
                q, beside(k), beside(v), attn_mask=bias.to(q.dtype)
            )
            x = x + self.proj(out.permute(0, 2, 3, 1, 4).reshape(b, n * BLOCK, c)[:, :t])
            return x + self.ff(x)

    class AttentiveNet(TemporalConvNet):
        def __init__(self, *args) -> None:
            super().__init__(*args)
            self.attention = LocalAttention(self.out.in_features)

        def hidden(self, x: torch.Tensor) -> torch.Tensor:
            return self.norm(self.attention(self.blocks(self.inp(x))))

    k = int(config["n_keypoints"])
    return AttentiveNet(n_inputs(k), 2 * k, int(config["width"]), int(config["n_blocks"]))


def run(setups: list[str], steps: int | None, seed: int, log=print) -> pd.DataFrame:
    from keypoints import interpolation

    from aeimpute import KeypointImputer
    from aeimpute.keypoints import model

    linear = interpolation("linear")
    kw = {"random_state": seed} | ({} if steps is None else {"max_iter": steps})
    rows = []
    for setup, split in split_setups(setups, log):
        for i, (pose, reliable) in enumerate(split):
            others = others_of(split, i)
            t0 = time.perf_counter()
            with mock.patch.object(model, "build_model", attentive_network):
                imp = KeypointImputer(**kw).fit(others)
                fit_s = time.perf_counter() - t0
                for d in range(COVERAGE_DRAWS + 1):
                    damaged, gaps = gap_draw(pose, reliable, draw_seed(seed, i, d))
                    outs = {ATTENTION: imp.transform(damaged).xy, LINEAR: linear(damaged, seed)}
                    for m, out in outs.items():
                        table = scored(out, pose, gaps, d)
                        fit = fit_s if m == ATTENTION else np.nan
                        rows.append(table.assign(setup=setup, part=i, method=m, fit_s=fit))
            log(f"{setup} part {i}: fit {fit_s:.0f} s")
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    p.add_argument("--setups", nargs="+", default=list(SETUPS), choices=list(SETUPS))
    p.add_argument(
        "--baseline", type=Path, default=HERE / "results" / "keypoint_recordings.csv",
        help="per-gap results of keypoint_recordings.py (the default network)",
    )  # fmt: skip
    common_options(p)
    args = p.parse_args(argv)
    results, note = results_of(args, lambda: run(args.setups, args.steps, args.seed))
    if results.empty:
        raise SystemExit("no set-up was available")
    summary = summarise(results)
    tables = ratio_table(summary, ATTENTION)
    if args.baseline.exists():
        base = pd.read_csv(args.baseline)
        base = base[base.method.isin([MORE_DRAWS, LINEAR])]
        base = base.merge(results[["setup", "part"]].drop_duplicates())
        tables = ratio_table(summarise(base), MORE_DRAWS) + tables
    fit = results.dropna(subset=["fit_s"]).drop_duplicates(["setup", "part"]).fit_s.mean()
    details = (
        f"KeypointImputer max_iter={args.steps or 'default'}; {note}; mean fit seconds with "
        f"attention {fit:.0f}; default network from {args.baseline.name}"
    )
    write_report(args, "keypoint_attention_probe", "Keypoint network with local attention "
                 "(probe)", results, "\n".join(tables), details, "%.5g")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
