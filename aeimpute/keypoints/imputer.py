"""KeypointImputer: repair occluded 2D keypoints from the other keypoints and nearby frames."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from aeimpute import _validation as v
from aeimpute import runtime
from aeimpute.keypoints.io import PoseData
from aeimpute.persistence import ModelFileMixin, json_params, params_from_json
from aeimpute.runtime import resolve_device

_CONSTRAINTS = {
    **v.SHARED_CONSTRAINTS,
    "window": v.int_in(8),
    "second_window": v.either(v.one_of(None), v.int_in(8)),
    "width": v.int_in(4),
    "confidence_threshold": v.either(v.one_of(None), v.real_in(-np.inf, np.inf)),
    "max_gap": v.either(v.one_of(None), v.int_in(1)),
    "max_iter": v.int_in(1),
    "block_probability": v.real_in(0, 1),
    "dropout": v.real_in(0, 1, "left"),
    "early_stopping": v.one_of(True, False),
    "rotate": v.one_of("auto", True, False),
    "guard": v.one_of(True, False),
    "error_bars": v.one_of("recording", "fit"),
    "guard_confidence": v.real_in(0.5, 1, "left"),
    "precision": v.one_of("auto", "float32", "bfloat16"),
}

#: parameters :meth:`KeypointImputer.transform` reads (they can change on a fitted model)
_READ_BY_TRANSFORM = ("guard", "error_bars", "guard_confidence", "precision")


def _check_gap_range(value: Any) -> tuple[int, int]:
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(v.is_int(x) for x in value)
        and 1 <= value[0] <= value[1]
    )
    if not ok:
        raise ValueError(
            f"invalid value {value!r} for parameter 'gap_range': expected two integers "
            "(shortest, longest) with 1 <= shortest <= longest"
        )
    return int(value[0]), int(value[1])


def _stack_recordings(tracks: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Recordings side by side as individuals of one padded recording.

    Each recording's individuals become series of their own; shorter
    recordings are padded with missing frames at the end, so no frame of one
    recording ever sits next to a frame of another.
    """
    if len(tracks) == 1:
        return tracks[0]
    n_frames = max(arr.shape[0] for arr, _ in tracks)
    xy, seen = [], []
    for arr, observed in tracks:
        pad = n_frames - arr.shape[0]
        xy.append(np.pad(arr, ((0, pad), (0, 0), (0, 0), (0, 0)), constant_values=np.nan))
        seen.append(np.pad(observed, ((0, pad), (0, 0), (0, 0)), constant_values=False))
    return np.concatenate(xy, axis=1), np.concatenate(seen, axis=1)


def _n_blocks(window: int) -> int:
    """Most blocks (dilations 1, 2, 4, ...) whose receptive field fits in ``window``."""
    return max(1, int(math.floor(math.log2(window + 1))) - 1)


class KeypointImputer(v.RenamedParamsMixin, v.FittedMixin, ModelFileMixin, BaseEstimator):
    """Repair missing or unreliable 2D keypoints in pose-tracking output.

    A denoising network trained on the recording itself, or on several
    recordings of the same set-up (self-supervised, then applied to new
    recordings without refitting):
    it hides runs of frames of observed keypoints, imitating occlusions, and
    learns to give them back from the other keypoints and the neighbouring
    frames. Each frame's keypoints are taken relative to the frame's centre
    and divided by the body scale, so the network learns shape and motion,
    not position in the image. The network is a dilated temporal convolution
    that predicts a correction to linear interpolation. After training, the
    share of the correction kept is calibrated for each range of gap lengths
    on held-back artificial gaps, so where the network does not beat the straight
    line (often 1-2 frame gaps) the result falls back to linear
    interpolation; with ``guard`` the same holds per keypoint and motion of
    the body, corrections are limited in length and kept within where the
    body was seen. Individuals share one model.

    Parameters
    ----------
    window : int, default=256
        Frames per training window; the network sees up to ``window - 1``
        frames around each frame. A recording needs at least this many frames.
    second_window : int, optional
        Also fit a second network with this training window (and its own
        blend, guard and check) and return the mean of the two repairs; its
        error bars are measured on that mean by the check (with
        ``error_bars="fit"``, the larger of the two networks'). Two windows
        make different errors: on recordings neither model had seen,
        averaging a 64-frame window's repair with the default's brought
        10-frame gaps from 0.83 to 0.80 of linear interpolation's error and
        30-frame gaps from 0.57 to 0.55
        (``benchmarks/results/keypoint_ablation_windows.md``), for 1.3-1.4x
        the fitting time and 1.05-1.33x the ``transform`` time of one network
        (``benchmarks/results/keypoints_timing.md``; the inputs both networks
        see are computed once). None: one network.
    width : int, default=64
        Hidden channels of the network.
    rotate : {"auto", True, False}, default="auto"
        Turn every frame so that the body best matches its mean shape
        (2-D Procrustes) before the network sees it. ``"auto"`` does so when
        the body's heading varies by more than about 20 degrees (circular
        standard deviation over the observed frames): animals that turn, not
        head-fixed ones. ``rotated_`` tells what was chosen.
    confidence_threshold : float, optional
        Points whose confidence is below this are treated as missing (and
        repaired). Needs a confidence. By default only NaN points are missing.
    max_gap : int, optional
        Leave gaps longer than this many frames missing (for instance when an
        animal leaves the view). By default every gap is filled.
    guard : bool, default=True
        Keep every repaired point near what the held-back gaps of the fit
        support: per gap length, keypoint and motion of the body (still or
        moving), fall back to linear interpolation where the model did worse
        than the straight line on held-back gaps; scale down corrections
        longer than the limit measured best for their gap length; and send
        an estimate outside the range where the body was ever seen back to
        the straight line. Read by :meth:`transform`, so it can be switched
        on a fitted model. False uses the gap-length blend alone.
    error_bars : {"recording", "fit"}, default="recording"
        Where the repair is judged: ``"fit"`` on the held-back gaps of the
        fit only; ``"recording"`` also on artificial gaps in the recording
        being repaired (at most 16,384 of its frames), at the cost of about
        one more pass of the network over that many frames. There, with the
        guard, a range of gap lengths where the repair did worse than the
        straight line gets the straight line (a model fitted on other
        recordings can miss on this one; points lost alone and points lost
        with other keypoints are judged apart), and the error bars of repaired
        points (``PoseData.uncertainty``) are measured, so a recording harder
        than the fit's gets wider ones. Read by :meth:`transform`.
    guard_confidence : float, default=0.9
        With the guard and ``error_bars="recording"``: how sure the artificial
        gaps of the recording must make it that the repair beats the straight
        line in a range of gap lengths before the repair is kept there (a
        one-sided bound on the mean difference of squared errors per
        artificial gap). 0.5 keeps it wherever it did better on them; higher
        values fall back to linear interpolation where the evidence is thin or
        the gain small. Read by :meth:`transform`.
    max_iter : int, default=1500
        Training steps (mini-batches of windows; formerly ``max_steps``).
    batch_size : int, default=16
        Windows per step.
    learning_rate : float, default=2e-3
        Peak AdamW learning rate (warm-up, then cosine decay).
    weight_decay : float, default=1e-4
    gap_range : (int, int), default=(1, 60)
        Shortest and longest training occlusion, in frames (log-uniform).
    block_probability : float, default=0.3
        Chance that a training window also hides 2-4 keypoints together.
    dropout : float, default=0.03
        Extra independent point dropout in training.
    noise_std : float, default=0.0
        Gaussian noise on visible inputs in training, in units of the body
        scale.
    early_stopping : bool, default=True
        Hold back a fixed set of artificial gaps (one occlusion draw per
        window, point dropout included: about 5% of the points) to choose the
        best weights, stop early and calibrate the blend with linear
        interpolation. Without it the blend is calibrated on fresh draws of
        points the network trained on (formerly ``validation``).
    n_iter_no_change : int, default=500
        Stop when the validation error has not improved for this many steps
        (formerly ``patience``).
    random_state : int, RandomState or None
        Seed for initialisation and corruption; the same value gives the same
        output.
    device : str, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU.
    n_jobs : int or None, default=None
        Torch CPU threads while fitting and predicting (formerly
        ``n_threads``). None: the ``AEIMPUTE_NUM_THREADS`` environment
        variable when set, else every core this process may use; -1 every
        core.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Number format of the network's passes in :meth:`transform` (autocast;
        training is always float32). ``"auto"`` takes bfloat16 where the
        device computes it natively (on the CPU, AVX-512 BF16 or AMX
        instructions; CUDA from compute capability 8.0) and float32
        elsewhere. On such a CPU it made ``transform`` about a fifth
        faster, the repaired points moving by less than 0.1 px
        (``benchmarks/results/keypoints_timing.md``); results then differ
        slightly from a float32 machine's. ``"bfloat16"`` also where it is
        emulated (slower). Read by :meth:`transform`.
    verbose : bool, default=False
        Show a progress bar while training.
    max_steps, validation, patience, n_threads : deprecated
        The former names of ``max_iter``, ``early_stopping``,
        ``n_iter_no_change`` and ``n_jobs``: a value given under one of them
        is used, with a FutureWarning.

    Attributes
    ----------
    n_keypoints_ : int
    keypoint_names_ : list of str or None
        Names seen in fit (when fitted on a :class:`PoseData`).
    n_recordings_ : int
        Recordings the model was fitted on.
    scale_ : float
        Body scale in pixels (median spread of the keypoints around their centre).
    rotated_ : bool
        Whether frames are turned upright (see ``rotate``).
    history_ : dict
        Training and validation losses, steps, best step (with ``second_window``,
        of the first network).

    Examples
    --------
    >>> import numpy as np
    >>> from aeimpute import KeypointImputer
    >>> from aeimpute.keypoints import simulate_poses
    >>> xy = simulate_poses(n_frames=400, n_keypoints=5, random_state=0)
    >>> holes = xy.copy()
    >>> holes[100:110, 0, 2] = np.nan
    >>> imp = KeypointImputer(window=64, max_iter=30, random_state=0)
    >>> out = imp.fit_transform(holes)
    >>> out.shape, bool(np.isnan(out).any())
    ((400, 1, 5, 2), False)
    >>> bool(np.array_equal(out[:100], holes[:100]))
    True
    """

    _fitted_marker = "_net"
    _renamed = {
        "max_steps": "max_iter",
        "validation": "early_stopping",
        "patience": "n_iter_no_change",
        "n_threads": "n_jobs",
    }

    def __init__(
        self,
        *,
        window: int = 256,
        second_window: int | None = None,
        width: int = 64,
        rotate: bool | str = "auto",
        confidence_threshold: float | None = None,
        max_gap: int | None = None,
        guard: bool = True,
        error_bars: str = "recording",
        guard_confidence: float = 0.9,
        max_iter: int = 1500,
        batch_size: int = 16,
        learning_rate: float = 2e-3,
        weight_decay: float = 1e-4,
        gap_range: tuple[int, int] = (1, 60),
        block_probability: float = 0.3,
        dropout: float = 0.03,
        noise_std: float = 0.0,
        early_stopping: bool = True,
        n_iter_no_change: int = 500,
        random_state: int | np.random.RandomState | None = None,
        device: str = "auto",
        n_jobs: int | None = None,
        precision: str = "auto",
        verbose: bool = False,
        max_steps: int | str = v.DEPRECATED,
        validation: bool | str = v.DEPRECATED,
        patience: int | str = v.DEPRECATED,
        n_threads: int | None | str = v.DEPRECATED,
    ) -> None:
        self.window = window
        self.second_window = second_window
        self.width = width
        self.rotate = rotate
        self.confidence_threshold = confidence_threshold
        self.max_gap = max_gap
        self.guard = guard
        self.error_bars = error_bars
        self.guard_confidence = guard_confidence
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.gap_range = gap_range
        self.block_probability = block_probability
        self.dropout = dropout
        self.noise_std = noise_std
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state
        self.device = device
        self.n_jobs = n_jobs
        self.precision = precision
        self.verbose = verbose
        self.max_steps = max_steps
        self.validation = validation
        self.patience = patience
        self.n_threads = n_threads

    # ----------------------------------------------------------- inputs
    def _tracks(
        self, xy: Any, confidence: Any
    ) -> tuple[np.ndarray, np.ndarray, bool, PoseData | None]:
        """(xy 4-D float, observed mask, input was 3-D, PoseData or None)."""
        from aeimpute.keypoints.xarray_poses import from_movement, is_poses_dataset

        if is_poses_dataset(xy):
            xy = from_movement(xy)
        pose = xy if isinstance(xy, PoseData) else None
        if pose is not None:
            arr = pose.xy
            if confidence is None:
                confidence = pose.confidence
        else:
            try:
                arr = np.asarray(xy, dtype=np.float64)
            except (TypeError, ValueError) as err:
                raise v.InputTypeError(
                    f"xy must be a numeric array or a PoseData; got {type(xy).__name__}"
                ) from err
        if arr.ndim not in (3, 4) or arr.shape[-1] != 2:
            raise ValueError(
                "xy must have shape (frames, keypoints, 2) or (frames, individuals, keypoints, 2) "
                f"with x, y on the last axis; got shape {arr.shape}"
            )
        flat = arr.ndim == 3
        if flat:
            arr = arr[:, None]
        if np.isinf(arr).any():
            raise ValueError(
                f"xy has {int(np.isinf(arr).sum())} infinite coordinate(s); "
                "use NaN for missing points"
            )
        observed = np.isfinite(arr).all(-1)
        if confidence is not None:
            conf = np.asarray(confidence, dtype=np.float64)
            if flat and conf.ndim == 2:
                conf = conf[:, None]
            if conf.shape != arr.shape[:-1]:
                expected = arr.shape[:1] + arr.shape[2:-1] if flat else arr.shape[:-1]
                raise ValueError(
                    f"confidence must have shape {expected} (one value per point); "
                    f"got {np.shape(confidence)}"
                )
            bad = observed & ~np.isfinite(conf)
            if bad.any():
                raise ValueError(
                    f"confidence is NaN or infinite at {int(bad.sum())} observed point(s); "
                    "give a finite confidence for every point with coordinates"
                )
            if self.confidence_threshold is not None:
                observed &= conf >= self.confidence_threshold
        elif self.confidence_threshold is not None:
            raise ValueError(
                f"confidence_threshold={self.confidence_threshold} is set but no confidence was "
                "given; pass confidence=... or set confidence_threshold=None"
            )
        if arr.shape[0] == 0 or arr.shape[2] == 0:
            raise ValueError(f"xy has no frames or no keypoints (shape {arr.shape})")
        return arr, observed, flat, pose

    def _fitted_tracks(
        self, xy: Any, confidence: Any
    ) -> tuple[np.ndarray, np.ndarray, bool, PoseData | None]:
        """:meth:`_tracks` of new data, checked against the keypoints seen in fit."""
        arr, observed, flat, pose = self._tracks(xy, confidence)
        if arr.shape[2] != self.n_keypoints_:
            raise ValueError(
                f"xy has {arr.shape[2]} keypoints; this model was fitted on {self.n_keypoints_}"
            )
        names = self._names(pose)
        if names is not None and self.keypoint_names_ is not None and names != self.keypoint_names_:
            raise ValueError(
                f"keypoint names differ from fit: got {names}, expected {self.keypoint_names_}"
            )
        return arr, observed, flat, pose

    def _names(self, pose: PoseData | None) -> list[str] | None:
        return list(pose.keypoint_names) if pose is not None else None

    # ----------------------------------------------------------- fit
    def _recordings(self, xy: Any, confidence: Any) -> list[tuple[Any, Any, str]]:
        """``(xy, confidence, label)`` of each recording given to :meth:`fit`."""
        if not isinstance(xy, (list, tuple)):
            return [(xy, confidence, "xy")]
        if len(xy) == 0:
            raise ValueError("xy is an empty list; give at least one recording")
        if confidence is None:
            confidence = [None] * len(xy)
        elif not isinstance(confidence, (list, tuple)) or len(confidence) != len(xy):
            raise ValueError(
                f"confidence must be None or a list with one entry per recording ({len(xy)}); "
                f"got {type(confidence).__name__}"
            )
        out = []
        for i, (rec, conf) in enumerate(zip(xy, confidence, strict=True)):
            label = f"recording {i}"
            if isinstance(rec, (str, os.PathLike)):
                from aeimpute.keypoints.io import read_pose

                label = f"recording {i} ({rec})"
                rec = read_pose(rec)
            elif isinstance(rec, PoseData) and rec.meta.get("source"):
                label = f"recording {i} ({rec.meta['source']})"
            out.append((rec, conf, label))
        return out

    def fit(
        self,
        xy: np.ndarray | PoseData | list,
        confidence: np.ndarray | list | None = None,
    ) -> KeypointImputer:
        """Train on the observed points of ``xy``: one recording or several.

        Parameters
        ----------
        xy : ndarray, PoseData, movement dataset, or a list of them or of pose file paths
            Positions, shape (frames, keypoints, 2) or (frames, individuals,
            keypoints, 2); NaN marks a missing point. A movement poses
            dataset (xarray, see :mod:`aeimpute.keypoints.xarray_poses`) is
            read through its ``position`` and ``confidence``. A list gives several
            recordings of the same keypoints (any lengths and numbers of
            individuals; paths are read with
            :func:`aeimpute.keypoints.read_pose`): one model learns from all
            of them and then repairs new recordings of the same set-up
            without refitting. Frames are never joined across recordings.
        confidence : ndarray of shape xy.shape[:-1], or list of them, optional
            Per-point confidence (taken from the PoseData when not given);
            with a list of recordings, a list with one entry (or None) each.

        Returns
        -------
        self : KeypointImputer
        """
        params = self._resolved_params()
        v.check_params(params, _CONSTRAINTS)
        _check_gap_range(self.gap_range)
        device = resolve_device(self.device)
        tracks = []
        names: list[str] | None = None
        recordings = self._recordings(xy, confidence)
        for rec, conf, label in recordings:
            try:
                arr, observed, _, pose = self._tracks(rec, conf)
            except ValueError as err:  # name the recording of a list
                if len(recordings) == 1:
                    raise
                raise ValueError(f"{label}: {err}") from err
            if tracks and arr.shape[2] != tracks[0][0].shape[2]:
                raise ValueError(
                    f"{label} has {arr.shape[2]} keypoints, the first recording "
                    f"{tracks[0][0].shape[2]}; every recording must track the same keypoints"
                )
            these = self._names(pose)
            if names is not None and these is not None and these != names:
                raise ValueError(
                    f"{label} names its keypoints {these}, the first recording {names}"
                )
            names = names or these
            tracks.append((arr, observed))
        arr, observed = _stack_recordings(tracks)
        n_frames, _, n_kp, _ = arr.shape
        for name in ("window", "second_window"):
            frames = getattr(self, name)
            if frames is not None and n_frames < frames:
                hint = max(8, 2 ** int(math.log2(max(n_frames, 8))))
                raise ValueError(
                    f"xy has {n_frames} frames (the longest recording), fewer than "
                    f"{name}={frames}; pass a smaller {name} (e.g. "
                    f"KeypointImputer({name}={hint}))"
                )
        if not observed.any():
            raise ValueError("xy has no observed point (all missing or below confidence_threshold)")
        never = ~observed.any(axis=(0, 1))
        if never.any():
            labels = names or list(range(n_kp))
            raise ValueError(
                f"keypoint(s) {[labels[j] for j in np.flatnonzero(never)]} are never observed, "
                "so nothing can be learned about them; drop them from xy"
            )
        rng = check_random_state(self.random_state)
        self.seed_ = int(rng.randint(0, 2**31 - 1))
        self.n_keypoints_ = n_kp
        self.keypoint_names_ = names
        self.n_recordings_ = len(tracks)
        self.model_config_ = self._model_config(self.window)
        self.device_ = str(device)
        from aeimpute.keypoints.model import fit_model
        from aeimpute.training import OptimConfig

        windows = [self.window] + ([] if self.second_window is None else [self.second_window])
        configs = [(self._occlusions(w), self._model_config(w)) for w in windows]
        optim = OptimConfig.from_params(params, eval_every=50)
        members = fit_model(
            arr, observed, configs, optim, rotate=self.rotate, seed=self.seed_, device=device,
            n_threads=runtime.n_threads(params["n_jobs"]),
        )  # fmt: skip
        self._net, self._geometry, self.history_ = members[0]
        # the second network, its geometry, history and configuration (None: one network)
        self._second = (*members[1], configs[1][1]) if len(members) > 1 else None
        return self

    def _model_config(self, window: int) -> dict:
        """The network's configuration for a training window."""
        return {"n_keypoints": self.n_keypoints_, "width": self.width,
                "n_blocks": _n_blocks(window)}  # fmt: skip

    def _occlusions(self, window: int | None = None) -> Any:
        """The artificial occlusions of training (and of calibrating error bars), in training
        windows of ``window`` frames (None: ``self.window``)."""
        from aeimpute.keypoints.model import Occlusions

        return Occlusions(
            window=self.window if window is None else window,
            gap_range=_check_gap_range(self.gap_range),
            block_probability=self.block_probability,
            dropout=self.dropout,
            noise_std=self.noise_std,
            validation=self._resolved_params(warn=False)["early_stopping"],
        )

    @property
    def scale_(self) -> float:
        """Body scale in pixels (median spread of the keypoints around their centre)."""
        self._check_fitted()
        return float(self._geometry.scale)

    @property
    def n_iter_(self) -> int:
        """Optimisation steps run."""
        self._check_fitted()
        return int(self.history_["steps"])

    @property
    def rotated_(self) -> bool:
        """Whether frames are turned upright (see ``rotate``)."""
        self._check_fitted()
        return bool(self._geometry.rotate)

    # ----------------------------------------------------------- transform
    def transform(
        self,
        xy: np.ndarray | PoseData | list,
        confidence: np.ndarray | list | None = None,
        *,
        return_uncertainty: bool = False,
    ) -> Any:
        """Fill the missing (and low-confidence) points of ``xy``.

        Parameters
        ----------
        xy : ndarray, PoseData, movement dataset, or a list of them or of pose file paths
            As in :meth:`fit`, with the same keypoints (any number of frames
            and individuals); a recording need not be one the model was
            fitted on. A list is repaired recording by recording. A movement
            dataset comes back as a copy with the repaired ``position`` and
            two more variables, ``imputed`` and ``uncertainty``.
        confidence : ndarray or list of them, optional
        return_uncertainty : bool, default=False
            Also return each point's error bar (for an array ``xy``; a
            PoseData always carries it as ``uncertainty``).

        Returns
        -------
        ndarray or PoseData, or a list of them for a list
            Same shape and kind as ``xy``. Observed points are returned
            unchanged; repaired points hold the model's estimate. Points stay
            NaN in gaps longer than ``max_gap``, for a keypoint an individual
            never shows in the whole recording, and in individuals that have
            no observed point at all (with a warning). A PoseData comes back
            with ``imputed`` marking the repaired points and ``uncertainty``
            their error bars.
        uncertainty : ndarray of shape xy.shape[:-1]
            With ``return_uncertainty``: for each repaired point, the radius in
            pixels of a circle around it that should hold the true point 9
            times in 10 (measured at fit on held-back gaps of the same length
            range, keypoint and depth in the gap); NaN for every other point,
            and with ``guard=False``.

        Examples
        --------
        >>> import numpy as np
        >>> from aeimpute import KeypointImputer
        >>> from aeimpute.keypoints import simulate_poses
        >>> xy = simulate_poses(n_frames=400, n_keypoints=5, random_state=0)
        >>> xy[100:110, 0, 2] = np.nan
        >>> imp = KeypointImputer(window=64, max_iter=30, random_state=0, n_jobs=1).fit(xy)
        >>> out, radius = imp.transform(xy, return_uncertainty=True)
        >>> bool(np.isfinite(radius[100:110, 0, 2]).all()), bool(np.isnan(radius[:100]).all())
        (True, True)
        """
        self._check_fitted()
        v.check_params(
            {name: getattr(self, name) for name in _READ_BY_TRANSFORM},
            {name: _CONSTRAINTS[name] for name in _READ_BY_TRANSFORM},
        )
        if isinstance(xy, (list, tuple)):
            return [
                self.transform(rec, conf, return_uncertainty=return_uncertainty)
                for rec, conf, _ in self._recordings(xy, confidence)
            ]
        from aeimpute.keypoints.xarray_poses import from_movement, is_poses_dataset, to_movement

        if is_poses_dataset(xy):  # a movement dataset in, one out
            return to_movement(self.transform(from_movement(xy), confidence))
        arr, observed, flat, pose = self._fitted_tracks(xy, confidence)
        empty = ~observed.any(axis=(0, 2))
        if empty.any():
            warnings.warn(
                f"{int(empty.sum())} individual(s) have no observed point; they are left missing",
                UserWarning,
                stacklevel=2,
            )
        from aeimpute.keypoints.model import predict_tracks

        nets, geometries = [self._net], [self._geometry]
        if self._second is not None:
            nets.append(self._second[0])
            geometries.append(self._second[1])
        pred, gap, radius = predict_tracks(
            nets, geometries, arr, observed, device=self._net_device(),
            n_threads=runtime.n_threads(self._resolved_params(warn=False)["n_jobs"]),
            guard=self.guard, seed=self.seed_, confidence=self.guard_confidence,
            occlusions=self._occlusions() if self.error_bars == "recording" else None,
            dtype=self._prediction_dtype(),
        )  # fmt: skip
        # a keypoint an individual never shows is absent (e.g. DeepLabCut's unique body parts
        # under the individual "single"), not occluded: it is left missing
        present = observed.any(axis=0)
        fill = ~observed & present[None]
        if self.max_gap is not None:
            fill &= gap <= self.max_gap
        # everything not filled keeps its coordinates (low-confidence points left alone included)
        out = np.where(fill[..., None], pred, arr)
        uncertainty = np.where(fill, radius, np.nan)
        if pose is not None:
            return pose.with_xy(out, imputed=fill, uncertainty=uncertainty)
        if flat:
            out, uncertainty = out[:, 0], uncertainty[:, 0]
        return (out, uncertainty) if return_uncertainty else out

    def fit_transform(
        self, xy: np.ndarray | PoseData | list, confidence: np.ndarray | list | None = None
    ) -> np.ndarray | PoseData | list:
        """Fit on ``xy`` (one recording or a list) and repair it."""
        return self.fit(xy, confidence).transform(xy, confidence)

    def summary(self, xy: np.ndarray | PoseData, confidence: np.ndarray | None = None) -> Any:
        """What :meth:`transform` would repair in ``xy``, and the error expected there.

        Parameters
        ----------
        xy, confidence
            As for :meth:`transform` (points under ``confidence_threshold``
            count as missing).

        Returns
        -------
        aeimpute.keypoints.summary.KeypointSummary
            ``keypoints`` (points missing, filled and left per keypoint),
            ``gap_lengths`` (gaps and points per gap-length range, labelled
            in words, with the error expected there in pixels, measured at
            fit on held-back gaps, beside linear interpolation's) and
            ``longest`` (the longest gaps and whether they are filled).
            Printing it shows the three tables.

        Examples
        --------
        >>> import numpy as np
        >>> from aeimpute import KeypointImputer
        >>> from aeimpute.keypoints import simulate_poses
        >>> xy = simulate_poses(n_frames=300, n_keypoints=4, random_state=0)
        >>> xy[100:110, 0, 2] = np.nan
        >>> imp = KeypointImputer(window=64, max_iter=20, random_state=0, n_jobs=1).fit(xy)
        >>> report = imp.summary(xy)
        >>> report.longest[["keypoint", "first_frame", "length", "filled"]].to_dict("records")
        [{'keypoint': 'keypoint2', 'first_frame': 100, 'length': 10, 'filled': True}]
        >>> int(report.gap_lengths.loc["9-16 frames", "points"])
        10
        """
        from aeimpute.keypoints import summary
        from aeimpute.keypoints.model import gap_group, gap_labels

        self._check_fitted()
        arr, observed, _, pose = self._fitted_tracks(xy, confidence)
        n_ind, n_kp = arr.shape[1], arr.shape[2]
        keypoints = (pose.keypoint_names if pose is not None else None) or self.keypoint_names_
        keypoints = list(keypoints or [f"keypoint{k}" for k in range(n_kp)])
        individuals = (
            list(pose.individual_names)
            if pose is not None
            else [f"individual{i}" for i in range(n_ind)]
        )
        missing = ~observed
        runs = summary.gaps(missing, keypoints, individuals)
        present = observed.any(axis=0)
        filled = np.zeros_like(missing)
        ind_of = {name: i for i, name in enumerate(individuals)}
        kp_of = {name: k for k, name in enumerate(keypoints)}
        fills, too_long = [], []
        for run in runs.itertuples():
            i, k = ind_of[run.individual], kp_of[run.keypoint]
            too_long.append(self.max_gap is not None and run.length > self.max_gap)
            ok = bool(present[i, k]) and not too_long[-1]
            filled[run.first_frame : run.first_frame + run.length, i, k] = ok
            fills.append(ok)
        runs["filled"] = np.asarray(fills, dtype=bool)
        runs["too_long"] = np.asarray(too_long, dtype=bool)
        group_of = gap_group(runs["length"].to_numpy()) if len(runs) else np.zeros(0, int)
        return summary.build(
            runs, missing, filled, keypoints, gap_labels(), group_of,
            self.history_.get("calibration", {}),
        )  # fmt: skip

    # ----------------------------------------------------------- persistence
    # save(path) and load(path, device=None) come from ModelFileMixin
    @staticmethod
    def _params_to_json(params: dict) -> dict:
        return json_params(params, tuples=("gap_range",))

    @staticmethod
    def _params_from_json(params: dict) -> dict:
        return params_from_json(params, tuples=("gap_range",))

    def _get_state(self) -> tuple[dict, dict]:
        """``(meta, tensors)``: everything fit learned, for :mod:`aeimpute.persistence`."""
        from aeimpute.keypoints.model import geometry_state
        from aeimpute.persistence import module_tensors

        meta = {
            "params": self._params_to_json(self.get_params(deep=False)),
            "model_config": self.model_config_,
            "n_keypoints": self.n_keypoints_,
            "keypoint_names": self.keypoint_names_,
            "n_recordings": self.n_recordings_,
            "geometry": geometry_state(self._geometry),
            "seed": self.seed_,
            "history": self.history_,
        }
        tensors = module_tensors("net", self._net)
        if self._second is not None:
            net, geo, history, config = self._second
            meta["second"] = {"model_config": config, "geometry": geometry_state(geo),
                              "history": history}  # fmt: skip
            tensors |= module_tensors("second_net", net)
        return meta, tensors

    def _set_state(self, meta: dict, tensors: dict, device) -> None:
        """Restore what :meth:`_get_state` gave, the network on ``device``."""
        from aeimpute.keypoints.model import build_model, geometry_from_state
        from aeimpute.persistence import prefixed

        self.device_ = str(device)
        self.model_config_ = dict(meta["model_config"])
        self.n_keypoints_ = int(meta["n_keypoints"])
        self.keypoint_names_ = meta["keypoint_names"]
        self.n_recordings_ = int(meta.get("n_recordings", 1))  # older model files: one
        self.seed_ = int(meta["seed"])
        self.history_ = meta["history"]

        def network(config: dict, prefix: str) -> Any:
            net = build_model(config)
            net.load_state_dict(prefixed(tensors, prefix))
            return net.to(device).eval()

        self._geometry = geometry_from_state(meta["geometry"]).to(device)
        self._net = network(self.model_config_, "net")
        self._second = None  # model files from before second_window: one network
        if meta.get("second") is not None:
            second = meta["second"]
            config = dict(second["model_config"])
            geo = geometry_from_state(second["geometry"]).to(device)
            self._second = (network(config, "second_net"), geo, second["history"], config)

    def _prediction_dtype(self):
        """The autocast dtype of the network's passes in :meth:`transform` (None: float32)."""
        import torch

        from aeimpute.runtime import native_bfloat16

        if self.precision == "bfloat16" or (
            self.precision == "auto" and native_bfloat16(self._net_device())
        ):
            return torch.bfloat16
        return None

    def _net_device(self):
        import torch

        return torch.device(self.device_)
