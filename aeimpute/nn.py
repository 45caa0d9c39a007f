"""Torch modules. Nothing here knows about pandas."""

from __future__ import annotations

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
    """

    def __init__(
        self, n_encoded: int, n_features: int, width: int, latent_dim: int, n_blocks: int
    ) -> None:
        super().__init__()
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

    def encode(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Latent code of each row."""
        return self.encoder(self._input(x, mask))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        inp = self._input(x, mask)
        return self.decoder(self.encoder(inp)) + self.skip(inp)
