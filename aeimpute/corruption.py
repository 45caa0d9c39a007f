"""Corruption processes: one place for every masking and noise draw.

Training hides cells (:func:`hide_cells`), whole channels (:func:`hide_channels`), channel runs
(:func:`hide_channel_runs`) and keypoint occlusions (:func:`hide_runs`) and adds noise
(:func:`gaussian_noise`); the observed cells held back for validation are chosen by
:func:`split_validation` and :func:`split_validation_runs`; :mod:`aeimpute.simulate` builds its
runs of missing rows with :func:`run_mask`. torch is imported inside the functions that use it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
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
    import torch

    n, p = observed.shape
    dev = observed.device
    rate = low + (high - low) * torch.rand(n, 1, generator=generator, device=dev)
    u = torch.rand(n, p, generator=generator, device=dev)
    return observed & (u < rate)


def gaussian_noise(
    shape: tuple[int, ...], std: float, generator: torch.Generator, device: torch.device
) -> torch.Tensor:
    """Zero-mean Gaussian noise of the given standard deviation."""
    import torch

    if std == 0:
        return torch.zeros(shape, device=device)
    return std * torch.randn(shape, generator=generator, device=device)


def _log_uniform_int(
    shape: tuple[int, ...], low: int, high: int, generator: torch.Generator, device
) -> torch.Tensor:
    import torch

    u = torch.rand(shape, generator=generator, device=device)
    lo, hi = math.log(low), math.log(high + 1)
    return torch.exp(lo + u * (hi - lo)).floor().long().clamp(low, high)


def _runs(
    n_batch: int,
    n_time: int,
    lengths: torch.Tensor,
    generator: torch.Generator,
    device,
) -> torch.Tensor:
    """(batch, slots, time) bool: one run of the given length per slot, at a random start."""
    import torch

    lengths = lengths.clamp(max=n_time)
    u = torch.rand(lengths.shape, generator=generator, device=device)
    start = (u * (n_time - lengths + 1)).floor().long()
    t = torch.arange(n_time, device=device).view(1, 1, -1)
    return (t >= start[..., None]) & (t < (start + lengths)[..., None])


def hide_runs(
    observed: torch.Tensor,
    generator: torch.Generator,
    gap_range: tuple[int, int] = (1, 60),
    max_single: int = 3,
    block_probability: float = 0.3,
    block_size: tuple[int, int] = (2, 4),
    dropout: float = 0.03,
) -> torch.Tensor:
    """Occlusion-like corruption for series of points (e.g. keypoints over frames).

    Each series hides 1 to ``max_single`` runs of consecutive frames of one
    random point each, with log-uniform run lengths in ``gap_range``; with
    probability ``block_probability`` it also hides a block of
    ``block_size`` points together for one run; finally every observed point
    is dropped independently with probability ``dropout``.

    Parameters
    ----------
    observed : bool tensor (batch, time, points)
    generator : torch.Generator
    gap_range : (int, int)
        Shortest and longest run, in frames.
    max_single : int
        Most single-point runs per series.
    block_probability : float
        Chance of a multi-point block per series.
    block_size : (int, int)
        Fewest and most points in a block (capped at the number of points).
    dropout : float
        Independent per-point dropout rate.

    Returns
    -------
    bool tensor (batch, time, points)
        The points hidden by this draw (a subset of ``observed``).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> obs = torch.ones(4, 50, 5, dtype=torch.bool)
    >>> hidden = hide_runs(obs, g)
    >>> bool(hidden.any()), bool((hidden & ~obs).any())
    (True, False)
    """
    import torch

    n_batch, n_time, n_points = observed.shape
    dev = observed.device
    low, high = gap_range
    high = max(low, min(high, n_time))
    hidden = torch.zeros_like(observed)
    # single-point runs
    count = torch.randint(1, max_single + 1, (n_batch, 1), generator=generator, device=dev)
    active = torch.arange(max_single, device=dev).view(1, -1) < count
    lengths = _log_uniform_int((n_batch, max_single), low, high, generator, dev)
    runs = _runs(n_batch, n_time, lengths, generator, dev) & active[..., None]
    point = torch.randint(0, n_points, (n_batch, max_single), generator=generator, device=dev)
    which = torch.nn.functional.one_hot(point, n_points).bool()  # (batch, slots, points)
    hidden |= (runs[..., None] & which[:, :, None, :]).any(dim=1)
    # multi-point blocks
    if block_probability > 0 and n_points > 1:
        lo_b, hi_b = min(block_size[0], n_points), min(block_size[1], n_points)
        has_block = torch.rand(n_batch, generator=generator, device=dev) < block_probability
        size = torch.randint(lo_b, hi_b + 1, (n_batch, 1), generator=generator, device=dev)
        rank = torch.rand(n_batch, n_points, generator=generator, device=dev).argsort(1).argsort(1)
        members = (rank < size) & has_block[:, None]
        length = _log_uniform_int((n_batch, 1), low, high, generator, dev)
        run = _runs(n_batch, n_time, length, generator, dev)[:, 0]  # (batch, time)
        hidden |= run[:, :, None] & members[:, None, :]
    if dropout > 0:
        hidden |= torch.rand(observed.shape, generator=generator, device=dev) < dropout
    return hidden & observed


def hide_channels(
    observed: torch.Tensor,
    channel_of_feature: torch.Tensor,
    n_channels: int,
    probability: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Hide whole channels in some rows, as when a sensor drops out.

    Each row hides each channel independently with ``probability`` (all of
    the channel's observed cells at once).

    Parameters
    ----------
    observed : bool tensor (n_rows, n_features)
    channel_of_feature : long tensor (n_features,)
        Channel number of each feature, ``0 .. n_channels - 1``.
    n_channels : int
    probability : float
    generator : torch.Generator

    Returns
    -------
    bool tensor (n_rows, n_features)
        The cells hidden by this draw (a subset of ``observed``).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> obs = torch.ones(1000, 3, dtype=torch.bool)
    >>> hidden = hide_channels(obs, torch.tensor([0, 0, 1]), 2, 0.5, g)
    >>> bool((hidden[:, 0] == hidden[:, 1]).all())
    True
    """
    import torch

    n = observed.shape[0]
    dev = observed.device
    off = torch.rand(n, n_channels, generator=generator, device=dev) < probability
    return off[:, channel_of_feature] & observed


def hide_channel_runs(
    observed: torch.Tensor,
    channel_of_feature: torch.Tensor,
    n_channels: int,
    probability: float,
    run_range: tuple[int, int],
    generator: torch.Generator,
) -> torch.Tensor:
    """Hide whole channels for runs of consecutive rows (sensor outages over time).

    In each series, each channel is switched off with ``probability`` for
    one run of consecutive rows, its length log-uniform in ``run_range``.

    Parameters
    ----------
    observed : bool tensor (batch, time, n_features)
    channel_of_feature : long tensor (n_features,)
    n_channels : int
    probability : float
    run_range : (int, int)
        Shortest and longest run, in rows (capped at the series length).
    generator : torch.Generator

    Returns
    -------
    bool tensor (batch, time, n_features)
        The cells hidden by this draw (a subset of ``observed``).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> obs = torch.ones(8, 100, 3, dtype=torch.bool)
    >>> hidden = hide_channel_runs(obs, torch.tensor([0, 0, 1]), 2, 1.0, (5, 20), g)
    >>> bool((hidden[..., 0] == hidden[..., 1]).all()), bool(hidden[..., 2].any())
    (True, True)
    """
    import torch

    n_batch, n_time, _ = observed.shape
    dev = observed.device
    low = max(1, min(run_range[0], n_time))
    high = max(low, min(run_range[1], n_time))
    lengths = _log_uniform_int((n_batch, n_channels), low, high, generator, dev)
    runs = _runs(n_batch, n_time, lengths, generator, dev)  # (batch, channels, time)
    active = torch.rand(n_batch, n_channels, generator=generator, device=dev) < probability
    off = runs & active[..., None]
    return off[:, channel_of_feature, :].transpose(1, 2) & observed


def run_mask(
    n: int,
    target: float,
    length: tuple[int, int],
    gen: np.random.Generator,
    taken: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean vector of length ``n`` with runs of True covering about ``target`` cells.

    Runs of a length drawn uniformly from ``length`` (inclusive) are placed
    at random starts until ``target`` cells are covered; ``taken`` marks
    cells already covered.

    Examples
    --------
    >>> import numpy as np
    >>> mask = run_mask(100, 30, (5, 10), np.random.default_rng(0))
    >>> bool(mask.sum() >= 30)
    True
    """
    lo, hi = length
    out = np.zeros(n, dtype=bool) if taken is None else taken.copy()
    for _ in range(100 * n):
        if out.sum() >= target:
            break
        L = int(gen.integers(lo, hi + 1))
        start = int(gen.integers(0, max(1, n - L + 1)))
        out[start : start + L] = True
    return out


#: most rows that hold back validation cells: beyond this, a random subset of rows does, so
#: the validation pass (every ``eval_every`` steps) costs the same on 10^5 or 10^7 rows
VALIDATION_ROWS = 20_000


#: fewest held-back cells to hold any back (they also fit the neighbour blend's weights)
HELD_MIN_CELLS = 40


def split_validation(
    observed: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    min_cells: int = HELD_MIN_CELLS,
    max_rows: int = VALIDATION_ROWS,
) -> np.ndarray:
    """Choose observed cells to hold back for validation (never a row's last one).

    Each observed cell is held back with probability ``fraction``; in a
    table of more than ``max_rows`` rows, only within ``max_rows`` rows
    drawn at random.
    """
    val = np.zeros_like(observed)
    n = observed.shape[0]
    rows = np.sort(rng.choice(n, size=max_rows, replace=False)) if n > max_rows else slice(None)
    sub = observed[rows]
    if fraction <= 0 or sub.sum() * fraction < min_cells:
        return val
    val[rows] = sub & (rng.random(sub.shape) < fraction)
    # keep at least one observed cell per row for training
    emptied = observed.any(axis=1) & ~(observed & ~val).any(axis=1)
    val[emptied] = False
    return val


def split_validation_runs(
    observed: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    channel_of_feature: np.ndarray,
    run_range: tuple[int, int],
    min_cells: int = 100,
) -> np.ndarray:
    """Hold back cells of a time-ordered table: half single cells, half channel outages.

    The outages are runs of consecutive rows in which all of a channel's
    observed cells are held back, so that early stopping judges the model
    on the kind of gap it is trained to fill.
    """
    val = np.zeros_like(observed)
    n = observed.shape[0]
    if fraction <= 0 or observed.sum() * fraction < min_cells:
        return val
    val = observed & (rng.random(observed.shape) < fraction / 2)
    low, high = run_range
    high = max(low, min(high, n))
    for k in range(int(channel_of_feature.max()) + 1):
        cols = np.flatnonzero(channel_of_feature == k)
        rows = run_mask(n, fraction / 2 * n, (low, high), rng)
        val[np.ix_(rows, cols)] |= observed[np.ix_(rows, cols)]
    return val
