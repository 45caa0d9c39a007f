"""The package's structure: module roles the architecture page promises."""

from __future__ import annotations

import ast
from pathlib import Path

import aeimpute

PACKAGE = Path(aeimpute.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def import_graph() -> dict[str, set[str]]:
    """``{module: modules of the package it imports}``, at module level or inside functions."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                # "from aeimpute import network": a module, not a name of the package
                targets |= {f"{node.module}.{a.name}" for a in node.names}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_import_graph_has_no_cycle():
    # packages' __init__ modules re-export the public API: leave them out of the check
    graph = {
        m: {t for t in ts if t not in ("aeimpute", "aeimpute.keypoints")}
        for m, ts in import_graph().items()
        if m not in ("aeimpute", "aeimpute.keypoints")
    }
    assert _cycles(graph) == []


def test_a_planted_cycle_is_found():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_persistence_imports_no_estimator():
    imported = import_graph()["aeimpute.persistence"]
    assert imported <= {"aeimpute._files", "aeimpute._version", "aeimpute.runtime"}, imported


def test_numeric_modules_do_not_know_pandas_or_torch():
    """The blend and its candidates work on arrays: no pandas, and no torch."""
    for name in ("blend", "neighbors", "linear", "trees"):
        tree = ast.parse((PACKAGE / f"{name}.py").read_text())
        roots = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                roots.add(node.module.split(".")[0])
        assert not roots & {"pandas", "torch"}, (name, roots)


#: private attributes read on another object, each with the reason it is allowed
ALLOWED_PRIVATE = {
    # a class method of the save/load mixin rebuilding an instance of its own class
    ("aeimpute/persistence.py", "est._set_state"),
}


def test_no_private_attribute_of_another_object_is_read():
    """No module reads another library's (or another object's) private attributes."""
    found = set()
    for path in PACKAGE.rglob("*.py"):
        rel = str(path.relative_to(PACKAGE.parent))
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")):
                continue
            if node.attr.startswith("__"):
                continue
            owner = ast.unparse(node.value)
            if owner not in ("self", "cls", "super()"):
                found.add((rel, f"{owner}.{node.attr}"))
    assert found == ALLOWED_PRIVATE, found - ALLOWED_PRIVATE
