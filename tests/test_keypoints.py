"""KeypointImputer, pose file readers/writers and the temporal helpers under them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from aeimpute import Imputer, KeypointImputer, temporal
from aeimpute.baselines import kalman_smooth
from aeimpute.corruption import hide_runs
from aeimpute.keypoints import (
    PoseData,
    read_dlc,
    read_pose,
    read_sleap,
    simulate_poses,
    write_dlc,
    write_sleap,
)
from aeimpute.nn import DilatedBlock
from aeimpute.persistence import ModelFileError
from aeimpute.simulate import keypoint_gaps
from aeimpute.temporal import bridge

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "keypoints"
FAST = {"window": 32, "width": 16, "max_iter": 20, "batch_size": 8, "random_state": 0}


@pytest.fixture(scope="module")
def poses():
    return simulate_poses(n_frames=300, n_keypoints=5, n_individuals=2, random_state=1)


def _holes(xy, seed=0):
    rng = np.random.default_rng(seed)
    out = xy.copy()
    hidden = np.zeros(xy.shape[:-1], dtype=bool)
    for _ in range(12):
        i, k = rng.integers(xy.shape[1]), rng.integers(xy.shape[2])
        s = rng.integers(5, xy.shape[0] - 25)
        hidden[s : s + rng.integers(1, 20), i, k] = True
    out[hidden] = np.nan
    return out, hidden


# ----------------------------------------------------------------------------- temporal helpers
def test_bridge_is_linear_inside_and_nearest_at_the_ends():
    v = torch.tensor([[[np.nan], [2.0], [np.nan], [np.nan], [8.0], [np.nan]]])
    m = torch.isfinite(v)
    b = bridge(v, m)
    assert b.filled.flatten().tolist() == [2.0, 2.0, 4.0, 6.0, 8.0, 8.0]
    assert b.gap_lengths().flatten().tolist() == [1, 0, 2, 2, 0, 1]
    before, after = b.distances()
    assert before.flatten().tolist() == [6, 0, 1, 2, 0, 1]
    assert after.flatten().tolist() == [1, 0, 2, 1, 0, 6]


def test_bridge_leaves_never_observed_channels_nan():
    v = torch.zeros(1, 4, 2)
    m = torch.tensor([[[True, False]] * 4])
    filled = bridge(v, m).filled
    assert torch.isnan(filled[..., 1]).all() and (filled[..., 0] == 0).all()


def test_bridges_over_other_values_equal_a_fresh_bridge_with_the_same_mask():
    g = torch.Generator().manual_seed(0)
    m = torch.rand(3, 50, 4, generator=g) > 0.4
    m[0, :, 1] = False  # a channel never observed stays NaN
    first = bridge(torch.randn(3, 50, 4, generator=g), m)
    other = torch.randn(3, 50, 4, generator=g)
    other[~m] = float("nan")
    assert torch.allclose(first.over(other), bridge(other, m).filled, equal_nan=True)


@pytest.mark.parametrize("share_missing", [0.1, 0.6])
def test_bridges_and_cubic_bridges_at_the_gaps_alone_equal_those_of_every_point(
    share_missing, monkeypatch
):
    # few missing points are bridged where they are (gathered), many in one pass over every
    # point: both ways must give the same values, bit for bit, ends and empty channels included
    g = torch.Generator().manual_seed(1)
    v = torch.randn(3, 60, 4, generator=g)
    m = torch.rand(3, 60, 4, generator=g) > share_missing
    m[0, :, 1] = False  # never observed
    m[1, :5, 2] = m[1, -4:, 2] = False  # gaps at both ends
    v[~m] = float("nan")
    results = []
    for share in (0.0, 1.0):  # every point, then the missing points alone
        monkeypatch.setattr(temporal, "SPARSE_SHARE", share)
        b = bridge(v, m)
        results.append((b.filled, b.over(2 * v), temporal.hermite(v, m, b)))
    for dense, sparse in zip(*results, strict=True):
        assert torch.equal(torch.nan_to_num(dense, 1e9), torch.nan_to_num(sparse, 1e9))
    filled, _, cubic = results[0]
    assert torch.isnan(filled[0, :, 1]).all() and torch.isfinite(filled[:, :, [0, 2, 3]]).all()
    inside = ~m & torch.isfinite(cubic)
    assert (cubic[inside] != filled[inside]).any()  # the cubic bridges are not straight lines


@pytest.mark.parametrize("autocast", [False, True])
def test_dilated_block_is_a_kernel_3_convolution_of_the_normed_frames(autocast):
    # the block joins each frame with its neighbours `dilation` frames away (zeros beyond
    # the ends); under bfloat16 autocast it joins them in bfloat16, which must give the
    # values of joining in float32 and letting the linear map cast
    torch.manual_seed(0)
    block = DilatedBlock(8, dilation=3).eval()
    x = torch.randn(2, 20, 8)
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        h = block.norm(x)
        zero = torch.zeros_like(h[:, :3])
        joined = torch.cat(
            [torch.cat([zero, h[:, :-3]], 1), h, torch.cat([h[:, 3:], zero], 1)], dim=-1
        )
        expected = x + block.mix(block.act(block.conv(joined)))
        out = block(x)
    assert out.dtype == expected.dtype
    assert torch.equal(out, expected)
    assert not torch.equal(out, x)


def test_hide_runs_hides_only_observed_points_in_runs_and_is_reproducible():
    obs = torch.rand(8, 100, 6, generator=torch.Generator().manual_seed(0)) > 0.1
    a = hide_runs(obs, torch.Generator().manual_seed(3), gap_range=(5, 5), dropout=0.0)
    b = hide_runs(obs, torch.Generator().manual_seed(3), gap_range=(5, 5), dropout=0.0)
    assert torch.equal(a, b)
    assert not (a & ~obs).any()
    assert a.any()
    # one run, no block, no dropout: one keypoint per series, within 5 consecutive frames
    one = hide_runs(
        obs, torch.Generator().manual_seed(4), gap_range=(5, 5), max_single=1,
        block_probability=0.0, dropout=0.0,
    )  # fmt: skip
    for s in range(obs.shape[0]):
        frames, points = np.nonzero(one[s].numpy())
        assert len(set(points)) <= 1
        if len(frames):
            assert frames.max() - frames.min() < 5


def test_kalman_smooth_follows_constant_velocity_and_keeps_observed_values():
    t = np.arange(200.0)
    x = np.column_stack([3.0 * t + 1, -t])
    damaged = x.copy()
    damaged[50:80, 0] = np.nan
    damaged[120:125, 1] = np.nan
    out = kalman_smooth(damaged)
    np.testing.assert_allclose(out, x, atol=1e-3)
    assert np.array_equal(out[~np.isnan(damaged)], damaged[~np.isnan(damaged)])
    assert np.isnan(kalman_smooth(np.full((5, 1), np.nan))).all()
    with pytest.raises(ValueError, match="n_frames, n_series"):
        kalman_smooth(np.zeros(5))


def test_keypoint_gaps_have_exact_lengths_and_reliable_anchors():
    reliable = np.ones((400, 2, 6), dtype=bool)
    reliable[100:110, 0, 2] = False
    hidden, gaps = keypoint_gaps(reliable, (1, 3, 10), 4, rng=0)
    assert (gaps.groupby(["length", "kind"]).size() == 4).all()
    assert not (hidden & ~reliable).any()
    for g in gaps.itertuples():
        for k in g.keypoints:
            run = hidden[g.start : g.start + g.length, g.individual, k]
            assert run.all()
            assert not hidden[g.start - 1, g.individual, k]
            assert not hidden[g.start + g.length, g.individual, k]
            assert reliable[g.start - 1, g.individual, k]
    assert hidden.sum() == sum(g.length * len(g.keypoints) for g in gaps.itertuples())


# ----------------------------------------------------------------------------- PoseData and files
def test_posedata_checks_shapes_and_names():
    with pytest.raises(ValueError, match="frames, individuals, keypoints, 2"):
        PoseData(np.zeros((5, 3, 2)))
    with pytest.raises(ValueError, match="confidence must have shape"):
        PoseData(np.zeros((5, 1, 3, 2)), confidence=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="2 keypoint names for 3"):
        PoseData(np.zeros((5, 1, 3, 2)), keypoint_names=["a", "b"])


def test_posedata_frame_round_trip(poses):
    pose = PoseData(poses, keypoint_names=list("abcde"), individual_names=["f1", "f2"])
    frame = pose.to_frame()
    assert frame.shape == (300, 20)
    back = PoseData.from_frame(frame)
    assert np.array_equal(back.xy, pose.xy)
    assert back.keypoint_names == pose.keypoint_names


@pytest.mark.parametrize("individuals", [1, 2])
def test_dlc_csv_round_trip(tmp_path, poses, individuals):
    xy = poses[:, :individuals].copy()
    xy[10:15, 0, 1] = np.nan
    conf = np.where(np.isfinite(xy).all(-1), 0.9, np.nan)
    pose = PoseData(xy, conf, list("abcde"), [f"m{i}" for i in range(individuals)])
    path = tmp_path / "pred.csv"
    write_dlc(pose, path)
    header = path.read_text().splitlines()[:4]
    assert header[0].startswith("scorer")
    assert (header[1].startswith("individuals")) == (individuals > 1)
    back = read_dlc(path)
    np.testing.assert_allclose(back.xy, xy)
    np.testing.assert_allclose(back.confidence, conf)
    assert back.keypoint_names == list("abcde")
    # written again from what was read: same file
    write_dlc(back, tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_text() == path.read_text()


def test_dlc_h5_round_trip(tmp_path, poses):
    pytest.importorskip("tables")
    pose = PoseData(poses, np.ones(poses.shape[:-1]), list("abcde"), ["a1", "a2"])
    path = tmp_path / "pred.h5"
    write_dlc(pose, path)
    assert list(pd.read_hdf(path).columns.names) == ["scorer", "individuals", "bodyparts", "coords"]
    back = read_pose(path)
    np.testing.assert_allclose(back.xy, poses)
    assert back.individual_names == ["a1", "a2"]


def test_sleap_round_trip(tmp_path, poses):
    pytest.importorskip("h5py")
    xy = poses.copy()
    xy[3:9, 1, 4] = np.nan
    conf = np.where(np.isfinite(xy).all(-1), 0.7, np.nan)
    pose = PoseData(xy, conf, list("abcde"), ["t0", "t1"], fps=30.0)
    path = tmp_path / "x.analysis.h5"
    write_sleap(pose, path)
    back = read_pose(path)
    np.testing.assert_allclose(back.xy, xy)
    np.testing.assert_allclose(back.confidence, conf)
    assert back.keypoint_names == list("abcde") and back.fps == 30.0


def test_imputed_confidence_option(tmp_path, poses):
    pose = PoseData(poses[:, :1], np.full(poses[:, :1].shape[:-1], 0.1))
    pose.imputed = np.zeros(pose.xy.shape[:-1], dtype=bool)
    pose.imputed[5, 0, 2] = True
    write_dlc(pose, tmp_path / "a.csv", imputed_confidence=0.95)
    back = read_dlc(tmp_path / "a.csv")
    assert back.confidence[5, 0, 2] == 0.95 and back.confidence[6, 0, 2] == 0.1


def test_reader_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_dlc(tmp_path / "missing.csv")
    bad = tmp_path / "table.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="not a DeepLabCut CSV"):
        read_dlc(bad)
    slp = tmp_path / "p.slp"
    slp.write_bytes(b"")
    with pytest.raises(ValueError, match="p.slp cannot be read as a SLEAP .slp file"):
        read_sleap(slp)
    txt = tmp_path / "p.txt"
    txt.write_text("x")
    with pytest.raises(ValueError, match="unknown pose file type"):
        read_pose(txt)


@pytest.mark.skipif(not SHARED.exists(), reason="shared keypoint data not present")
def test_real_files_read_like_their_documented_conversions():
    pytest.importorskip("h5py")
    mouse = read_dlc(SHARED / "eks_mirror_mouse" / "180607_004.train_frames=75.rng=0.csv")
    ref = np.load(SHARED / "eks_mirror_mouse.npz")
    assert mouse.xy.shape == (2000, 1, 8, 2)
    assert mouse.keypoint_names == [str(n) for n in ref["keypoint_names"]]
    np.testing.assert_allclose(mouse.xy, ref["xy"], rtol=1e-6)
    flies = read_sleap(SHARED / "sleap_flies.analysis.h5")
    fref = np.load(SHARED / "sleap_flies.npz")
    assert flies.xy.shape == (3000, 2, 13, 2)
    np.testing.assert_allclose(flies.xy, fref["xy"], rtol=1e-6)
    assert flies.keypoint_names == [str(n) for n in fref["keypoint_names"]]


@pytest.mark.skipif(not SHARED.exists(), reason="shared keypoint data not present")
def test_real_files_survive_a_write_read_round_trip(tmp_path):
    pytest.importorskip("h5py")
    src = SHARED / "eks_mirror_mouse" / "180607_004.train_frames=75.rng=0.csv"
    mouse = read_dlc(src)
    write_dlc(mouse, tmp_path / "mouse.csv")
    again = read_dlc(tmp_path / "mouse.csv")
    np.testing.assert_allclose(again.xy, mouse.xy)
    np.testing.assert_allclose(again.confidence, mouse.confidence)
    original = pd.read_csv(src, header=[0, 1, 2], index_col=0)
    written = pd.read_csv(tmp_path / "mouse.csv", header=[0, 1, 2], index_col=0)
    assert original.columns.equals(written.columns) and original.index.equals(written.index)
    flies = read_sleap(SHARED / "sleap_flies.analysis.h5")
    write_sleap(flies, tmp_path / "flies.analysis.h5")
    back = read_sleap(tmp_path / "flies.analysis.h5")
    np.testing.assert_array_equal(back.xy, flies.xy)
    assert back.individual_names == flies.individual_names


# ----------------------------------------------------------------------------- KeypointImputer
def test_fit_transform_fills_gaps_and_keeps_observed_points(poses):
    damaged, hidden = _holes(poses)
    imp = KeypointImputer(**FAST)
    out = imp.fit_transform(damaged)
    assert out.shape == damaged.shape
    assert not np.isnan(out).any()
    assert np.array_equal(out[~hidden], damaged[~hidden])
    assert not np.isnan(damaged[~hidden]).any() and np.isnan(damaged[hidden]).all()  # not mutated
    # the three-axis form (one individual) comes back three-axis
    out3 = KeypointImputer(**FAST).fit_transform(damaged[:, 0])
    assert out3.shape == damaged[:, 0].shape


def test_same_random_state_same_output(poses):
    damaged, _ = _holes(poses)
    a = KeypointImputer(**FAST).fit_transform(damaged)
    b = KeypointImputer(**FAST).fit_transform(damaged)
    c = KeypointImputer(**{**FAST, "random_state": 1}).fit_transform(damaged)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_posedata_in_posedata_out_with_imputed_mask(poses):
    damaged, hidden = _holes(poses)
    pose = PoseData(damaged, np.where(hidden, np.nan, 0.9), list("abcde"))
    out = KeypointImputer(**FAST).fit_transform(pose)
    assert isinstance(out, PoseData)
    assert np.array_equal(out.imputed, hidden)
    assert out.keypoint_names == list("abcde")
    assert np.array_equal(out.confidence, pose.confidence, equal_nan=True)


def test_low_confidence_points_are_repaired_and_max_gap_is_respected(poses):
    xy = poses.copy()
    conf = np.ones(xy.shape[:-1])
    conf[50:53, 0, 1] = 0.1  # unreliable: repaired
    xy[100:200, 1, 3] = np.nan  # a 100-frame gap: left alone with max_gap=50
    imp = KeypointImputer(**FAST, confidence_threshold=0.5, max_gap=50)
    out = imp.fit_transform(xy, conf)
    assert not np.array_equal(out[50:53, 0, 1], xy[50:53, 0, 1])
    assert np.isnan(out[100:200, 1, 3]).all()
    assert np.array_equal(out[conf >= 0.5], xy[conf >= 0.5], equal_nan=True)


def test_a_keypoint_an_individual_never_shows_stays_missing(poses):
    xy = poses.copy()
    xy[:, 1, 4] = np.nan  # individual 1 never shows keypoint 4; individual 0 does
    xy[40:45, 1, 0] = np.nan
    out = KeypointImputer(**FAST).fit_transform(xy)
    assert np.isnan(out[:, 1, 4]).all()
    assert not np.isnan(out[40:45, 1, 0]).any() and not np.isnan(out[:, 0]).any()


def test_repair_in_chunks_equals_one_pass(poses):
    from aeimpute.keypoints import model

    damaged, _ = _holes(poses)
    imp = KeypointImputer(**FAST).fit(damaged)
    obs = np.isfinite(damaged).all(-1)
    xy, mask = model._series(damaged, obs, "cpu")
    whole, gap_whole, _ = model.repair([imp._net], xy, mask, [imp._geometry], chunk=10_000)
    parts, gap_parts, _ = model.repair([imp._net], xy, mask, [imp._geometry], chunk=37)
    torch.testing.assert_close(whole, parts, rtol=1e-4, atol=1e-3)
    assert torch.equal(gap_whole, gap_parts)


@pytest.mark.parametrize("error_bars", ["fit", "recording"])
def test_second_window_repairs_with_the_mean_of_two_single_window_models(poses, error_bars):
    damaged, hidden = _holes(poses)
    kw = FAST | {"error_bars": error_bars, "precision": "float32", "n_jobs": 1}
    both = KeypointImputer(**kw, second_window=16).fit(damaged)
    first = KeypointImputer(**kw).fit(damaged)
    second = KeypointImputer(**kw | {"window": 16}).fit(damaged)
    out, radius = both.transform(damaged, return_uncertainty=True)
    out_1, radius_1 = first.transform(damaged, return_uncertainty=True)
    out_2, radius_2 = second.transform(damaged, return_uncertainty=True)
    # each network fitted and judged as if alone (same seed, same artificial gaps): the
    # repair is the mean of the two models' repairs
    np.testing.assert_allclose(out, (out_1 + out_2) / 2, atol=1e-4)
    assert np.abs(out_1 - out_2)[hidden].max() > 0.01  # two different repairs were averaged
    assert np.isfinite(radius[hidden]).all()
    if error_bars == "fit":  # the larger of the two error bars
        np.testing.assert_allclose(radius, np.fmax(radius_1, radius_2), rtol=1e-6)


def test_second_window_model_saves_and_loads_both_networks(poses, tmp_path):
    damaged, _ = _holes(poses)
    imp = KeypointImputer(**FAST, second_window=16, n_jobs=1).fit(damaged)
    imp.save(tmp_path / "two.aeimpute")
    loaded = KeypointImputer.load(tmp_path / "two.aeimpute")
    assert loaded.second_window == 16
    np.testing.assert_array_equal(loaded.transform(damaged), imp.transform(damaged))
    one = KeypointImputer(**FAST, n_jobs=1).fit(damaged)
    assert not np.array_equal(one.transform(damaged), imp.transform(damaged))


def test_second_window_longer_than_the_recording_or_too_short_is_refused_by_name(poses):
    with pytest.raises(ValueError, match="second_window=512"):
        KeypointImputer(**FAST, second_window=512).fit(poses)
    with pytest.raises(ValueError, match="second_window"):
        KeypointImputer(**FAST, second_window=4).fit(poses)


@pytest.mark.parametrize("second_window", [None, 16])
def test_a_recording_with_nothing_missing_comes_back_unchanged_without_error_bars(
    poses, second_window
):
    # the blend and the error bars run only in frames where a keypoint is missing: with none,
    # nothing is blended, every point keeps its coordinates and no point gets an error bar
    damaged, hidden = _holes(poses)
    imp = KeypointImputer(**FAST, second_window=second_window).fit(damaged)
    out, radius = imp.transform(poses, return_uncertainty=True)
    np.testing.assert_array_equal(out, poses)
    assert np.isnan(radius).all()
    out, radius = imp.transform(damaged, return_uncertainty=True)
    np.testing.assert_array_equal(out[~hidden], poses[~hidden])
    assert np.isfinite(out[hidden]).all() and np.isfinite(radius[hidden]).all()
    assert np.isnan(radius[~hidden]).all()


def test_blend_weights_are_recorded_between_zero_and_one(poses):
    damaged, _ = _holes(poses)
    imp = KeypointImputer(**FAST).fit(damaged)
    weights = list(imp.history_["blend"].values())
    assert len(weights) == 7
    for w in weights:
        assert min(w.values()) >= 0 and sum(w.values()) <= 1 + 1e-9


def test_learns_a_rigid_body_better_than_linear_interpolation():
    # a rigid body that walks and turns: a hidden keypoint follows from the others
    xy = simulate_poses(n_frames=1200, n_keypoints=4, noise_px=0.2, random_state=3)
    rng = np.random.default_rng(0)
    hidden = np.zeros(xy.shape[:-1], dtype=bool)
    for s in rng.choice(np.arange(100, 1100, 50), 12, replace=False):
        hidden[s : s + 30, 0, rng.integers(4)] = True
    damaged = np.where(hidden[..., None], np.nan, xy)
    imp = KeypointImputer(window=64, max_iter=300, gap_range=(5, 40), random_state=0)
    out = imp.fit_transform(damaged)
    from aeimpute.baselines import InterpolationImputer

    lin = InterpolationImputer().fit_transform(PoseData(damaged).to_frame())
    lin = np.asarray(lin, dtype=float).reshape(xy.shape)
    err = np.sqrt(np.mean(np.sum((out - xy) ** 2, -1)[hidden]))
    err_lin = np.sqrt(np.mean(np.sum((lin - xy) ** 2, -1)[hidden]))
    assert err < 0.7 * err_lin, (err, err_lin)


def test_save_load_gives_the_same_output(tmp_path, poses):
    damaged, _ = _holes(poses)
    imp = KeypointImputer(**FAST).fit(damaged)
    path = tmp_path / "kp.aeimpute"
    imp.save(path)
    back = KeypointImputer.load(path)
    assert np.array_equal(back.transform(damaged), imp.transform(damaged))
    with pytest.raises(ModelFileError, match="saved by KeypointImputer.save"):
        Imputer.load(path)


def test_pose_table_works_with_the_tabular_imputer(poses):
    frame = PoseData(poses[:200]).to_frame()
    frame.iloc[10:14, 3] = np.nan
    out = Imputer(max_iter=20, random_state=0).fit_transform(frame)
    assert out.columns.equals(frame.columns) and not out.isna().any().any()


@pytest.mark.parametrize(
    "xy, conf, kwargs, match",
    [
        (np.zeros((100, 3, 3)), None, {}, "x, y on the last axis"),
        (np.zeros((100, 3, 2)), np.zeros((100, 4)), {}, "confidence must have shape"),
        (np.zeros((100, 3, 2)), np.full((100, 3), np.nan), {}, "NaN or infinite at 300"),
        (np.zeros((100, 3, 2)), None, {"confidence_threshold": 0.5}, "no confidence was given"),
        (np.full((100, 3, 2), np.nan), None, {}, "no observed point"),
        (np.zeros((20, 3, 2)), None, {}, "fewer than window=32"),
        (np.full((100, 3, 2), np.inf), None, {}, "infinite coordinate"),
        (np.zeros((100, 3, 2)), None, {"gap_range": (0, 5)}, "gap_range"),
        (np.zeros((100, 3, 2)), None, {"window": 2}, "'window'"),
        ("text", None, {}, "numeric array"),
    ],
)
def test_bad_input_errors(xy, conf, kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        KeypointImputer(**{**FAST, **kwargs}).fit(xy, conf)


def test_never_observed_keypoint_is_named(poses):
    xy = poses.copy()
    xy[:, :, 2] = np.nan
    with pytest.raises(ValueError, match=r"\['c'\] are never observed"):
        KeypointImputer(**FAST).fit(PoseData(xy, keypoint_names=list("abcde")))


def test_transform_checks_the_model(poses):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        KeypointImputer().transform(poses)
    imp = KeypointImputer(**FAST).fit(poses)
    with pytest.raises(ValueError, match="fitted on 5"):
        imp.transform(poses[:, :, :4])
    empty = poses.copy()
    empty[:, 1] = np.nan
    with pytest.warns(UserWarning, match="no observed point"):
        out = imp.transform(empty)
    assert np.isnan(out[:, 1]).all() and not np.isnan(out[:, 0]).any()


def test_tampered_or_foreign_keypoint_model_files_are_refused(tmp_path, poses):
    import json
    import zipfile

    damaged, _ = _holes(poses)
    imp = KeypointImputer(**FAST).fit(damaged)
    path = tmp_path / "kp.aeimpute"
    imp.save(path)
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("meta.json"))
        weights = zf.read("weights.pt")
    altered = bytearray(weights)
    altered[-20] ^= 0xFF
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.json", json.dumps(meta))
        zf.writestr("weights.pt", bytes(altered))
    with pytest.raises(ModelFileError, match="checksum"):
        KeypointImputer.load(path)
    table = Imputer(max_iter=5, random_state=0).fit(pd.DataFrame({"a": [1.0, 2, np.nan, 4]}))
    table.save(tmp_path / "table.aeimpute")
    with pytest.raises(ModelFileError, match="saved by Imputer.save, not KeypointImputer"):
        KeypointImputer.load(tmp_path / "table.aeimpute")


def test_keypoint_model_loads_onto_a_chosen_device(tmp_path, poses):
    damaged, _ = _holes(poses)
    imp = KeypointImputer(**FAST).fit(damaged)
    imp.save(tmp_path / "kp")
    back = KeypointImputer.load(tmp_path / "kp", device="cpu")
    assert back.device == "cpu" and back.get_params()["gap_range"] == (1, 60)
    np.testing.assert_array_equal(back.transform(damaged), imp.transform(damaged))


@pytest.mark.parametrize(
    "param, value",
    [("random_state", "seven"), ("device", 3), ("n_jobs", 5000), ("learning_rate", 0.0)],
)
def test_shared_training_parameters_are_checked_as_for_the_table_imputer(poses, param, value):
    with pytest.raises(ValueError, match=f"parameter '{param}'"):
        KeypointImputer(**{**FAST, param: value}).fit(poses)
    with pytest.raises(ValueError, match=f"parameter '{param}'"):
        Imputer(**{param: value}).fit(pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, 2, 3]}))


def test_printed_pose_data_is_a_summary_not_the_arrays():
    xy = np.random.default_rng(0).normal(size=(5000, 2, 12, 2))
    xy[:100, 0, 3] = np.nan
    pose = PoseData(xy, keypoint_names=[f"k{i}" for i in range(12)], individual_names=["a", "b"])
    text = repr(pose)
    assert len(text) < 200 and "\n" not in text
    assert text.startswith("PoseData(5000 frames, 2 individuals ['a', 'b'], 12 keypoints ['k0',")
    assert "0.1% of points missing" in text  # 100 of 120,000 points


def test_summary_counts_what_transform_fills_and_labels_gap_lengths_in_words():
    from aeimpute.keypoints import simulate_poses

    xy = simulate_poses(n_frames=500, n_keypoints=4, random_state=1)
    xy[100:110, 0, 2] = np.nan
    xy[300:302, 0, 1] = np.nan
    xy[350:480, 0, 3] = np.nan  # longer than max_gap: left
    imp = KeypointImputer(window=64, max_iter=30, max_gap=100, random_state=0, n_jobs=1).fit(xy)
    report = imp.summary(xy)
    out = imp.transform(xy)
    left = np.isnan(out).any(-1).sum(axis=(0, 1))
    assert report.keypoints["left"].tolist() == left.tolist() == [0, 0, 0, 130]
    assert report.keypoints["filled"].tolist() == [0, 2, 10, 0]
    labels = report.gap_lengths.index.tolist()
    assert labels[:3] == ["1 frame", "2 frames", "3-4 frames"] and not any("+" in s for s in labels)
    assert report.gap_lengths.loc["2 frames", "gaps"] == 1
    assert report.gap_lengths.loc["33 frames or more", "points"] == 130
    assert report.gap_lengths["held_back_points"].sum() > 0
    assert list(imp.history_["calibration"]) == labels  # the fit's report uses the same words
    top = report.longest.iloc[0]
    assert (top.keypoint, top.first_frame, top.length, top.filled) == ("keypoint3", 350, 130, False)
    text = repr(report)
    assert "Longest gaps" in text and "9-16 frames" in text


def test_simulate_poses_makes_recordings_shorter_than_its_turning_kernel():
    from aeimpute.keypoints import simulate_poses

    for n in (1, 10, 24, 25):
        xy = simulate_poses(n_frames=n, n_keypoints=3, random_state=0)
        assert xy.shape == (n, 1, 3, 2) and np.isfinite(xy).all()
