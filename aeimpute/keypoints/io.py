"""Pose-tracking files in and out: DeepLabCut and Lightning Pose (CSV, H5), SLEAP (H5, .slp).

Every reader returns a :class:`PoseData`, which :class:`aeimpute.KeypointImputer`
accepts directly; every writer takes one back, so a repaired file can go
straight back into the user's pipeline (:func:`write_pose` writes a pose in
the format it was read from). H5 support needs the optional extra
``aeimpute[keypoints]`` (h5py for SLEAP, PyTables for DeepLabCut's pandas H5);
SLEAP project files (``.slp``) the extra ``aeimpute[sleap]`` (sleap-io).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aeimpute._files import atomic_path

__all__ = [
    "PoseData",
    "read_pose",
    "read_dlc",
    "read_sleap",
    "read_slp",
    "write_dlc",
    "write_pose",
    "write_sleap",
    "write_slp",
]

_DLC_LEVELS_SINGLE = ["scorer", "bodyparts", "coords"]
_DLC_LEVELS_MULTI = ["scorer", "individuals", "bodyparts", "coords"]
_DLC_H5_KEY = "df_with_missing"


@dataclass
class PoseData:
    """Keypoint tracks of one recording.

    Parameters
    ----------
    xy : ndarray of shape (frames, individuals, keypoints, 2)
        Positions in pixels (x, y); NaN where a point is missing.
    confidence : ndarray of shape (frames, individuals, keypoints), optional
        The tracker's per-point score (DeepLabCut likelihood, SLEAP point
        score); NaN where the point is missing.
    keypoint_names, individual_names : list of str
        Names along the keypoint and individual axes.
    fps : float, optional
        Frame rate, when the file records it.
    imputed : bool ndarray of shape (frames, individuals, keypoints), optional
        Points filled in by :class:`aeimpute.KeypointImputer` (set by its
        ``transform``; writers leave their confidence as it was unless told
        otherwise).
    meta : dict
        Format details a writer needs to reproduce the source file (DeepLabCut
        scorer, frame index and column set; SLEAP track occupancy).
    uncertainty : ndarray of shape (frames, individuals, keypoints), optional
        Error bar of each repaired point (set by ``transform``): the radius in
        pixels of the circle around it that should hold the true point 9
        times in 10; NaN for points not repaired.

    Examples
    --------
    >>> import numpy as np
    >>> pose = PoseData(np.zeros((5, 1, 3, 2)), keypoint_names=["a", "b", "c"])
    >>> pose.n_frames, pose.n_individuals, pose.n_keypoints
    (5, 1, 3)
    >>> pose.individual_names
    ['individual0']
    """

    xy: np.ndarray
    confidence: np.ndarray | None = None
    keypoint_names: list[str] = field(default_factory=list)
    individual_names: list[str] = field(default_factory=list)
    fps: float | None = None
    imputed: np.ndarray | None = None
    meta: dict = field(default_factory=dict)
    uncertainty: np.ndarray | None = None

    def __post_init__(self) -> None:
        xy = np.asarray(self.xy, dtype=np.float64)
        if xy.ndim != 4 or xy.shape[-1] != 2:
            raise ValueError(
                f"PoseData.xy must have shape (frames, individuals, keypoints, 2); got {xy.shape}"
            )
        self.xy = xy
        f, i, k, _ = xy.shape
        if self.confidence is not None:
            conf = np.asarray(self.confidence, dtype=np.float64)
            if conf.shape != (f, i, k):
                raise ValueError(
                    f"PoseData.confidence must have shape {(f, i, k)} to match xy; got {conf.shape}"
                )
            self.confidence = conf
        if self.imputed is not None:
            self.imputed = np.asarray(self.imputed, dtype=bool)
            if self.imputed.shape != (f, i, k):
                raise ValueError(f"PoseData.imputed must have shape {(f, i, k)}")
        if self.uncertainty is not None:
            self.uncertainty = np.asarray(self.uncertainty, dtype=np.float64)
            if self.uncertainty.shape != (f, i, k):
                raise ValueError(
                    f"PoseData.uncertainty must have shape {(f, i, k)}; "
                    f"got {self.uncertainty.shape}"
                )
        self.keypoint_names = [str(n) for n in self.keypoint_names] or [
            f"keypoint{j}" for j in range(k)
        ]
        self.individual_names = [str(n) for n in self.individual_names] or [
            f"individual{j}" for j in range(i)
        ]
        if len(self.keypoint_names) != k:
            raise ValueError(f"{len(self.keypoint_names)} keypoint names for {k} keypoints")
        if len(self.individual_names) != i:
            raise ValueError(f"{len(self.individual_names)} individual names for {i} individuals")

    @property
    def n_frames(self) -> int:
        return self.xy.shape[0]

    def __repr__(self) -> str:
        """A summary, not the arrays: sizes, names, the share of missing and repaired points.

        Examples
        --------
        >>> import numpy as np
        >>> xy = np.zeros((100, 1, 2, 2))
        >>> xy[:10, 0, 1] = np.nan
        >>> PoseData(xy, keypoint_names=["nose", "tail"], fps=30.0)
        PoseData(100 frames at 30 fps, 1 individual, 2 keypoints ['nose', 'tail'], 5.0% of points missing)
        """  # noqa: E501
        f, i, k = self.xy.shape[:3]
        fps = f" at {self.fps:g} fps" if self.fps else ""

        def names(items: list[str]) -> str:
            return repr(items) if len(items) <= 6 else repr(items[:5])[:-1] + ", ...]"

        points = max(1, f * i * k)
        parts = [
            f"{f} frames{fps}",
            f"{i} individual{'s' if i != 1 else ''}"
            + (f" {names(self.individual_names)}" if i > 1 else ""),
            f"{k} keypoints {names(self.keypoint_names)}",
            f"{np.isnan(self.xy).any(axis=-1).sum() / points:.1%} of points missing",
        ]
        if self.imputed is not None:
            parts.append(f"{self.imputed.sum() / points:.1%} repaired")
        return f"PoseData({', '.join(parts)})"

    @property
    def n_individuals(self) -> int:
        return self.xy.shape[1]

    @property
    def n_keypoints(self) -> int:
        return self.xy.shape[2]

    def scores(self) -> np.ndarray:
        """A copy of ``confidence``; without one, 1 for every point with coordinates (else NaN).

        Examples
        --------
        >>> import numpy as np
        >>> xy = np.zeros((2, 1, 1, 2))
        >>> xy[1] = np.nan
        >>> PoseData(xy).scores().ravel().tolist()
        [1.0, nan]
        """
        if self.confidence is not None:
            return self.confidence.copy()
        return np.where(np.isfinite(self.xy).all(-1), 1.0, np.nan)

    def with_xy(
        self,
        xy: np.ndarray,
        imputed: np.ndarray | None = None,
        uncertainty: np.ndarray | None = None,
    ) -> PoseData:
        """A copy with new positions (imputed mask, error bars); everything else shared."""
        return replace(
            self, xy=np.array(xy, dtype=np.float64), imputed=imputed, uncertainty=uncertainty
        )

    def to_frame(self) -> pd.DataFrame:
        """Positions as a DataFrame with columns (individual, keypoint, x/y).

        This is the plain-table view: :class:`aeimpute.Imputer` can impute it
        like any other table (without the temporal model).

        Examples
        --------
        >>> import numpy as np
        >>> pose = PoseData(np.arange(8.0).reshape(2, 1, 2, 2), keypoint_names=["a", "b"])
        >>> pose.to_frame().columns.tolist()[:2]
        [('individual0', 'a', 'x'), ('individual0', 'a', 'y')]
        """
        cols = pd.MultiIndex.from_product(
            [self.individual_names, self.keypoint_names, ["x", "y"]],
            names=["individual", "keypoint", "coord"],
        )
        return pd.DataFrame(self.xy.reshape(self.n_frames, -1), columns=cols)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, **kwargs: Any) -> PoseData:
        """Inverse of :meth:`to_frame` (columns (individual, keypoint, x/y) in any order)."""
        if not isinstance(frame.columns, pd.MultiIndex) or frame.columns.nlevels != 3:
            raise ValueError("from_frame needs columns (individual, keypoint, coord)")
        inds = list(dict.fromkeys(frame.columns.get_level_values(0)))
        kps = list(dict.fromkeys(frame.columns.get_level_values(1)))
        xy = np.full((len(frame), len(inds), len(kps), 2), np.nan)
        for a, ind in enumerate(inds):
            for b, kp in enumerate(kps):
                for c, coord in enumerate(("x", "y")):
                    if (ind, kp, coord) not in frame.columns:
                        raise ValueError(f"column {(ind, kp, coord)} is missing")
                    xy[:, a, b, c] = frame[(ind, kp, coord)].to_numpy(dtype=float, na_value=np.nan)
        return cls(xy, keypoint_names=kps, individual_names=inds, **kwargs)


def need_package(module: str, what: str, extra: str = "keypoints") -> Any:
    """Import an optional package, or say which extra installs it (ImportError)."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"{what} needs the optional package '{module}': pip install 'aeimpute[{extra}]'"
        ) from err


def _existing(path: str | os.PathLike) -> Path:
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {p}")
    return p


# ---------------------------------------------------------------- DeepLabCut


def read_dlc(path: str | os.PathLike) -> PoseData:
    """Read a DeepLabCut prediction file (CSV or H5, single- or multi-animal).

    Parameters
    ----------
    path : str or path
        ``.csv`` (3 header rows ``scorer/bodyparts/coords``, or 4 with
        ``individuals``) or ``.h5`` (the pandas table DeepLabCut writes).

    Returns
    -------
    PoseData
        ``confidence`` is the likelihood. Multi-animal files with unique body
        parts (individual ``single``) become an extra individual whose other
        keypoints are missing; the writer leaves those columns out again.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> pose = PoseData(np.arange(12.0).reshape(3, 1, 2, 2), np.ones((3, 1, 2)),
    ...                 keypoint_names=["nose", "tail"], individual_names=["mouse"])
    >>> path = os.path.join(tempfile.mkdtemp(), "tracks.csv")
    >>> write_dlc(pose, path)
    >>> back = read_dlc(path)
    >>> back.keypoint_names, bool(np.array_equal(back.xy, pose.xy))
    (['nose', 'tail'], True)
    """
    p = _existing(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        with open(p, encoding="utf-8") as fh:
            firsts = [fh.readline().split(",", 1)[0].strip().lower() for _ in range(4)]
        n_header = 4 if firsts[1] == "individuals" else 3
        if firsts[0] != "scorer" or firsts[n_header - 1] != "coords":
            raise ValueError(
                f"{p} is not a DeepLabCut CSV: expected header rows "
                f"'scorer', ['individuals',] 'bodyparts', 'coords'; found {firsts[:n_header]}"
            )
        frame = pd.read_csv(p, header=list(range(n_header)), index_col=0)
        frame.columns = frame.columns.set_names(
            _DLC_LEVELS_MULTI if n_header == 4 else _DLC_LEVELS_SINGLE
        )
    elif suffix in (".h5", ".hdf5"):
        need_package("tables", "reading DeepLabCut H5")
        try:
            frame = pd.read_hdf(p)
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{p} is not a DeepLabCut H5 file ({err})") from err
        if not isinstance(frame, pd.DataFrame):
            raise ValueError(f"{p} is not a DeepLabCut H5 file (no table inside)")
    else:
        raise ValueError(f"{p}: DeepLabCut files end in .csv or .h5, not '{p.suffix}'")
    return _from_dlc_frame(frame, str(p))


def _from_dlc_frame(frame: pd.DataFrame, name: str) -> PoseData:
    cols = frame.columns
    if not isinstance(cols, pd.MultiIndex) or cols.nlevels not in (3, 4):
        raise ValueError(
            f"{name}: expected DeepLabCut columns (scorer, [individuals,] bodyparts, coords)"
        )
    multi = cols.nlevels == 4
    scorer = str(cols.get_level_values(0)[0])
    inds = list(dict.fromkeys(cols.get_level_values(1))) if multi else ["individual0"]
    kps = list(dict.fromkeys(cols.get_level_values(-2)))
    coords = set(cols.get_level_values(-1))
    if not {"x", "y"} <= coords:
        raise ValueError(f"{name}: the coords level must hold x and y; found {sorted(coords)}")
    n = len(frame)
    xy = np.full((n, len(inds), len(kps), 2), np.nan)
    conf = np.full((n, len(inds), len(kps)), np.nan) if "likelihood" in coords else None
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    where = {tuple(c[1:]): j for j, c in enumerate(cols)}
    for a, ind in enumerate(inds):
        for b, kp in enumerate(kps):
            key = (ind, kp) if multi else (kp,)
            if key + ("x",) not in where:
                continue
            xy[:, a, b, 0] = values[:, where[key + ("x",)]]
            xy[:, a, b, 1] = values[:, where[key + ("y",)]]
            if conf is not None and key + ("likelihood",) in where:
                conf[:, a, b] = values[:, where[key + ("likelihood",)]]
    if conf is not None:
        conf[~np.isfinite(xy).all(-1)] = np.nan
    meta = {
        "format": "dlc",
        "source": name,
        "scorer": scorer,
        "multi_animal": multi,
        "columns": [list(map(str, c)) for c in cols],
        "index": frame.index,
    }
    names = [str(i) for i in inds] if multi else ["individual0"]
    return PoseData(xy, conf, [str(k) for k in kps], names, meta=meta)


def _dlc_frame(pose: PoseData, imputed_confidence: float | None) -> pd.DataFrame:
    meta = pose.meta if pose.meta.get("format") == "dlc" else {}
    multi = meta.get("multi_animal", pose.n_individuals > 1)
    scorer = meta.get("scorer", "aeimpute")
    conf = _confidence_out(pose, imputed_confidence)
    if meta.get("columns") is not None:
        columns = [tuple(c) for c in meta["columns"]]
    else:
        columns = []
        for ind in pose.individual_names:
            for kp in pose.keypoint_names:
                for coord in ("x", "y", "likelihood"):
                    columns.append((scorer, ind, kp, coord) if multi else (scorer, kp, coord))
    ind_pos = {n: j for j, n in enumerate(pose.individual_names)}
    kp_pos = {n: j for j, n in enumerate(pose.keypoint_names)}
    data = np.empty((pose.n_frames, len(columns)))
    for j, col in enumerate(columns):
        ind = col[1] if multi else pose.individual_names[0]
        kp, coord = col[-2], col[-1]
        if ind not in ind_pos or kp not in kp_pos:
            raise ValueError(f"column {col} does not match the pose's names")
        a, b = ind_pos[ind], kp_pos[kp]
        if coord == "likelihood":
            data[:, j] = conf[:, a, b]
        else:
            data[:, j] = pose.xy[:, a, b, 0 if coord == "x" else 1]
    names = _DLC_LEVELS_MULTI if multi else _DLC_LEVELS_SINGLE
    index = meta.get("index")
    if index is None or len(index) != pose.n_frames:
        index = pd.RangeIndex(pose.n_frames)
    return pd.DataFrame(data, index=index, columns=pd.MultiIndex.from_tuples(columns, names=names))


def _confidence_out(pose: PoseData, imputed_confidence: float | None) -> np.ndarray:
    conf = pose.scores()
    if imputed_confidence is not None and pose.imputed is not None:
        conf[pose.imputed & np.isfinite(pose.xy).all(-1)] = float(imputed_confidence)
    return conf


def write_dlc(
    pose: PoseData, path: str | os.PathLike, imputed_confidence: float | None = None
) -> None:
    """Write ``pose`` as a DeepLabCut prediction file (``.csv`` or ``.h5``).

    A pose read with :func:`read_dlc` is written back with the same scorer,
    columns and frame index. The file is written atomically (temporary file,
    then rename).

    Parameters
    ----------
    pose : PoseData
    path : str or path
    imputed_confidence : float, optional
        Likelihood written for imputed points; by default they keep the
        likelihood they had (typically low, which is why they were repaired).
    """
    p = Path(path)
    frame = _dlc_frame(pose, imputed_confidence)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        with atomic_path(p) as tmp:
            frame.to_csv(tmp)
    elif suffix in (".h5", ".hdf5"):
        need_package("tables", "writing DeepLabCut H5")
        with atomic_path(p) as tmp:
            frame.to_hdf(tmp, key=_DLC_H5_KEY, mode="w", format="table")
    else:
        raise ValueError(f"{p}: DeepLabCut files end in .csv or .h5, not '{p.suffix}'")


# ---------------------------------------------------------------- SLEAP

# classic SLEAP analysis files store arrays column-major (for MATLAB): seen
# from h5py, tracks is (tracks, xy, nodes, frames) and point_scores is
# (tracks, nodes, frames)
_CLASSIC_TRACKS = ("tracks", "xy", "nodes", "frames")
_CLASSIC_SCORES = ("tracks", "nodes", "frames")
_DIM_ALIASES = {
    "frame": "frames", "frames": "frames", "track": "tracks", "tracks": "tracks",
    "node": "nodes", "nodes": "nodes", "xy": "xy", "coord": "xy", "coords": "xy",
}  # fmt: skip


def _dims(dataset: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = dataset.attrs.get("dims")
    if raw is None:
        return default
    if isinstance(raw, bytes):
        raw = raw.decode()
    names = (
        json.loads(raw)
        if isinstance(raw, str)
        else [n.decode() if isinstance(n, bytes) else str(n) for n in raw]
    )
    dims = tuple(_DIM_ALIASES.get(str(n).lower(), str(n).lower()) for n in names)
    if sorted(dims) != sorted(default):
        raise ValueError(f"unexpected dimension names {names}")
    return dims


def _strings(values: Any) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(values).ravel()]


def read_sleap(path: str | os.PathLike) -> PoseData:
    """Read a SLEAP analysis HDF5 file (``File > Export Analysis HDF5``).

    Parameters
    ----------
    path : str or path
        An ``.h5`` analysis file with a ``tracks`` dataset. A ``.slp``
        project file is handed to :func:`read_slp` (needs sleap-io).

    Returns
    -------
    PoseData
        ``confidence`` holds the point scores when the file has them.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> pose = PoseData(np.arange(24.0).reshape(3, 2, 2, 2), np.ones((3, 2, 2)))
    >>> path = os.path.join(tempfile.mkdtemp(), "flies.analysis.h5")
    >>> write_sleap(pose, path)
    >>> back = read_sleap(path)
    >>> back.xy.shape, bool(np.array_equal(back.xy, pose.xy))
    ((3, 2, 2, 2), True)
    """
    p = _existing(path)
    if p.suffix.lower() == ".slp":
        return read_slp(p)
    h5py = need_package("h5py", "reading SLEAP analysis files")
    try:
        fh = h5py.File(p, "r")
    except OSError as err:
        raise ValueError(f"{p} is not an HDF5 file ({err})") from err
    with fh:
        if "tracks" not in fh:
            raise ValueError(f"{p} is not a SLEAP analysis file (no 'tracks' dataset)")
        tracks = fh["tracks"]
        dims = _dims(tracks, _CLASSIC_TRACKS)
        order = [dims.index(d) for d in ("frames", "tracks", "nodes", "xy")]
        xy = np.transpose(tracks[()], order).astype(np.float64)
        conf = None
        if "point_scores" in fh:
            sdims = _dims(fh["point_scores"], _CLASSIC_SCORES)
            sorder = [sdims.index(d) for d in ("frames", "tracks", "nodes")]
            conf = np.transpose(fh["point_scores"][()], sorder).astype(np.float64)
            conf[~np.isfinite(xy).all(-1)] = np.nan
        nodes = _strings(fh["node_names"][()]) if "node_names" in fh else []
        names = _strings(fh["track_names"][()]) if "track_names" in fh else []
        occupancy = fh["track_occupancy"][()] if "track_occupancy" in fh else None
        fps = None
        for key in ("fps", "frame_rate"):
            if key in fh.attrs:
                fps = float(np.asarray(fh.attrs[key]).ravel()[0])
    if len(names) != xy.shape[1]:
        names = [f"track_{j}" for j in range(xy.shape[1])]
    meta = {"format": "sleap", "source": str(p)}
    if occupancy is not None:
        meta["track_occupancy"] = np.asarray(occupancy)
    return PoseData(xy, conf, nodes, names, fps=fps, meta=meta)


def write_sleap(
    pose: PoseData, path: str | os.PathLike, imputed_confidence: float | None = None
) -> None:
    """Write ``pose`` as a SLEAP analysis HDF5 file (classic column-major layout).

    Datasets ``tracks``, ``point_scores`` (when there is a confidence),
    ``track_occupancy``, ``node_names`` and ``track_names``, laid out as SLEAP
    writes them, so tools that read SLEAP analysis files read this one. The
    file is written atomically. ``imputed_confidence``, when given, is the
    score written for imputed points (by default they keep theirs).
    """
    h5py = need_package("h5py", "writing SLEAP analysis files")
    p = Path(path)
    tracks = np.transpose(pose.xy, (1, 3, 2, 0))  # (tracks, xy, nodes, frames)
    occupancy = np.isfinite(pose.xy).all(-1).any(-1).astype(np.uint8)  # (frames, tracks)
    with atomic_path(p) as tmp, h5py.File(tmp, "w") as fh:
        fh.create_dataset("tracks", data=tracks, compression="gzip")
        if pose.confidence is not None:
            scores = _confidence_out(pose, imputed_confidence)
            fh.create_dataset(
                "point_scores", data=np.transpose(scores, (1, 2, 0)), compression="gzip"
            )
        fh.create_dataset("track_occupancy", data=occupancy)
        fh.create_dataset("node_names", data=np.array([n.encode() for n in pose.keypoint_names]))
        fh.create_dataset("track_names", data=np.array([n.encode() for n in pose.individual_names]))
        if pose.fps is not None:
            fh.attrs["fps"] = float(pose.fps)


# ---------------------------------------------------------------- SLEAP project files (.slp)


def _labels(path: Path) -> Any:
    """The sleap-io ``Labels`` of a ``.slp`` file, a read failure as a ValueError naming it."""
    sio = need_package("sleap_io", "reading SLEAP .slp files", extra="sleap")
    try:
        return sio.load_slp(str(path))
    except (OSError, KeyError, ValueError, TypeError, IndexError) as err:
        raise ValueError(f"{path} cannot be read as a SLEAP .slp file ({err})") from err


def read_slp(path: str | os.PathLike, video: int | None = None) -> PoseData:
    """Read the tracked predictions of a SLEAP project file (``.slp``) with sleap-io.

    Parameters
    ----------
    path : str or path
        A ``.slp`` labels file with tracked instances (SLEAP's tracker assigns
        each instance to a track; a single-animal project needs none).
    video : int, optional
        Which video of the file to read; needed when it holds several.

    Returns
    -------
    PoseData
        Tracks as individuals, the skeleton's nodes as keypoints, the point
        scores as ``confidence``. User-labelled instances take the place of
        predictions of the same track. :func:`write_slp` writes a repaired
        pose back into a copy of the same file.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> pose = PoseData(np.arange(24.0).reshape(3, 2, 2, 2), np.ones((3, 2, 2)),
    ...                 keypoint_names=["head", "tail"], individual_names=["a", "b"])
    >>> path = os.path.join(tempfile.mkdtemp(), "flies.slp")
    >>> write_slp(pose, path)
    >>> back = read_slp(path)
    >>> back.individual_names, bool(np.array_equal(back.xy, pose.xy))
    (['a', 'b'], True)
    """
    p = _existing(path)
    labels = _labels(p)
    n_videos = len(labels.videos)
    if n_videos == 0:
        raise ValueError(f"{p} holds no video")
    if video is None:
        if n_videos > 1:
            raise ValueError(f"{p} holds {n_videos} videos; pass video=0..{n_videos - 1}")
        video = 0
    elif not 0 <= video < n_videos:
        raise ValueError(f"{p} holds {n_videos} video(s); video={video} is out of range")
    if len(labels.skeletons) != 1:
        raise ValueError(f"{p} has {len(labels.skeletons)} skeletons; one is supported")
    arr = np.asarray(labels.numpy(video=video, return_confidence=True), dtype=np.float64)
    if arr.ndim != 4 or arr.shape[1] == 0:
        raise ValueError(f"{p} has no tracked instances; run SLEAP's tracker first")
    xy, conf = arr[..., :2], arr[..., 2]
    conf[~np.isfinite(xy).all(-1)] = np.nan
    tracks = [t.name for t in labels.tracks]
    names = tracks if len(tracks) == xy.shape[1] else []
    nodes = [n.name for n in labels.skeleton.nodes]
    meta = {"format": "slp", "source": str(p), "video": video}
    return PoseData(xy, conf, nodes, names, meta=meta)


def write_slp(
    pose: PoseData, path: str | os.PathLike, imputed_confidence: float | None = None
) -> None:
    """Write ``pose`` as a SLEAP project file (``.slp``) with sleap-io.

    A pose read with :func:`read_slp` is written into a copy of its source
    file (videos, skeleton, tracks, provenance and every other frame kept),
    with its instances' points replaced by ``pose.xy``; instances are added
    where a track had none in a frame but now has points. Any other pose
    becomes a new file with one video (no file name), a skeleton of its
    keypoints and a track per individual. Written atomically.

    Parameters
    ----------
    pose : PoseData
    path : str or path
    imputed_confidence : float, optional
        Score written for imputed points; by default they keep theirs.
    """
    sio = need_package("sleap_io", "writing SLEAP .slp files", extra="sleap")
    p = Path(path)
    if p.suffix.lower() != ".slp":
        raise ValueError(f"{p}: SLEAP project files end in .slp, not '{p.suffix}'")
    conf = _confidence_out(pose, imputed_confidence)
    arr = np.concatenate([pose.xy, conf[..., None]], axis=-1)
    meta = pose.meta if pose.meta.get("format") == "slp" else {}
    source = meta.get("source")
    if source is not None and Path(source).exists():
        labels = _labels(Path(source))
        tracks = [t for t in labels.tracks if t.name in pose.individual_names] or None
        video = labels.videos[meta.get("video", 0)]
        labels.update_from_numpy(arr, video=video, tracks=tracks)
        for frame in labels.labeled_frames:  # sleap-io leaves filled points marked invisible
            if frame.video is video:
                for instance in frame.instances:
                    points = instance.points
                    points["visible"] = np.isfinite(points["xy"]).all(axis=-1)
    else:
        skeleton = sio.Skeleton(list(pose.keypoint_names))
        labels = sio.Labels.from_numpy(
            arr, videos=[sio.Video(filename=f"{p.stem}.mp4")], skeletons=skeleton,
            tracks=[sio.Track(name) for name in pose.individual_names], return_confidence=True,
        )  # fmt: skip
    with atomic_path(p) as tmp:
        slp = f"{tmp}.slp"  # sleap-io writes by extension
        try:
            sio.save_slp(labels, slp)
            os.replace(slp, tmp)
        finally:
            if os.path.exists(slp):
                os.remove(slp)


# ---------------------------------------------------------------- dispatch


POSE_SUFFIXES = (".csv", ".h5", ".hdf5", ".slp")


def write_pose(
    pose: PoseData, path: str | os.PathLike, imputed_confidence: float | None = None
) -> None:
    """Write ``pose`` in the format its extension and origin say (the inverse of :func:`read_pose`).

    ``.csv`` is written as DeepLabCut (the layout Lightning Pose also uses);
    ``.h5`` as a SLEAP analysis file when the pose was read from one, else as
    DeepLabCut's pandas H5; ``.slp`` as a SLEAP project file.

    Parameters
    ----------
    pose : PoseData
    path : str or path
    imputed_confidence : float, optional
        Confidence (likelihood, score) written for imputed points; by
        default they keep the one they had.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> pose = PoseData(np.arange(12.0).reshape(3, 1, 2, 2), np.ones((3, 1, 2)))
    >>> path = os.path.join(tempfile.mkdtemp(), "tracks.csv")
    >>> write_pose(pose, path)
    >>> bool(np.array_equal(read_pose(path).xy, pose.xy))
    True
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".slp":
        write_slp(pose, p, imputed_confidence)
    elif suffix in (".h5", ".hdf5") and pose.meta.get("format") == "sleap":
        write_sleap(pose, p, imputed_confidence)
    elif suffix in (".csv", ".h5", ".hdf5"):
        write_dlc(pose, p, imputed_confidence)
    else:
        raise ValueError(
            f"{p}: unknown pose file type '{p.suffix}' (expected {', '.join(POSE_SUFFIXES)})"
        )


def read_pose(path: str | os.PathLike) -> PoseData:
    """Read any supported pose file, telling DeepLabCut and SLEAP H5 apart by content.

    ``.csv`` is read as DeepLabCut (Lightning Pose writes the same layout);
    ``.h5`` as SLEAP analysis when it has a ``tracks`` dataset and as
    DeepLabCut otherwise; ``.slp`` as a SLEAP project file (:func:`read_slp`).
    """
    p = _existing(path)
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return read_dlc(p)
    if suffix in (".h5", ".hdf5"):
        h5py = need_package("h5py", "reading H5 pose files")
        try:
            with h5py.File(p, "r") as fh:
                is_sleap = "tracks" in fh
        except OSError as err:
            raise ValueError(f"{p} is not an HDF5 file ({err})") from err
        return read_sleap(p) if is_sleap else read_dlc(p)
    if suffix == ".slp":
        return read_slp(p)
    raise ValueError(
        f"{p}: unknown pose file type '{p.suffix}' (expected {', '.join(POSE_SUFFIXES)})"
    )
