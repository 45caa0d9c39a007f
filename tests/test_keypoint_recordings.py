"""KeypointImputer on several recordings: fit on a list, repair recordings it never saw."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aeimpute import KeypointImputer
from aeimpute.keypoints import PoseData, simulate_poses, write_dlc
from aeimpute.keypoints.imputer import _stack_recordings

FAST = {"window": 32, "max_iter": 20, "n_jobs": 1, "random_state": 0}


def _recording(frames: int, seed: int, individuals: int = 1) -> np.ndarray:
    return simulate_poses(
        n_frames=frames, n_keypoints=4, n_individuals=individuals, random_state=seed
    )


def test_recordings_become_separate_padded_series():
    a, b = _recording(50, 0), _recording(80, 1, individuals=2)
    xy, observed = _stack_recordings([(a, np.isfinite(a).all(-1)), (b, np.isfinite(b).all(-1))])
    assert xy.shape == (80, 3, 4, 2)
    np.testing.assert_array_equal(xy[:50, 0], a[:, 0])
    np.testing.assert_array_equal(xy[:, 1:], b)
    # frames after the end of the shorter recording are missing, never another recording's
    assert not observed[50:, 0].any() and np.isnan(xy[50:, 0]).all()
    assert observed[:50, 0].all() and observed[:, 1:].all()


def test_fit_on_a_list_then_repair_a_recording_never_seen(tmp_path):
    recs = [_recording(120, 0), _recording(90, 1)[:, 0]]  # 4-D and 3-D arrays mixed
    new = _recording(100, 2)
    new[40:50, 0, 1] = np.nan
    imp = KeypointImputer(**FAST).fit(recs)
    assert imp.n_recordings_ == 2
    out = imp.transform(new)
    assert np.isfinite(out).all()
    np.testing.assert_array_equal(out[:40], new[:40])
    # a list in gives a list out, recording by recording
    both = imp.transform([new, new[:, 0]])
    np.testing.assert_array_equal(both[0], out)
    np.testing.assert_array_equal(both[1], out[:, 0])
    # saved and loaded, it remembers how many recordings it learned from
    imp.save(tmp_path / "m.aeimpute")
    assert KeypointImputer.load(tmp_path / "m.aeimpute").n_recordings_ == 2


def test_fit_reads_a_list_of_pose_files(tmp_path):
    names = ["nose", "neck", "hip", "tail"]
    paths = []
    for i in range(2):
        pose = PoseData(_recording(80, i), keypoint_names=names)
        path = tmp_path / f"rec{i}.csv"
        write_dlc(pose, path)
        paths.append(path)
    imp = KeypointImputer(**FAST).fit(paths)
    assert imp.keypoint_names_ == names and imp.n_recordings_ == 2


def test_recordings_must_share_their_keypoints():
    with pytest.raises(ValueError, match="recording 1 has 3 keypoints"):
        KeypointImputer(**FAST).fit([_recording(60, 0), _recording(60, 1)[:, :, :3]])
    a = PoseData(_recording(60, 0), keypoint_names=["a", "b", "c", "d"])
    b = PoseData(_recording(60, 1), keypoint_names=["a", "b", "c", "x"])
    with pytest.raises(ValueError, match="recording 1 names its keypoints"):
        KeypointImputer(**FAST).fit([a, b])


def test_a_list_of_recordings_needs_a_matching_list_of_confidences():
    recs = [_recording(60, 0), _recording(60, 1)]
    with pytest.raises(ValueError, match="one entry per recording"):
        KeypointImputer(**FAST).fit(recs, confidence=np.ones((60, 1, 4)))
    with pytest.raises(ValueError, match="empty list"):
        KeypointImputer(**FAST).fit([])
    with pytest.raises(ValueError, match=r"recording 1: xy must have shape"):
        KeypointImputer(**FAST).fit([_recording(60, 0), np.zeros((60, 4, 3))])


def _linear_fill(xy: np.ndarray) -> np.ndarray:
    """Per-coordinate straight lines over the gaps (the fallback)."""
    out = xy.copy()
    t = np.arange(len(xy))
    for i in range(xy.shape[1]):
        for k in range(xy.shape[2]):
            for c in range(2):
                v = out[:, i, k, c]
                seen = np.isfinite(v)
                v[~seen] = np.interp(t[~seen], t[seen], v[seen])
    return out


def _recording_with_gaps(length: int = 8):
    """A generated recording and a copy with gaps of ``length`` frames in keypoints 1, 3, 5
    and 7."""
    truth = simulate_poses(n_frames=1500, n_keypoints=9, random_state=3)
    holes = truth.copy()
    rng = np.random.default_rng(0)
    for start in rng.choice(np.arange(20, 1460, 40), size=30, replace=False):
        for k in (1, 3, 5, 7):
            first = start + rng.integers(0, 20)
            holes[first : first + length, 0, k] = np.nan
    return truth, holes


def _ratio_to_linear(out: np.ndarray, truth: np.ndarray, holes: np.ndarray) -> float:
    """RMSE of ``out`` over the gaps of ``holes``, as a ratio to linear interpolation's."""
    gap = np.isnan(holes[..., 0])
    lin = _linear_fill(holes)
    return float(
        np.sqrt(np.mean((out[gap] - truth[gap]) ** 2) / np.mean((lin[gap] - truth[gap]) ** 2))
    )


def test_a_keypoint_the_model_gets_wrong_falls_back_to_the_straight_line(monkeypatch):
    # planted: the cubic-bridge estimate of keypoint 3 gets 8 px of noise (the blend keeps
    # the cubic bridge for the other keypoints, where it is good). The per-keypoint check on
    # held-back gaps must send keypoint 3 back to the straight line and keep the model for
    # the others
    from aeimpute.keypoints import model

    real = model._candidates
    noise = torch.Generator().manual_seed(0)

    def spoiled(inp, delta):
        out = real(inp, delta)
        cubic = out[3].clone()
        cubic[..., 3, :] += 8.0 * torch.randn(cubic[..., 3, :].shape, generator=noise)
        return [*out[:3], cubic, *out[4:]]

    monkeypatch.setattr(model, "_candidates", spoiled)
    truth, holes = _recording_with_gaps()
    imp = KeypointImputer(window=64, max_iter=150, n_jobs=1, random_state=0).fit(holes)
    out, lin = imp.transform(holes), _linear_fill(holes)

    def ratio(k):
        gap = np.isnan(holes[..., k, 0])
        err = [np.sqrt(np.mean((x[..., k, :][gap] - truth[..., k, :][gap]) ** 2))
               for x in (out, lin)]  # fmt: skip
        return err[0] / err[1]

    assert ratio(3) <= 1.02  # 1.46 with the spoiled estimate kept
    assert max(ratio(1), ratio(5), ratio(7)) < 0.9


def test_estimates_outside_the_body_s_envelope_go_back_to_the_bridge():
    from aeimpute.keypoints import model

    xy = torch.as_tensor(simulate_poses(n_frames=300, n_keypoints=4, random_state=0))
    series = xy.permute(1, 0, 2, 3).float()
    mask = torch.ones(series.shape[:-1], dtype=torch.bool)
    geo = model.geometry(series.numpy(), mask.numpy(), rotate=False)
    geo.envelope = model.envelope(series, mask, geo)
    inp = model.inputs(series, mask, geo)
    far = inp.bridged.clone()
    far[0, 100, 2] += 10 * geo.scale  # ten body sizes away
    ok = model.inside(far, inp, geo)
    assert not ok[0, 100, 2] and ok[0, 100, [0, 1, 3]].all() and ok[0, 99].all()
    network_only = torch.zeros(len(model.BLEND_EDGES), model.N_CANDIDATES)
    network_only[:, 0] = 1.0
    blended = model.blended(inp, far - inp.bridged, network_only, geo)
    torch.testing.assert_close(blended, inp.bridged)  # the far estimate went back
    geo.envelope = None
    assert model.blended(inp, far - inp.bridged, network_only, geo)[0, 100, 2].ne(
        inp.bridged[0, 100, 2]).all()  # fmt: skip


def test_a_recording_where_the_model_loses_to_the_straight_line_gets_the_straight_line(
    monkeypatch,
):
    # planted: after fitting, every estimate of the blend is shifted 3 px (a model that misses
    # on this recording). Checked on artificial gaps of the recording (error_bars="recording"),
    # the repair falls back to linear interpolation; judged by the fit alone it does not
    from aeimpute.keypoints import model

    truth, holes = _recording_with_gaps()
    imp = KeypointImputer(window=64, max_iter=150, n_jobs=1, random_state=0).fit(holes)

    def ratio(out):
        return _ratio_to_linear(out, truth, holes)

    assert ratio(imp.transform(holes)) < 0.7  # the model is good here: the check keeps it
    real = model._candidates
    monkeypatch.setattr(
        model, "_candidates", lambda inp, delta: [d + 3.0 for d in real(inp, delta)]
    )
    assert ratio(imp.transform(holes)) == pytest.approx(1.0, abs=1e-3)
    assert ratio(imp.set_params(error_bars="fit").transform(holes)) > 1.2


def test_runs_of_hidden_frames_are_numbered_per_keypoint_along_time():
    from aeimpute.keypoints.model import _run_ids, _run_starts

    hidden = torch.zeros(1, 6, 2, dtype=torch.bool)
    hidden[0, 1:3, 0] = True  # run of keypoint 0
    hidden[0, 4, 0] = True  # a second run of keypoint 0
    hidden[0, 2:5, 1] = True  # one run of keypoint 1 overlapping the first in time
    ids = torch.full(hidden.shape, -1)
    ids[hidden] = _run_ids(hidden, _run_starts(hidden))
    assert ids[0, :, 0].tolist() == [-1, 0, 0, -1, 1, -1]
    assert ids[0, :, 1].tolist() == [-1, -1, 2, 2, 2, -1]


def test_the_check_keeps_a_repair_only_where_its_win_is_clear_at_the_confidence_asked():
    from aeimpute.keypoints.model import _paired_stats, confident_win

    g = torch.Generator().manual_seed(0)
    n = 40
    # per run: repair minus line squared error; cell 0 a clear win, cell 1 a small win
    # buried in noise, cell 2 a loss
    clear = -1.0 + 0.1 * torch.randn(n, generator=g)
    noisy = -0.05 + torch.randn(n, generator=g)
    noisy = noisy - noisy.mean() - 0.05  # mean exactly -0.05, spread ~1
    loss = 0.5 + 0.1 * torch.randn(n, generator=g)
    diff = torch.cat([clear, noisy, loss])
    cell = torch.arange(3).repeat_interleave(n)
    stats = _paired_stats(diff, torch.arange(3 * n), cell, 3)
    assert stats[0].tolist() == [n, n, n]
    assert confident_win(stats, 0.5).tolist() == [True, True, False]
    assert confident_win(stats, 0.9).tolist() == [True, False, False]
    # a run's points add up to one value per run (and cell)
    two = _paired_stats(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([0, 0, 1]),
                        torch.tensor([0, 0, 0]), 1)  # fmt: skip
    assert two[:, 0].tolist() == [2.0, 7.0, 25.0]


def test_guard_confidence_out_of_range_is_refused_by_name():
    xy = simulate_poses(n_frames=200, n_keypoints=4, random_state=0)
    imp = KeypointImputer(window=32, max_iter=5, n_jobs=1, random_state=0).fit(xy)
    with pytest.raises(ValueError, match="guard_confidence"):
        imp.set_params(guard_confidence=1.0).transform(xy)


def test_bfloat16_corrections_are_close_to_float32_and_float32_out():
    from aeimpute.keypoints.model import build_model, corrections, geometry, inputs

    xy = simulate_poses(n_frames=120, n_keypoints=4, random_state=0)
    seen = np.isfinite(xy).all(-1)
    geo = geometry(xy.transpose(1, 0, 2, 3), seen.transpose(1, 0, 2), "auto", 0)
    torch.manual_seed(0)
    net = build_model({"n_keypoints": 4, "width": 16, "n_blocks": 3}).eval()
    for p in net.parameters():  # an untrained network outputs zeros: give it weights
        torch.nn.init.normal_(p, std=0.2)
    series = torch.as_tensor(xy.transpose(1, 0, 2, 3), dtype=torch.float32)
    inp = inputs(series, torch.as_tensor(seen.transpose(1, 0, 2)), geo)
    with torch.no_grad():
        full, half = corrections(net, inp), corrections(net, inp, torch.bfloat16)
    assert half.dtype == torch.float32 and half.shape == full.shape
    assert not torch.equal(half, full)  # the pass did run in bfloat16
    assert float((half - full).abs().max()) < 0.02 * float(full.abs().max())


def test_precision_auto_follows_the_devices_native_bfloat16(monkeypatch):
    import aeimpute.runtime

    xy = simulate_poses(n_frames=300, n_keypoints=4, random_state=0)
    holes = xy.copy()
    holes[60:80, 0, 1] = np.nan
    holes[150:153, 0, 2] = np.nan  # a gap length whose blend gives the network a weight
    imp = KeypointImputer(**(FAST | {"max_iter": 60, "guard": False})).fit(holes)
    f32 = imp.set_params(precision="float32").transform(holes)
    bf16 = imp.set_params(precision="bfloat16").transform(holes)
    assert not np.array_equal(bf16, f32)
    for native, expected in ((False, f32), (True, bf16)):
        monkeypatch.setattr(aeimpute.runtime, "native_bfloat16", lambda device, n=native: n)
        np.testing.assert_array_equal(imp.set_params(precision="auto").transform(holes), expected)
    np.testing.assert_allclose(bf16, f32, atol=0.05)
    with pytest.raises(ValueError, match="precision"):
        imp.set_params(precision="float16").transform(holes)


def test_limits_the_fit_set_too_tight_are_chosen_again_on_the_recording(monkeypatch):
    # planted: the fit's length limits are all 0.001 px, so judged by the fit alone the repair
    # is the straight line; on the recording's artificial gaps the limits (and the shares kept)
    # of gaps from RECHOSEN_FROM frames are chosen again and the model's gain comes back there
    from aeimpute.keypoints import model

    real = model.calibrate

    def too_tight(*args, **kwargs):
        blend, cap, share, radius, report = real(*args, **kwargs)
        return blend, torch.full_like(cap, 1e-3), share, radius, report

    monkeypatch.setattr(model, "calibrate", too_tight)
    truth, holes = _recording_with_gaps(length=12)
    imp = KeypointImputer(window=64, max_iter=150, n_jobs=1, random_state=0).fit(holes)
    fit_only = _ratio_to_linear(imp.set_params(error_bars="fit").transform(holes), truth, holes)
    assert fit_only == pytest.approx(1.0, abs=0.01)
    checked = imp.set_params(error_bars="recording").transform(holes)
    assert _ratio_to_linear(checked, truth, holes) < 0.8
    # 8-frame gaps are shorter than RECHOSEN_FROM: the fit's limits stand
    truth, holes = _recording_with_gaps(length=8)
    assert _ratio_to_linear(imp.transform(holes), truth, holes) == pytest.approx(1.0, abs=0.01)


def test_the_checks_per_point_guard_is_the_blends_guard_at_the_hidden_points():
    # the recording check repairs its artificial gaps point by point (to choose limits and
    # shares again); with the fit's limits, shares and envelope it must give what blended()
    # gives over the whole recording at those points
    from aeimpute.keypoints import model

    xy = simulate_poses(n_frames=400, n_keypoints=4, random_state=1)
    series = torch.as_tensor(xy).permute(1, 0, 2, 3).float()
    mask = torch.ones(series.shape[:-1], dtype=torch.bool)
    geo = model.geometry(series.numpy(), mask.numpy(), rotate=True)
    geo.motion_threshold = model.motion_threshold(series, mask, geo.scale)
    geo.envelope = model.envelope(series, mask, geo)
    n_groups = len(model.BLEND_EDGES)
    gen = torch.Generator().manual_seed(0)
    geo.blend = torch.rand(n_groups, model.N_CANDIDATES, generator=gen) / model.N_CANDIDATES
    geo.cap = 0.03 * geo.scale * torch.rand(n_groups, generator=gen)
    geo.cap[model.gap_group(np.array([12]))[0]] = float("inf")  # the envelope's turn there
    geo.shrink = (torch.rand(n_groups, 4, 2, generator=gen) > 0.3).float()
    hidden = torch.zeros_like(mask)
    for k, start in ((0, 50), (1, 120), (2, 200), (3, 300), (1, 305)):
        hidden[0, start : start + 12, k] = True
    inp = model.inputs(series, mask & ~hidden, geo)
    delta = 0.5 * geo.scale * torch.randn(inp.bridged.shape, generator=gen)
    delta[0, 50:62, 0] += 20 * geo.scale  # far outside the body: the envelope's case
    pts = model._hidden_points(inp, delta, hidden, series, geo)
    step = pts.guarded(geo, geo.cap, geo.shrink)
    expected = (model.blended(inp, delta, geo.blend, geo) - inp.bridged)[hidden]
    torch.testing.assert_close(step, expected, atol=1e-3, rtol=0)
    assert (step.abs().sum(-1) > 0).sum() > 10 and (step.abs().sum(-1) == 0).sum() > 10
