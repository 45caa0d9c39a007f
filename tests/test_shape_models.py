"""The keypoint shape models: leave-one-out estimates and estimates anchored at a gap's ends."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aeimpute.keypoints import model
from aeimpute.keypoints.model import ShapeModel, anchored


def _configurations(n: int = 300, k: int = 5, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2 * k)) @ rng.normal(size=(2 * k, 2 * k)) + 3.0


@pytest.mark.parametrize("shift", [False, True])
def test_left_out_equals_the_estimate_without_that_keypoint(shift):
    flat = _configurations()
    shapes = ShapeModel.fit(flat, shift=shift, explained=0.9)
    values = torch.tensor(flat[:4], dtype=torch.float32)[None]
    mask = torch.ones(1, 4, 5, dtype=torch.bool)
    mask[0, 1, 2] = False  # a frame with another keypoint missing
    left_out = shapes.left_out(values, mask)
    for t in range(4):
        for k in range(5):
            without = mask.clone()
            without[0, t, k] = False
            expected = shapes.estimate(values, without)[0, t, 2 * k : 2 * k + 2]
            torch.testing.assert_close(left_out[0, t, 2 * k : 2 * k + 2], expected,
                                       atol=1e-4, rtol=1e-4)  # fmt: skip
    # and it differs from the estimate that saw the keypoint (else the test proves nothing)
    seen = shapes.estimate(values, mask)
    assert (left_out[0, 0] - seen[0, 0]).abs().max() > 1e-2


def test_anchored_estimate_removes_an_offset_that_drifts_linearly_across_a_gap():
    t, k = 40, 3
    frames = torch.arange(t, dtype=torch.float32)
    truth = torch.stack([torch.sin(frames / 5), torch.cos(frames / 7)], -1)
    truth = truth[None, :, None].expand(1, t, k, 2).clone() + torch.arange(k)[:, None]
    offset = torch.stack([0.5 + 0.1 * frames, -2.0 + 0.0 * frames], -1)[None, :, None]
    estimate = truth + offset  # a shape model off by a drifting offset
    mask = torch.ones(1, t, k, dtype=torch.bool)
    mask[0, 10:25, 1] = False
    xy = torch.where(mask[..., None], truth, torch.nan)
    # the estimate of each observed point from the others is off by the same offset
    out = anchored(estimate, estimate, xy, mask)
    torch.testing.assert_close(out[0, 10:25, 1], truth[0, 10:25, 1], atol=1e-5, rtol=0)
    # without anchoring the gap keeps the offset
    assert (estimate[0, 10:25, 1] - truth[0, 10:25, 1]).abs().min() > 0.4


def test_a_model_saved_with_fewer_blend_candidates_loads_with_zero_weight_on_the_new_ones():
    geo = model.Geometry(1.0, torch.zeros(3, 2))
    state = model.geometry_state(geo)
    old = [[0.1, 0.2, 0.3, 0.4]] * len(model.BLEND_EDGES)
    loaded = model.geometry_from_state(state | {"blend": old})
    assert loaded.blend.shape == (len(model.BLEND_EDGES), model.N_CANDIDATES)
    torch.testing.assert_close(loaded.blend[:, :4], torch.tensor(old))
    assert torch.count_nonzero(loaded.blend[:, 4:]) == 0


def test_left_out_of_a_keypoint_nothing_else_constrains_is_its_estimate_not_an_error():
    # two keypoints that move as one (a rigid pair): the shift model explains each alone
    rng = np.random.default_rng(1)
    first = rng.normal(scale=5.0, size=(200, 2))
    flat = np.hstack([first, first + [3.0, 1.0]]) + rng.normal(scale=1e-4, size=(200, 4))
    shapes = ShapeModel.fit(flat, shift=True, explained=0.95)
    values = torch.tensor(flat[:3], dtype=torch.float32)[None]
    mask = torch.ones(1, 3, 2, dtype=torch.bool)
    mask[0, 0, 1] = False  # keypoint 0 alone in frame 0
    left_out = shapes.left_out(values, mask)
    assert torch.isfinite(left_out).all()
    torch.testing.assert_close(left_out[0, 0, :2], shapes.estimate(values, mask)[0, 0, :2])


def test_the_validated_rank_is_the_one_that_best_estimates_a_keypoint_from_the_others():
    # planted: 8 keypoints moved by 6 independent factors of decreasing size plus small noise;
    # 95% of the variance takes 3 components, estimating a keypoint from the others needs 6
    rng = np.random.default_rng(0)
    n, k, true_rank = 600, 8, 6
    basis = rng.normal(size=(true_rank, 2 * k)) * np.array([4, 2, 1.2, 0.8, 0.6, 0.5])[:, None]
    flat = rng.normal(size=(n, true_rank)) @ basis + 0.02 * rng.normal(size=(n, 2 * k))
    validated = ShapeModel.fit_validated(flat, shift=False)
    explained = ShapeModel.fit(flat, shift=False)
    assert validated.components.shape[1] == true_rank
    assert explained.components.shape[1] < true_rank
    test = torch.as_tensor(rng.normal(size=(200, true_rank)) @ basis, dtype=torch.float32)[None]
    mask = torch.ones(1, 200, k, dtype=torch.bool)
    mask[0, :, 3] = False  # keypoint 3 from the others

    def error(model):
        est = model.estimate(test, mask)[0].reshape(200, k, 2)[:, 3]
        return float((est - test[0].reshape(200, k, 2)[:, 3]).norm(dim=-1).mean())

    assert error(validated) < 0.2 * error(explained)
