"""The ``aeimpute pose`` commands: folders of pose files in, repaired files and reports out."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aeimpute.cli import help_text, main
from aeimpute.keypoints import PoseData, read_dlc, read_pose, simulate_poses, write_dlc

FAST = ["--window", "32", "--max-iter", "15", "--threads", "1"]
NAMES = ["nose", "ear", "tail", "paw"]
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "keypoints"


def recording(seed: int, n_frames: int = 160, gap: tuple[int, int] = (40, 46)) -> PoseData:
    """A generated recording with a likelihood, one gap of NaN and a few unsure points."""
    xy = simulate_poses(n_frames=n_frames, n_keypoints=4, random_state=seed)
    conf = np.full(xy.shape[:3], 0.99)
    xy[gap[0] : gap[1], 0, 1] = np.nan
    conf[gap[0] : gap[1], 0, 1] = np.nan
    conf[100:103, 0, 2] = 0.2  # tracked, but unsure
    return PoseData(xy, conf, keypoint_names=NAMES, individual_names=["mouse"])


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    videos = tmp_path / "videos"
    videos.mkdir()
    for seed in (0, 1):
        write_dlc(recording(seed), videos / f"session{seed}DLC_resnet50.csv")
    return videos


def test_fit_then_repair_a_folder_writes_each_file_and_report(folder, tmp_path, capsys):
    model, out = tmp_path / "mouse.aeimpute", tmp_path / "repaired"
    assert main(["pose", "fit", str(folder), "-o", str(model), *FAST]) == 0
    assert "fitted on 2 file(s)" in capsys.readouterr().out
    code = main(["pose", "repair", str(model), str(folder), "-o", str(out),
                 "--confidence-threshold", "0.5", "--threads", "1"])  # fmt: skip
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "session0DLC_resnet50.csv", "session0DLC_resnet50.csv.error_bars.csv",
        "session0DLC_resnet50.csv.repair.json",
        "session1DLC_resnet50.csv", "session1DLC_resnet50.csv.error_bars.csv",
        "session1DLC_resnet50.csv.repair.json",
    ]  # fmt: skip
    source = folder / "session0DLC_resnet50.csv"
    before, after = read_dlc(source), read_dlc(out / source.name)
    assert np.isfinite(after.xy).all()  # the NaN gap and the unsure points are filled
    unsure = np.zeros(before.xy.shape[:3], dtype=bool)
    unsure[100:103, 0, 2] = True
    changed = ~(after.xy == before.xy).all(-1)
    np.testing.assert_array_equal(changed, unsure | ~np.isfinite(before.xy).all(-1))
    # rows without a repair are written back byte for byte
    lines_in = source.read_text().splitlines()
    lines_out = (out / source.name).read_text().splitlines()
    touched = {3 + f for f in np.flatnonzero(changed.any(axis=(1, 2)))}  # 3 header rows
    assert len(lines_in) == len(lines_out)
    for i, (a, b) in enumerate(zip(lines_in, lines_out, strict=True)):
        assert (a == b) == (i not in touched), i
    facts = json.loads((out / "session0DLC_resnet50.csv.repair.json").read_text())
    assert facts["file"] == str(source)
    assert facts["points_repaired"] == 6 + 3
    assert facts["gaps"] == facts["gaps_repaired"] == 2
    assert facts["longest_gap_repaired"] == 6
    assert facts["share_repaired"] == pytest.approx(9 / (160 * 4), abs=1e-6)
    assert set(facts["expected_error_px"]) == {"3-4 frames", "5-8 frames"}
    assert all(v["median_error_bar_px"] > 0 for v in facts["expected_error_px"].values())
    bars = pd.read_csv(out / "session0DLC_resnet50.csv.error_bars.csv")
    assert list(bars.columns) == ["frame", "individual", "keypoint", "x", "y", "error_px"]
    assert len(bars) == 9 and (bars.error_px > 0).all()
    assert sorted(zip(bars.frame, bars.keypoint, strict=True)) == [
        (f, "ear") for f in range(40, 46)
    ] + [(f, "tail") for f in range(100, 103)]
    np.testing.assert_allclose(
        bars.x, after.xy[bars.frame, 0, [NAMES.index(k) for k in bars.keypoint], 0], atol=1e-3
    )
    said = capsys.readouterr().out
    assert "9 points repaired (1.4%), longest gap filled 6 frames" in said


def test_repair_without_a_model_fits_on_the_files_and_matches_the_saved_model(folder, tmp_path):
    model = tmp_path / "m.aeimpute"
    files = sorted(str(p) for p in folder.iterdir())
    assert main(["pose", "repair", *files, "-o", str(tmp_path / "a"), "--save-model",
                 str(model), *FAST]) == 0  # fmt: skip
    assert main(["pose", "repair", str(model), *files, "-o", str(tmp_path / "b")]) == 0
    for name in ("session0DLC_resnet50.csv", "session1DLC_resnet50.csv"):
        a, b = read_dlc(tmp_path / "a" / name), read_dlc(tmp_path / "b" / name)
        np.testing.assert_array_equal(a.xy, b.xy)
        assert np.isfinite(a.xy).all()


def test_a_bad_file_in_a_folder_is_named_and_the_others_repaired(folder, tmp_path, capsys):
    (folder / "notes.csv").write_text("this is not a pose file\n1,2\n")
    write_dlc(
        PoseData(simulate_poses(n_frames=160, n_keypoints=3, random_state=2),
                 keypoint_names=["a", "b", "c"]),
        folder / "other_rig.csv",
    )  # fmt: skip
    out = tmp_path / "out"
    assert main(["pose", "repair", str(folder), "-o", str(out), *FAST]) == 2
    err = capsys.readouterr().err
    assert "notes.csv is not a DeepLabCut CSV" in err
    assert "other_rig.csv: keypoints ['a', 'b', 'c'] differ" in err
    assert "2 of 4 file(s) failed" in err and "2 repaired" in err
    assert sorted(p.name for p in out.iterdir() if p.name.count(".") == 1) == [
        "session0DLC_resnet50.csv", "session1DLC_resnet50.csv",
    ]  # fmt: skip


def test_a_file_the_model_does_not_fit_fails_alone(folder, tmp_path, capsys):
    model = tmp_path / "m.aeimpute"
    assert main(["pose", "fit", str(folder / "session0DLC_resnet50.csv"), "-o", str(model),
                 *FAST]) == 0  # fmt: skip
    write_dlc(PoseData(simulate_poses(n_frames=50, n_keypoints=3, random_state=0)),
              folder / "three.csv")  # fmt: skip
    assert main(["pose", "repair", str(model), str(folder), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "three.csv: the file has 3 keypoints; this model was fitted on 4" in err
    assert not (tmp_path / "o" / "three.csv").exists()
    assert (tmp_path / "o" / "session1DLC_resnet50.csv").exists()


def test_max_gap_leaves_long_gaps_and_reports_them(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    write_dlc(recording(0, gap=(40, 90)), src / "long.csv")
    out = tmp_path / "out"
    assert main(["pose", "repair", str(src), "-o", str(out), "--max-gap", "20", *FAST]) == 0
    after = read_dlc(out / "long.csv")
    assert np.isnan(after.xy[40:90, 0, 1]).all()
    facts = json.loads((out / "long.csv.repair.json").read_text())
    assert facts["gaps_left_longer_than_max_gap"] == 1
    assert facts["longest_gap_left"] == 50
    assert facts["points_left"] == 50 and facts["points_repaired"] == 0


def test_imputed_confidence_is_written_for_repaired_points_only(folder, tmp_path):
    out = tmp_path / "out"
    assert main(["pose", "repair", str(folder), "-o", str(out), "--confidence-threshold",
                 "0.5", "--imputed-confidence", "0.75", *FAST]) == 0  # fmt: skip
    before = read_dlc(folder / "session1DLC_resnet50.csv")
    after = read_dlc(out / "session1DLC_resnet50.csv")
    repaired = ~(after.xy == before.xy).all(-1)
    assert repaired.sum() == 9
    np.testing.assert_array_equal(after.confidence[repaired], 0.75)
    np.testing.assert_array_equal(after.confidence[~repaired], before.confidence[~repaired])


def test_sleap_analysis_files_come_back_as_sleap_analysis_files(tmp_path):
    pytest.importorskip("h5py")
    from aeimpute.keypoints import read_sleap, write_sleap

    src = tmp_path / "in"
    src.mkdir()
    pose = recording(3)
    write_sleap(pose, src / "flies.analysis.h5")
    assert main(["pose", "repair", str(src), "-o", str(tmp_path / "out"), *FAST]) == 0
    back = read_sleap(tmp_path / "out" / "flies.analysis.h5")
    assert back.meta["format"] == "sleap" and np.isfinite(back.xy).all()
    seen = np.isfinite(pose.xy).all(-1)
    np.testing.assert_array_equal(back.xy[seen], pose.xy[seen])


def test_slp_files_are_read_and_written_with_sleap_io(tmp_path):
    pytest.importorskip("sleap_io")
    from aeimpute.keypoints import read_slp, write_slp

    src = tmp_path / "in"
    src.mkdir()
    pose = recording(4)
    write_slp(pose, src / "mouse.slp")
    assert main(["pose", "repair", str(src), "-o", str(tmp_path / "out"),
                 "--imputed-confidence", "0.5", *FAST]) == 0  # fmt: skip
    back, before = read_slp(tmp_path / "out" / "mouse.slp"), read_slp(src / "mouse.slp")
    assert back.keypoint_names == NAMES and back.individual_names == ["mouse"]
    seen = np.isfinite(pose.xy).all(-1)
    np.testing.assert_allclose(before.xy, pose.xy, rtol=1e-6)  # .slp holds float32
    np.testing.assert_array_equal(back.xy[seen], before.xy[seen])
    np.testing.assert_array_equal(back.confidence[~seen], 0.5)
    assert np.isfinite(back.xy).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pose", "fit", "nothere/", "-o", "m.aeimpute"], "nothere: no such file or folder"),
        (["pose", "fit", "{tmp}/table.parquet", "-o", "m.aeimpute"], "not a pose file"),
        (["pose", "repair", "{tmp}/empty", "-o", "{tmp}/out"], "a folder without pose files"),
        (["pose", "repair", "{folder}", "-o", "{folder}"], "would overwrite it"),
        (["pose", "repair", "{folder}", "{tmp}/copy", "-o", "{tmp}/out"], "have the same name"),
        (["pose", "repair", "{folder}", "-o", "{tmp}/table.parquet"], "is a file"),
        (["pose", "repair", "{tmp}/m.aeimpute", "-o", "{tmp}/out"], "give the pose files"),
        (["pose", "repair", "{tmp}/m.aeimpute", "{folder}", "-o", "{tmp}/out", "--window", "16"],
         "--window: only for fitting"),
        (["pose", "repair", "{folder}", "-o", "{tmp}/out", "--window", "400", "--max-iter", "5"],
         "the longest file has 160 frames, fewer than --window 400; pass a smaller window "
         "(e.g. --window 128)"),
        (["pose", "repair", "{folder}", "-o", "{tmp}/out", "--window", "16", "--second-window",
          "400", "--max-iter", "5"],
         "the longest file has 160 frames, fewer than --second-window 400; pass a smaller "
         "second window (e.g. --second-window 128)"),
        (["pose", "repair", "{tmp}/m.aeimpute", "{folder}", "-o", "{tmp}/out",
          "--second-window", "16"], "--second-window: only for fitting"),
        (["pose", "repair", "{folder}", "-o", "{tmp}/out", "--max-gap", "0"],
         "--max-gap must be at least 1"),
    ],
)  # fmt: skip
def test_bad_commands_exit_2_with_one_line_and_no_output(folder, tmp_path, capsys, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "table.parquet").write_bytes(b"x")
    shutil.copytree(folder, tmp_path / "copy")
    model = tmp_path / "m.aeimpute"
    assert main(["pose", "fit", str(folder / "session0DLC_resnet50.csv"), "-o", str(model),
                 *FAST]) == 0  # fmt: skip
    capsys.readouterr()
    filled = [a.format(tmp=tmp_path, folder=folder) for a in args]
    assert main(filled) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_second_window_fits_a_model_of_two_networks(folder, tmp_path):
    from aeimpute.keypoints import KeypointImputer

    model = tmp_path / "two.aeimpute"
    one = tmp_path / "one.aeimpute"
    file = folder / "session0DLC_resnet50.csv"
    assert main(["pose", "fit", str(file), "-o", str(model), *FAST, "--second-window", "16"]) == 0
    assert main(["pose", "fit", str(file), "-o", str(one), *FAST]) == 0
    two_networks = KeypointImputer.load(model)
    assert two_networks.second_window == 16
    pose = read_pose(file)
    repaired = two_networks.transform(pose)
    assert repaired.imputed.any()
    assert not np.array_equal(repaired.xy, KeypointImputer.load(one).transform(pose).xy)


def test_help_of_the_pose_commands_lists_their_options():
    text = help_text("pose repair")
    for option in ("--confidence-threshold", "--max-gap", "--seed", "--imputed-confidence",
                   "--save-model", "--progress"):  # fmt: skip
        assert option in text
    assert "repair" in help_text("pose") and "--window" in help_text("pose fit")


@pytest.mark.skipif(not SHARED.exists(), reason="shared pose data not present")
def test_a_lightning_pose_folder_is_repaired_with_rows_untouched_elsewhere(tmp_path):
    src = tmp_path / "lp"
    src.mkdir()
    for seed in (0, 1):
        name = f"180607_004.train_frames=75.rng={seed}.csv"
        shutil.copyfile(SHARED / "eks_mirror_mouse" / name, src / name)
    out = tmp_path / "out"
    assert main(["pose", "repair", str(src), "-o", str(out), "--confidence-threshold", "0.9",
                 "--window", "64", "--max-iter", "10", "--threads", "1"]) == 0  # fmt: skip
    name = "180607_004.train_frames=75.rng=0.csv"
    before, after = read_pose(src / name), read_pose(out / name)
    unsure = before.confidence < 0.9
    np.testing.assert_array_equal(after.xy[~unsure], before.xy[~unsure])
    assert not np.array_equal(after.xy[unsure], before.xy[unsure])
    same_rows = ~unsure.any(axis=(1, 2))
    lines_in = (src / name).read_text().splitlines()[3:]
    lines_out = (out / name).read_text().splitlines()[3:]
    assert [a for a, keep in zip(lines_in, same_rows, strict=True) if keep] == [
        b for b, keep in zip(lines_out, same_rows, strict=True) if keep
    ]


@pytest.mark.skipif(not (SHARED / "sleap_mouse_4view").exists(), reason="shared data not present")
def test_read_slp_asks_which_video_of_a_file_with_several():
    pytest.importorskip("sleap_io")
    from aeimpute.keypoints import read_slp

    path = SHARED / "sleap_mouse_4view" / "minimal_proofread.slp"
    with pytest.raises(ValueError, match="holds 4 videos; pass video=0..3"):
        read_slp(path)
    with pytest.raises(ValueError, match="video=7 is out of range"):
        read_slp(path, video=7)
    pose = read_slp(path, video=1)
    assert pose.n_keypoints == 15 and pose.keypoint_names[0] == "Nose"
    assert pose.meta["video"] == 1


@pytest.mark.skipif(not (SHARED / "sleap_mouse_4view").exists(), reason="shared data not present")
def test_the_command_names_a_slp_file_of_several_videos(tmp_path, capsys):
    pytest.importorskip("sleap_io")
    path = SHARED / "sleap_mouse_4view" / "minimal_proofread.slp"
    assert main(["pose", "repair", str(path), "-o", str(tmp_path / "out"), *FAST]) == 2
    err = capsys.readouterr().err
    assert "minimal_proofread.slp holds 4 videos; the pose commands read files of one video" in err


def test_error_bars_can_be_written_as_the_likelihood_of_repaired_points(folder, tmp_path):
    from aeimpute import KeypointImputer

    out, model = tmp_path / "out", tmp_path / "m.aeimpute"
    options = ["--confidence-threshold", "0.5", "--imputed-confidence", "error-bar",
               "--save-model", str(model), *FAST]  # fmt: skip
    assert main(["pose", "repair", str(folder), "-o", str(out), *options]) == 0
    name = "session0DLC_resnet50.csv"
    before, after = read_dlc(folder / name), read_dlc(out / name)
    bars = pd.read_csv(out / (name + ".error_bars.csv"))
    kp = [NAMES.index(k) for k in bars.keypoint]
    scale = KeypointImputer.load(model).scale_
    np.testing.assert_allclose(after.confidence[bars.frame, 0, kp], np.exp(-bars.error_px / scale),
                               atol=1e-4)  # fmt: skip
    assert (
        (after.confidence[bars.frame, 0, kp] > 0) & (after.confidence[bars.frame, 0, kp] < 1)
    ).all()
    repaired = np.zeros(before.xy.shape[:3], dtype=bool)
    repaired[bars.frame, 0, kp] = True
    np.testing.assert_array_equal(after.confidence[~repaired], before.confidence[~repaired])
    with pytest.raises(SystemExit):
        main(["pose", "repair", str(folder), "-o", str(out), "--imputed-confidence", "high"])
