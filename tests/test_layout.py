"""The package's layout: data flows one way through its stages, no module imports one of a later stage, no import
circle, and the command line stays thin."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "forecast"
#: stages in the order data flows through them; a module may import its own stage or an earlier one
STAGES = ["base", "io", "control", "models", "engine", "jobs", "present", "record", "api", "cli"]
BASE = {"data", "errors", "words", "files", "rounding", "threads", "version"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "api"  # forecast/__init__.py re-exports the API
    if parts[1] in BASE:
        return "base"
    if parts[1] == "__main__":
        return "cli"
    return parts[1]


def imports_of(path: Path) -> set[str]:
    """Every forecast module a file imports, at its top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("forecast"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if (PACKAGE.parent / Path(*candidate.split("."))).with_suffix(".py").exists()
                          or (PACKAGE.parent / Path(*candidate.split("."))).is_dir() else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("forecast")}
    return found


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: {m for m in imports_of(path) if m in MODULES and m != name} for name, path in MODULES.items()}


def test_every_module_has_a_stage():
    assert {stage_of(m) for m in MODULES} <= set(STAGES)
    assert stage_of("forecast.control.xmr") == "control" and stage_of("forecast.files") == "base"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_runs_back_up_the_stages(module):
    back = [m for m in GRAPH[module] if STAGES.index(stage_of(m)) > STAGES.index(stage_of(module))]
    assert not back, f"{module} ({stage_of(module)}) imports a later stage: {back}"


def test_no_import_circle():
    def cycle_from(start):
        stack, seen = [(start, [start])], set()
        while stack:
            node, path = stack.pop()
            for nxt in GRAPH[node] - packages:
                if nxt == start:
                    return path + [nxt]
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, path + [nxt]))
        return None

    # a package's __init__ re-exporting its modules, and one of them looking up the package's registry when it runs
    # (the ensemble makes its members by name), is not a circle of the code's own
    packages = {m for m, path in MODULES.items() if path.name == "__init__.py"}
    circles = [c for m in MODULES if m not in packages and (c := cycle_from(m)) and not set(c) & packages]
    assert circles == []


def test_the_command_line_is_thin():
    for path in (PACKAGE / "cli").glob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 300, path
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and any(
                    isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command" for d in node.decorator_list):
                body = node.end_lineno - (node.body[1] if ast.get_docstring(node) else node.body[0]).lineno + 1
                assert body <= 60, f"{path.name}: {node.name} has {body} lines"
