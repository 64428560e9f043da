"""The library's import layers: ``shared/`` imports nothing from the app above it."""

from __future__ import annotations

import ast
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
FORBIDDEN = ("workflows", "tools", "bench", "function_app")


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` of this file names, at any depth
    (inside functions and ``TYPE_CHECKING`` blocks too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_scan_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from workflows.registry import workflow\n    import tools\n")
    assert imported_modules(module) == {"workflows.registry", "tools"}


def test_no_module_under_shared_imports_workflows_tools_or_bench() -> None:
    offending = {
        f"{path.relative_to(SHARED.parent)}: {name}"
        for path in SHARED.rglob("*.py")
        for name in imported_modules(path)
        if name.split(".")[0] in FORBIDDEN
    }
    assert len(list(SHARED.rglob("*.py"))) > 20  # the scan really covered the library
    assert offending == set()
