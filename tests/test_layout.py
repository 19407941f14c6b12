"""The package's shape: layers import one way, no cycles, click only in cli/, small modules."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rlm_cli"

# What each layer may import, besides itself. The base is rlm_cli's top-level modules.
ALLOWED = {
    "cli": {"steps", "calls", "inputs", "observe", "base"},
    "steps": {"calls", "inputs", "base"},
    "observe": {"calls", "base"},
    "calls": {"inputs", "base"},
    "inputs": {"base"},
    "base": set(),
}
MAX_LINES = 400


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(path: Path) -> set[str]:
    """Every rlm_cli module a file imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {
        name: {i for i in imports(path) if i in mods and i != name} for name, path in mods.items()
    }


def layer(module: str) -> str:
    if module == "rlm_cli.__main__":
        return "cli"  # `python -m rlm_cli` is the command line too
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else "base"


def test_the_layers_exist_as_folders():
    for name in ALLOWED:
        if name != "base":
            assert (PACKAGE / name / "__init__.py").is_file(), name


def test_no_import_cycle():
    edges = graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)


def test_imports_run_one_way():
    wrong = [
        f"{mod} ({layer(mod)}) imports {dep} ({layer(dep)})"
        for mod, deps in graph().items()
        for dep in deps
        if layer(dep) != layer(mod) and layer(dep) not in ALLOWED[layer(mod)]
    ]
    assert not wrong, "\n".join(wrong)


def test_only_cli_imports_click():
    offenders = [
        name
        for name, path in modules().items()
        if layer(name) != "cli" and any(i.split(".")[0] == "click" for i in imports(path))
    ]
    assert not offenders


def test_subpackage_inits_stay_empty():
    for name in ALLOWED:
        init = PACKAGE / name / "__init__.py"
        if name != "base":
            assert init.read_text(encoding="utf-8").strip() == "", init


def test_every_module_reads_in_one_sitting():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in PACKAGE.rglob("*.py")
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_the_checks_see_a_cycle_and_an_upward_import(tmp_path, monkeypatch):
    """The walker itself: a planted cycle and a planted upward import are both caught."""
    pkg = tmp_path / "rlm_cli"
    for sub in ("calls", "steps"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "calls" / "a.py").write_text("def f():\n    from rlm_cli.steps import b\n")
    (pkg / "steps" / "b.py").write_text("from rlm_cli.calls.a import f\n")
    monkeypatch.setattr(__import__(__name__), "PACKAGE", pkg)
    edges = graph()
    assert edges["rlm_cli.calls.a"] == {"rlm_cli.steps", "rlm_cli.steps.b"}
    try:
        test_no_import_cycle()
    except AssertionError as e:
        assert "rlm_cli.calls.a" in str(e)
    else:
        raise AssertionError("the planted cycle was not found")
    try:
        test_imports_run_one_way()
    except AssertionError as e:
        assert "rlm_cli.calls.a (calls) imports rlm_cli.steps.b (steps)" in str(e)
    else:
        raise AssertionError("the planted upward import was not found")
