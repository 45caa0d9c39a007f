"""Torch modules. Nothing here knows about pandas."""

from __future__ import annotations

import math

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """Pre-norm residual MLP block: ``x + W2 silu(W1 norm(x))``."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.act(self.fc1(self.norm(x))))


class DenoisingAutoencoder(nn.Module):
    """Mask-aware denoising autoencoder for a table.

    The input is the (scaled, zero-filled) encoded values beside the
    per-feature observed mask, so "missing" differs from "zero". The body is
    a residual MLP encoder down to a latent code and a residual MLP decoder
    back up; a linear skip path from input to output makes linear structure
    easy to learn. The output has one column per encoded value: numeric
    predictions, binary logits and categorical logits.

    Parameters
    ----------
    n_encoded : int
        Encoded columns (one per numeric/binary column, one per category).
    n_features : int
        Modelled columns (the mask width).
    width : int
        Hidden width.
    latent_dim : int
        Size of the latent code returned by :meth:`encode`.
    n_blocks : int
        Residual blocks in each of encoder and decoder.
    feature_of_encoded : list of int, optional
        Modelled feature of each encoded column; needed when ``refine > 0``.
    refine : int, default=0
        Extra passes: each feeds the previous pass's reconstruction into the
        missing cells and reconstructs again with the same weights (an
        unrolled, learned version of iterative imputation).
    """

    def __init__(
        self,
        n_encoded: int,
        n_features: int,
        width: int,
        latent_dim: int,
        n_blocks: int,
        feature_of_encoded: list[int] | None = None,
        refine: int = 0,
    ) -> None:
        super().__init__()
        self.refine = refine
        foe = torch.as_tensor(
            feature_of_encoded if feature_of_encoded is not None else range(n_encoded),
            dtype=torch.long,
        )
        self.register_buffer("foe", foe, persistent=False)
        in_dim = n_encoded + n_features
        self.encoder = nn.Sequential(
            nn.Linear(in_dim, width),
            *[ResidualBlock(width) for _ in range(n_blocks)],
            nn.LayerNorm(width),
            nn.Linear(width, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, width),
            *[ResidualBlock(width) for _ in range(n_blocks)],
            nn.LayerNorm(width),
            nn.SiLU(),
            nn.Linear(width, n_encoded),
        )
        self.skip = nn.Linear(in_dim, n_encoded)

    def _input(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, mask.to(x.dtype)], dim=1)

    def _passes(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        inp = self._input(x, mask)
        z = self.encoder(inp)
        out = self.decoder(z) + self.skip(inp)
        for _ in range(self.refine):
            filled = torch.where(mask[:, self.foe], x, out)
            inp = self._input(filled, mask)
            z = self.encoder(inp)
            out = self.decoder(z) + self.skip(inp)
        return z, out

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Latent code of each row (of the last pass)."""
        return self._passes(x, mask)[0]

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._passes(x, mask)[1]


class DilatedBlock(nn.Module):
    """Pre-norm residual block over time: ``x + W_mix gelu(conv_dilated(norm(x)))``.

    Works channels-last, ``(batch, time, width)``: the kernel-3 dilated
    convolution is one linear map of the frame and its two neighbours
    ``dilation`` frames away (zeros beyond the ends), which runs faster on
    CPU than ``Conv1d``.
    """

    def __init__(self, width: int, dilation: int) -> None:
        super().__init__()
        self.dilation = dilation
        self.norm = nn.LayerNorm(width)
        self.conv = nn.Linear(3 * width, width)
        self.mix = nn.Linear(width, width)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.dilation
        h = self.norm(x)
        device = h.device.type
        if torch.is_autocast_enabled(device):
            # the convolution reads the autocast type: joining the three frames in it moves
            # half the bytes of float32 (the cast commutes with the join: same values)
            h = h.to(torch.get_autocast_dtype(device))
        h = nn.functional.pad(h, (0, 0, d, d))
        h = torch.cat([h[:, : -2 * d], h[:, d:-d], h[:, 2 * d :]], dim=-1)
        return x + self.mix(self.act(self.conv(h)))


def receptive_field(n_blocks: int) -> int:
    """Frames seen by one output of ``n_blocks`` blocks with dilations 1, 2, 4, ..."""
    return 1 + 2 * (2**n_blocks - 1)


class TemporalConvNet(nn.Module):
    """Non-causal dilated convolution over time, one output frame per input frame.

    Dilations double from block to block (1, 2, 4, ...), so ``n_blocks``
    blocks see ``receptive_field(n_blocks)`` frames around each frame. The
    network is fully convolutional: it runs on a training window or on a
    whole recording alike. The output layer starts at zero, so an untrained
    network predicts a zero correction.

    Parameters
    ----------
    in_channels, out_channels : int
        Features per frame in and out.
    width : int
        Hidden channels.
    n_blocks : int
        Residual dilated blocks.

    Examples
    --------
    >>> import torch
    >>> net = TemporalConvNet(5, 2, width=8, n_blocks=3)
    >>> net(torch.zeros(1, 40, 5)).shape
    torch.Size([1, 40, 2])
    """

    def __init__(self, in_channels: int, out_channels: int, width: int, n_blocks: int) -> None:
        super().__init__()
        self.inp = nn.Linear(in_channels, width)
        self.blocks = nn.Sequential(*[DilatedBlock(width, 2**i) for i in range(n_blocks)])
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, out_channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, in_channels) -> (batch, time, width): the features before the output."""
        return self.norm(self.blocks(self.inp(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, time, in_channels) -> (batch, time, out_channels)."""
        return self.out(self.hidden(x))


#: initial gate logit: an untrained TemporalDenoiser trusts the bridge (sigmoid(4) = 0.98)
GATE_OPEN = 4.0


class TemporalDenoiser(nn.Module):
    """Mask-aware denoiser for a time-ordered table (rows are time steps).

    Each row's input is its zero-filled values and mask, as in
    :class:`DenoisingAutoencoder`, plus what the neighbouring rows say:
    every column bridged linearly over its gaps (:func:`aeimpute.temporal.bridge`)
    and the log distance to the previous and the next observation. The
    output of a numeric column is its bridge, weighted by a learned gate
    (how far to trust the bridge here: less inside a long outage), plus a
    learned correction. A dilated temporal convolution
    (:class:`TemporalConvNet`) mixes the columns of a row and the rows of a
    window, and a linear skip path maps the inputs straight to the outputs,
    so "a linear function of the other sensors" is easy to learn. Correction
    and skip start at zero and the gate open: an untrained network predicts
    (nearly) the linear bridge.

    Inputs are ``(batch, time, n_encoded)`` values and ``(batch, time,
    n_features)`` masks, or 2-D ``(time, ...)`` tensors for one series.

    Parameters
    ----------
    n_encoded, n_features : int
        Encoded columns and modelled columns (the mask width).
    width : int
        Hidden channels of the temporal network.
    n_blocks : int
        Dilated blocks; the network sees ``receptive_field(n_blocks)`` rows.
    feature_of_encoded : list of int
        Modelled feature of each encoded column.
    horizon : int
        Distances to the nearest observation are capped at this many rows.
    numeric : list of int, optional
        Encoded columns whose output is bridge + correction (the others,
        binary and categorical logits, are the correction alone). Default:
        all.

    Examples
    --------
    >>> import torch
    >>> net = TemporalDenoiser(3, 3, width=8, n_blocks=2, feature_of_encoded=[0, 1, 2], horizon=16)
    >>> x, m = torch.zeros(50, 3), torch.ones(50, 3, dtype=torch.bool)
    >>> net(x, m).shape, net.encode(x, m).shape
    (torch.Size([50, 3]), torch.Size([50, 8]))
    """

    #: rows per piece when a long series is run in pieces
    chunk = 16384

    def __init__(
        self,
        n_encoded: int,
        n_features: int,
        width: int,
        n_blocks: int,
        feature_of_encoded: list[int],
        horizon: int,
        numeric: list[int] | None = None,
    ) -> None:
        super().__init__()
        base = torch.zeros(n_encoded)
        base[numeric if numeric is not None else slice(None)] = 1.0
        self.register_buffer("base", base, persistent=False)
        self.n_encoded, self.n_features = n_encoded, n_features
        self.register_buffer(
            "foe", torch.as_tensor(feature_of_encoded, dtype=torch.long), persistent=False
        )
        self.horizon = int(horizon)
        self.reach = receptive_field(n_blocks) // 2
        in_dim = 4 * n_encoded + n_features
        # outputs: a correction and a gate on the bridge per encoded column
        self.net = TemporalConvNet(in_dim, 2 * n_encoded, width, n_blocks)
        self.skip = nn.Linear(in_dim, n_encoded)
        nn.init.zeros_(self.skip.weight)
        nn.init.zeros_(self.skip.bias)

    def _features(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        from aeimpute.temporal import bridge

        m = mask[..., self.foe]
        br = bridge(x, m)
        before, after = br.distances()
        scale = math.log1p(self.horizon)
        near = [torch.log1p(d.clamp(max=self.horizon).to(x.dtype)) / scale for d in (before, after)]
        filled = torch.nan_to_num(br.filled, nan=0.0)
        return torch.cat([x, mask.to(x.dtype), filled, *near], dim=-1)

    def _run(self, x: torch.Tensor, mask: torch.Tensor, latent: bool) -> torch.Tensor:
        single = x.dim() == 2
        if single:
            x, mask = x.unsqueeze(0), mask.unsqueeze(0)
        f = self._features(x, mask)

        def head(part: torch.Tensor) -> torch.Tensor:
            if latent:
                return self.net.hidden(part)
            start = self.n_encoded + self.n_features  # features: x, mask, bridge, ...
            bridged = part[..., start : start + self.n_encoded]
            correction, gate = self.net(part).split(self.n_encoded, dim=-1)
            trust = torch.sigmoid(gate + GATE_OPEN) * self.base
            return trust * bridged + correction + self.skip(part)

        n_time = f.shape[1]
        if n_time <= 2 * self.chunk:
            out = head(f)
        else:  # long series: chunks with a margin of the receptive field give the same result
            parts = []
            for start in range(0, n_time, self.chunk):
                lo, hi = max(0, start - self.reach), min(n_time, start + self.chunk + self.reach)
                part = head(f[:, lo:hi])
                parts.append(part[:, start - lo : start - lo + min(self.chunk, n_time - start)])
            out = torch.cat(parts, dim=1)
        return out.squeeze(0) if single else out

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Per-row hidden features of the temporal network."""
        return self._run(x, mask, latent=True)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._run(x, mask, latent=False)
