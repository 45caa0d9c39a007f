"""Missingness generators: hide cells of a complete table, with the random generator passed in.

Every function takes a complete table ``X`` (DataFrame or 2-D array; it is
never modified) and returns ``(X_missing, mask)``: a copy with the hidden
cells set to missing, and a boolean array of ``X``'s shape, True where a cell
was hidden. Rates are shares of cells in ``(0, 1)``; the generators are tested
from 10% to 70%.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from aeimpute._validation import InputTypeError
from aeimpute.corruption import run_mask

__all__ = [
    "mcar",
    "mar",
    "mnar",
    "channel_blocks",
    "temporal_gaps",
    "keypoint_gaps",
    "apply_mask",
]


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise InputTypeError(f"rng must be a numpy Generator, an int seed or None; got {rng!r}")


def _check(X: Any, rate: float) -> None:
    if not isinstance(X, (pd.DataFrame, np.ndarray)) or np.ndim(X) != 2:
        raise InputTypeError("X must be a DataFrame or a 2-D numpy array")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X is empty (shape {X.shape})")
    if isinstance(rate, bool) or not isinstance(rate, (int, float, np.floating)):
        raise InputTypeError(f"rate must be a number in (0, 1); got {rate!r}")
    if not 0 < rate < 1:
        raise ValueError(f"rate must be in (0, 1); got {rate!r}")


def _numeric(X: Any) -> np.ndarray:
    try:
        M = X.to_numpy(dtype=float) if isinstance(X, pd.DataFrame) else np.asarray(X, dtype=float)
    except (TypeError, ValueError) as err:
        raise InputTypeError("this mechanism needs numeric columns") from err
    if np.isnan(M).any():
        raise ValueError("X must be complete (no missing values) to simulate missingness")
    return M


def apply_mask(X: pd.DataFrame | np.ndarray, mask: np.ndarray) -> pd.DataFrame | np.ndarray:
    """Return a copy of ``X`` with the cells where ``mask`` is True set to missing.

    Examples
    --------
    >>> import numpy as np
    >>> apply_mask(np.ones((2, 2)), np.array([[True, False], [False, False]]))
    array([[nan,  1.],
           [ 1.,  1.]])
    """
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != X.shape:
        raise ValueError(f"mask has shape {mask.shape}; X has shape {X.shape}")
    if isinstance(X, pd.DataFrame):
        return X.mask(mask)
    out = np.array(X, dtype=float, copy=True)
    out[mask] = np.nan
    return out


def mcar(
    X: pd.DataFrame | np.ndarray, rate: float, rng: np.random.Generator | int | None = None
) -> tuple[pd.DataFrame | np.ndarray, np.ndarray]:
    """Hide each cell independently with probability ``rate`` (missing completely at random).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12, dtype=float).reshape(4, 3)
    >>> Xm, mask = mcar(X, 0.5, rng=np.random.default_rng(0))
    >>> bool(np.isnan(Xm[mask]).all()), bool((Xm[~mask] == X[~mask]).all())
    (True, True)
    """
    _check(X, rate)
    mask = _rng(rng).random(X.shape) < rate
    return apply_mask(X, mask), mask


def _bisect_offset(scores: np.ndarray, target: float) -> float:
    """Offset ``b`` such that ``mean(sigmoid(scores + b)) == target``."""
    lo, hi = -50.0, 50.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if np.mean(1 / (1 + np.exp(-(scores + mid)))) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def mar(
    X: pd.DataFrame | np.ndarray,
    rate: float,
    rng: np.random.Generator | int | None = None,
    observed_fraction: float = 0.3,
) -> tuple[pd.DataFrame | np.ndarray, np.ndarray]:
    """Missing at random: missingness depends on fully observed columns.

    As in the HyperImpute / ReMasker benchmarks: a random ``observed_fraction``
    of the columns (at least one) is never hidden; each other column is
    hidden with probability ``sigmoid(x_obs @ w + b)``, where ``x_obs`` are the
    standardised observed columns, ``w`` random weights, and ``b`` set so that
    ``rate`` of the cells of the maskable columns are hidden.

    Parameters
    ----------
    X : DataFrame or ndarray, numeric, complete
    rate : float
        Share of cells hidden in the columns that can go missing.
    rng : numpy Generator, int or None
    observed_fraction : float
        Share of columns that are never hidden.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(2000, 10))
    >>> Xm, mask = mar(X, 0.2, rng=0)
    >>> round(float(mask[:, mask.any(axis=0)].mean()), 2)
    0.2
    """
    _check(X, rate)
    if not 0 < observed_fraction < 1:
        raise ValueError(f"observed_fraction must be in (0, 1); got {observed_fraction!r}")
    M = _numeric(X)
    n, p = M.shape
    if p < 2:
        raise ValueError("mar needs at least 2 columns (one stays observed)")
    gen = _rng(rng)
    n_obs = min(p - 1, max(1, int(round(observed_fraction * p))))
    cols = gen.permutation(p)
    obs_cols, miss_cols = cols[:n_obs], cols[n_obs:]
    Z = M[:, obs_cols]
    Z = (Z - Z.mean(axis=0)) / np.where(Z.std(axis=0) > 0, Z.std(axis=0), 1.0)
    mask = np.zeros((n, p), dtype=bool)
    for j in miss_cols:
        w = gen.normal(size=n_obs)
        s = Z @ w
        s = s / (s.std() if s.std() > 0 else 1.0)
        b = _bisect_offset(s, rate)
        mask[:, j] = gen.random(n) < 1 / (1 + np.exp(-(s + b)))
    return apply_mask(X, mask), mask


def mnar(
    X: pd.DataFrame | np.ndarray,
    rate: float,
    rng: np.random.Generator | int | None = None,
    strength: float = 6.0,
) -> tuple[pd.DataFrame | np.ndarray, np.ndarray]:
    """Missing not at random: self-masking by quantile.

    Each cell is hidden with probability ``sigmoid(strength * (q - c))``, where
    ``q`` in [0, 1] is the quantile of the cell's value within its column and
    ``c`` is set so that ``rate`` of each column is hidden. High values are
    much more likely to be missing than low ones (with the default strength,
    the top decile about 20x more than the bottom one at 20%).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(5000, 3))
    >>> Xm, mask = mnar(X, 0.3, rng=0)
    >>> round(float(mask.mean()), 1), bool(X[mask].mean() > X[~mask].mean())
    (0.3, True)
    """
    _check(X, rate)
    if not strength > 0:
        raise ValueError(f"strength must be > 0; got {strength!r}")
    M = _numeric(X)
    n, p = M.shape
    gen = _rng(rng)
    mask = np.zeros((n, p), dtype=bool)
    for j in range(p):
        q = pd.Series(M[:, j]).rank(pct=True, method="average").to_numpy()
        s = strength * q
        b = _bisect_offset(s, rate)
        mask[:, j] = gen.random(n) < 1 / (1 + np.exp(-(s + b)))
    return apply_mask(X, mask), mask


def _check_length(length: Any, name: str, n: int) -> tuple[int, int]:
    if (
        not isinstance(length, (tuple, list))
        or len(length) != 2
        or not all(isinstance(v, (int, np.integer)) for v in length)
        or not 1 <= length[0] <= length[1]
    ):
        raise ValueError(f"{name} must be a pair of integers (min, max) with 1 <= min <= max")
    if length[0] > n:
        raise ValueError(f"{name} minimum {length[0]} is longer than the table ({n} rows)")
    return int(length[0]), int(min(length[1], n))


def channel_blocks(
    X: pd.DataFrame | np.ndarray,
    channels: dict[Any, Sequence] | Sequence[Sequence],
    rate: float,
    block_length: tuple[int, int] = (24, 168),
    rng: np.random.Generator | int | None = None,
) -> tuple[pd.DataFrame | np.ndarray, np.ndarray]:
    """Hide whole channels (groups of columns) for contiguous runs of rows.

    Imitates a sensor or source going offline: for each channel, runs of
    ``block_length`` consecutive rows are hidden in all its columns until
    ``rate`` of that channel's rows are hidden.

    Parameters
    ----------
    X : DataFrame or ndarray
    channels : dict {name: columns} or list of column lists
        Columns are labels for a DataFrame, positions for an array. Columns
        in no channel are never hidden.
    rate : float
        Share of each channel's rows to hide.
    block_length : (int, int)
        Range of run lengths, in rows.
    rng : numpy Generator, int or None

    Examples
    --------
    >>> import numpy as np
    >>> X = np.zeros((100, 4))
    >>> Xm, mask = channel_blocks(X, [[0, 1], [2]], 0.3, (5, 10), rng=0)
    >>> bool((mask[:, 0] == mask[:, 1]).all()), bool(mask[:, 3].any())
    (True, False)
    """
    _check(X, rate)
    n = X.shape[0]
    lo, hi = _check_length(block_length, "block_length", n)
    groups = list(channels.values()) if isinstance(channels, dict) else list(channels)
    if not groups:
        raise ValueError("channels is empty")
    positions = []
    for g in groups:
        cols = list(g)
        if not cols:
            raise ValueError("a channel has no columns")
        if isinstance(X, pd.DataFrame):
            missing = [c for c in cols if c not in X.columns]
            if missing:
                raise ValueError(f"channel columns not in X: {missing}")
            positions.append([X.columns.get_loc(c) for c in cols])
        else:
            bad = [
                c for c in cols if not isinstance(c, (int, np.integer)) or not 0 <= c < X.shape[1]
            ]
            if bad:
                raise ValueError(f"channel column positions out of range: {bad}")
            positions.append([int(c) for c in cols])
    gen = _rng(rng)
    mask = np.zeros(X.shape, dtype=bool)
    for pos in positions:
        rows = run_mask(n, int(round(rate * n)), (lo, hi), gen)
        mask[np.ix_(rows, pos)] = True
    return apply_mask(X, mask), mask


def temporal_gaps(
    X: pd.DataFrame | np.ndarray,
    rate: float,
    gap_length: tuple[int, int] = (1, 30),
    columns: Sequence | None = None,
    rng: np.random.Generator | int | None = None,
) -> tuple[pd.DataFrame | np.ndarray, np.ndarray]:
    """Hide each column for runs of consecutive rows (gaps in a time series).

    Parameters
    ----------
    X : DataFrame or ndarray
        Rows in time order.
    rate : float
        Share of each selected column's rows to hide.
    gap_length : (int, int)
        Range of gap lengths, in rows (drawn uniformly).
    columns : sequence, optional
        Columns to hide in (labels for a DataFrame, positions for an array);
        all by default.
    rng : numpy Generator, int or None

    Examples
    --------
    >>> import numpy as np
    >>> Xm, mask = temporal_gaps(np.zeros((200, 2)), 0.2, (5, 5), rng=0)
    >>> round(float(mask.mean()), 1)
    0.2
    """
    _check(X, rate)
    n, p = X.shape
    lo, hi = _check_length(gap_length, "gap_length", n)
    if columns is None:
        pos = list(range(p))
    elif isinstance(X, pd.DataFrame):
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise ValueError(f"columns not in X: {missing}")
        pos = [X.columns.get_loc(c) for c in columns]
    else:
        pos = list(columns)
        if any(not isinstance(c, (int, np.integer)) or not 0 <= c < p for c in pos):
            raise ValueError(f"column positions out of range: {pos}")
    gen = _rng(rng)
    mask = np.zeros(X.shape, dtype=bool)
    for j in pos:
        mask[:, j] = run_mask(n, int(round(rate * n)), (lo, hi), gen)
    return apply_mask(X, mask), mask


def keypoint_gaps(
    reliable: np.ndarray,
    lengths: Sequence[int] = (1, 3, 10, 30, 60),
    gaps_per_length: int | Sequence[int] = 20,
    block_size: int = 3,
    rng: np.random.Generator | int | None = None,
    max_tries: int = 200,
) -> tuple[np.ndarray, pd.DataFrame]:
    """Occlusion gaps of known lengths, placed on reliable keypoints only.

    For every length ``L`` it places ``gaps_per_length`` gaps of one keypoint
    and ``gaps_per_length`` blocks of ``block_size`` keypoints hidden together,
    each for ``L`` consecutive frames of one individual. A gap is placed only
    where every hidden point and the frame before and after it (its anchors)
    are reliable and not already used, so gaps never merge and every gap keeps
    its exact length. Longer gaps are placed first.

    Parameters
    ----------
    reliable : bool ndarray (frames, individuals, keypoints) or (frames, keypoints)
        Points that may serve as ground truth.
    lengths : sequence of int
        Gap lengths in frames.
    gaps_per_length : int or sequence of int
        Gaps of each length and kind (one count for all lengths, or one per
        length).
    block_size : int
        Keypoints per block (blocks are skipped when there are fewer keypoints).
    rng : numpy Generator, int or None
    max_tries : int
        Random placements tried per gap before giving up on it.

    Returns
    -------
    hidden : bool ndarray, same shape as ``reliable``
    gaps : DataFrame
        One row per placed gap: ``gap`` (id), ``length``, ``kind``
        (``"single"`` or ``"block"``), ``individual``, ``start``,
        ``keypoints`` (tuple of indices). Fewer gaps than asked are placed
        when the data has no room for them; the table says how many.

    Examples
    --------
    >>> import numpy as np
    >>> hidden, gaps = keypoint_gaps(np.ones((500, 1, 4), bool), (1, 10), 3, rng=0)
    >>> gaps.groupby(["length", "kind"]).size().tolist()
    [3, 3, 3, 3]
    >>> int(hidden.sum())
    132
    """
    rel = np.asarray(reliable, dtype=bool)
    squeeze = rel.ndim == 2
    if squeeze:
        rel = rel[:, None, :]
    if rel.ndim != 3:
        raise ValueError(
            f"reliable must have shape (frames, [individuals,] keypoints); got {np.shape(reliable)}"
        )
    n_frames, n_ind, n_kp = rel.shape
    if any(int(L) < 1 for L in lengths):
        raise ValueError(f"gap lengths must be >= 1, got {list(lengths)}")
    counts = (
        [int(gaps_per_length)] * len(lengths)
        if np.ndim(gaps_per_length) == 0
        else [int(c) for c in gaps_per_length]
    )
    if len(counts) != len(lengths):
        raise ValueError(f"{len(counts)} gap counts for {len(lengths)} lengths")
    gen = _rng(rng)
    free = rel.copy()  # reliable and not yet used as a gap or an anchor
    hidden = np.zeros_like(rel)
    rows = []
    kinds = [("single", 1)] + ([("block", block_size)] if 1 < block_size <= n_kp else [])
    # longest first: short gaps still find room between long ones, not the other way round
    for L, n_gaps in sorted(zip(lengths, counts, strict=True), reverse=True):
        L = int(L)
        for kind, size in kinds:
            for _ in range(n_gaps):
                for _ in range(max_tries):
                    start = int(gen.integers(1, max(2, n_frames - L)))
                    if start + L >= n_frames:
                        continue
                    ind = int(gen.integers(n_ind))
                    kps = np.sort(gen.choice(n_kp, size=size, replace=False))
                    span = free[start - 1 : start + L + 1, ind][:, kps]
                    if span.all():
                        hidden[start : start + L, ind, kps[:, None]] = True
                        free[start - 1 : start + L + 1, ind, kps[:, None]] = False
                        rows.append(
                            {
                                "gap": len(rows),
                                "length": L,
                                "kind": kind,
                                "individual": ind,
                                "start": start,
                                "keypoints": tuple(int(k) for k in kps),
                            }
                        )
                        break
    gaps = pd.DataFrame(rows, columns=["gap", "length", "kind", "individual", "start", "keypoints"])
    return (hidden[:, 0, :] if squeeze else hidden), gaps
