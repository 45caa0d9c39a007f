"""Corruption processes used in training: one place for every masking/noise draw."""

from __future__ import annotations

import torch


def hide_cells(
    observed: torch.Tensor,
    low: float,
    high: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Hide a random share of the observed cells of each row.

    Each row draws its own rate from ``U(low, high)`` and hides each observed
    cell independently with that probability.

    Parameters
    ----------
    observed : bool tensor of shape (n_rows, n_features)
    low, high : float
        Range of the per-row hiding rate, ``0 <= low <= high < 1``.
    generator : torch.Generator

    Returns
    -------
    bool tensor of shape (n_rows, n_features)
        True for the cells hidden in this draw (a subset of ``observed``).
    """
    n, p = observed.shape
    dev = observed.device
    rate = low + (high - low) * torch.rand(n, 1, generator=generator, device=dev)
    u = torch.rand(n, p, generator=generator, device=dev)
    return observed & (u < rate)


def gaussian_noise(
    shape: tuple[int, ...], std: float, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """Zero-mean Gaussian noise of the given standard deviation."""
    if std == 0:
        return torch.zeros(shape, device=device)
    return std * torch.randn(shape, generator=generator, device=device)
