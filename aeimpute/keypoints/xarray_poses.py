"""``movement`` poses datasets (xarray) in and out, so the imputer fits a movement pipeline.

A `movement <https://movement.neuroinformatics.dev>`_ poses dataset is an
``xarray.Dataset`` with ``position`` (dims ``time``, ``space``, ``keypoints``,
``individuals``) and ``confidence`` (``time``, ``keypoints``,
``individuals``). :func:`from_movement` turns one into a :class:`PoseData`;
:func:`to_movement` turns a (repaired) pose back into a dataset, a copy of
the one it came from (coordinates, attributes and other variables kept) with
the new positions and two more variables: ``imputed`` (bool) and
``uncertainty`` (the error bar of each repaired point, pixels). Needs only
xarray (``pip install "aeimpute[movement]"``), not movement itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from aeimpute.keypoints.io import PoseData, need_package

#: dimensions of a movement poses dataset's position, in movement's order
POSITION_DIMS = ("time", "space", "keypoints", "individuals")
#: dimensions of its per-point variables (confidence, and those :func:`to_movement` adds)
POINT_DIMS = ("time", "keypoints", "individuals")


def is_poses_dataset(obj: Any) -> bool:
    """Whether ``obj`` looks like a movement poses dataset (an xarray Dataset with ``position``)."""
    return hasattr(obj, "data_vars") and "position" in getattr(obj, "data_vars", {})


def from_movement(ds: Any) -> PoseData:
    """A :class:`PoseData` of a movement poses dataset (2-D positions).

    Parameters
    ----------
    ds : xarray.Dataset
        With ``position`` over ``time``, ``space`` (x, y), ``keypoints`` and
        ``individuals`` in any order, and optionally ``confidence``.

    Returns
    -------
    PoseData
        NaN positions are missing points; ``confidence`` is taken when it
        is not all NaN; ``fps`` from the dataset's attributes. The dataset
        is kept in ``meta`` for :func:`to_movement`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset(
    ...     {"position": (POSITION_DIMS, np.zeros((5, 2, 3, 1)))},
    ...     coords={"space": ["x", "y"], "keypoints": ["a", "b", "c"], "individuals": ["m"]},
    ... )
    >>> from_movement(ds)
    PoseData(5 frames, 1 individual, 3 keypoints ['a', 'b', 'c'], 0.0% of points missing)
    """
    if not is_poses_dataset(ds):
        raise ValueError("expected a movement poses dataset: an xarray Dataset with 'position'")
    position = ds["position"]
    absent = [d for d in POSITION_DIMS if d not in position.dims]
    if absent:
        raise ValueError(
            f"the dataset's position has dims {tuple(position.dims)}; missing {absent} "
            f"(a movement poses dataset has {POSITION_DIMS})"
        )
    space = [str(s) for s in position.coords["space"].values] if "space" in position.coords \
        else []  # fmt: skip
    if position.sizes["space"] != 2:
        raise ValueError(
            f"the dataset's positions are {position.sizes['space']}-D; KeypointImputer repairs "
            "2-D keypoints (space x, y)"
        )
    if space and space != ["x", "y"]:
        position = position.sel(space=["x", "y"])
    xy = position.transpose("time", "individuals", "keypoints", "space").to_numpy()
    confidence = None
    if "confidence" in ds.data_vars:
        conf = ds["confidence"].transpose("time", "individuals", "keypoints").to_numpy()
        if np.isfinite(conf).any():
            confidence = np.asarray(conf, dtype=np.float64)
    names = [
        [str(v) for v in position.coords[dim].values] if dim in position.coords else []
        for dim in ("keypoints", "individuals")
    ]
    fps = ds.attrs.get("fps")
    return PoseData(
        np.asarray(xy, dtype=np.float64), confidence, names[0], names[1],
        fps=float(fps) if fps else None, meta={"format": "movement", "dataset": ds},
    )  # fmt: skip


def to_movement(pose: PoseData) -> Any:
    """A movement poses dataset of ``pose`` (the inverse of :func:`from_movement`).

    A pose read with :func:`from_movement` comes back as a copy of its
    dataset with the new positions; any other pose as a new dataset (time
    in frames, or in seconds when ``pose.fps`` is known, as movement does).
    ``imputed`` and ``uncertainty`` are added when the pose has them.

    Examples
    --------
    >>> import numpy as np
    >>> pose = PoseData(np.zeros((4, 1, 2, 2)), keypoint_names=["nose", "tail"])
    >>> ds = to_movement(pose)
    >>> dict(ds["position"].sizes)
    {'time': 4, 'space': 2, 'keypoints': 2, 'individuals': 1}
    >>> bool(np.array_equal(from_movement(ds).xy, pose.xy))
    True
    """
    xr = need_package("xarray", "movement poses datasets", extra="movement")
    base = pose.meta.get("dataset") if pose.meta.get("format") == "movement" else None
    position = np.transpose(pose.xy, (0, 3, 2, 1))  # time, space, keypoints, individuals
    if base is not None:
        ds = base.copy()
        old = base["position"]
        new = xr.DataArray(position, dims=POSITION_DIMS).transpose(*old.dims)
        ds["position"] = old.copy(data=new.to_numpy().astype(old.dtype, copy=False))
    else:
        n = pose.n_frames
        time = np.arange(n) / pose.fps if pose.fps else np.arange(n)
        ds = xr.Dataset(
            {"position": (POSITION_DIMS, position)},
            coords={
                "time": time,
                "space": ["x", "y"],
                "keypoints": list(pose.keypoint_names),
                "individuals": list(pose.individual_names),
            },  # fmt: skip
            attrs={
                "ds_type": "poses",
                "source_software": "aeimpute",
                "time_unit": "seconds" if pose.fps else "frames",
            },  # fmt: skip
        )
        if pose.fps:
            ds.attrs["fps"] = float(pose.fps)
        if pose.confidence is not None:
            ds["confidence"] = (POINT_DIMS, np.transpose(pose.confidence, (0, 2, 1)))
    for name in ("imputed", "uncertainty"):
        values = getattr(pose, name)
        if values is not None:
            ds[name] = (POINT_DIMS, np.transpose(values, (0, 2, 1)))
    return ds
