"""Gap geometry along time: neighbours, linear bridges and gap lengths.

The temporal models (keypoints now, time-ordered tables later) all start from
the same picture: for every missing point, the previous and the next observed
frame of the same series, the straight line between them, and the length of
the gap the point sits in. These helpers compute that picture for a batch of
series at once, in torch, so that training can recompute it for every fresh
corruption without leaving the device.

Shapes: ``values`` is ``(batch, time, channels)`` and ``mask`` is a boolean
tensor of the same shape, True where a value was observed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Bridges:
    """Linear bridges over the gaps of a batch of series.

    Attributes
    ----------
    filled : tensor (batch, time, channels)
        Observed values kept; gaps bridged linearly between their observed
        ends; gaps touching an end of the series carry the nearest observed
        value; channels never observed are NaN.
    prev, next : long tensor (batch, time, channels)
        Index of the previous / next observed frame (the frame itself when
        observed); ``-1`` / ``time`` when there is none.
    """

    filled: torch.Tensor
    prev: torch.Tensor
    next: torch.Tensor

    @property
    def n_frames(self) -> int:
        return self.filled.shape[1]

    def over(self, values: torch.Tensor) -> torch.Tensor:
        """Other ``values`` (same shape, observed where these bridges' mask was) bridged over
        the same gaps, as :func:`bridge` would with that mask, without finding the gaps again.

        Examples
        --------
        >>> import torch
        >>> m = torch.tensor([[[True], [False], [True]]])
        >>> b = bridge(torch.tensor([[[0.0], [0.0], [2.0]]]), m)
        >>> b.over(torch.tensor([[[10.0], [float("nan")], [20.0]]])).flatten().tolist()
        [10.0, 15.0, 20.0]
        """
        return _fill(values, self.prev, self.next, self.prev == _frame_index(values))

    def distances(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames since the previous and until the next observation (``time`` if none)."""
        t = _frame_index(self.filled)
        big = self.n_frames
        before = torch.where(self.prev >= 0, t - self.prev, torch.full_like(self.prev, big))
        after = torch.where(self.next < big, self.next - t, torch.full_like(self.next, big))
        return before, after

    def gap_lengths(self) -> torch.Tensor:
        """Length of the gap each point sits in (0 for observed points).

        A gap that touches an end of the series counts the frames from that
        end to its observed neighbour; a channel with no observation at all
        has gap length ``time``.
        """
        big = self.n_frames
        has_prev, has_next = self.prev >= 0, self.next < big
        inner = self.next - self.prev - 1
        head = self.next  # frames 0 .. next-1 missing
        tail = big - 1 - self.prev
        length = torch.where(
            has_prev & has_next,
            inner,
            torch.where(has_next, head, torch.where(has_prev, tail, torch.full_like(inner, big))),
        )
        return length.clamp_min(0)


def _frame_index(x: torch.Tensor) -> torch.Tensor:
    t = torch.arange(x.shape[1], device=x.device)
    return t.view(1, -1, *([1] * (x.dim() - 2))).expand_as(x)


def bridge(values: torch.Tensor, mask: torch.Tensor) -> Bridges:
    """Linear bridges over every gap of every series.

    Parameters
    ----------
    values : float tensor (batch, time, channels)
        Values at observed points; anything (NaN included) elsewhere.
    mask : bool tensor (batch, time, channels)
        True where observed.

    Returns
    -------
    Bridges

    Examples
    --------
    >>> import torch
    >>> v = torch.tensor([[[0.0], [9.0], [9.0], [3.0]]])
    >>> m = torch.tensor([[[True], [False], [False], [True]]])
    >>> b = bridge(v, m)
    >>> b.filled.flatten().tolist()
    [0.0, 1.0, 2.0, 3.0]
    >>> b.gap_lengths().flatten().tolist()
    [0, 2, 2, 0]
    """
    if values.shape != mask.shape:
        raise ValueError(f"values {tuple(values.shape)} and mask {tuple(mask.shape)} differ")
    n_time = values.shape[1]
    t = _frame_index(values)
    prev = torch.where(mask, t, torch.full_like(t, -1)).cummax(dim=1).values
    nxt = torch.where(mask, t, torch.full_like(t, n_time))
    nxt = nxt.flip(1).cummin(dim=1).values.flip(1)
    return Bridges(filled=_fill(values, prev, nxt, mask), prev=prev, next=nxt)


#: :func:`_fill` and :func:`hermite` compute at the gaps' points alone when they are at most
#: this share of the points (when they are many, one pass over every point is faster)
SPARSE_SHARE = 0.25


def _sparse(points: torch.Tensor) -> bool:
    """Whether the True points of ``points`` are few enough to compute there alone."""
    return int(points.sum()) <= SPARSE_SHARE * points.numel()


def _line(
    before: torch.Tensor,
    after: torch.Tensor,
    prev: torch.Tensor,
    nxt: torch.Tensor,
    t: torch.Tensor,
    n_time: int,
) -> torch.Tensor:
    """The straight line at frames ``t`` from ``before`` (at frame ``prev``) to ``after`` (at
    ``nxt``); the nearest of them past an end of the series (``prev < 0``, ``nxt == n_time``),
    NaN without either. Any shapes that broadcast."""
    has_prev, has_next = prev >= 0, nxt < n_time
    span = (nxt - prev).clamp_min(1).to(before.dtype)
    weight = (t - prev).to(before.dtype) / span
    inner = before + weight * (after - before)
    return torch.where(
        has_prev & has_next,
        inner,
        torch.where(has_prev, before, torch.where(has_next, after, torch.nan)),
    )


def _fill(
    values: torch.Tensor, prev: torch.Tensor, nxt: torch.Tensor, mask: torch.Tensor
) -> torch.Tensor:
    """``values`` kept where ``mask``, bridged linearly between frames ``prev`` and ``nxt``
    elsewhere (the nearest observed value at the ends, NaN without any)."""
    n_time = values.shape[1]
    missing = ~mask
    if _sparse(missing):
        b, t, c = missing.nonzero(as_tuple=True)
        p, q = prev[b, t, c], nxt[b, t, c]
        before = values[b, p.clamp(0, n_time - 1), c]
        after = values[b, q.clamp(0, n_time - 1), c]
        out = torch.where(mask, values, torch.nan)
        out[b, t, c] = _line(before, after, p, q, t, n_time)
        return out
    safe = torch.where(mask, values, torch.zeros_like(values))
    before = safe.gather(1, prev.clamp(0, n_time - 1))
    after = safe.gather(1, nxt.clamp(0, n_time - 1))
    return torch.where(mask, values, _line(before, after, prev, nxt, _frame_index(values), n_time))


def hermite(values: torch.Tensor, mask: torch.Tensor, bridges: Bridges) -> torch.Tensor:
    """Cubic Hermite bridges over the gaps, with slopes from the frames beside each gap.

    Inside a gap between observed frames ``p`` and ``n``, the curve leaves
    ``p`` with the slope of the step ``p - 1 -> p`` and reaches ``n`` with the
    slope of ``n -> n + 1`` (the straight-line slope where that neighbour is
    missing). Elsewhere the bridges' values are kept. Smooth motion is
    followed through short gaps better than by straight lines.

    Examples
    --------
    >>> import torch
    >>> v = torch.tensor([[[0.0], [1.0], [9.0], [9.0], [16.0], [25.0]]])  # t ** 2
    >>> m = torch.tensor([[[True], [True], [False], [False], [True], [True]]])
    >>> b = bridge(v, m)
    >>> b.filled.flatten()[2:4].tolist()  # straight line: truth is 4, 9
    [6.0, 11.0]
    >>> [round(x, 2) for x in hermite(v, m, b).flatten()[2:4].tolist()]
    [3.33, 8.33]
    """
    n_time = values.shape[1]
    prev, nxt = bridges.prev, bridges.next
    inner = (prev >= 0) & (nxt < n_time) & (nxt - prev > 1) & ~mask
    if _sparse(inner):
        b, t, c = inner.nonzero(as_tuple=True)
        p, q = prev[b, t, c], nxt[b, t, c]

        def at(index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            idx = index.clamp(0, n_time - 1)
            return values[b, idx, c], (index >= 0) & (index < n_time) & mask[b, idx, c]

        out = bridges.filled.clone()
        out[b, t, c] = _cubic(at(p)[0], at(q)[0], *at(p - 1), *at(q + 1), p, q, t)
        return out
    safe = torch.where(mask, values, torch.zeros_like(values))

    def at_all(index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        idx = index.clamp(0, n_time - 1)
        return safe.gather(1, idx), (index >= 0) & (index < n_time) & mask.gather(1, idx)

    curve = _cubic(at_all(prev)[0], at_all(nxt)[0], *at_all(prev - 1), *at_all(nxt + 1), prev,
                   nxt, _frame_index(values))  # fmt: skip
    return torch.where(inner, curve, bridges.filled)


def _cubic(
    x_p: torch.Tensor,
    x_n: torch.Tensor,
    x_pp: torch.Tensor,
    ok_pp: torch.Tensor,
    x_nn: torch.Tensor,
    ok_nn: torch.Tensor,
    prev: torch.Tensor,
    nxt: torch.Tensor,
    t: torch.Tensor,
) -> torch.Tensor:
    """The cubic Hermite curve of :func:`hermite` at frames ``t`` between ``x_p`` (at frame
    ``prev``) and ``x_n`` (at ``nxt``), slopes from ``x_pp`` and ``x_nn`` (the frames beyond
    them) where ``ok_pp`` / ``ok_nn``, else the straight line's."""
    span = (nxt - prev).clamp_min(1).to(x_p.dtype)
    straight = (x_n - x_p) / span
    slope_p = torch.where(ok_pp, x_p - x_pp, straight)
    slope_n = torch.where(ok_nn, x_nn - x_n, straight)
    s = (t - prev).to(x_p.dtype) / span
    s2, s3 = s * s, s * s * s
    return (
        (2 * s3 - 3 * s2 + 1) * x_p
        + (s3 - 2 * s2 + s) * span * slope_p
        + (-2 * s3 + 3 * s2) * x_n
        + (s3 - s2) * span * slope_n
    )
