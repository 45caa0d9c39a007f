"""The keypoint model of :class:`aeimpute.KeypointImputer`: geometry, network, calibration.

Imported lazily so that ``import aeimpute`` does not import torch.

Every series (one individual's track) is a tensor ``(time, keypoints, 2)``
with a boolean mask ``(time, keypoints)``. The network sees, frame by frame,
the keypoints bridged linearly over their gaps in the body frame (see
:func:`inputs`) and predicts a correction to the linear bridge, so an
untrained network equals linear interpolation; :func:`calibrate` then stacks
that correction with shape-model and cubic-bridge estimates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from statistics import NormalDist

import numpy as np
import torch

from aeimpute.corruption import gaussian_noise, hide_runs
from aeimpute.keypoints.error_bars import (
    RADIUS_EDGES,
    error_radius,
    radius_cells,
    stretch,
)
from aeimpute.nn import TemporalConvNet
from aeimpute.runtime import session
from aeimpute.temporal import Bridges, bridge, hermite
from aeimpute.training import OptimConfig, optimise

#: gap distances are fed to the network as min(distance, HORIZON) / HORIZON
HORIZON = 64.0


def _mask_patterns(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct rows of a boolean ``(n, k)`` mask and each row's index among them (as
    ``torch.unique(rows, dim=0, return_inverse=True)``, faster: rows as integers)."""
    k = rows.shape[1]
    if k > 62:
        return torch.unique(rows, dim=0, return_inverse=True)
    bits = 2 ** torch.arange(k, device=rows.device, dtype=torch.long)
    codes, index = torch.unique((rows.long() * bits).sum(1), return_inverse=True)
    return (codes[:, None] & bits) > 0, index


#: ``_by_pattern`` loops over the patterns up to this many (else one gather per row)
MAX_PATTERN_LOOP = 256


def _by_pattern(mats: torch.Tensor, index: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``mats[index[i]] @ rows[i]`` for every row: ``mats (patterns, a, b)``, ``rows (n, b)``.

    Rows are grouped by pattern, one matrix product per pattern, rather than
    a copy of its matrix per row (the copies cost more than the products).
    """
    if len(mats) > MAX_PATTERN_LOOP:
        return torch.einsum("nab,nb->na", mats[index], rows)
    order = torch.argsort(index)
    counts = torch.bincount(index, minlength=len(mats)).tolist()
    parts = [chunk @ m.T for m, chunk in zip(mats, rows[order].split(counts), strict=True)]
    out = torch.empty(len(rows), mats.shape[1], dtype=rows.dtype, device=rows.device)
    out[order] = torch.cat(parts)
    return out


def _pca(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, component variances and components (rows) of configurations ``(n, c)``."""
    mean = flat.mean(axis=0)
    _, sing, vt = np.linalg.svd(flat - mean, full_matrices=False)
    return mean, sing**2 / (len(flat) - 1), vt


#: ``ShapeModel.fit_validated``: share of the configurations held back to choose the rank, at
#: least / at most this many of them, and the tolerance above the lowest error
VALIDATION_SHARE = 0.2
MIN_VALIDATION = 20
MAX_VALIDATION = 1000
RANK_TOLERANCE = 0.05

#: ``ShapeModel.left_out``: smallest determinant of ``I - H`` (a keypoint's 2 x 2 block of the
#: hat matrix) for which the leave-one-out identity is used
MIN_FREEDOM = 1e-4


@dataclass
class ShapeModel:
    """Probabilistic PCA of keypoint configurations ``(2 * keypoints,)``, optionally shift-free.

    A configuration is ``mean + components @ z (+ shift)`` with ``z ~ N(0, I)``
    (the components are scaled by their standard deviations) and, with
    ``shift``, a translation of the whole configuration with prior N(0, 1).
    """

    mean: torch.Tensor
    components: torch.Tensor  # (2 * keypoints, rank)
    noise: float
    shift: bool

    @classmethod
    def fit(
        cls, flat: np.ndarray, shift: bool, explained: float = 0.95, rank: int | None = None
    ) -> ShapeModel | None:
        """Fit on configurations ``(n, 2 * keypoints)``; None with fewer than 10.

        ``rank`` components (at most ``2 * keypoints - 2``), or by default as
        many as explain the share ``explained`` of the variance.
        """
        if len(flat) < 10:
            return None
        mean, var, vt = _pca(flat)
        if rank is None:
            share = np.cumsum(var) / max(var.sum(), 1e-12)
            rank = int(np.searchsorted(share, explained) + 1)
        return cls._with_rank(mean, var, vt, rank, shift)

    @classmethod
    def _with_rank(
        cls, mean: np.ndarray, var: np.ndarray, vt: np.ndarray, rank: int, shift: bool
    ) -> ShapeModel:
        """The model of ``rank`` components from a principal component analysis."""
        rank = int(min(max(rank, 1), max(1, vt.shape[1] - 2)))
        noise = float(var[rank:].mean()) if rank < len(var) else float(var[-1])
        noise = max(noise, 1e-6)
        comp = vt[:rank].T * np.sqrt(np.maximum(var[:rank] - noise, 1e-9))
        # contiguous, as a loaded model's: products over another memory layout sum in another
        # order, and a fitted and a loaded model would differ in the last bits
        return cls(
            torch.as_tensor(mean, dtype=torch.float32),
            torch.as_tensor(np.ascontiguousarray(comp), dtype=torch.float32),
            noise,
            shift,
        )

    @classmethod
    def fit_validated(cls, flat: np.ndarray, shift: bool) -> ShapeModel | None:
        """:meth:`fit` with the rank that best estimates a keypoint from the others.

        The last ``VALIDATION_SHARE`` of the configurations (in the order
        given: later frames) are held back; for every rank, a model fitted on
        the rest estimates each keypoint of each held-back configuration from
        the other keypoints, and the smallest rank within ``RANK_TOLERANCE``
        of the lowest squared error is kept, refitted on all configurations.
        With fewer than ``MIN_VALIDATION`` held-back configurations, the
        rank explains 95% of the variance (:meth:`fit`).
        """
        n_val = min(int(len(flat) * VALIDATION_SHARE), MAX_VALIDATION)
        if n_val < MIN_VALIDATION:
            return cls.fit(flat, shift)
        train, val = flat[: len(flat) - n_val], flat[len(flat) - n_val :]
        mean, var, vt = _pca(train)
        k = flat.shape[1] // 2
        # every held-back configuration k times, keypoint j left out of the j-th copy
        values = torch.as_tensor(np.tile(val, (k, 1)), dtype=torch.float32)[None]
        left = torch.arange(k).repeat_interleave(n_val)
        mask = (torch.arange(k)[None] != left[:, None])[None]
        rows = torch.arange(len(left))
        truth = values[0].reshape(-1, k, 2)[rows, left]
        errors = []
        for rank in range(1, max(1, 2 * k - 2) + 1):
            model = cls._with_rank(mean, var, vt, rank, shift)
            est = model.estimate(values, mask)[0].reshape(-1, k, 2)[rows, left]
            errors.append(float(((est - truth) ** 2).sum(-1).mean()))
        best = min(errors)
        rank = next(r for r, e in enumerate(errors, 1) if e <= best * (1 + RANK_TOLERANCE))
        return cls.fit(flat, shift, rank=rank)

    def _basis(self, values: torch.Tensor) -> torch.Tensor:
        """The components, with the two shift directions when ``shift``."""
        basis = self.components.to(values.dtype)
        if self.shift:
            move = torch.zeros(basis.shape[0], 2, dtype=values.dtype, device=values.device)
            move[0::2, 0] = 1.0
            move[1::2, 1] = 1.0
            basis = torch.cat([basis, move], dim=1)
        return basis

    def _posterior(self, values: torch.Tensor, mask: torch.Tensor):
        """Posterior-mean configurations, the basis, the inverse posterior precision of each
        pattern of observed keypoints (float64) and each frame's pattern.

        The precision depends only on which keypoints a frame shows: it is
        inverted once per pattern (:func:`_mask_patterns`).
        """
        mean = self.mean.to(values.dtype)
        basis = self._basis(values)
        b, t, c = values.shape
        patterns, index = _mask_patterns(mask.reshape(-1, c // 2))
        seen = patterns.double().repeat_interleave(2, dim=1)  # (patterns, 2 * keypoints)
        b64 = basis.double()
        eye = torch.eye(b64.shape[1], dtype=b64.dtype, device=b64.device)
        inv = torch.linalg.inv(torch.einsum("pc,cr,cs->prs", seen, b64, b64) + self.noise * eye)
        resid = torch.nan_to_num(values - mean) * _mask2(mask).to(values.dtype)
        rhs = (resid @ basis).reshape(b * t, -1)
        z = _by_pattern(inv.to(values.dtype), index, rhs).reshape(b, t, -1)
        return mean + z @ basis.T, basis, inv, index

    def estimate(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Posterior-mean configuration of every frame given its observed keypoints.

        ``values`` is ``(batch, time, 2 * keypoints)``, ``mask`` ``(batch, time, keypoints)``.
        """
        return self._posterior(values, mask)[0]

    def left_out(self, values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Each keypoint estimated from the *other* keypoints observed in its frame.

        Same shapes as :meth:`estimate`; see :meth:`with_left_out`.
        """
        return self.with_left_out(values, mask)[1]

    def with_left_out(
        self, values: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`estimate` and, for every keypoint, its estimate from the *other* keypoints.

        A missing keypoint gets the posterior mean (it did not inform it); an
        observed one the posterior mean of the frame without it, by the
        leave-one-out identity of linear Gaussian models:
        ``x - (I - H) ^ -1 (x - estimate)`` with ``H`` the keypoint's 2 x 2 block
        of the hat matrix ``W (W' W + noise I) ^ -1 W'`` of the frame's observed
        coordinates (a keypoint with a leverage near 1, which the others hardly
        constrain, keeps its own estimate).
        """
        est, basis, inv, index = self._posterior(values, mask)
        b, t, c = values.shape
        k = c // 2
        per_kp = basis.reshape(k, 2, -1).double()
        hat = torch.einsum("kir,prs,kjs->pkij", per_kp, inv, per_kp)  # per pattern
        # (I - H) ^ -1 in closed form, per pattern (2 x 2 per keypoint)
        a, bb = 1 - hat[..., 0, 0], -hat[..., 0, 1]
        cc, d = -hat[..., 1, 0], 1 - hat[..., 1, 1]
        det = a * d - bb * cc
        # a keypoint the others hardly constrain has a leverage near 1 (``I - H`` near
        # singular): its own estimate stands in (no offset to anchor on)
        free_enough = det > MIN_FREEDOM
        stable = free_enough[index].reshape(b, t, k)
        det = torch.where(free_enough, det, torch.ones_like(det))
        free = torch.stack([torch.stack([d, -bb], -1), torch.stack([-cc, a], -1)], -2)
        free = (free / det[..., None, None]).to(values.dtype)[index].reshape(b, t, k, 2, 2)
        seen = torch.nan_to_num(values).reshape(b, t, k, 2)
        r = seen - est.reshape(b, t, k, 2)
        out = seen - (free @ r[..., None])[..., 0]
        keep = mask & stable
        left = torch.where(keep[..., None], out, est.reshape(b, t, k, 2)).reshape(b, t, c)
        return est, left

    def to(self, device) -> ShapeModel:
        return replace(self, mean=self.mean.to(device), components=self.components.to(device))

    def to_json(self) -> dict:
        return {
            "mean": self.mean.cpu().tolist(),
            "components": self.components.cpu().tolist(),
            "noise": self.noise,
            "shift": self.shift,
        }

    @classmethod
    def from_json(cls, d: dict | None) -> ShapeModel | None:
        if d is None:
            return None
        return cls(
            torch.tensor(d["mean"], dtype=torch.float32),
            torch.tensor(d["components"], dtype=torch.float32),
            float(d["noise"]),
            bool(d["shift"]),
        )


@dataclass
class Geometry:
    """What the model knows about bodies: scale, mean shape, whether to turn frames upright."""

    scale: float
    template: torch.Tensor  # (keypoints, 2): mean shape around the centre, in scale units
    rotate: bool = True
    #: blend weights per gap-length group and estimate (see ``calibrate``); None: network only
    blend: torch.Tensor | None = None
    #: the upright body in the body frame, with a free shift (see ``inputs``)
    shape: ShapeModel | None = None
    #: keypoints in image coordinates divided by the scale: where the body parts are
    placement: ShapeModel | None = None
    #: share of the blend's correction kept, per gap-length group, keypoint and motion class
    #: (see ``calibrate``); None: all of it
    shrink: torch.Tensor | None = None
    #: per gap-length group, the longest correction (pixels) kept whole; longer ones are
    #: scaled down to it (see ``calibrate``). None: no limit
    cap: torch.Tensor | None = None
    #: frames whose keypoints move faster than this (pixels per frame / scale) are "moving"
    motion_threshold: float = float("inf")
    #: (keypoints, 2 axes, low/high): where each keypoint was seen in the upright body frame,
    #: widened; an estimate outside falls back to the linear bridge. None: no bound
    envelope: torch.Tensor | None = None
    #: (radius groups, keypoints, positions): radius in pixels of the circle around a
    #: repaired point that held the true point on ``ERROR_LEVEL`` of held-back points (see
    #: ``error_radius``); None: not calibrated
    radius: torch.Tensor | None = None
    #: within a radius group, the radius grows as (gap length / group's shortest) ** (power / 2)
    radius_power: float = 1.0

    def to(self, device) -> Geometry:
        """A copy with every tensor on ``device``."""

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device)

        return replace(
            self,
            template=self.template.to(device),
            blend=move(self.blend),
            shape=None if self.shape is None else self.shape.to(device),
            placement=None if self.placement is None else self.placement.to(device),
            shrink=move(self.shrink),
            envelope=move(self.envelope),
            cap=move(self.cap),
            radius=move(self.radius),
        )


def n_inputs(n_keypoints: int) -> int:
    return 9 * n_keypoints + 3


def build_model(config: dict) -> TemporalConvNet:
    k = int(config["n_keypoints"])
    return TemporalConvNet(n_inputs(k), 2 * k, int(config["width"]), int(config["n_blocks"]))


def _mask2(mask: torch.Tensor) -> torch.Tensor:
    b, t, k = mask.shape
    return mask[..., None].expand(b, t, k, 2).reshape(b, t, 2 * k)


def _turn(p: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate points ``p (..., 2)`` by the angle with the given cosine and sine."""
    x, y = p[..., 0], p[..., 1]
    return torch.stack([cos * x - sin * y, sin * x + cos * y], dim=-1)


@dataclass
class Inputs:
    """Network inputs of a batch of series and what is needed to map outputs back."""

    features: torch.Tensor  # (batch, time, n_inputs(keypoints))
    bridged: torch.Tensor  # (batch, time, keypoints, 2) linear bridges in pixels
    gap: torch.Tensor  # long (batch, time, keypoints): gap length (0 when observed)
    cos: torch.Tensor  # (batch, time, 1): body orientation of each frame
    sin: torch.Tensor
    shaped: torch.Tensor  # (batch, time, keypoints, 2): body shape-model estimate, pixels
    placed: torch.Tensor  # (batch, time, keypoints, 2): placement-model estimate, pixels
    cubic: torch.Tensor  # (batch, time, keypoints, 2): cubic Hermite bridges, pixels
    centre: torch.Tensor  # (batch, time, 2): centre of the frame's keypoints, pixels
    motion: torch.Tensor  # (batch, time): mean speed of the observed keypoints / scale
    depth: torch.Tensor  # long (batch, time, keypoints): frames to the nearest observation
    #: (batch, time, keypoints, 2): the shape models' estimates moved by their own error at the
    #: gap's ends, bridged (see :func:`anchored`), pixels
    shaped_anchored: torch.Tensor
    placed_anchored: torch.Tensor

    def window(self, a: int, z: int) -> Inputs:
        """The frames ``a:z`` of every series."""
        return Inputs(*(getattr(self, f)[:, a:z] for f in _INPUT_FIELDS))

    def frames(self, which: torch.Tensor) -> Inputs:
        """The frames where ``which`` ``(batch, time)`` is True, as one series (for what is
        computed frame by frame, as the blend is)."""
        return Inputs(*(getattr(self, f)[which][None] for f in _INPUT_FIELDS))


_INPUT_FIELDS = ("features", "bridged", "gap", "cos", "sin", "shaped", "placed", "cubic",
                 "centre", "motion", "depth", "shaped_anchored", "placed_anchored")  # fmt: skip


def inputs(xy: torch.Tensor, mask: torch.Tensor, geo: Geometry, anchors: bool = True) -> Inputs:
    """Network inputs for a batch of series ``xy (batch, time, keypoints, 2)``.

    Every keypoint is first bridged linearly over its gaps. Each frame is then
    centred on the mean of its keypoints, divided by the body scale and, with
    ``geo.rotate``, turned so that it best matches the mean shape (2-D
    Procrustes), so the network sees the body upright. Per keypoint the
    features are the two body-frame coordinates, the mask, the distances
    to the previous and next observation, and where two shape models put the
    keypoint given the keypoints observed in that frame: the body model
    (upright body, free shift) and the placement model (image coordinates:
    where body parts are, for animals that stay in place); per frame, the
    centre's velocity (in the body frame) and the turning angle. Keypoints
    never observed in a series sit where the mean shape puts them. With
    ``anchors`` (the blend's candidates; training does without), the shape
    models' estimates are also anchored at each gap's ends (:func:`anchored`);
    without, those fields repeat the plain estimates.
    """
    b, t, k, _ = xy.shape
    br = bridge(xy.reshape(b, t, 2 * k), _mask2(mask))
    lin = br.filled.reshape(b, t, k, 2)
    seen = torch.isfinite(lin[..., 0])
    w = seen[..., None].to(lin.dtype)
    n_seen = w.sum(2).clamp_min(1)
    centre = (torch.nan_to_num(lin) * w).sum(2) / n_seen  # (b, t, 2)
    local = (torch.nan_to_num(lin) - centre[:, :, None]) * w / geo.scale
    template = geo.template.to(lin.dtype).expand(b, t, k, 2)
    template = template - (template * w).sum(2, keepdim=True) / n_seen[:, :, None]
    if geo.rotate:
        dot = (template * local).sum((2, 3))
        cross = (template[..., 0] * local[..., 1] - template[..., 1] * local[..., 0]).sum(2)
        angle = torch.atan2(cross, dot)
    else:
        angle = torch.zeros(b, t, dtype=lin.dtype, device=lin.device)
    cos, sin = torch.cos(angle)[..., None], torch.sin(angle)[..., None]
    body = _turn(local, cos, -sin)  # turned upright
    body = torch.where(seen[..., None], body, template)
    lin = torch.where(
        seen[..., None], lin, centre[:, :, None] + geo.scale * _turn(template, cos, sin)
    )
    vel = torch.diff(centre, dim=1, prepend=centre[:, :1]) / geo.scale
    vel = _turn(vel, cos[..., 0], -sin[..., 0])
    turn = torch.diff(angle, dim=1, prepend=angle[:, :1])
    turn = torch.remainder(turn + math.pi, 2 * math.pi) - math.pi
    before, after = br.distances()
    depth = torch.minimum(before, after)[..., ::2]
    before = before[..., ::2].clamp(max=int(HORIZON)).to(lin.dtype) / HORIZON
    after = after[..., ::2].clamp(max=int(HORIZON)).to(lin.dtype) / HORIZON
    if geo.shape is not None:
        flat_body = body.reshape(b, t, 2 * k)
        if anchors:
            guess, others = (
                e.reshape(b, t, k, 2) for e in geo.shape.with_left_out(flat_body, mask)
            )
        else:
            guess = others = geo.shape.estimate(flat_body, mask).reshape(b, t, k, 2)
    else:
        guess = others = template
    shaped = centre[:, :, None] + geo.scale * _turn(guess, cos, sin)
    shaped_anchored = (
        anchored(shaped, centre[:, :, None] + geo.scale * _turn(others, cos, sin), xy, mask, br)
        if anchors
        else shaped
    )
    if geo.placement is not None:
        flat = (xy / geo.scale).reshape(b, t, 2 * k)
        if anchors:
            placed, placed_others = (
                geo.scale * e.reshape(b, t, k, 2) for e in geo.placement.with_left_out(flat, mask)
            )
            placed_anchored = anchored(placed, placed_others, xy, mask, br)
        else:
            placed = placed_anchored = geo.scale * geo.placement.estimate(flat, mask).reshape(
                b, t, k, 2
            )
    else:
        placed, placed_anchored = shaped, shaped_anchored
    placed_body = _turn((placed - centre[:, :, None]) / geo.scale, cos, -sin)
    feats = torch.cat(
        [
            body.reshape(b, t, 2 * k), mask.to(lin.dtype), before, after,
            guess.reshape(b, t, 2 * k), placed_body.reshape(b, t, 2 * k), vel, turn[..., None],
        ],
        dim=-1,
    )  # fmt: skip
    gap = br.gap_lengths()[..., ::2]
    flat_xy = xy.reshape(b, t, 2 * k)
    cubic = hermite(flat_xy, _mask2(mask), br).reshape(b, t, k, 2)
    cubic = torch.where(torch.isfinite(cubic), cubic, lin)
    motion = frame_motion(xy, mask) / geo.scale
    return Inputs(feats, lin, gap, cos[..., None], sin[..., None], shaped, placed, cubic,
                  centre, motion, depth, shaped_anchored, placed_anchored)  # fmt: skip


def anchored(
    estimate: torch.Tensor,
    left_out: torch.Tensor,
    xy: torch.Tensor,
    mask: torch.Tensor,
    bridges: Bridges | None = None,
) -> torch.Tensor:
    """A shape model's estimate in a gap, moved by the model's own error at the gap's ends.

    ``left_out`` is the model's estimate of each observed point from the other
    keypoints of its frame (:meth:`ShapeModel.left_out`); its error there is
    bridged linearly across the gap and added to ``estimate``. A shape model
    misses a keypoint by an offset that drifts slowly (the pose it cannot
    explain); the anchors measure that offset, the estimate keeps the motion
    the other keypoints show. All ``(batch, time, keypoints, 2)`` pixels;
    ``mask (batch, time, keypoints)``; ``bridges``, those of ``xy`` over the same ``mask``
    (:func:`~aeimpute.temporal.bridge` of the flattened coordinates), saves finding the gaps
    again.
    """
    b, t, k, _ = xy.shape
    error = torch.where(mask[..., None], xy - left_out, torch.nan).reshape(b, t, 2 * k)
    flat = bridges.over(error) if bridges is not None else bridge(error, _mask2(mask)).filled
    offset = flat.reshape(b, t, k, 2)
    return estimate + torch.nan_to_num(offset)


def frame_motion(xy: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean speed (pixels per frame) of the keypoints observed in a frame and the next one.

    ``xy (batch, time, keypoints, 2)``, ``mask (batch, time, keypoints)``;
    returns ``(batch, time)``, 0 where no keypoint is observed in both frames.
    A frame inside a gap reads how much the rest of the body moves there.
    """
    step = torch.linalg.vector_norm(torch.nan_to_num(xy[:, 1:] - xy[:, :-1]), dim=-1)
    both = (mask[:, 1:] & mask[:, :-1]).to(step.dtype)
    speed = (step * both).sum(-1) / both.sum(-1).clamp_min(1)
    return torch.cat([speed, speed[:, -1:]], dim=1)


def corrections(
    net: TemporalConvNet, inp: Inputs, dtype: torch.dtype | None = None
) -> torch.Tensor:
    """The network's correction to the linear bridges, in scale units, image frame.

    ``dtype``: the number format of the network's pass (autocast; None: float32); the
    result is float32 either way.
    """
    b, t, k, _ = inp.bridged.shape
    device = inp.features.device.type
    with torch.autocast(device, dtype=dtype or torch.bfloat16, enabled=dtype is not None):
        body = net(inp.features)
    return _turn(body.float().reshape(b, t, k, 2), inp.cos[..., 0], inp.sin[..., 0])


def predict(net: TemporalConvNet, xy: torch.Tensor, mask: torch.Tensor, geo: Geometry):
    """Network prediction for every point, and the gap lengths (training and validation:
    the blend's anchored candidates are not needed)."""
    inp = inputs(xy, mask, geo, anchors=False)
    return inp.bridged + geo.scale * corrections(net, inp), inp.gap


#: hidden points weigh 1 / gap_length ** GAP_WEIGHT_POWER in the loss
GAP_WEIGHT_POWER = 0.5


def weighted_loss(pred, target, hidden, gap, scale) -> torch.Tensor:
    """Squared error on hidden points in scale units, weighted by 1 / sqrt(gap length).

    Long gaps hold most hidden points; down-weighting them keeps the short
    gaps in view, and the square root (rather than 1 / length) still lets
    long gaps drive learning.
    """
    err = ((pred - torch.nan_to_num(target)) / scale).pow(2).sum(-1)
    weight = hidden.to(err.dtype) / gap.clamp_min(1).to(err.dtype) ** GAP_WEIGHT_POWER
    return (err * weight).sum() / weight.sum().clamp_min(1e-12)


def _procrustes_mean(
    frames: np.ndarray, n_iter: int = 5
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean shape of centred frames ``(n, keypoints, 2)`` after turning each onto it.

    Returns the mean shape, each frame's angle relative to it and the frames
    turned upright by those angles.
    """
    template = frames[0]
    upright = frames
    angle = np.zeros(len(frames))
    for _ in range(n_iter):
        dot = (template[None] * frames).sum((1, 2))
        tx, ty = template[None, :, 0], template[None, :, 1]
        cross = (tx * frames[..., 1] - ty * frames[..., 0]).sum(1)
        angle = np.arctan2(cross, dot)
        c, s = np.cos(angle)[:, None], np.sin(angle)[:, None]
        upright = np.stack(
            [c * frames[..., 0] + s * frames[..., 1], -s * frames[..., 0] + c * frames[..., 1]], -1
        )
        template = upright.mean(axis=0)
        template -= template.mean(axis=0)
    return template, angle, upright


#: ``rotate="auto"`` turns frames upright when the body's heading spreads more than this
#: (circular standard deviation, radians; 0.35 rad is about 20 degrees)
TURNING = 0.35


def geometry(
    xy: np.ndarray, mask: np.ndarray, rotate: bool | str = "auto", seed: int = 0
) -> Geometry:
    """Body scale and mean shape from the observed points of all series.

    ``xy`` is ``(series, time, keypoints, 2)``. The scale is the median, over
    frames with at least two observed keypoints, of the root-mean-square
    distance of the observed keypoints to their mean. The mean shape is a
    Procrustes mean (frames centred, scaled and, with ``rotate``, turned onto
    it) over up to 5000 frames where every keypoint was observed, or where
    every keypoint could be bridged when fewer than 10 frames are complete.
    With ``rotate="auto"``, frames are turned only when the headings of those
    frames spread by more than ``TURNING`` (an animal that turns, not a
    head-fixed one).
    """
    pts = np.where(mask[..., None], xy, np.nan)
    count = mask.sum(-1)
    some = count > 0
    centre = np.zeros(xy.shape[:-2] + (2,))
    centre[some] = np.nanmean(pts[some], axis=-2)
    sq = np.where(mask, ((np.nan_to_num(pts) - centre[..., None, :]) ** 2).sum(-1), 0.0)
    radius = np.sqrt(sq.sum(-1)[count >= 2] / count[count >= 2])
    scale = float(np.median(radius)) if radius.size else 1.0
    if not math.isfinite(scale) or scale <= 0:
        scale = 1.0
    full = count == mask.shape[-1]
    if full.sum() >= 10:
        frames = xy[full]
    else:
        s, f, k, _ = xy.shape
        t = torch.as_tensor(xy, dtype=torch.float64)
        m = torch.as_tensor(mask)
        lin = bridge(t.reshape(s, f, 2 * k), _mask2(m)).filled.reshape(s, f, k, 2).numpy()
        frames = lin[np.isfinite(lin).all(axis=(-1, -2))]
    if len(frames) > 5000:  # a seeded subsample, kept in time order (see fit_validated)
        frames = frames[np.sort(np.random.default_rng(seed).choice(len(frames), 5000, False))]
    placement = ShapeModel.fit_validated((frames / scale).reshape(len(frames), -1), shift=False)
    frames = (frames - frames.mean(axis=1, keepdims=True)) / scale
    if len(frames) == 0:
        return Geometry(scale, torch.zeros(xy.shape[-2:]), False)
    template, angle, upright = _procrustes_mean(frames)
    if rotate == "auto":
        resultant = float(np.abs(np.mean(np.exp(1j * angle))))
        rotate = bool(np.sqrt(-2 * np.log(max(resultant, 1e-12))) > TURNING)
    if rotate:
        frames = upright
    else:
        template = frames.mean(axis=0)
    shape = ShapeModel.fit_validated(frames.reshape(len(frames), -1), shift=True)
    template = torch.as_tensor(template, dtype=torch.float32)
    return Geometry(scale, template, bool(rotate), shape=shape, placement=placement)


@dataclass
class Occlusions:
    """How training hides points (see :class:`aeimpute.KeypointImputer` for meanings).

    ``window`` is the length of the training windows, in frames.
    """

    window: int
    gap_range: tuple[int, int]
    block_probability: float
    dropout: float
    noise_std: float
    validation: bool


def _corrupt(mask, config: Occlusions, generator, dropout: float | None = None):
    """The training corruption of ``config`` (``dropout`` overrides its point dropout)."""
    return hide_runs(
        mask,
        generator,
        gap_range=config.gap_range,
        block_probability=config.block_probability,
        dropout=config.dropout if dropout is None else dropout,
    )


def occlusions_by_window(
    mask: torch.Tensor, config: Occlusions, generator: torch.Generator, dropout: float
) -> torch.Tensor:
    """One occlusion draw per ``window`` frames of every series (a subset of ``mask``)."""
    n_series, n_time, n_kp = mask.shape
    w = config.window
    n_chunks = n_time // w
    chunks = mask[:, : n_chunks * w].reshape(n_series * n_chunks, w, n_kp)
    drawn = _corrupt(chunks, config, generator, dropout)
    hidden = torch.zeros_like(mask)
    hidden[:, : n_chunks * w] = drawn.reshape(n_series, n_chunks * w, n_kp)
    return hidden


def held_back_gaps(
    mask: torch.Tensor, config: Occlusions, generator: torch.Generator
) -> torch.Tensor | None:
    """Validation points: occlusion draws per ``window`` frames, point dropout included.

    Two draws, or up to eight on short recordings, so that some 60 runs are
    held back.

    None when ``config.validation`` is off or fewer than 50 points would be
    held back. Validation imitates the use: the points are filled from the
    rest of the same recording.
    """
    if not config.validation:
        return None
    n_windows = mask.shape[0] * (mask.shape[1] // config.window)
    # about 2 runs per draw and window; enough draws for some 60 held-back runs
    n_draws = min(8, max(2, math.ceil(60 / max(1, 2 * n_windows))))
    held = occlusions_by_window(mask, config, generator, dropout=config.dropout)
    for _ in range(n_draws - 1):
        held |= occlusions_by_window(mask, config, generator, dropout=0.0)
    return held if int(held.sum()) >= 50 else None


#: lower edges of the gap-length groups that get their own blend weight
BLEND_EDGES = (1, 2, 3, 5, 9, 17, 33)


def gap_labels() -> list[str]:
    """Words for the gap-length groups of ``BLEND_EDGES``.

    Examples
    --------
    >>> gap_labels()
    ['1 frame', '2 frames', '3-4 frames', '5-8 frames', '9-16 frames', '17-32 frames', '33 frames or more']
    """  # noqa: E501
    labels = []
    for lo, nxt in zip(BLEND_EDGES, [*BLEND_EDGES[1:], None], strict=True):
        if nxt is None:
            labels.append(f"{lo} frames or more")
        elif nxt - 1 == lo:
            labels.append(f"{lo} frame" + ("s" if lo != 1 else ""))
        else:
            labels.append(f"{lo}-{nxt - 1} frames")
    return labels


def gap_group(lengths: np.ndarray) -> np.ndarray:
    """Index of the gap-length group of each length (lengths of at least 1)."""
    return np.clip(np.searchsorted(BLEND_EDGES, lengths, side="right") - 1, 0, len(BLEND_EDGES) - 1)


def _group(gap: torch.Tensor) -> torch.Tensor:
    edges = torch.as_tensor(BLEND_EDGES, device=gap.device)
    return (torch.bucketize(gap.clamp_min(1), edges, right=True) - 1).clamp(0, len(BLEND_EDGES) - 1)


#: the stacked candidates (see :func:`_candidates`), in the order of the blend's weights
CANDIDATES = ("network", "body", "placement", "cubic", "anchored body", "anchored placement")
N_CANDIDATES = len(CANDIDATES)


def _simplex(n: int, budget: int = 10, steps: int = 10) -> list[tuple[float, ...]]:
    """Weight vectors of length ``n`` on a 1/steps grid, each >= 0, summing to <= budget/steps."""
    if n == 0:
        return [()]
    return [
        (i / steps, *rest) for i in range(budget + 1) for rest in _simplex(n - 1, budget - i, steps)
    ]


_GRID = torch.tensor(_simplex(N_CANDIDATES), dtype=torch.float64)


def _candidates(inp: Inputs, delta: torch.Tensor) -> list[torch.Tensor]:
    """Corrections to the bridge: network, body model, placement model, cubic bridge, anchored
    body model, anchored placement model."""
    return [delta, inp.shaped - inp.bridged, inp.placed - inp.bridged, inp.cubic - inp.bridged,
            inp.shaped_anchored - inp.bridged, inp.placed_anchored - inp.bridged]  # fmt: skip


def crowd(inp: Inputs) -> torch.Tensor:
    """1 where a missing point shares its frame with other missing keypoints, else 0
    ``(batch, time, keypoints)``."""
    missing = inp.gap > 0
    return (missing.sum(-1, keepdim=True) >= 2).long().expand_as(inp.gap)


def blended(
    inp: Inputs,
    delta: torch.Tensor,
    blend: torch.Tensor | None,
    geo: Geometry | None = None,
    keep: torch.Tensor | None = None,
) -> torch.Tensor:
    """The bridge plus the weighted corrections of its gap-length group.

    With ``geo`` (the guard), its ``cap`` limits the length of each point's
    correction (per gap-length group), its ``shrink`` keeps or drops it (by
    gap-length group, keypoint and motion class) and its ``envelope`` sends
    an estimate the body never showed back to the bridge. ``keep``
    ``(groups, 2)`` (see :func:`check_recording`) drops the corrections of a
    gap-length group, for points alone in their frame or not (:func:`crowd`).
    """
    if blend is None:
        return inp.bridged + delta
    step = weighted(blend[_group(inp.gap)], _candidates(inp, delta))
    if geo is not None and geo.cap is not None:
        step = capped(step, geo.cap[_group(inp.gap)])
    if geo is not None and geo.shrink is not None:
        step = step * shrink_of(inp, geo)[..., None]
    if keep is not None:
        step = step * keep[_group(inp.gap), crowd(inp)][..., None].to(step.dtype)
    out = inp.bridged + step
    if geo is not None and geo.envelope is not None:
        out = torch.where(inside(out, inp, geo)[..., None], out, inp.bridged)
    return out


def weighted(weights: torch.Tensor, candidates: list[torch.Tensor]) -> torch.Tensor:
    """The blend's correction: ``candidates`` (each ``(..., 2)``) summed with ``weights``
    ``(..., N_CANDIDATES)``, the weights of each point's gap-length group."""
    return sum(weights[..., i, None] * d for i, d in enumerate(candidates))


def capped(step: torch.Tensor, cap: torch.Tensor) -> torch.Tensor:
    """Corrections ``(..., 2)`` no longer than ``cap`` (same shape without the 2), in pixels."""
    length = torch.linalg.vector_norm(step, dim=-1)
    return step * (cap / length.clamp_min(1e-12)).clamp(max=1.0)[..., None]


#: trial limits on a correction's length, in units of the straight line's RMSE on the
#: held-back gaps of the same gap-length group; ``calibrate`` keeps the best per group
CAP_MULTIPLES = (0.5, 1.0, 1.5, 2.0, 3.0, float("inf"))


def _motion_class(inp: Inputs, geo: Geometry) -> torch.Tensor:
    """0 for a still frame, 1 for a moving one, per point ``(batch, time, keypoints)``."""
    moving = (inp.motion > geo.motion_threshold).long()
    return moving[..., None].expand_as(inp.gap)


def shrink_of(inp: Inputs, geo: Geometry) -> torch.Tensor:
    """The share of the correction kept at each point ``(batch, time, keypoints)``."""
    k = torch.arange(inp.gap.shape[-1], device=inp.gap.device).expand_as(inp.gap)
    return geo.shrink[_group(inp.gap), k, _motion_class(inp, geo)]


def upright(points: torch.Tensor, inp: Inputs, geo: Geometry) -> torch.Tensor:
    """Pixel positions ``(batch, time, keypoints, 2)`` in the upright body frame."""
    local = (points - inp.centre[:, :, None]) / geo.scale
    return _turn(local, inp.cos[..., 0], -inp.sin[..., 0])


def inside(points: torch.Tensor, inp: Inputs, geo: Geometry) -> torch.Tensor:
    """Whether each point lies within its keypoint's envelope ``(batch, time, keypoints)``."""
    return _within(upright(points, inp, geo), geo.envelope)


def _within(body: torch.Tensor, envelope: torch.Tensor) -> torch.Tensor:
    """Whether body-frame points ``(..., 2)`` lie within ``envelope`` ``(..., 2, 2)`` (per
    axis low and high; broadcast against the points)."""
    return ((body >= envelope[..., 0]) & (body <= envelope[..., 1])).all(-1)


#: the envelope spans these quantiles of the observed body-frame coordinates, widened by
#: ENVELOPE_MARGIN times their range on each side
ENVELOPE_QUANTILES = (0.001, 0.999)
ENVELOPE_MARGIN = 0.25


@torch.no_grad()
def envelope(xy: torch.Tensor, mask: torch.Tensor, geo: Geometry) -> torch.Tensor:
    """Where each keypoint was observed in the upright body frame, widened.

    Returns ``(keypoints, 2, 2)``: per keypoint and axis, the low and high
    ends of ``ENVELOPE_QUANTILES`` of the observed coordinates (frames with
    every keypoint seen or bridged), each moved out by ``ENVELOPE_MARGIN``
    times the range between them.
    """
    inp = inputs(xy, mask, geo, anchors=False)
    body = upright(torch.nan_to_num(xy), inp, geo)
    n_kp = xy.shape[2]
    out = torch.zeros(n_kp, 2, 2, dtype=torch.float32, device=xy.device)
    lo_q, hi_q = ENVELOPE_QUANTILES
    for k in range(n_kp):
        seen = body[..., k, :][mask[..., k]]
        if len(seen) > 20_000:  # quantile's input limit; a seeded subsample
            pick = torch.randperm(len(seen), generator=torch.Generator().manual_seed(k))
            seen = seen[pick[:20_000].to(seen.device)]
        if len(seen) < 10:
            out[k, :, 0], out[k, :, 1] = -float("inf"), float("inf")
            continue
        lo = torch.quantile(seen.float(), lo_q, dim=0)
        hi = torch.quantile(seen.float(), hi_q, dim=0)
        span = hi - lo
        out[k, :, 0], out[k, :, 1] = lo - ENVELOPE_MARGIN * span, hi + ENVELOPE_MARGIN * span
    return out


def radius_of(inp: Inputs, geo: Geometry) -> torch.Tensor:
    """The error radius (pixels) of each point ``(batch, time, keypoints)``; NaN without one."""
    if geo.radius is None:
        return torch.full(inp.gap.shape, float("nan"), device=inp.gap.device)
    k = torch.arange(inp.gap.shape[-1], device=inp.gap.device).expand_as(inp.gap)
    group, position = radius_cells(inp.gap, inp.depth)
    return geo.radius[group, k, position] * stretch(inp.gap, group, geo.radius_power).float()


def _limits(step: torch.Tensor, miss: torch.Tensor, group: torch.Tensor, n_groups: int):
    """Per gap-length group, the limit on the length of corrections ``step`` (n, 2) with the
    least squared error against ``miss`` (n, 2, the truth's offset from the straight line)
    on these points: one of ``CAP_MULTIPLES`` times the straight line's RMSE on the group's
    points (float64, ``(n_groups,)``; 0 for a group without points)."""
    step, miss = step.double(), miss.double()
    count = torch.bincount(group, minlength=n_groups).double()
    base = torch.zeros(n_groups, dtype=torch.float64, device=step.device)
    base.index_add_(0, group, (miss * miss).sum(-1))
    line_rmse = (base / count.clamp_min(1)).sqrt()
    trials = torch.as_tensor(CAP_MULTIPLES, dtype=torch.float64, device=step.device)
    sse = torch.zeros(n_groups, len(trials), dtype=torch.float64, device=step.device)
    for j, m in enumerate(trials):
        e = miss - capped(step, m * line_rmse[group])
        sse[:, j].index_add_(0, group, (e * e).sum(-1))
    return trials[sse.argmin(dim=1)] * line_rmse


def _shares(step: torch.Tensor, miss: torch.Tensor, cell: torch.Tensor, n_cells: int):
    """Per cell, 1 where the corrections ``step`` (n, 2) removed squared error against
    ``miss`` (n, 2) on the cell's points, else 0: the drop ``2 b - a`` with ``b`` the sum of
    ``step . miss`` and ``a`` of ``|step| ** 2`` (float64, ``(n_cells,)``)."""
    step, miss = step.double(), miss.double()
    a = torch.zeros(n_cells, dtype=torch.float64, device=step.device)
    b = torch.zeros_like(a)
    a.index_add_(0, cell, (step * step).sum(-1))
    b.index_add_(0, cell, (step * miss).sum(-1))
    return (2 * b - a >= 0).double()


#: fresh occlusion draws over the training points added to the held-back gaps to measure each
#: (gap length, keypoint, motion) cell's share; the held-back gaps alone hold a few per cell
CELL_DRAWS = 4


@torch.no_grad()
def calibrate(
    net: TemporalConvNet,
    xy: torch.Tensor,
    mask: torch.Tensor,
    geo: Geometry,
    config: Occlusions,
    generator: torch.Generator,
    held_back: torch.Tensor | None = None,
    n_draws: int = 4,
) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Blend weights per gap-length group ``(groups, N_CANDIDATES)``, shares kept, a report.

    Seven estimates of a missing point are stacked: the linear bridge, the
    bridge plus the network's correction, the two shape models' estimates
    from the other keypoints of the frame, a cubic Hermite bridge, and the
    two shape models' estimates anchored at the gap's ends (:func:`anchored`).
    For each group of gap lengths the weights ``w`` (``N_CANDIDATES`` of them),
    each >= 0 and summing to at most 1 on a grid of 0.1, in ``bridge +
    sum_i w_i * (estimate_i - bridge)`` are those with the smallest squared
    error on the held-back validation gaps (points the network never saw),
    or without them on fresh occlusion draws. Where nothing beats the
    straight line (often 1-2 frame gaps), all weights are 0 and the result
    is linear interpolation.

    Next, per group, corrections longer than a limit are scaled down to it:
    the limit, a multiple (``CAP_MULTIPLES``) of the straight line's RMSE on
    the group's held-back points, is the one with the least error there (a
    tail of wild corrections is what makes the worst gaps worse than the
    straight line). Then, per gap-length group, keypoint and motion class
    (the rest of the body still or moving, ``geo.motion_threshold``), the
    correction is kept (share 1) where it removed squared error on the
    cell's points and dropped (share 0: the straight line) where it added
    some; the cells are measured on the held-back gaps and ``CELL_DRAWS``
    fresh occlusion draws.
    Last, :func:`error_radius` measures on the held-back points how far the
    final repair is from the truth, per gap length, keypoint and position in
    the gap. Returns ``(weights, caps (groups,), shares (groups, keypoints, 2),
    (radius (radius groups, keypoints, positions), power), report)``; the report gives,
    per group, the number of points and the pixel RMSE of the bridge and of
    the final estimate on those points.
    """
    net.eval()
    n_groups, n_kp = len(BLEND_EDGES), xy.shape[2]
    gram = torch.zeros(n_groups, N_CANDIDATES, N_CANDIDATES, dtype=torch.float64, device=xy.device)
    cross = torch.zeros(n_groups, N_CANDIDATES, dtype=torch.float64, device=xy.device)
    base = torch.zeros(n_groups, dtype=torch.float64, device=xy.device)
    count = torch.zeros(n_groups, dtype=torch.float64, device=xy.device)
    # the weights, limits and report come from the held-back gaps (or, without them, fresh
    # draws); the per-cell shares also from CELL_DRAWS fresh draws over the training points
    draws = [(held_back, True)] if held_back is not None else [(None, True)] * n_draws
    draws += [(None, False)] * (CELL_DRAWS if held_back is not None else 0)
    kept = []  # per draw: candidates, residual, group, cell, inputs, hidden, primary
    kp_index = torch.arange(n_kp, device=xy.device)
    for hidden, primary in draws:
        if hidden is None:
            hidden = occlusions_by_window(mask, config, generator, dropout=config.dropout)
        inp = inputs(xy, mask & ~hidden, geo)
        cands = [d[hidden].double() for d in _candidates(inp, geo.scale * corrections(net, inp))]
        r = (torch.nan_to_num(xy) - inp.bridged)[hidden].double()
        groups = _group(inp.gap)[hidden]
        kp = kp_index.expand_as(inp.gap)[hidden]
        cell = (groups * n_kp + kp) * 2 + _motion_class(inp, geo)[hidden]
        kept.append((cands, r, groups, cell, inp, hidden, primary))
        if not primary:
            continue
        base.index_add_(0, groups, (r * r).sum(-1))
        count.index_add_(0, groups, torch.ones_like(groups, dtype=torch.float64))
        for i, di in enumerate(cands):
            cross[:, i].index_add_(0, groups, (di * r).sum(-1))
            for j, dj in enumerate(cands):
                gram[:, i, j].index_add_(0, groups, (di * dj).sum(-1))
    grid = _GRID.to(xy.device)
    # error change of each candidate: w' G w - 2 w' h (the constant r'r is the same for all)
    cost = torch.einsum("gi,nij,gj->ng", grid, gram, grid) - 2 * cross @ grid.T
    best = grid[cost.argmin(dim=1)]
    steps = [weighted(best[groups].double(), cands) for cands, _, groups, *_ in kept]
    # the longest correction kept whole, per group: the trial limit with the least error
    primary_of = [x for x, (*_, primary) in zip(steps, kept, strict=True) if primary]
    held_r, held_groups = ([k[i] for k in kept if k[-1]] for i in (1, 2))
    cap = _limits(torch.cat(primary_of), torch.cat(held_r), torch.cat(held_groups), n_groups)
    cap = cap.float()
    # shares kept per cell, on the same points
    n_cells = n_groups * n_kp * 2
    held_a, held_b, held_rr = (
        torch.zeros(n_cells, dtype=torch.float64, device=xy.device) for _ in range(3)
    )
    guarded = []
    for step, (_, r, groups, cell, inp, hidden, primary) in zip(steps, kept, strict=True):
        step = capped(step, cap[groups].double())
        if geo.envelope is not None:  # estimates the body never showed go back to the bridge
            full = inp.bridged.clone()
            full[hidden] = full[hidden] + step.to(full.dtype)
            step = step * inside(full, inp, geo)[hidden][:, None].double()
        guarded.append(step)
        if primary:  # the report's numbers: held-back points only
            sums = ((step * step).sum(-1), (step * r).sum(-1), (r * r).sum(-1))
            for total, add in zip((held_a, held_b, held_rr), sums, strict=True):
                total.index_add_(0, cell, add)
    group_of_cell = torch.arange(n_cells, device=xy.device) // (n_kp * 2)
    share = _shares(
        torch.cat(guarded), torch.cat([k[1] for k in kept]), torch.cat([k[3] for k in kept]),
        n_cells,
    )  # fmt: skip
    # how far the final repair of each held-back point is from the truth: the error radius
    held = [
        radius_samples(torch.linalg.vector_norm(r - share[cell][:, None] * step, dim=-1), inp,
                       hidden, radius_cells(inp.gap, inp.depth))
        for step, (_, r, groups, cell, inp, hidden, primary) in zip(guarded, kept, strict=True)
        if primary
    ]  # fmt: skip
    radius = error_radius(*(torch.cat(x) for x in zip(*held, strict=True)), n_kp)
    sse = held_rr - 2 * share * held_b + share * share * held_a
    final = torch.zeros(n_groups, dtype=torch.float64, device=xy.device)
    final.index_add_(0, group_of_cell, sse)
    report = {
        label: {
            "points": int(c),
            "linear_px": round(float((lb / c) ** 0.5), 3) if c else None,
            "blended_px": round(float((max(e, 0.0) / c) ** 0.5), 3) if c else None,
        }
        for label, c, lb, e in zip(
            gap_labels(), count.tolist(), base.tolist(), final.tolist(), strict=True
        )
    }
    return best.float(), cap, share.reshape(n_groups, n_kp, 2).float(), radius, report


def fit(
    net: TemporalConvNet,
    xy: torch.Tensor,
    mask: torch.Tensor,
    geo: Geometry,
    config: Occlusions,
    optim: OptimConfig,
    generator: torch.Generator,
    validation: torch.Tensor | None = None,
) -> dict:
    """Train ``net`` in place on series ``xy`` (series, time, keypoints, 2); return a history.

    Every step draws ``optim.batch_size`` windows of ``config.window`` frames.

    ``validation`` (see :func:`held_back_gaps`) marks points removed from the
    training data; the error of filling them from the rest of the recording
    picks the best weights and stops training early.
    """
    n_series, n_time = xy.shape[:2]
    w = config.window
    val = validation
    if val is not None:
        mask = mask & ~val
    starts_per_series = n_time - w + 1
    frames = torch.arange(w, device=xy.device)

    def step_loss(step: int) -> torch.Tensor:
        pick = torch.randint(
            0, n_series * starts_per_series, (optim.batch_size,), generator=generator,
            device=xy.device,
        )  # fmt: skip
        series, start = pick // starts_per_series, pick % starts_per_series
        idx = start[:, None] + frames
        x, m = xy[series[:, None], idx], mask[series[:, None], idx]
        hidden = _corrupt(m, config, generator)
        noise = gaussian_noise(tuple(x.shape), config.noise_std * geo.scale, generator, x.device)
        pred, gap = predict(net, x + noise, m & ~hidden, geo)
        return weighted_loss(pred, x, hidden, gap, geo.scale)

    def validate() -> float:
        pred, gap = predict(net, xy, mask, geo)
        return float(weighted_loss(pred, xy, val, gap, geo.scale))

    history = optimise(
        net,
        step_loss,
        validate if val is not None else None,
        optim,
        desc="aeimpute keypoints",
        diverged_hint="try a smaller learning_rate or check the coordinates for extreme values",
    )
    history["validation_points"] = int(val.sum()) if val is not None else 0
    return history


@torch.no_grad()
def repair(
    nets: list[TemporalConvNet],
    xy: torch.Tensor,
    mask: torch.Tensor,
    geos: list[Geometry],
    chunk: int = 16384,
    keeps: list[torch.Tensor | None] | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Predictions for every point of series ``xy`` (series, time, keypoints, 2), gap lengths
    and error radii (pixels; see :func:`radius_of`).

    Observed points keep their coordinates and get no radius (NaN); the blend and the radii
    are computed only in the frames where a keypoint is missing (they are frame by frame).
    With several networks (each with its geometry, see :func:`fit_model`), the prediction is
    the mean of theirs, on inputs computed once, and the radius the largest of theirs (the
    mean's error is at most the largest of the networks' errors). Long series run in chunks
    with enough overlap that the result equals a single pass over the whole series.
    ``keeps``: one per network, see :func:`blended`; ``dtype``: see :func:`corrections`.
    """
    keeps = keeps or [None] * len(nets)
    for net in nets:
        net.eval()
    n_time = xy.shape[1]
    inp = inputs(xy, mask, geos[0])
    halo = max(2 ** len(net.blocks) for net in nets)  # > (receptive field - 1) / 2
    deltas = [torch.empty_like(inp.bridged) for _ in nets]
    for lo in range(0, n_time, chunk):
        hi = min(n_time, lo + chunk)
        a, z = max(0, lo - halo), min(n_time, hi + halo)
        around = inp.window(a, z)
        for net, geo, delta in zip(nets, geos, deltas, strict=True):
            delta[:, lo:hi] = geo.scale * corrections(net, around, dtype)[:, lo - a : hi - a]
    missing = inp.gap > 0
    some = missing.any(-1)
    sub = inp.frames(some)
    here = missing[some][None]  # the missing points of those frames, in the same order
    outs = [
        blended(sub, delta[some][None], geo.blend, geo, keep)
        for delta, geo, keep in zip(deltas, geos, keeps, strict=True)
    ]
    out = inp.bridged.clone()
    out[missing] = (outs[0] if len(outs) == 1 else torch.stack(outs).mean(0))[here]
    radius = torch.full(inp.gap.shape, float("nan"), device=inp.gap.device)
    radius[missing] = torch.stack([radius_of(sub, geo) for geo in geos]).amax(0)[here]
    return out, inp.gap, radius


#: artificial gaps (runs) a radius group needs in a recording before they set its error
#: radii (else the fit's stay)
MIN_RECORDING_RUNS = 30
#: frames per occlusion draw window when measuring a recording: short, for many runs per draw
RECORDING_WINDOW = 64
#: most occlusion draws (repair passes) over one recording
MAX_RECORDING_DRAWS = 64
#: artificial gaps (runs) a (gap-length group, keypoint, motion class) cell needs in a
#: recording before they decide whether its corrections are kept (else the fit decides)
MIN_CELL_RUNS = 10
#: shortest gap length (frames) whose limits and shares a recording chooses again: the fit's
#: held-back gaps hold only a few runs of the longer lengths, where re-choosing them paid on
#: the benchmark; on shorter ones it cost a recording its guarantee (paw, 3-frame gaps 1.07x
#: linear interpolation)
RECHOSEN_FROM = 9
#: a longer recording is measured on this many of its frames: evenly spread blocks of
#: ``RECORDING_BLOCK`` frames (the runs needed, not the recording's length, set the cost)
RECORDING_FRAMES = 16384
RECORDING_BLOCK = 1024


def _frame_blocks(xy: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """At most ``RECORDING_FRAMES`` frames of the series: evenly spread blocks, each a series."""
    n_series, n_time = mask.shape[:2]
    if n_series * n_time <= RECORDING_FRAMES:
        return xy, mask
    block = min(RECORDING_BLOCK, n_time)
    per_series = n_time // block
    xy = xy[:, : per_series * block].reshape(n_series * per_series, block, *xy.shape[2:])
    mask = mask[:, : per_series * block].reshape(n_series * per_series, block, mask.shape[2])
    take = torch.linspace(0, len(mask) - 1, max(1, RECORDING_FRAMES // block), device=xy.device)
    index = take.round().long().unique()
    return xy[index], mask[index]


def radius_samples(
    err: torch.Tensor,
    inp: Inputs,
    hidden: torch.Tensor,
    cells: tuple[torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, ...]:
    """What :func:`error_radius` needs of the hidden points of ``inp``, in its order.

    ``err`` holds the hidden points' errors (pixels), ``cells`` the
    :func:`radius_cells` of every point. Returns ``(err, radius group,
    keypoint, position, gap length)`` of the hidden points.
    """
    group, position = cells
    keypoint = torch.arange(inp.gap.shape[-1], device=inp.gap.device).expand_as(inp.gap)
    return err, group[hidden], keypoint[hidden], position[hidden], inp.gap[hidden]


def _run_starts(hidden: torch.Tensor) -> torch.Tensor:
    """Points that start a run of hidden frames ``(series, time, keypoints)``."""
    before = torch.nn.functional.pad(hidden[:, :-1], (0, 0, 1, 0))
    return hidden & ~before


@dataclass
class RecordingCheck:
    """What artificial gaps in the recording being repaired say (see :func:`check_recording`)."""

    #: error radii and power, as ``Geometry.radius`` / ``radius_power``
    radius: torch.Tensor | None
    radius_power: float
    #: (blend groups, 2) bool, per gap-length group for points alone in their frame and
    #: points with other keypoints missing (:func:`crowd`): False where the repair did
    #: worse than the straight line
    keep: torch.Tensor
    #: the guard's length limits and shares kept, as ``Geometry.cap`` / ``shrink``: the
    #: recording's own where its artificial gaps hold enough runs, else the fit's
    cap: torch.Tensor | None = None
    shrink: torch.Tensor | None = None


@dataclass
class _HiddenPoints:
    """What the recording check keeps of the artificial gaps' points, one row per point."""

    step: torch.Tensor  # (n, 2) the blend's correction before the guard, pixels
    miss: torch.Tensor  # (n, 2) truth - straight line, pixels
    group: torch.Tensor  # (n,) gap-length group of the blend
    cell: torch.Tensor  # (n,) (group, keypoint, motion class) of the guard's shares
    crowd: torch.Tensor  # (n,) 0 alone in the frame, 1 with other keypoints missing
    run: torch.Tensor  # (n,) run number, unique over the check's draws
    body: torch.Tensor  # (n, 2) the straight line's point in the upright body frame
    turn: torch.Tensor  # (n, 2) cosine and sine of the frame's turn to the body frame
    keypoint: torch.Tensor  # (n,)

    @classmethod
    def cat(cls, parts: list[_HiddenPoints]) -> _HiddenPoints:
        return cls(*(torch.cat(x) for x in zip(*(vars(p).values() for p in parts), strict=True)))

    def subset(self, which: torch.Tensor) -> _HiddenPoints:
        """The points where ``which`` (bool, one per point) is True."""
        return _HiddenPoints(*(x[which] for x in vars(self).values()))

    def guarded(self, geo: Geometry, cap: torch.Tensor | None, shrink: torch.Tensor | None):
        """The corrections after the guard (``cap``, ``shrink`` and ``geo.envelope``), as
        :func:`blended` makes them (without ``keep``)."""
        step = self.step
        if cap is not None:
            step = capped(step, cap[self.group])
        if shrink is not None:
            step = step * shrink.reshape(-1)[self.cell][:, None]
        if geo.envelope is not None:
            moved = self.body + _turn(step / geo.scale, self.turn[:, 0], -self.turn[:, 1])
            step = step * _within(moved, geo.envelope[self.keypoint])[:, None]
        return step


def _run_ids(hidden: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
    """Each hidden point's run (consecutive hidden frames of one keypoint of one series),
    numbered 0, 1, ... over ``hidden (series, time, keypoints)``, in ``hidden``'s order;
    ``starts`` is :func:`_run_starts` of ``hidden``."""
    starts = starts.transpose(1, 2)  # runs lie along time
    ids = (starts.reshape(-1).cumsum(0) - 1).reshape(starts.shape).transpose(1, 2)
    return ids[hidden]


def _paired_stats(
    diff: torch.Tensor, run: torch.Tensor, cell: torch.Tensor, n_cells: int
) -> torch.Tensor:
    """Per cell: runs, sum and sum of squares of the runs' summed ``diff`` ``(3, n_cells)``.

    ``diff``, ``run`` and ``cell`` hold one value per hidden point; a run whose
    points fall in two cells (another keypoint lost during part of it) counts
    once in each.
    """
    key = run * n_cells + cell
    keys, where = torch.unique(key, return_inverse=True)
    per_run = torch.zeros(len(keys), dtype=torch.float64, device=diff.device)
    per_run.index_add_(0, where, diff.double())
    cells = keys % n_cells
    out = torch.zeros(3, n_cells, dtype=torch.float64, device=diff.device)
    for i, x in enumerate((torch.ones_like(per_run), per_run, per_run**2)):
        out[i].index_add_(0, cells, x)
    return out


def confident_win(stats: torch.Tensor, confidence: float) -> torch.Tensor:
    """Where the repair beats the straight line with ``confidence``, from :func:`_paired_stats`
    of the runs' ``repair error ** 2 - line error ** 2``: the one-sided normal bound
    ``mean + z * standard error`` of that difference is below zero."""
    n, total, squares = stats
    mean = total / n.clamp_min(1)
    var = (squares / n.clamp_min(1) - mean**2).clamp_min(0) * n / (n - 1).clamp_min(1)
    z = NormalDist().inv_cdf(confidence)
    return mean + z * (var / n.clamp_min(1)).sqrt() < 0


@torch.no_grad()
def check_recording(
    nets: list[TemporalConvNet],
    xy: torch.Tensor,
    mask: torch.Tensor,
    geos: list[Geometry],
    config: Occlusions,
    generator: torch.Generator,
    confidence: float = 0.5,
    dtype: torch.dtype | None = None,
) -> list[RecordingCheck]:
    """Measure the repair on the recording ``xy`` itself: where to trust it, error radii.

    A recording the model was not fitted on can be harder (another animal,
    more motion) or easier than the held-back gaps of the fit. Artificial
    gaps are hidden in the recording's own observed points (occlusion draws
    per ``RECORDING_WINDOW`` frames, over at most ``RECORDING_FRAMES`` frames
    of it) and repaired; draws go on until every radius group the occlusions
    reach holds ``MIN_RECORDING_RUNS`` runs (at most ``MAX_RECORDING_DRAWS``).
    The guard's length limits are chosen again on those gaps, per gap-length
    group of the blend from ``RECHOSEN_FROM`` frames that holds
    ``MIN_RECORDING_RUNS`` runs, and then its
    shares kept, per (gap-length group, keypoint, motion class) cell that
    holds ``MIN_CELL_RUNS`` (as :func:`calibrate` chooses them on the fit's
    held-back gaps, which hold only a few runs of each longer gap length);
    the rest keep the fit's (``cap``, ``shrink``). What follows judges each
    run's repair with the limits and shares chosen on the other half of the
    runs (cross-fitting), not on the runs themselves.
    Per gap-length group of the blend, separately for points alone in their
    frame and points with other keypoints missing (:func:`crowd`), that holds
    ``MIN_RECORDING_RUNS`` runs (else over the whole gap-length group), the
    repair is kept only where it beats the straight line with ``confidence``
    (:func:`confident_win` over the runs' squared errors; 0.5: where its
    squared error is below the line's); elsewhere the recording gets linear
    interpolation (``keep``). Then :func:`error_radius` is measured on the
    errors of what is kept (the straight line's where it is not); a radius
    group with fewer runs keeps the fit's radii. ``dtype``: see :func:`corrections`.

    With several networks (each with its geometry, see :func:`fit_model`), each is judged
    as above on the same artificial gaps (their inputs computed once) and gets its own
    check; the error radii, the same in every check, are measured on the mean of what each
    keeps, the repair :func:`repair` makes.
    """
    n_kp, n_groups, n_blend = xy.shape[2], len(RADIUS_EDGES), len(BLEND_EDGES)
    xy, mask = _frame_blocks(xy, mask)
    config = replace(config, window=min(RECORDING_WINDOW, xy.shape[1]))
    parts: list[list[_HiddenPoints]] = [[] for _ in nets]
    radius_parts = []
    runs = torch.zeros(n_groups, dtype=torch.long, device=xy.device)
    # runs per gap-length group of the blend and per cell of the guard's shares
    blend_runs = torch.zeros(n_blend, dtype=torch.long, device=xy.device)
    cell_runs = torch.zeros(n_blend * n_kp * 2, dtype=torch.long, device=xy.device)
    truth = torch.nan_to_num(xy)
    n_runs = 0
    # the groups the occlusions can reach: draws go on until each holds enough runs
    reachable = torch.as_tensor(RADIUS_EDGES, device=xy.device) <= config.gap_range[1]
    for _ in range(MAX_RECORDING_DRAWS):
        if bool((runs[reachable] >= MIN_RECORDING_RUNS).all()):
            break
        hidden = occlusions_by_window(mask, config, generator, dropout=config.dropout)
        if not hidden.any():
            break
        inp = inputs(xy, mask & ~hidden, geos[0])
        starts = _run_starts(hidden)
        for net, geo, own in zip(nets, geos, parts, strict=True):
            delta = geo.scale * corrections(net, inp, dtype)
            own.append(_hidden_points(inp, delta, hidden, truth, geo, n_runs, starts))
        n_runs += int(starts.sum())
        first = starts[hidden]  # the hidden points that start a run
        blend_runs += torch.bincount(parts[0][-1].group[first], minlength=n_blend)
        cell_runs += torch.bincount(parts[0][-1].cell[first], minlength=len(cell_runs))
        cells = radius_cells(inp.gap, inp.depth)
        runs += torch.bincount(cells[0][starts], minlength=n_groups)
        radius_parts.append(radius_samples(parts[0][-1].miss, inp, hidden, cells)[1:])
    if not radius_parts:
        keep = torch.ones(n_blend, 2, dtype=torch.bool, device=xy.device)
        return [RecordingCheck(g.radius, g.radius_power, keep, g.cap, g.shrink) for g in geos]
    points = [_HiddenPoints.cat(own) for own in parts]
    judged = [
        _judged(pts, geo, blend_runs, cell_runs, confidence)
        for pts, geo in zip(points, geos, strict=True)
    ]
    if geos[0].radius is None:
        return [
            RecordingCheck(None, g.radius_power, *j[:3]) for g, j in zip(geos, judged, strict=True)
        ]
    # the error bars are those of the repair made: the mean of what each network keeps
    kept = torch.stack([j[3] for j in judged]).mean(0)
    kept_err = torch.linalg.vector_norm(points[0].miss - kept, dim=-1)
    samples = (kept_err, *(torch.cat(x) for x in zip(*radius_parts, strict=True)))
    own_radius, power = error_radius(*samples, n_kp)
    enough = (runs >= MIN_RECORDING_RUNS)[:, None, None] & torch.isfinite(own_radius)
    return [
        RecordingCheck(torch.where(enough, own_radius, g.radius), power, *j[:3])
        for g, j in zip(geos, judged, strict=True)
    ]


def _judged(
    pts: _HiddenPoints,
    geo: Geometry,
    blend_runs: torch.Tensor,
    cell_runs: torch.Tensor,
    confidence: float,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor]:
    """One network's part of :func:`check_recording` on its artificial gaps' points ``pts``:
    ``(keep, cap, shrink, kept step)``, the kept step being each point's cross-fitted
    correction where its cell keeps the repair, else 0 (the straight line)."""
    n_blend = len(BLEND_EDGES)
    # the gap-length groups whose limits and shares the recording may choose again
    longer = torch.as_tensor(BLEND_EDGES, device=pts.step.device) >= RECHOSEN_FROM

    def guard_of(chosen_on: _HiddenPoints) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        cap, shrink = geo.cap, geo.shrink
        if cap is not None:
            cap = _recording_caps(chosen_on, cap, longer & (blend_runs >= MIN_RECORDING_RUNS))
        if shrink is not None:
            enough = (cell_runs >= MIN_CELL_RUNS).reshape(shrink.shape) & longer[:, None, None]
            shrink = _recording_shares(chosen_on, geo, cap, shrink, enough)
        return cap, shrink

    cap, shrink = guard_of(pts)
    # judged fairly: the points of every other run are repaired with the guard chosen on the
    # rest (two folds), so a limit or share that only fits the gaps it was chosen on does not
    # earn the repair its keep below
    step = torch.empty_like(pts.step)
    for fold in (0, 1):
        judged = pts.run % 2 == fold
        step[judged] = pts.subset(judged).guarded(geo, *guard_of(pts.subset(~judged)))
    err = torch.linalg.vector_norm(pts.miss - step, dim=-1)
    line = torch.linalg.vector_norm(pts.miss, dim=-1)
    # per gap-length group and crowd (alone in the frame or not): runs and the sum and sum of
    # squares of their (repair - line) squared errors
    crowd_cell = pts.group * 2 + pts.crowd
    stats = _paired_stats(err**2 - line**2, pts.run, crowd_cell, n_blend * 2)
    # a cell with too few runs takes the decision of its whole gap-length group
    pooled = stats.reshape(3, n_blend, 2).sum(2).repeat_interleave(2, dim=1)
    stats = torch.where(stats[0] >= MIN_RECORDING_RUNS, stats, pooled)
    keep = (stats[0] < MIN_RECORDING_RUNS) | confident_win(stats, confidence)
    kept = torch.where(keep[crowd_cell][:, None], step, torch.zeros_like(step))
    return keep.reshape(n_blend, 2), cap, shrink, kept


def _guard_cells(inp: Inputs, geo: Geometry) -> torch.Tensor:
    """Each point's cell of the guard's shares: (gap-length group, keypoint, motion class),
    numbered as ``Geometry.shrink`` flattened ``(batch, time, keypoints)``."""
    n_kp = inp.gap.shape[-1]
    kp = torch.arange(n_kp, device=inp.gap.device).expand_as(inp.gap)
    return (_group(inp.gap) * n_kp + kp) * 2 + _motion_class(inp, geo)


def _hidden_points(
    inp: Inputs,
    delta: torch.Tensor,
    hidden: torch.Tensor,
    truth: torch.Tensor,
    geo: Geometry,
    first_run: int = 0,
    starts: torch.Tensor | None = None,
) -> _HiddenPoints:
    """The ``hidden`` points of a repair pass (``inp``, network corrections ``delta`` in
    pixels) against ``truth``, their runs numbered from ``first_run``; ``starts``: the
    :func:`_run_starts` of ``hidden`` when already found."""
    g = _group(inp.gap)[hidden]
    turn = torch.cat([inp.cos, inp.sin], -1).expand(*hidden.shape, 2)
    keypoint = torch.arange(hidden.shape[-1], device=hidden.device).expand_as(hidden)
    return _HiddenPoints(
        step=weighted(geo.blend[g], [d[hidden] for d in _candidates(inp, delta)]),
        miss=(truth - inp.bridged)[hidden],
        group=g,
        cell=_guard_cells(inp, geo)[hidden],
        crowd=crowd(inp)[hidden],
        run=_run_ids(hidden, _run_starts(hidden) if starts is None else starts) + first_run,
        body=upright(inp.bridged, inp, geo)[hidden],
        turn=turn[hidden],
        keypoint=keypoint[hidden],
    )


def _recording_caps(pts: _HiddenPoints, cap: torch.Tensor, enough: torch.Tensor) -> torch.Tensor:
    """Length limits per gap-length group chosen as :func:`calibrate` does (:func:`_limits`),
    on the recording's artificial gaps where the group holds enough runs (``enough``), else
    ``cap``."""
    own = _limits(pts.step, pts.miss, pts.group, len(cap)).to(cap.dtype)
    return torch.where(enough, own, cap)


def _recording_shares(
    pts: _HiddenPoints,
    geo: Geometry,
    cap: torch.Tensor | None,
    shrink: torch.Tensor,
    enough: torch.Tensor,
) -> torch.Tensor:
    """Shares kept per (gap-length group, keypoint, motion class) as :func:`calibrate` decides
    them (:func:`_shares` of the limited corrections), on the recording's artificial gaps where
    the cell holds enough runs (``enough``), else ``shrink``."""
    own = _shares(pts.guarded(geo, cap, None), pts.miss, pts.cell, shrink.numel())
    return torch.where(enough, own.to(shrink.dtype).reshape(shrink.shape), shrink)


def _series(arr: np.ndarray, observed: np.ndarray, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(frames, individuals, keypoints, 2) numpy -> series-major torch tensors."""
    xy = torch.as_tensor(np.ascontiguousarray(arr.transpose(1, 0, 2, 3)), dtype=torch.float32)
    mask = torch.as_tensor(np.ascontiguousarray(observed.transpose(1, 0, 2)))
    return xy.to(device), mask.to(device)


def motion_threshold(xy: torch.Tensor, mask: torch.Tensor, scale: float) -> float:
    """Median motion (see :func:`frame_motion`, per scale) of frames where something moves."""
    motion = frame_motion(xy, mask)[:, :-1] / scale
    seen = (mask[:, 1:] & mask[:, :-1]).any(-1)
    values = motion[seen]
    return float(values.median()) if len(values) else float("inf")


def fit_model(
    arr: np.ndarray,
    observed: np.ndarray,
    configs: list[tuple[Occlusions, dict]],
    optim: OptimConfig,
    *,
    rotate: bool | str,
    seed: int,
    device: torch.device,
    n_threads: int,
) -> list[tuple[TemporalConvNet, Geometry, dict]]:
    """Fit the geometry and one network per ``(occlusions, model config)`` of ``configs`` on
    tracks ``arr`` (frames, individuals, keypoints, 2).

    Returns per network: the network, the geometry (with the blend calibrated for that
    network) and the training history (with the calibration report and blend weights). The
    geometries share everything but what is calibrated for each network (blend, length
    limits, shares kept, error radii), so :func:`predict_tracks` computes the networks'
    inputs once; each network is fitted as if it were the only one (same seed).
    """
    # individuals without any observation carry no information
    useful = observed.any(axis=(0, 2))
    arr, observed = arr[:, useful], observed[:, useful]
    base = geometry(arr.transpose(1, 0, 2, 3), observed.transpose(1, 0, 2), rotate, seed)
    # what does not depend on the network (no random draws): once for every network
    with session(device, n_threads):
        xy, mask = _series(arr, observed, device)
        base = base.to(device)
        base.motion_threshold = motion_threshold(xy, mask, base.scale)
        base.envelope = envelope(xy, mask, base)
    members = []
    for config, model_config in configs:
        with session(device, n_threads, seed):
            net = build_model(model_config).to(device)
            generator = torch.Generator(device=device).manual_seed(seed)
            geo = replace(base)  # the fields each network calibrates are set on its copy
            val = held_back_gaps(mask, config, generator)
            history = fit(net, xy, mask, geo, config, optim, generator, val)
            geo.blend, geo.cap, geo.shrink, (geo.radius, geo.radius_power), report = calibrate(
                net, xy, mask, geo, config, generator, val
            )
        history["calibration"] = report
        weights = geo.blend.tolist()
        history["blend"] = {
            label: {n: round(w, 2) for n, w in zip(CANDIDATES, ws, strict=True)}
            for label, ws in zip(gap_labels(), weights, strict=True)
        }
        members.append((net, geo, history))
    return members


def unguarded(geo: Geometry) -> Geometry:
    """The geometry without the per-keypoint fallback, length limits and envelope (and so
    without error radii: they are measured on the guarded repair)."""
    return replace(geo, shrink=None, cap=None, envelope=None, radius=None)


def predict_tracks(
    nets: list[TemporalConvNet],
    geos: list[Geometry],
    arr: np.ndarray,
    observed: np.ndarray,
    *,
    device: torch.device,
    n_threads: int,
    guard: bool = True,
    occlusions: Occlusions | None = None,
    seed: int = 0,
    confidence: float = 0.5,
    dtype: torch.dtype | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Predictions (frames, individuals, keypoints, 2), gap lengths and error radii in pixels
    (both (frames, individuals, keypoints); radii NaN without calibration or guard).

    ``nets`` and ``geos``: the fitted networks and their geometries (:func:`fit_model`); with
    several, the mean of their repairs (see :func:`repair`).
    ``guard=False`` leaves out the geometry's per-keypoint fallback, length
    limits and envelope (see :func:`calibrate`). With ``occlusions`` (and the
    guard), the repair is checked on the recording itself
    (:func:`check_recording`, occlusion draws seeded with ``seed``): gap-length
    groups where it did not beat the straight line there with ``confidence``
    get the straight line, and the error radii are measured there. ``dtype``: the number
    format of the network's passes (see :func:`corrections`).
    """
    with session(device, n_threads):
        xy, mask = _series(arr, observed, device)
        keeps = None
        # only matters where something is repaired: nothing to check in a complete recording
        worth_checking = geos[0].blend is not None and not bool(mask.all())
        if guard and occlusions is not None and worth_checking:
            generator = torch.Generator(device=device).manual_seed(seed)
            checks = check_recording(nets, xy, mask, geos, occlusions, generator, confidence, dtype)
            geos = [
                replace(geo, radius=c.radius, radius_power=c.radius_power, cap=c.cap,
                        shrink=c.shrink)
                for geo, c in zip(geos, checks, strict=True)
            ]  # fmt: skip
            # where a network's repair lost to the straight line: the line
            keeps = [c.keep for c in checks]
        pred, gap, radius = repair(
            nets, xy, mask, geos if guard else [unguarded(g) for g in geos], keeps=keeps,
            dtype=dtype,
        )  # fmt: skip
    return (
        pred.cpu().double().numpy().transpose(1, 0, 2, 3),
        gap.cpu().numpy().transpose(1, 0, 2),
        radius.cpu().double().numpy().transpose(1, 0, 2),
    )


def geometry_state(geo: Geometry) -> dict:
    """The geometry as JSON values."""
    return {
        "scale": float(geo.scale),
        "template": geo.template.detach().cpu().tolist(),
        "rotate": bool(geo.rotate),
        "blend": None if geo.blend is None else geo.blend.detach().cpu().tolist(),
        "shape": None if geo.shape is None else geo.shape.to_json(),
        "placement": None if geo.placement is None else geo.placement.to_json(),
        "shrink": None if geo.shrink is None else geo.shrink.detach().cpu().tolist(),
        "motion_threshold": _finite_or_none(geo.motion_threshold),
        "envelope": None if geo.envelope is None else geo.envelope.detach().cpu().tolist(),
        "cap": None if geo.cap is None else [_finite_or_none(c) for c in geo.cap.tolist()],
        "radius": None
        if geo.radius is None
        else [
            [[_finite_or_none(v) for v in row] for row in plane] for plane in geo.radius.tolist()
        ],
        "radius_power": float(geo.radius_power),
    }


def _finite_or_none(value: float) -> float | None:
    """JSON has no infinity: None stands for it."""
    return value if math.isfinite(value) else None


def geometry_from_state(meta: dict) -> Geometry:
    """Inverse of :func:`geometry_state` (on the CPU)."""

    def tensor(key: str) -> torch.Tensor | None:
        value = meta.get(key)  # model files from before a field existed: None
        return None if value is None else torch.tensor(value, dtype=torch.float32)

    blend = tensor("blend")
    if blend is not None and blend.shape[1] < N_CANDIDATES:  # saved before the later candidates
        blend = torch.nn.functional.pad(blend, (0, N_CANDIDATES - blend.shape[1]))
    return Geometry(
        float(meta["scale"]),
        tensor("template"),
        bool(meta["rotate"]),
        blend,
        ShapeModel.from_json(meta["shape"]),
        ShapeModel.from_json(meta["placement"]),
        shrink=tensor("shrink"),
        motion_threshold=_infinite_if_none(meta.get("motion_threshold")),
        envelope=tensor("envelope"),
        cap=None
        if meta.get("cap") is None
        else torch.tensor([_infinite_if_none(c) for c in meta["cap"]], dtype=torch.float32),
        radius=None  # JSON null: a group without held-back points
        if meta.get("radius") is None
        else torch.tensor(np.array(meta["radius"], dtype=np.float64), dtype=torch.float32),
        radius_power=float(meta.get("radius_power", 1.0)),
    )


def _infinite_if_none(value: float | None) -> float:
    """Inverse of :func:`_finite_or_none`."""
    return float("inf") if value is None else float(value)
