"""The documentation's code runs: every ```python and ```bash block of the site's pages.

The blocks of a page run in order in one temporary folder (bash blocks with this
environment's ``aeimpute`` command first on the PATH), so a page's later blocks may use
what its earlier ones made. A bash block of ``make`` targets only is not run here: CI runs
those targets itself; a bash block with any other command fails until it gets a rule.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "reference" not in p.parts)
BLOCK = re.compile(r"^```(python|bash)\n(.*?)^```", re.S | re.M)


def test_the_site_has_pages_with_code():
    assert any(BLOCK.search(p.read_text()) for p in PAGES)


# a deprecation inside Dask's Parquet reader (pandas 3.1), not in code a page shows
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_code_blocks_of_the_page_run(page, tmp_path, monkeypatch, capsys):
    blocks = BLOCK.findall(page.read_text())
    if not blocks:
        pytest.skip("no python code on this page")
    monkeypatch.chdir(tmp_path)  # files a page writes go to a temporary folder
    namespace: dict = {"__name__": "__docs__"}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for i, (language, code) in enumerate(blocks):
        where = f"{page.relative_to(DOCS)}, code block {i + 1}"
        if language == "bash":
            commands = [line.split()[0] for line in code.splitlines()
                        if line.strip() and not line.lstrip().startswith("#")]  # fmt: skip
            if set(commands) == {"make"}:
                continue  # the Makefile's targets: CI runs them (make test, make docs)
            unknown = set(commands) - {"aeimpute"}
            assert not unknown, f"{where}: no rule to run {sorted(unknown)} in the docs test"
            run = subprocess.run(["bash", "-e", "-c", code], env=env, capture_output=True,
                                 text=True, timeout=600)  # fmt: skip
            assert run.returncode == 0, f"{where} failed:\n{run.stderr[-2000:]}"
            continue
        try:
            exec(compile(code, where, "exec"), namespace)
        except Exception as err:  # name the page and block, keep the cause
            raise AssertionError(f"{where} failed") from err
