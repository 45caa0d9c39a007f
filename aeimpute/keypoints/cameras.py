"""Calibrated cameras: fill a point one view lost from where the other views saw it.

With an Anipose / aniposelib calibration (a ``.toml`` file with one
``[cam_N]`` table per camera: ``name``, ``size``, ``matrix``,
``distortions``, ``rotation`` as a Rodrigues vector, ``translation``), a
keypoint seen by two or more cameras in a frame has one position in space
(triangulated by the direct linear transform on undistorted points) and so
one position in every other camera's image. :func:`fill_from_cameras` puts
that reprojection where a view lost the point; the learned model
(:class:`~aeimpute.keypoints.KeypointImputer` on :func:`join_views`) can
then repair what no two cameras saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tomllib

from aeimpute.keypoints.io import PoseData

if TYPE_CHECKING:  # torch is imported where it is used: importing aeimpute stays light
    import torch

#: share of held-out points whose reprojection error an error bar covers
ERROR_LEVEL = 0.9
#: fewest held-out points of a camera for its error bar (else NaN)
MIN_HELD_OUT = 20


@dataclass(frozen=True)
class Camera:
    """A pinhole camera with OpenCV's distortion model, as Anipose writes it.

    Attributes
    ----------
    name : str
    matrix : ndarray (3, 3)
        Intrinsics (focal lengths, principal point), pixels.
    distortions : ndarray (5,)
        ``k1, k2, p1, p2, k3`` (OpenCV order); shorter lists are padded with 0.
    rotation : ndarray (3,)
        World-to-camera rotation as a Rodrigues vector (axis times angle, radians).
    translation : ndarray (3,)
        World-to-camera translation.
    size : tuple of int or None
        Image width and height, pixels.
    """

    name: str
    matrix: np.ndarray
    distortions: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    size: tuple[int, int] | None = None

    def rotation_matrix(self) -> np.ndarray:
        """The 3 x 3 rotation of the Rodrigues vector ``rotation``."""
        from scipy.spatial.transform import Rotation

        return Rotation.from_rotvec(self.rotation).as_matrix()

    def extrinsics(self) -> np.ndarray:
        """``[R | t]`` (3, 4): world coordinates to camera coordinates."""
        return np.hstack([self.rotation_matrix(), self.translation[:, None]])

    def _distort(self, xy: np.ndarray) -> np.ndarray:
        k1, k2, p1, p2, k3 = self.distortions
        x, y = xy[..., 0], xy[..., 1]
        r2 = x * x + y * y
        radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
        return np.stack([x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x),
                         y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y], -1)  # fmt: skip

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixel positions ``(..., 2)`` of world points ``(..., 3)`` (NaN stays NaN; points
        behind the camera are NaN)."""
        cam = points @ self.rotation_matrix().T + self.translation
        with np.errstate(invalid="ignore", divide="ignore"):
            flat = cam[..., :2] / np.where(cam[..., 2:] > 0, cam[..., 2:], np.nan)
        xy = self._distort(flat)
        return xy @ self.matrix[:2, :2].T + self.matrix[:2, 2]

    def undistort(self, pixels: np.ndarray, iterations: int = 20) -> np.ndarray:
        """Normalised, undistorted image coordinates ``(..., 2)`` of ``pixels (..., 2)``
        (the inverse of the distortion by fixed-point iteration, as OpenCV does)."""
        inv = np.linalg.inv(self.matrix)
        seen = pixels @ inv[:2, :2].T + inv[:2, 2]
        xy = seen.copy()
        for _ in range(iterations):
            k1, k2, p1, p2, k3 = self.distortions
            x, y = xy[..., 0], xy[..., 1]
            r2 = x * x + y * y
            radial = 1 + r2 * (k1 + r2 * (k2 + r2 * k3))
            shift = np.stack([2 * p1 * x * y + p2 * (r2 + 2 * x * x),
                              p1 * (r2 + 2 * y * y) + 2 * p2 * x * y], -1)  # fmt: skip
            xy = (seen - shift) / radial[..., None]
        return xy


@dataclass(frozen=True)
class CameraGroup:
    """Calibrated cameras filming the same scene, in a fixed order.

    Examples
    --------
    >>> import numpy as np
    >>> from aeimpute.keypoints import Camera, CameraGroup
    >>> eye = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])
    >>> left = Camera("left", eye, np.zeros(5), np.zeros(3), np.array([0.0, 0, 10]))
    >>> right = Camera("right", eye, np.zeros(5), np.array([0.0, -0.3, 0]),
    ...                np.array([3.0, 0, 10]))
    >>> group = CameraGroup((left, right))
    >>> point = np.array([[0.5, -0.2, 1.0]])
    >>> seen = np.stack([cam.project(point) for cam in group.cameras])  # (views, points, 2)
    >>> np.round(group.triangulate(seen), 6)
    array([[ 0.5, -0.2,  1. ]])
    """

    cameras: tuple[Camera, ...]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.cameras]

    @classmethod
    def from_toml(cls, path: str | Path) -> CameraGroup:
        """Read an Anipose / aniposelib calibration file (``[cam_0]``, ``[cam_1]``, ...)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no calibration file at {path}")
        try:
            with path.open("rb") as f:
                data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path} is not a TOML file: {e}") from None
        tables = sorted(
            (k for k in data if k.startswith("cam_") and k[4:].isdigit()), key=lambda k: int(k[4:])
        )
        if not tables:
            raise ValueError(f"{path} holds no [cam_N] tables (an Anipose calibration has them)")
        cams = []
        for key in tables:
            t = data[key]
            missing = [f for f in ("matrix", "rotation", "translation") if f not in t]
            if missing:
                raise ValueError(f"{path}: [{key}] lacks {', '.join(missing)}")
            dist = np.zeros(5)
            given = np.asarray(t.get("distortions", []), dtype=float).ravel()[:5]
            dist[: len(given)] = given
            matrix = np.asarray(t["matrix"], dtype=float)
            rotation = np.asarray(t["rotation"], dtype=float).ravel()
            translation = np.asarray(t["translation"], dtype=float).ravel()
            if matrix.shape != (3, 3) or rotation.shape != (3,) or translation.shape != (3,):
                raise ValueError(
                    f"{path}: [{key}] needs a 3 x 3 matrix and 3 values of rotation and "
                    f"translation; got shapes {matrix.shape}, {rotation.shape}, "
                    f"{translation.shape}"
                )
            size = tuple(int(v) for v in t["size"]) if "size" in t else None
            cams.append(Camera(str(t.get("name", key)), matrix, dist, rotation, translation,
                               size))  # fmt: skip
        return cls(tuple(cams))

    def subset(self, names: Sequence[str]) -> CameraGroup:
        """The cameras called ``names``, in that order."""
        by_name = {c.name: c for c in self.cameras}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ValueError(
                f"camera(s) {unknown} are not in the calibration (it has {self.names})"
            )
        return replace(self, cameras=tuple(by_name[n] for n in names))

    def triangulate(self, pixels: np.ndarray) -> np.ndarray:
        """World points ``(..., 3)`` from pixel positions ``(views, ..., 2)`` (NaN: not seen).

        Direct linear transform on undistorted coordinates, with every view
        that saw the point; NaN where fewer than two did.
        """
        pixels = np.asarray(pixels, dtype=float)
        if pixels.shape[0] != len(self.cameras) or pixels.shape[-1] != 2:
            raise ValueError(
                f"pixels must be (views={len(self.cameras)}, ..., 2); got {pixels.shape}"
            )
        shape = pixels.shape[1:-1]
        flat = pixels.reshape(len(self.cameras), -1, 2)
        rows = []
        for cam, px in zip(self.cameras, flat, strict=True):
            p = cam.extrinsics()
            seen = np.isfinite(px).all(-1)
            uv = cam.undistort(np.nan_to_num(px))
            r = np.stack([uv[:, :1] * p[2] - p[0], uv[:, 1:] * p[2] - p[1]], 1)  # (n, 2, 4)
            rows.append(np.where(seen[:, None, None], r, 0.0))
        system = np.concatenate(rows, 1)  # (n, 2 * views, 4)
        n_seen = np.stack([np.isfinite(px).all(-1) for px in flat]).sum(0)
        out = np.full((flat.shape[1], 3), np.nan)
        ok = n_seen >= 2
        if ok.any():
            _, _, vt = np.linalg.svd(system[ok])
            h = vt[:, -1]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[ok] = h[:, :3] / h[:, 3:]
        return out.reshape(*shape, 3)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Pixel positions ``(views, ..., 2)`` of world points ``(..., 3)`` in every camera."""
        return np.stack([cam.project(points) for cam in self.cameras])


def _pixels(views: Sequence[PoseData]) -> np.ndarray:
    """The views' points ``(views, frames, individuals, keypoints, 2)``, checked to match."""
    if len(views) < 2:
        raise ValueError(f"fill_from_cameras needs at least two views; got {len(views)}")
    first = views[0]
    for i, v in enumerate(views[1:], start=1):
        if v.xy.shape != first.xy.shape or list(v.keypoint_names) != list(first.keypoint_names):
            raise ValueError(
                f"view {i} does not match view 0: shapes {v.xy.shape} / {first.xy.shape}, "
                f"keypoints {list(v.keypoint_names)} / {list(first.keypoint_names)}; the "
                "views must be synchronised recordings of the same keypoints"
            )
    return np.stack([v.xy for v in views])


def reprojections(group: CameraGroup, pixels: np.ndarray, view: int) -> np.ndarray:
    """Every point of ``view`` as the other cameras place it: triangulated from the other
    views (where two or more saw it) and projected into ``view``; NaN elsewhere.

    ``pixels`` is ``(views, frames, individuals, keypoints, 2)``; returns the same
    without the views axis.
    """
    others = [u for u in range(len(group.cameras)) if u != view]
    world = replace(group, cameras=tuple(group.cameras[u] for u in others)).triangulate(
        pixels[others]
    )
    return group.cameras[view].project(world)


def _by_individual(a: np.ndarray) -> torch.Tensor:
    """(frames, individuals, ...) numpy -> (individuals, frames, ...) torch, float64."""
    import torch

    return torch.as_tensor(np.moveaxis(a, 1, 0).copy(), dtype=torch.float64)


def _frames_first(t: torch.Tensor) -> np.ndarray:
    return np.moveaxis(t.numpy(), 0, 1)


def _estimate(back: np.ndarray, xy: np.ndarray, anchor: bool):
    """The other cameras' estimate ``back`` (:func:`reprojections`) of every point of a
    view's points ``xy``, anchored at each gap's ends with ``anchor`` (see
    :func:`aeimpute.keypoints.model.anchored`), and each point's gap length (0 where
    observed)."""
    import torch

    from aeimpute.keypoints.model import anchored
    from aeimpute.temporal import bridge

    seen = np.isfinite(xy).all(-1)
    mask = _by_individual(seen).bool()
    if anchor:  # anchors: frames where the view saw the point and the others placed it
        est = _by_individual(back)
        placed = mask & torch.isfinite(est).all(-1)
        back = _frames_first(anchored(est, est, _by_individual(xy), placed))
    return back, _frames_first(bridge(_by_individual(xy[..., 0]), mask).gap_lengths())


#: lengths of the artificial gaps that measure a fill (see :func:`fill_from_cameras`), at most
#: GAPS_PER_LENGTH of each per draw, together hiding at most HIDDEN_SHARE of the usable points
ERROR_GAPS = (1, 3, 10, 30)
GAPS_PER_LENGTH = 30
HIDDEN_SHARE = 0.25
#: independent draws of those gaps (a short recording holds few long gaps per draw)
ERROR_DRAWS = 4


def _linear(xy: np.ndarray) -> np.ndarray:
    """Every keypoint of ``xy (frames, individuals, keypoints, 2)`` bridged linearly."""
    from aeimpute.temporal import bridge

    mask = _by_individual(np.isfinite(xy).all(-1)).bool()
    axes = [_frames_first(bridge(_by_individual(xy[..., a]), mask).filled) for a in (0, 1)]
    return np.stack(axes, -1)


def _measure(
    back: np.ndarray, xy: np.ndarray, anchor: bool, guard: bool, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Error bars and the share of the fill kept, per gap-length group, for a view's points
    ``xy`` and the other cameras' estimate of them ``back`` (:func:`reprojections`).

    Measured on artificial gaps over the points the view saw (and the other
    cameras placed). Per group of ``BLEND_EDGES``: with ``guard``, the share
    ``w`` (0, 0.1, ..., 1) in ``line + w * (fill - line)`` with the least
    squared error there (``line``: linear interpolation of the same gaps;
    0 where the fill only adds error), else 1; and the ``ERROR_LEVEL``
    quantile of the errors of that estimate. Groups with fewer than
    ``MIN_HELD_OUT`` points take the values of all points; NaN / 0 without
    enough points at all.
    """
    from aeimpute.keypoints.model import BLEND_EDGES, gap_group
    from aeimpute.simulate import keypoint_gaps

    bars = np.full(len(BLEND_EDGES), np.nan)
    shares = np.zeros(len(BLEND_EDGES))
    usable = np.isfinite(xy).all(-1) & np.isfinite(back).all(-1)
    if usable.sum() < MIN_HELD_OUT:
        return bars, shares
    rng = np.random.default_rng(seed)
    per_length = int(np.clip(usable.sum() * HIDDEN_SHARE // sum(ERROR_GAPS), 1, GAPS_PER_LENGTH))
    truth, fill, line, groups = [], [], [], []
    for _ in range(ERROR_DRAWS):
        hidden, _ = keypoint_gaps(usable, ERROR_GAPS, per_length, 99, rng=rng)
        damaged = xy.copy()
        damaged[hidden] = np.nan
        est, length = _estimate(back, damaged, anchor)
        truth.append(xy[hidden])
        fill.append(est[hidden])
        line.append(_linear(damaged)[hidden])
        groups.append(gap_group(np.maximum(length[hidden], 1)))
    truth, fill, line, groups = (np.concatenate(x) for x in (truth, fill, line, groups))
    if len(truth) < MIN_HELD_OUT:
        return bars, shares
    grid = np.linspace(0.0, 1.0, 11) if guard else np.ones(1)
    for g in [None, *range(len(BLEND_EDGES))]:
        pick = np.ones(len(truth), bool) if g is None else groups == g
        if pick.sum() < MIN_HELD_OUT:
            continue
        at = slice(None) if g is None else g
        errors = [np.linalg.norm(line[pick] + w * (fill[pick] - line[pick]) - truth[pick],
                                 axis=-1) for w in grid]  # fmt: skip
        best = int(np.argmin([np.mean(e**2) for e in errors]))
        shares[at] = grid[best]
        bars[at] = np.quantile(errors[best], ERROR_LEVEL)
    return bars, shares


def fill_from_cameras(
    views: Sequence[PoseData],
    calibration: str | Path | CameraGroup,
    names: Sequence[str] | None = None,
    anchor: bool = True,
    guard: bool = True,
    max_error: float | None = None,
    random_state: int = 0,
) -> list[PoseData]:
    """Fill the points a view lost where two or more other calibrated views saw them.

    A lost point is the reprojection of the point triangulated from the views
    that saw it in that frame. With ``anchor`` (default), that reprojection
    is then moved by its own error at the two ends of the gap (where the view
    did see the point), bridged linearly across the gap: a calibration that
    misses by a few pixels misses the same way a frame before and after, so
    the anchors take most of that bias out (single frames between two
    observed ones then come out near linear interpolation).

    What the fill is worth is measured on the data: per camera and range of
    gap lengths (as the keypoint model's blend groups them), the same fill on
    artificial gaps hidden over points the camera did see. With ``guard``
    (default), the fill is shrunk toward linear interpolation by the share
    (0, 0.1, ..., 1) that erred least there, and gaps of a range where any
    share of it only added error (a calibration a few pixels off loses to
    the straight line on an animal that hardly moves) are left alone, except
    keypoints the view never saw, which have no line to fall back on. Each
    filled point's error bar (``uncertainty``, pixels) is the
    ``ERROR_LEVEL`` quantile of the errors of the same estimate there.
    Points no two other views saw, and the ones the guard left, stay
    missing: repair them next with :class:`~aeimpute.keypoints.KeypointImputer`
    (e.g. on :func:`join_views`).

    Parameters
    ----------
    views : sequence of PoseData
        Synchronised recordings (frame ``t`` of each is the same moment) of
        the same keypoints and individuals, one per camera.
    calibration : path or CameraGroup
        An Anipose ``.toml`` calibration or a :class:`CameraGroup`.
    names : sequence of str, optional
        The camera of each view, by its name in the calibration; default: the
        calibration's cameras in order (then there must be as many).
    anchor : bool
        Move each fill by the reprojection's error at the gap's ends (see
        above); False puts the plain reprojection.
    guard : bool
        Shrink the fill toward the straight line as the artificial gaps say,
        leaving the gaps of a range of lengths where it only added error (see
        above).
    max_error : float, optional
        Leave a point missing when its error bar is above this many pixels
        (e.g. a camera the calibration does not fit).
    random_state : int
        Seed of the artificial gaps that measure the error bars.

    Returns
    -------
    list of PoseData
        Copies of ``views``; ``imputed`` marks the filled points, ``uncertainty``
        their error bars (NaN elsewhere). The inputs are not changed.

    Examples
    --------
    >>> import numpy as np
    >>> from aeimpute.keypoints import Camera, CameraGroup, PoseData, fill_from_cameras
    >>> eye = np.array([[800.0, 0, 320], [0, 800.0, 240], [0, 0, 1]])
    >>> cams = CameraGroup(tuple(
    ...     Camera(f"cam{i}", eye, np.zeros(5), np.array([0.0, a, 0]), np.array([0.0, 0, 10]))
    ...     for i, a in enumerate((-0.3, 0.0, 0.3))))
    >>> world = np.random.default_rng(0).normal(size=(50, 1, 2, 3))
    >>> views = [PoseData(c.project(world)) for c in cams.cameras]
    >>> views[0].xy[10, 0, 1] = np.nan  # camera 0 lost keypoint 1 in frame 10
    >>> filled = fill_from_cameras(views, cams)
    >>> bool(filled[0].imputed[10, 0, 1]), bool(np.isfinite(filled[0].xy).all())
    (True, True)
    """
    from aeimpute.keypoints.model import gap_group

    group = (
        calibration if isinstance(calibration, CameraGroup) else CameraGroup.from_toml(calibration)
    )
    views = list(views)
    if names is None:
        if len(group.cameras) != len(views):
            raise ValueError(
                f"{len(views)} views but the calibration has {len(group.cameras)} cameras "
                f"({group.names}); pass names= to say which camera filmed each view"
            )
    else:
        if len(names) != len(views):
            raise ValueError(f"names has {len(names)} entries for {len(views)} views")
        group = group.subset(list(names))
    pixels = _pixels(views)
    out = []
    for v, view in enumerate(views):
        lost = ~np.isfinite(view.xy).all(-1)
        xy = view.xy.copy()
        radius = np.full(lost.shape, np.nan)
        filled = np.zeros(lost.shape, dtype=bool)
        if lost.any():
            back = reprojections(group, pixels, v)
            est, length = _estimate(back, view.xy, anchor)
            bars, shares = _measure(back, view.xy, anchor, guard, random_state + v)
            cell = gap_group(np.maximum(length, 1))
            radius, share = bars[cell], shares[cell]
            never = ~(~lost).any(0, keepdims=True) & lost  # no straight line, no anchors
            if never.any():
                plain, _ = _measure(back, view.xy, False, False, random_state + v)
                if anchor:
                    radius = np.where(never, np.nanmax(plain) if np.isfinite(plain).any()
                                      else np.nan, radius)  # fmt: skip
                share = np.where(never, 1.0, share)
            line = _linear(view.xy)
            est = np.where(never[..., None], est, line + share[..., None] * (est - line))
            filled = lost & np.isfinite(est).all(-1) & (share > 0)
            if max_error is not None:
                filled &= radius <= max_error
            xy[filled] = est[filled]
        before = np.zeros(lost.shape, bool) if view.imputed is None else view.imputed
        bars = np.full(lost.shape, np.nan) if view.uncertainty is None else view.uncertainty
        out.append(replace(
            view, xy=xy, imputed=before | filled, uncertainty=np.where(filled, radius, bars),
            meta=dict(view.meta),
            confidence=None if view.confidence is None else view.confidence.copy(),
        ))  # fmt: skip
    return out
