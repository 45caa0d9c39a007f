"""Several camera views of the same frames, side by side, so each view's repair sees the others.

:func:`join_views` puts synchronised views (one :class:`PoseData` per camera,
or the halves of a mirror recording) into one pose whose keypoints are those
of every view, named ``keypoint@view``; :class:`aeimpute.KeypointImputer`
fitted on it learns how the views relate (no calibration needed) and fills a
point occluded in one view from what the other views saw in the same frames.
:func:`split_views` gives the views back, each with its own names and file
format, ready for :func:`aeimpute.keypoints.write_pose`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from aeimpute.keypoints.io import PoseData

#: separates a keypoint's name from its view's in a joined pose
VIEW_SEPARATOR = "@"


def join_views(views: Sequence[PoseData], names: Sequence[str] | None = None) -> PoseData:
    """One pose holding synchronised views side by side (keypoints ``name@view``).

    Parameters
    ----------
    views : sequence of PoseData
        The same frames (row t of each is the same moment) and individuals
        seen by different cameras; keypoints may differ between views.
    names : sequence of str, optional
        A name per view (default ``view0``, ``view1``, ...).

    Returns
    -------
    PoseData
        Keypoints of every view in order; a view without a confidence gets
        1 for its observed points when another view has one. The views'
        names, keypoints and file details are kept for :func:`split_views`.

    Examples
    --------
    >>> import numpy as np
    >>> top = PoseData(np.zeros((10, 1, 2, 2)), keypoint_names=["nose", "tail"])
    >>> side = PoseData(np.ones((10, 1, 1, 2)), keypoint_names=["nose"])
    >>> both = join_views([top, side], names=["top", "side"])
    >>> both.keypoint_names
    ['nose@top', 'tail@top', 'nose@side']
    >>> [v.keypoint_names for v in split_views(both)]
    [['nose', 'tail'], ['nose']]
    """
    views = list(views)
    if len(views) < 2:
        raise ValueError(f"join_views needs at least two views; got {len(views)}")
    names = [f"view{i}" for i in range(len(views))] if names is None else [str(n) for n in names]
    if len(names) != len(views) or len(set(names)) != len(names):
        raise ValueError(f"give one distinct name per view ({len(views)}); got {names}")
    first = views[0]
    for name, view in zip(names, views, strict=True):
        if not isinstance(view, PoseData):
            raise TypeError(f"view {name!r} is a {type(view).__name__}, not a PoseData")
        if view.n_frames != first.n_frames:
            raise ValueError(
                f"view {name!r} has {view.n_frames} frames, view {names[0]!r} {first.n_frames}; "
                "views must be the same frames (cut them to the synchronised range)"
            )
        if view.n_individuals != first.n_individuals:
            raise ValueError(
                f"view {name!r} has {view.n_individuals} individuals, view {names[0]!r} "
                f"{first.n_individuals}; every view must track the same individuals"
            )
    scored = any(v.confidence is not None for v in views)
    return PoseData(
        np.concatenate([v.xy for v in views], axis=2),
        np.concatenate([v.scores() for v in views], axis=2) if scored else None,
        [
            f"{k}{VIEW_SEPARATOR}{name}"
            for name, v in zip(names, views, strict=True)
            for k in v.keypoint_names
        ],  # fmt: skip
        list(first.individual_names),
        fps=first.fps,
        meta={
            "format": "views",
            "views": [
                {
                    "name": name,
                    "keypoints": list(v.keypoint_names),
                    "meta": v.meta,
                    "scored": v.confidence is not None,
                    "fps": v.fps,
                    "individuals": list(v.individual_names),
                }
                for name, v in zip(names, views, strict=True)
            ],
        },  # fmt: skip
    )


def split_views(pose: PoseData) -> list[PoseData]:
    """The views of a pose made by :func:`join_views` (repaired or not), each as it was.

    Each view gets back its keypoint and individual names, its file details
    (so :func:`aeimpute.keypoints.write_pose` writes it in its own format),
    and its slices of ``confidence``, ``imputed`` and ``uncertainty``.
    """
    views = pose.meta.get("views") if pose.meta.get("format") == "views" else None
    if views is None:
        raise ValueError("this pose was not made by join_views (no views in its meta)")
    sizes = [len(v["keypoints"]) for v in views]
    if sum(sizes) != pose.n_keypoints:
        raise ValueError(f"the pose has {pose.n_keypoints} keypoints; its views hold {sum(sizes)}")
    out, start = [], 0
    for view, size in zip(views, sizes, strict=True):
        part = slice(start, start + size)
        start += size

        def cut(values: np.ndarray | None) -> np.ndarray | None:
            return None if values is None else values[:, :, part]  # noqa: B023

        out.append(
            PoseData(
                pose.xy[:, :, part],
                cut(pose.confidence) if view["scored"] else None,
                list(view["keypoints"]),
                list(view["individuals"]),
                fps=view["fps"],
                imputed=cut(pose.imputed),
                meta=view["meta"],
                uncertainty=cut(pose.uncertainty),
            )
        )
    return out
