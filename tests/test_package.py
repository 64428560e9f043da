"""The deployment package: the project minus ``.funcignore``, built the way ``func azure
functionapp publish`` and ``azd deploy`` build it (tools/package.py). It holds the app and
nothing else, and the app imports and registers every function from it alone."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tools.package import build_zip, package_files

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = (".venv/", ".venv-checkov/", "node_modules/", "tests/", "bench/", ".local/", "docs/",
            "infra/", "tools/", "examples/", ".ci/", ".git")


@pytest.fixture(scope="module")
def shipped() -> set[str]:
    return set(package_files())


def test_the_package_holds_the_app(shipped: set[str]) -> None:
    assert {"function_app.py", "app_telemetry.py", "host.json", "requirements.txt"} <= shipped
    for folder in ("shared", "workflows"):
        on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts}
        assert on_disk and on_disk <= shipped, on_disk - shipped


def test_the_package_leaves_out_everything_else(shipped: set[str]) -> None:
    assert not [p for p in shipped if p.startswith(LEFT_OUT)]
    assert not [p for p in shipped if "__pycache__" in p or p.endswith(".pyc")]
    assert not {"local.settings.json", "local.settings.json.example", "azure.yaml", "Makefile",
                "README.md", "package.json", "requirements-dev.txt", ".funcignore"} & shipped
    assert {p.split("/")[0] for p in shipped} == {
        "function_app.py", "app_telemetry.py", "host.json", "requirements.txt", "shared",
        "workflows"}


def test_funcignore_follows_gitignore_semantics(tmp_path: Path) -> None:
    shutil.copy(ROOT / ".funcignore", tmp_path / ".funcignore")
    for rel in ("function_app.py", "shared/api/static/admin.js", "shared/api/static/admin.css",
                "shared/__pycache__/x.cpython-311.pyc", "shared/x.pyc", ".venv/lib/a.py",
                "tests/test_a.py", "bench/results.json", "node_modules/a/index.js",
                "local.settings.json", ".local/kv/cert.pem", "docs/api.md", "infra/main.bicep",
                "workflows/registry.py", "requirements-dev.txt", "requirements.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    assert set(package_files(tmp_path)) == {
        "function_app.py", "requirements.txt", "shared/api/static/admin.js",
        "shared/api/static/admin.css", "workflows/registry.py"}


def registered_functions(app_folder: Path) -> list[str]:
    """The function names the app registers when imported from ``app_folder`` alone (a
    fresh interpreter: the Functions app may be indexed only once per process)."""
    list_functions = ("import json, function_app; "
                      "print(json.dumps(sorted(f.get_function_name() "
                      "for f in function_app.app.get_functions())))")
    out = subprocess.run([sys.executable, "-c", list_functions], cwd=app_folder, check=True,
                         capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}).stdout
    return list(json.loads(out))


def test_the_app_registers_every_function_from_the_package_alone(tmp_path: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(build_zip())) as archive:
        archive.extractall(tmp_path)
    # cwd is the unpacked package: the repository (tests, tools, bench) is not importable.
    from_package = registered_functions(tmp_path)
    assert from_package == registered_functions(ROOT)
    assert "keyvault_events" in from_package and len(from_package) > 10
