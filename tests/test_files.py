"""Files the library writes: atomic, and readable by others as a plain write would leave them."""

from __future__ import annotations

import os
import stat
import sys

import numpy as np
import pandas as pd
import pytest

from aeimpute import Imputer
from aeimpute._files import atomic_path, current_umask
from aeimpute.cli import main
from aeimpute.keypoints import PoseData, write_dlc

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_current_umask_reads_the_mask_without_changing_it(umask_022):
    assert current_umask() == 0o022
    os.umask(0o077)
    assert current_umask() == 0o077
    assert current_umask() == 0o077  # reading did not reset it


def test_new_file_gets_the_umask_mode_and_a_replaced_file_keeps_its_own(tmp_path, umask_022):
    path = tmp_path / "out.txt"
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write("one")
    assert _mode(path) == 0o644
    os.chmod(path, 0o640)
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write("two")
    assert path.read_text() == "two"
    assert _mode(path) == 0o640


def test_failed_write_leaves_nothing(tmp_path):
    path = tmp_path / "out.txt"
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_model_table_and_pose_outputs_are_readable_by_the_group_and_others(tmp_path, umask_022):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(60, 3)), columns=list("abc"))
    df.loc[rng.random(60) < 0.2, "b"] = np.nan
    model = tmp_path / "m.aeimpute"
    Imputer(max_iter=5, random_state=0, n_jobs=1).fit(df).save(model)
    data = tmp_path / "data.csv"
    df.to_csv(data, index=False)
    filled = tmp_path / "filled.csv"
    assert main(["transform", str(model), str(data), "-o", str(filled)]) == 0
    pose = PoseData(rng.normal(size=(10, 1, 3, 2)), keypoint_names=list("xyz"))
    write_dlc(pose, tmp_path / "pose.csv")
    for path in (model, filled, tmp_path / "pose.csv"):
        assert _mode(path) == 0o644, path.name
