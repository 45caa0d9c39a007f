"""Error bars of repaired keypoints: how far from the truth a repair is expected to be.

From the distances between repairs of held-back (or artificial) gaps and the
true points, :func:`error_radius` builds a table of radii per gap-length
range, keypoint and position in the gap that hold ``ERROR_LEVEL`` of them
(split conformal prediction with a normalised score), with a power law for
how errors grow with the gap's length inside a range (:func:`length_power`).
Torch only; the keypoint model (:mod:`aeimpute.keypoints.model`) measures the
distances and looks the radii up.
"""

from __future__ import annotations

import math

import torch

#: share of held-back repaired points inside their error radius (a 90% interval)
ERROR_LEVEL = 0.9
#: points of the whole gap-length group a (keypoint) or (position) cell's mean square error is
#: pulled toward: a cell with few held-back points borrows from its group
RADIUS_PRIOR_POINTS = 20.0


def _sums(
    values: torch.Tensor, index: torch.Tensor, size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sum and count of ``values`` per ``index`` (``size`` cells)."""
    total = torch.zeros(size, dtype=values.dtype, device=values.device)
    count = torch.zeros_like(total)
    return total.index_add_(0, index, values), count.index_add_(0, index, torch.ones_like(values))


#: lower edges of the gap-length groups of the error radii (finer than the blend's: within a
#: group, the error still grows with the gap's length)
RADIUS_EDGES = (1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64)
#: parts of a gap by distance to its nearest observation: outer, middle and central third
N_POSITIONS = 3


def radius_cells(gap: torch.Tensor, depth: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each point's radius group and position in its gap (0 outer .. 2 centre).

    ``gap`` is the length of the gap a point sits in, ``depth`` the frames
    to its nearest observation (same shapes).
    """
    edges = torch.as_tensor(RADIUS_EDGES, device=gap.device)
    group = (torch.bucketize(gap.clamp_min(1), edges, right=True) - 1).clamp(
        0, len(RADIUS_EDGES) - 1
    )
    half = ((gap + 1) // 2).clamp_min(1)  # the deepest point of a gap
    position = (depth.double() / half * N_POSITIONS).ceil().long().clamp(1, N_POSITIONS) - 1
    return group, position


def stretch(length: torch.Tensor, group: torch.Tensor, power: float) -> torch.Tensor:
    """How much larger errors are at gap ``length`` than at its radius group's shortest length."""
    shortest = torch.as_tensor(RADIUS_EDGES, device=length.device, dtype=torch.float64)[group]
    return (length.clamp_min(1).double() / shortest) ** (power / 2)


def length_power(err: torch.Tensor, length: torch.Tensor) -> float:
    """The power ``b`` of ``mean square error ~ gap length ** b`` (least squares on logs).

    Over the gap lengths with at least 10 points, weighted by their points;
    clamped to [0, 4]; 1 (a random walk's) with fewer than two such lengths.
    """
    length = length.clamp_min(1)
    total = torch.bincount(length, weights=err.double() ** 2)
    count = torch.bincount(length).double()
    ok = count >= 10
    if int(ok.sum()) < 2:
        return 1.0
    x = torch.log(torch.arange(len(count), device=err.device, dtype=torch.float64)[ok])
    y = torch.log((total[ok] / count[ok]).clamp_min(1e-12))
    w = count[ok] / count[ok].sum()
    xm, ym = (w * x).sum(), (w * y).sum()
    slope = (w * (x - xm) * (y - ym)).sum() / (w * (x - xm) ** 2).sum().clamp_min(1e-12)
    return float(slope.clamp(0.0, 4.0))


def error_radius(
    err: torch.Tensor,
    group: torch.Tensor,
    keypoint: torch.Tensor,
    position: torch.Tensor,
    length: torch.Tensor,
    n_keypoints: int,
    level: float = ERROR_LEVEL,
) -> tuple[torch.Tensor, float]:
    """Radii (pixels) per (radius group, keypoint, position) holding ``level`` of the errors.

    ``err`` is the distance between each held-back point's repair and the
    true point; ``group``, ``keypoint``, ``position`` (see
    :func:`radius_cells`) and ``length`` (of its gap) say where it sits.
    Errors are first brought to their group's shortest gap length with
    :func:`length_power`'s power law (within a group, longer gaps still do
    worse). A point's expected size of error is then the root mean square
    of its group's errors for its keypoint times a factor for its position
    in the gap (each cell pulled toward its group when it has few points);
    the radius is that size times the ``level`` quantile of the errors
    divided by their size, per group (split conformal prediction with a
    normalised score). Groups without points get NaN. Returns the radii
    and the power (see :func:`stretch`).
    """
    n_groups = len(RADIUS_EDGES)
    power = length_power(err, length)
    err = err.double() / stretch(length, group, power)
    sq = err**2
    total, count = _sums(sq, group, n_groups)
    group_ms = total / count.clamp_min(1)

    def shrunk(cell: torch.Tensor, per_group: int) -> torch.Tensor:
        """Mean square per (group, cell), pulled toward the group's."""
        total, count = _sums(sq, group * per_group + cell, n_groups * per_group)
        toward = group_ms.repeat_interleave(per_group)
        mean = (total + RADIUS_PRIOR_POINTS * toward) / (count + RADIUS_PRIOR_POINTS)
        return mean.reshape(n_groups, per_group)

    per_kp, per_position = shrunk(keypoint, n_keypoints), shrunk(position, N_POSITIONS)
    factor = per_position / group_ms.clamp_min(1e-12)[:, None]  # (groups, positions)
    size = (per_kp[:, :, None] * factor[:, None, :]).sqrt()  # (groups, keypoints, positions)
    score = err / size[group, keypoint, position].clamp_min(1e-12)
    radius = torch.full_like(size, float("nan"))
    for g in range(n_groups):
        scores = score[group == g]
        if len(scores) == 0:
            continue
        # the finite-sample quantile of split conformal prediction
        q = min(1.0, math.ceil((len(scores) + 1) * level) / len(scores))
        radius[g] = torch.quantile(scores, q) * size[g]
    return radius.float(), power
