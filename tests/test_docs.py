"""The code of the README and of the site's pages runs: every ```python and ```bash block.

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

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if "reference" not in p.parts)]
BLOCK = re.compile(r"^```(python|bash)\n(.*?)^```", re.S | re.M)


def test_the_site_has_pages_with_code():
    assert any(BLOCK.search(p.read_text()) for p in PAGES)


# a deprecation inside Dask's Parquet reader (pandas 3.1), not in code a page shows
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index")
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_of_the_page_run(page, tmp_path, monkeypatch, capsys):
    blocks = BLOCK.findall(page.read_text())
    if not blocks:
        pytest.skip("no python code on this page")
    monkeypatch.chdir(tmp_path)  # files a page writes go to a temporary folder
    namespace: dict = {"__name__": "__docs__"}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for i, (language, code) in enumerate(blocks):
        where = f"{page.relative_to(ROOT)}, code block {i + 1}"
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


# ----------------------------------------------------------------------------- reference
PUBLIC_MODULES = (
    "aeimpute", "aeimpute.keypoints", "aeimpute.pool", "aeimpute.simulate",
    "aeimpute.metrics", "aeimpute.baselines",
)  # fmt: skip
DIRECTIVE = re.compile(r"^::: (?P<name>[\w.]+)\n(?P<options>(?:    .*\n)*)", re.M)


def _reference_directives() -> tuple[set[str], set[str]]:
    """Names the API reference renders: whole modules, and single objects."""
    modules, objects = set(), set()
    for page in (DOCS / "reference").glob("*.md"):
        for m in DIRECTIVE.finditer(page.read_text() + "\n"):
            name, options = m.group("name"), m.group("options")
            members = re.search(r"members: \[(.*)\]", options)
            if members is None:
                modules.add(name)  # a module shows every public member
            for member in re.findall(r'"(\w+)"', members.group(1) if members else ""):
                objects.add(f"{name}.{member}")
            objects.add(name)
    return modules, objects


def _resolve(dotted: str):
    """The object a dotted name of the reference stands for."""
    import importlib

    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise AssertionError(f"the reference names {dotted!r}, which does not exist")


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_public_name_is_in_the_api_reference(module_name):
    import importlib

    modules, objects = _reference_directives()
    shown = {id(_resolve(name)) for name in objects}
    for name in modules:  # a whole module shows its public members
        module = _resolve(name)
        shown |= {id(getattr(module, a)) for a in getattr(module, "__all__", dir(module))
                  if not a.startswith("_")}  # fmt: skip
    module = importlib.import_module(module_name)
    missing = [n for n in module.__all__
               if not n.startswith("__") and id(getattr(module, n)) not in shown]  # fmt: skip
    assert not missing, f"{module_name}: not in docs/reference/*.md: {missing}"


def test_the_command_line_page_shows_every_command_s_help():
    import importlib.util

    from aeimpute.cli import COMMANDS, help_text

    spec = importlib.util.spec_from_file_location("mkdocs_hooks", DOCS.parent / "mkdocs_hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    page = (DOCS / "reference" / "cli.md").read_text()
    rendered = hooks.on_page_markdown(page, page=None, config=None, files=None)
    assert "aeimpute-help" not in rendered  # every marker replaced
    for command in (None, *COMMANDS):
        assert help_text(command, width=90).rstrip() in rendered, command
    assert "--column-kinds" in rendered and "--batch-rows" in rendered and "--rate" in rendered
