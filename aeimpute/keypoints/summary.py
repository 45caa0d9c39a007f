"""What :class:`aeimpute.KeypointImputer` repairs in a recording and how well it expects to.

:func:`gaps` lists every run of missing frames of every (individual,
keypoint) track; :class:`KeypointSummary` (from
:meth:`aeimpute.KeypointImputer.summary`) puts together the points to fill
per keypoint, a histogram of gap lengths labelled in words, the longest gaps
and the error expected per gap length, measured at fit on gaps held back
from the training data. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from aeimpute._frame import terminal_width

#: longest gaps listed by the summary
LONGEST = 5


def gaps(missing: np.ndarray, keypoints: list[str], individuals: list[str]) -> pd.DataFrame:
    """Every run of missing frames, one row each.

    Parameters
    ----------
    missing : bool ndarray (frames, individuals, keypoints)
    keypoints, individuals : list of str

    Returns
    -------
    DataFrame
        ``individual``, ``keypoint``, ``first_frame``, ``length`` (frames)
        and ``edge`` (True where the run touches the first or last frame,
        so that it is seen on one side only).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((10, 1, 2), dtype=bool)
    >>> m[2:5, 0, 0] = True
    >>> m[8:, 0, 1] = True
    >>> gaps(m, ["nose", "tail"], ["mouse"]).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'individual': 'mouse', 'keypoint': 'nose', 'first_frame': 2, 'length': 3, 'edge': False},
     {'individual': 'mouse', 'keypoint': 'tail', 'first_frame': 8, 'length': 2, 'edge': True}]
    """
    n = missing.shape[0]
    rows = []
    for i, individual in enumerate(individuals):
        for k, keypoint in enumerate(keypoints):
            padded = np.concatenate([[False], missing[:, i, k], [False]]).astype(np.int8)
            edges = np.flatnonzero(np.diff(padded))
            for start, stop in zip(edges[0::2], edges[1::2], strict=True):
                rows.append(
                    {
                        "individual": individual,
                        "keypoint": keypoint,
                        "first_frame": int(start),
                        "length": int(stop - start),
                        "edge": bool(start == 0 or stop == n),
                    }
                )
    columns = ["individual", "keypoint", "first_frame", "length", "edge"]
    return pd.DataFrame(rows, columns=columns)


@dataclass(frozen=True)
class KeypointSummary:
    """What a fitted :class:`~aeimpute.KeypointImputer` repairs in one recording.

    Attributes
    ----------
    keypoints : DataFrame
        Per keypoint: ``missing`` points, ``filled`` (repaired) and ``left``
        (missing after repair: in gaps longer than ``max_gap``, or never
        shown).
    gap_lengths : DataFrame
        Per gap-length range (``"1 frame"``, ``"3-4 frames"``, ...): the
        recording's ``gaps`` and ``points`` in such gaps, and the error
        expected there in pixels, measured at fit on held-back gaps of that
        length: ``expected_px`` for the repair, ``linear_px`` for linear
        interpolation of the same gaps, over ``held_back_points``.
    longest : DataFrame
        The longest gaps (at most ``LONGEST``): individual, keypoint, first
        frame, length, whether it touches an end of the recording, and
        whether it was filled.
    runs : DataFrame
        Every gap, with the columns of ``longest`` and ``too_long`` (left
        because longer than ``max_gap``); not printed.
    """

    keypoints: pd.DataFrame
    gap_lengths: pd.DataFrame
    longest: pd.DataFrame
    runs: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    def totals(self) -> dict:
        """The repair in a few numbers (the command line's per-file report).

        Returns
        -------
        dict
            ``points_missing``, ``points_repaired``, ``points_left``,
            ``gaps``, ``gaps_repaired``, ``longest_gap_repaired`` (frames, 0
            when none), ``gaps_left_longer_than_max_gap`` and
            ``longest_gap_left`` (0 when none).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> runs = pd.DataFrame({"length": [3, 40], "filled": [True, False],
        ...                      "too_long": [False, True]})
        >>> per_kp = pd.DataFrame({"missing": [43], "filled": [3], "left": [40]})
        >>> KeypointSummary(per_kp, pd.DataFrame(), runs, runs).totals()["longest_gap_left"]
        40
        """
        runs = self.runs
        done, left = runs[runs["filled"]], runs[~runs["filled"]]
        return {
            "points_missing": int(self.keypoints["missing"].sum()),
            "points_repaired": int(self.keypoints["filled"].sum()),
            "points_left": int(self.keypoints["left"].sum()),
            "gaps": len(runs),
            "gaps_repaired": len(done),
            "longest_gap_repaired": int(done["length"].max()) if len(done) else 0,
            "gaps_left_longer_than_max_gap": int(runs["too_long"].sum()),
            "longest_gap_left": int(left["length"].max()) if len(left) else 0,
        }

    def __repr__(self) -> str:
        width = terminal_width()
        parts = [
            ("Points to fill, per keypoint", self.keypoints),
            ("Gaps by length, with the error expected there (pixels, held-back gaps)",
             self.gap_lengths),
            ("Longest gaps", self.longest),
        ]  # fmt: skip
        return "\n\n".join(
            f"{title}\n{table.to_string(line_width=width) if len(table) else '(none)'}"
            for title, table in parts
        )


def build(
    runs: pd.DataFrame,
    missing: np.ndarray,
    filled: np.ndarray,
    keypoints: list[str],
    labels: list[str],
    group_of: np.ndarray,
    calibration: dict,
) -> KeypointSummary:
    """The summary of one recording from its gaps, what was filled and the fit's calibration.

    ``runs`` lists every gap with ``filled`` and ``too_long`` (longer than
    ``max_gap``); ``group_of`` gives each run's gap-length group (an index into ``labels``);
    ``calibration`` maps each label to ``{"points", "linear_px", "blended_px"}``.
    """
    per_kp = pd.DataFrame(
        {
            "missing": missing.sum(axis=(0, 1)),
            "filled": filled.sum(axis=(0, 1)),
            "left": (missing & ~filled).sum(axis=(0, 1)),
        },
        index=pd.Index(keypoints, name="keypoint"),
    )
    counts = np.bincount(group_of, minlength=len(labels)) if len(runs) else np.zeros(len(labels))
    points = (
        np.bincount(group_of, weights=runs["length"], minlength=len(labels))
        if len(runs)
        else np.zeros(len(labels))
    )
    lengths = pd.DataFrame(
        {
            "gaps": counts.astype(int),
            "points": points.astype(int),
            "expected_px": [calibration.get(lab, {}).get("blended_px") for lab in labels],
            "linear_px": [calibration.get(lab, {}).get("linear_px") for lab in labels],
            "held_back_points": [calibration.get(lab, {}).get("points", 0) for lab in labels],
        },
        index=pd.Index(labels, name="gap length"),
    )
    longest = runs.sort_values(["length", "first_frame"], ascending=[False, True]).head(LONGEST)
    shown = [c for c in runs.columns if c != "too_long"]
    return KeypointSummary(per_kp, lengths, longest[shown].reset_index(drop=True), runs)
