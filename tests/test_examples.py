"""The examples the README lists that no other test runs: they run and print what they say."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_compare_imputers_example_prints_every_mechanism_and_method(capsys):
    runpy.run_path(str(EXAMPLES / "compare_imputers.py"), run_name="__main__")
    out = capsys.readouterr().out
    for word in ("MCAR", "MAR", "MNAR", "interpolation", "low-rank", "aeimpute", "RMSE"):
        assert word in out


def test_pose_repair_example_repairs_a_file_writes_it_and_plots(tmp_path):
    from aeimpute.keypoints import PoseData, read_pose, simulate_poses, write_dlc

    xy = simulate_poses(n_frames=400, n_keypoints=4, random_state=0)
    xy[100:120, 0, 1] = np.nan
    source = tmp_path / "mouseDLC.csv"
    write_dlc(PoseData(xy, np.ones(xy.shape[:-1])), source)
    out, plot = tmp_path / "repaired.csv", tmp_path / "trajectory.png"
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / "pose_repair.py"), str(source), "-o", str(out),
         "--steps", "20", "--plot", str(plot)],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "AEIMPUTE_NUM_THREADS": "1"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "20 points filled" in run.stdout
    repaired = read_pose(out)
    assert not np.isnan(repaired.xy).any()
    assert plot.stat().st_size > 1000


def test_pose_folder_example_fits_on_one_folder_and_repairs_another(tmp_path):
    from aeimpute.keypoints import PoseData, read_dlc, simulate_poses, write_dlc

    for folder, seeds in (("train", (0, 1)), ("new", (2,))):
        (tmp_path / folder).mkdir()
        for seed in seeds:
            xy = simulate_poses(n_frames=150, n_keypoints=4, random_state=seed)
            xy[50:58, 0, 2] = np.nan
            write_dlc(PoseData(xy, np.ones(xy.shape[:-1])), tmp_path / folder / f"s{seed}.csv")
    bin_dir = str(Path(sys.executable).parent)
    run = subprocess.run(
        ["bash", str(EXAMPLES / "pose_folder.sh"), "train", "new", "out", "--window", "32",
         "--max-iter", "10", "--threads", "1"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PATH": bin_dir + os.pathsep + os.environ["PATH"]},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert "fitted on 2 file(s)" in run.stdout and "8 points repaired" in run.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "s2.csv", "s2.csv.error_bars.csv", "s2.csv.repair.json", "setup.aeimpute",
    ]  # fmt: skip
    assert np.isfinite(read_dlc(tmp_path / "out" / "s2.csv").xy).all()


def test_movement_pipeline_example_filters_repairs_and_differentiates(capsys):
    import pytest

    pytest.importorskip("xarray")
    runpy.run_path(str(EXAMPLES / "movement_pipeline.py"), run_name="__not_main__")["main"](
        ["--steps", "20"]
    )
    out = capsys.readouterr().out
    assert "25 points repaired" in out and "velocity defined at 100% of points" in out


def test_two_views_example_uses_the_second_camera_and_writes_both_files(tmp_path, capsys):
    import re

    from aeimpute.keypoints import PoseData, read_dlc, simulate_poses, write_dlc

    main = runpy.run_path(str(EXAMPLES / "two_views.py"), run_name="__not_main__")["main"]
    main(["--steps", "60"])
    out = capsys.readouterr().out
    one, both = (float(x) for x in re.findall(r"RMSE ([\d.]+) px", out))
    assert both < one
    xy = simulate_poses(n_frames=300, n_keypoints=3, random_state=1)
    top = xy.copy()
    top[100:110, 0, 1] = np.nan
    write_dlc(PoseData(top, np.ones(xy.shape[:-1])), tmp_path / "top.csv")
    write_dlc(PoseData(xy + [0, 300], np.ones(xy.shape[:-1])), tmp_path / "side.csv")
    main([str(tmp_path / "top.csv"), str(tmp_path / "side.csv"), "-o", str(tmp_path / "out"),
          "--steps", "10"])  # fmt: skip
    assert "both views: 10 points repaired" in capsys.readouterr().out
    repaired = read_dlc(tmp_path / "out" / "top.csv")
    assert np.isfinite(repaired.xy).all()
    assert (tmp_path / "out" / "side.csv").exists()


def test_calibrated_cameras_example_fills_from_the_other_cameras_and_writes_files(tmp_path, capsys):
    import re

    from aeimpute.keypoints import PoseData, read_dlc, write_dlc

    run = runpy.run_path(str(EXAMPLES / "calibrated_cameras.py"), run_name="__not_main__")
    run["main"](["--steps", "10"])
    out = capsys.readouterr().out
    assert "view 1: 40 points lost, 40 filled from the other cameras" in out
    line, cameras = (float(x) for x in re.findall(r"RMSE ([\d.]+) px", out))
    assert cameras < 0.2 * line  # the paw moves fast: the straight line misses it
    # files: an Anipose calibration and one DeepLabCut file per camera
    group, views, _ = run["generated"]()
    toml = []
    for i, c in enumerate(group.cameras):
        toml += [f"[cam_{i}]", f'name = "{c.name}"', f"matrix = {c.matrix.tolist()}",
                 f"distortions = {c.distortions.tolist()}", f"rotation = {c.rotation.tolist()}",
                 f"translation = {c.translation.tolist()}"]  # fmt: skip
    (tmp_path / "calibration.toml").write_text("\n".join(toml) + "\n")
    files = []
    for c, v in zip(group.cameras, views, strict=True):
        files.append(tmp_path / f"{c.name}.csv")
        conf = np.where(np.isfinite(v.xy).all(-1), 1.0, np.nan)
        write_dlc(PoseData(v.xy, conf, v.keypoint_names), files[-1])
    # the files in another order, named
    order = [files[1], files[0], files[2]]
    run["main"]([str(tmp_path / "calibration.toml"), *map(str, order), "--cameras", "front",
                 "left", "right", "-o", str(tmp_path / "out"), "--steps", "10"])  # fmt: skip
    assert "view 0: 40 points lost, 40 filled" in capsys.readouterr().out
    front = read_dlc(tmp_path / "out" / "front.csv")
    assert np.isfinite(front.xy).all()
    np.testing.assert_allclose(front.xy[:300], views[1].xy[:300], atol=1e-6)  # kept as read
