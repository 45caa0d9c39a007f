"""The ``aeimpute pose`` commands: fit a keypoint model on pose files and folders, repair them.

Examples
--------
::

    aeimpute pose fit videos/ -o mouse.aeimpute            # one model per set-up
    aeimpute pose repair mouse.aeimpute new_videos/ -o repaired/
    aeimpute pose repair a.csv b.csv -o repaired/          # fit on the files, then repair them

Inputs are files or folders (every pose file directly inside a folder):
DeepLabCut and Lightning Pose CSV, DeepLabCut H5, SLEAP analysis H5 and SLEAP
``.slp`` (with ``aeimpute[sleap]``). ``repair`` writes each repaired file
under the output folder with the same name and format, and next to it
``NAME.repair.json``: the points and gaps repaired, the longest gap filled,
the gaps left because longer than ``--max-gap`` and the error expected per
gap length; and ``NAME.error_bars.csv``: every repaired point with its error
bar in pixels (a circle that should hold the true point 9 times in 10). A
file that cannot be read or repaired is named on standard error and the
others are still done; the exit code is then 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import zipfile
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aeimpute._files import atomic_path
from aeimpute.command_line import (
    InputError,
    command_line_terms,
    device_option,
    seed_and_threads,
)
from aeimpute.keypoints.io import POSE_SUFFIXES, PoseData, read_pose, write_pose

#: what follows a repaired file's name in the name of its report
REPORT_SUFFIX = ".repair.json"
#: what follows a repaired file's name in the name of its table of error bars
ERROR_BARS_SUFFIX = ".error_bars.csv"

#: errors a single file can raise that leave the other files to do
_FILE_ERRORS = (ValueError, ImportError, OSError, KeyError)


def input_files(inputs: list[Path]) -> list[Path]:
    """The pose files named by ``inputs``: files as given, folders as the pose files inside.

    Raises :class:`aeimpute.command_line.InputError` for a path that does not exist, a
    file that is not a pose file by extension, or a folder without any.
    """
    files: list[Path] = []
    for path in inputs:
        if path.is_dir():
            found = sorted(
                f for f in path.iterdir()
                if f.is_file() and f.suffix.lower() in POSE_SUFFIXES and not f.name.startswith(".")
            )  # fmt: skip
            if not found:
                raise InputError(
                    f"{path}: a folder without pose files ({', '.join(POSE_SUFFIXES)})"
                )
            files += found
        elif not path.exists():
            raise InputError(f"{path}: no such file or folder")
        elif path.suffix.lower() not in POSE_SUFFIXES:
            raise InputError(
                f"{path}: not a pose file by its extension (expected {', '.join(POSE_SUFFIXES)})"
            )
        else:
            files.append(path)
    seen: set[Path] = set()
    once = []
    for f in files:  # a file named twice (directly and through its folder) counts once
        if f.resolve() not in seen:
            seen.add(f.resolve())
            once.append(f)
    return once


def _problem(path: Path, err: BaseException) -> str:
    """One line naming the file and what is wrong with it."""
    message = " ".join(str(err).split()) or type(err).__name__
    return message if str(path) in message else f"{path}: {message}"


class _Failures:
    """Files that failed: each named on standard error when it happens, counted at the end."""

    def __init__(self, n_files: int) -> None:
        self.n_files = n_files
        self.paths: list[Path] = []

    def add(self, path: Path, err: BaseException | str) -> None:
        text = err if isinstance(err, str) else _problem(path, err)
        print(f"aeimpute: error: {command_line_terms(text)}", file=sys.stderr)
        self.paths.append(path)

    def exit_code(self, done: str) -> int:
        if not self.paths:
            return 0
        names = ", ".join(str(p) for p in self.paths)
        print(
            f"aeimpute: error: {len(self.paths)} of {self.n_files} file(s) failed ({names}); "
            f"{done}",
            file=sys.stderr,
        )
        return 2


def _progress(args: argparse.Namespace) -> bool:
    return args.progress == "on" or (args.progress == "auto" and sys.stderr.isatty())


def _each(items: list, args: argparse.Namespace, what: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(items, desc=f"aeimpute pose {what}", unit="file", disable=not _progress(args))


def _say(line: str) -> None:
    from tqdm.auto import tqdm

    tqdm.write(line)  # above the progress bar when there is one


def _read_all(
    files: list[Path], args: argparse.Namespace, failures: _Failures
) -> list[tuple[Path, PoseData]]:
    """Every file that can be read, with the keypoints most of them have; the others fail."""
    read: list[tuple[Path, PoseData]] = []
    for path in _each(files, args, "read"):
        try:
            read.append((path, read_pose(path)))
        except _FILE_ERRORS as err:
            failures.add(path, err)
    if not read:
        raise InputError(f"none of the {len(files)} file(s) could be read (see above)")
    sets = Counter(tuple(pose.keypoint_names) for _, pose in read)
    common, n_common = sets.most_common(1)[0]  # ties: the first file's
    poses = []
    for path, pose in read:
        if tuple(pose.keypoint_names) == common:
            poses.append((path, pose))
        else:
            failures.add(
                path,
                f"{path}: keypoints {pose.keypoint_names} differ from those of the other "
                f"{n_common} file(s) {list(common)}; fit one model per set of keypoints",
            )
    return poses


def _fit(poses: list[tuple[Path, PoseData]], args: argparse.Namespace) -> Any:
    from aeimpute.keypoints import KeypointImputer

    params: dict[str, Any] = {
        "random_state": args.seed,
        "n_jobs": args.threads,
        "device": args.device,
        "verbose": _progress(args),
        "confidence_threshold": args.confidence_threshold,
        "max_gap": args.max_gap,
    }
    for name in ("window", "second_window", "max_iter"):
        if getattr(args, name) is not None:
            params[name] = getattr(args, name)
    imputer = KeypointImputer(**params)
    imputer.fit([pose for _, pose in poses])
    frames = sum(pose.n_frames for _, pose in poses)
    _say(f"fitted on {len(poses)} file(s), {frames:,} frames in all")
    return imputer


def _cmd_fit(args: argparse.Namespace) -> int:
    files = input_files(args.inputs)
    failures = _Failures(len(files))
    poses = _read_all(files, args, failures)
    imputer = _fit(poses, args)
    imputer.save(args.output)
    print(f"model written to {args.output}")
    return failures.exit_code(f"the model was fitted on the other {len(poses)}")


def report(imputer: Any, pose: PoseData, repaired: PoseData, path: Path) -> dict:
    """The per-file report of a repair (what ``NAME.repair.json`` holds).

    Parameters
    ----------
    imputer : KeypointImputer
        The fitted model that repaired ``pose``.
    pose, repaired : PoseData
        The recording as read and as repaired.
    path : Path
        The file it was read from.

    Returns
    -------
    dict
        ``file``, ``frames``, ``individuals``, ``keypoints``, ``points``,
        ``share_repaired`` (of all points), the counts of
        :meth:`aeimpute.keypoints.summary.KeypointSummary.totals`, and
        ``expected_error_px``: per gap-length range present in the file, its
        gaps and the error expected there in pixels beside linear
        interpolation's (measured at fit on held-back gaps), and the median
        error bar of its repaired points (90% radius, see
        :attr:`PoseData.uncertainty`).
    """
    from aeimpute.keypoints.model import gap_group, gap_labels

    summary = imputer.summary(pose)
    totals = summary.totals()
    bars: dict[str, list[float]] = {}
    if repaired.uncertainty is not None and len(summary.runs):
        labels = gap_labels()
        for run, group in zip(summary.runs.itertuples(), gap_group(summary.runs["length"]
                              .to_numpy()), strict=True):  # fmt: skip
            if run.filled:
                i = pose.individual_names.index(run.individual)
                k = pose.keypoint_names.index(run.keypoint)
                radius = repaired.uncertainty[run.first_frame : run.first_frame + run.length, i, k]
                bars.setdefault(labels[group], []).extend(radius.tolist())
    points = int(pose.xy[..., 0].size)
    lengths = summary.gap_lengths[summary.gap_lengths["gaps"] > 0]
    return {
        "file": str(path),
        "frames": pose.n_frames,
        "individuals": pose.n_individuals,
        "keypoints": pose.n_keypoints,
        "points": points,
        "share_repaired": round(int(repaired.imputed.sum()) / max(points, 1), 6),
        **totals,
        "expected_error_px": {
            label: {
                "gaps": int(row.gaps),
                "expected_px": row.expected_px,
                "linear_px": row.linear_px,
                "median_error_bar_px": round(float(np.nanmedian(bars[label])), 3)
                if np.isfinite(bars.get(label, [np.nan])).any()
                else None,
            }
            for label, row in lengths.iterrows()
        },
    }


def error_bars(repaired: PoseData) -> pd.DataFrame:
    """One row per repaired point: frame, individual, keypoint, x, y and ``error_px``.

    ``error_px`` is the point's error bar (:attr:`PoseData.uncertainty`): the
    radius in pixels of the circle around it that should hold the true point
    9 times in 10. This is what ``NAME.error_bars.csv`` holds.
    """
    frame, ind, kp = np.nonzero(repaired.imputed)
    index = repaired.meta.get("index")
    frames = np.asarray(index)[frame] if index is not None and len(index) == repaired.n_frames \
        else frame  # fmt: skip
    radius = repaired.uncertainty
    return pd.DataFrame({
        "frame": frames,
        "individual": np.asarray(repaired.individual_names, dtype=object)[ind],
        "keypoint": np.asarray(repaired.keypoint_names, dtype=object)[kp],
        "x": repaired.xy[frame, ind, kp, 0],
        "y": repaired.xy[frame, ind, kp, 1],
        "error_px": np.nan if radius is None else radius[frame, ind, kp],
    })  # fmt: skip


#: ``--imputed-confidence`` value that writes each repaired point's error bar as its likelihood
FROM_ERROR_BAR = "error-bar"


def confidence_from_error_bars(repaired: PoseData, body_px: float) -> PoseData:
    """The pose with each repaired point's confidence set to ``exp(-error bar / body size)``.

    A repaired point whose 90% error bar is a tenth of the body size (the
    model's ``scale_``, pixels) gets 0.90, one as wide as the body 0.37;
    other points keep theirs (1 for observed points of a pose without
    confidence). Points without an error bar keep theirs too.

    Examples
    --------
    >>> import numpy as np
    >>> pose = PoseData(np.zeros((2, 1, 1, 2)), imputed=np.array([[[True]], [[False]]]),
    ...                 uncertainty=np.array([[[4.0]], [[np.nan]]]))
    >>> confidence_from_error_bars(pose, body_px=40.0).confidence.ravel().round(3).tolist()
    [0.905, 1.0]
    """
    conf = repaired.scores()
    if repaired.imputed is not None and repaired.uncertainty is not None:
        where = repaired.imputed & np.isfinite(repaired.uncertainty)
        conf[where] = np.exp(-repaired.uncertainty[where] / body_px)
    return replace(repaired, confidence=conf)


def _imputed_confidence(text: str) -> float | str:
    """``--imputed-confidence``: a number, or ``error-bar``."""
    if text == FROM_ERROR_BAR:
        return text
    try:
        return float(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"expected a number or '{FROM_ERROR_BAR}'; got {text!r}"
        ) from err


def _repair_one(
    imputer: Any, path: Path, pose: PoseData, out_dir: Path, args: argparse.Namespace
) -> None:
    repaired = imputer.transform(pose)
    facts = report(imputer, pose, repaired, path)
    target = out_dir / path.name
    if args.imputed_confidence == FROM_ERROR_BAR:
        written = confidence_from_error_bars(repaired, imputer.scale_)
        write_pose(written, target)
    else:
        write_pose(repaired, target, imputed_confidence=args.imputed_confidence)
    with atomic_path(out_dir / (path.name + REPORT_SUFFIX)) as tmp:
        Path(tmp).write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
    with atomic_path(out_dir / (path.name + ERROR_BARS_SUFFIX)) as tmp:
        error_bars(repaired).to_csv(tmp, index=False, float_format="%.3f")
    left = facts["gaps_left_longer_than_max_gap"]
    _say(
        f"{path}: {facts['points_repaired']:,} points repaired ({facts['share_repaired']:.1%}), "
        f"longest gap filled {facts['longest_gap_repaired']} frames"
        + (f", {left} gap(s) left (longer than --max-gap)" if left else "")
        + f"; written to {target}"
    )


def _targets(files: list[Path], out_dir: Path) -> None:
    """Refuse outputs that would overwrite an input or each other, before any work."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} is a file; -o names the folder to write the repaired files in")
    seen: dict[str, Path] = {}
    for f in files:
        if f.name in seen:
            raise InputError(
                f"{seen[f.name]} and {f} have the same name and would both be written to "
                f"{out_dir / f.name}; repair them into separate folders"
            )
        seen[f.name] = f
        if (out_dir / f.name).resolve() == f.resolve():
            raise InputError(f"{f}: -o {out_dir} would overwrite it; choose another folder")


def _model_and_inputs(inputs: list[Path]) -> tuple[Path | None, list[Path]]:
    """``(model file or None, pose inputs)``: a first argument that is a model file is the model."""
    first = inputs[0]
    if first.is_file() and zipfile.is_zipfile(first):
        if len(inputs) == 1:
            raise InputError(f"{first} is a model; give the pose files or folders to repair")
        return first, inputs[1:]
    if first.suffix.lower() == ".aeimpute" and not first.exists():
        raise InputError(f"{first}: no such model file")
    return None, inputs


def _cmd_repair(args: argparse.Namespace) -> int:
    from aeimpute.keypoints import KeypointImputer

    model, inputs = _model_and_inputs(args.inputs)
    if model is not None:
        given = [f"--{n.replace('_', '-')}"
                 for n in ("window", "second_window", "max_iter", "save_model")
                 if getattr(args, n) is not None]  # fmt: skip
        if given:
            raise InputError(f"{', '.join(given)}: only for fitting, and {model} is already fitted")
    files = input_files(inputs)
    _targets(files, args.output)
    failures = _Failures(len(files))
    if model is not None:
        device = None if args.device == "auto" else args.device
        imputer = KeypointImputer.load(model, device=device)
        for name in ("confidence_threshold", "max_gap"):
            if getattr(args, name) is not None:
                imputer.set_params(**{name: getattr(args, name)})
        if args.threads is not None:
            imputer.set_params(n_jobs=args.threads)
        todo: Any = files  # read one at a time: memory of one recording
    else:
        todo = _read_all(files, args, failures)
        imputer = _fit(todo, args)
        if args.save_model is not None:
            imputer.save(args.save_model)
            _say(f"model written to {args.save_model}")
    args.output.mkdir(exist_ok=True)
    n_done = 0
    for item in _each(todo, args, "repair"):
        path, pose = item if isinstance(item, tuple) else (item, None)
        try:
            _repair_one(imputer, path, pose if pose is not None else read_pose(path),
                        args.output, args)  # fmt: skip
            n_done += 1
        except _FILE_ERRORS as err:
            failures.add(path, err)
    return failures.exit_code(f"{n_done} repaired")


def add_commands(
    sub: Any, formatter_class: Any = argparse.HelpFormatter
) -> dict[str, argparse.ArgumentParser]:
    """Add ``pose`` (with ``fit`` and ``repair``) to the subcommands ``sub``; parsers by name."""
    pose = sub.add_parser(
        "pose",
        help="repair pose-tracking files (DeepLabCut, Lightning Pose, SLEAP)",
        description="Fit a keypoint model on pose files and folders, repair files with it. "
        "Files: DeepLabCut and Lightning Pose CSV, DeepLabCut H5, SLEAP analysis H5, SLEAP .slp "
        "(with aeimpute[sleap]); a folder stands for the pose files directly inside it.",
        formatter_class=formatter_class,
    )
    commands = pose.add_subparsers(dest="pose_command", required=True, metavar="COMMAND")

    def options(sp: argparse.ArgumentParser, fits: bool) -> None:
        sp.add_argument(
            "--confidence-threshold", type=float, metavar="T",
            help="points the tracker scored below T are repaired too (default: only points "
            "without coordinates; with a model, the model's)",
        )  # fmt: skip
        sp.add_argument(
            "--max-gap", type=int, metavar="N",
            help="leave gaps longer than N frames missing (default: fill every gap; with a "
            "model, the model's)",
        )  # fmt: skip
        fit_only = " (only when fitting)" if not fits else ""
        sp.add_argument(
            "--window", type=int, metavar="N",
            help=f"frames per training window (default 256; the longest file needs at least "
            f"this many){fit_only}",
        )  # fmt: skip
        sp.add_argument(
            "--second-window", type=int, metavar="N",
            help=f"also fit a network with N-frame training windows and repair with the mean of "
            f"the two networks' repairs (e.g. 64: more accurate on long gaps, slower; default: "
            f"one network){fit_only}",
        )  # fmt: skip
        sp.add_argument(
            "--max-iter", type=int, metavar="N",
            help=f"training steps (default: the KeypointImputer's){fit_only}",
        )  # fmt: skip
        seed_and_threads(sp)
        device_option(sp)
        sp.add_argument(
            "--progress", choices=("auto", "on", "off"), default="auto",
            help="progress bars over training and files (auto: when standard error is a "
            "terminal)",
        )  # fmt: skip

    fit = commands.add_parser(
        "fit", help="fit a keypoint model on pose files and save it",
        description="Fit one model on every file given (recordings of one set-up: the same "
        "keypoints), never joining frames across files, and save it.",
        formatter_class=formatter_class,
    )  # fmt: skip
    fit.add_argument("inputs", nargs="+", type=Path, metavar="FILE_OR_FOLDER")
    fit.add_argument("-o", "--output", type=Path, required=True, help="model file to write")
    options(fit, fits=True)
    fit.set_defaults(run=_cmd_fit)

    repair = commands.add_parser(
        "repair", help="repair pose files into a folder (with a model, or fitting on them)",
        description="Repair pose files with a saved model (first argument), or fit on the files "
        "themselves first. Each file is written to the output folder in its own format and "
        "name, with NAME.repair.json (what was repaired) and NAME.error_bars.csv (each repaired "
        "point with its 90%% error bar in pixels) beside it.",
        formatter_class=formatter_class,
    )  # fmt: skip
    repair.add_argument(
        "inputs", nargs="+", type=Path, metavar="PATH",
        help="a model written by 'aeimpute pose fit' (optional, first), then pose files or "
        "folders",
    )  # fmt: skip
    repair.add_argument(
        "-o", "--output", type=Path, required=True,
        help="folder to write the repaired files in (created if missing; not the folder the "
        "files are in)",
    )  # fmt: skip
    options(repair, fits=False)
    repair.add_argument(
        "--imputed-confidence", type=_imputed_confidence, metavar="C|error-bar",
        help="likelihood/score written for repaired points: a number, or 'error-bar' for "
        "exp(-error bar / body size), 0.90 when the 90%% error bar is a tenth of the body "
        "(default: they keep theirs)",
    )  # fmt: skip
    repair.add_argument(
        "--save-model", type=Path, metavar="PATH",
        help="when repair fits on the files, also save the model here",
    )  # fmt: skip
    repair.set_defaults(run=_cmd_repair)
    return {"pose": pose, "pose fit": fit, "pose repair": repair}
