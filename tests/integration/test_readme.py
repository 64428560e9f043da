"""The README's command blocks run as written: the CLI block in a real shell against
Azurite and the emulator, the Python API block is the example file the tests run, and
every repository path the README names exists."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.cli_io import settings_env
from tools.services import REPO_ROOT

pytestmark = pytest.mark.integration

README = (REPO_ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start: end if end != -1 else None]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_the_python_api_block_is_the_example_file() -> None:
    example = (REPO_ROOT / "examples" / "read_config.py").read_text()
    marked = re.search(r"# \[START read_config\]\n(.*?)# \[END read_config\]", example, re.S)
    assert marked is not None
    assert code_blocks(section("Python API"), "python")[0] == marked.group(1)
    assert ".venv/bin/python -m examples.read_config --settings local.settings.json" in \
        section("Python API")


def test_the_cli_block_runs_as_written(settings: Settings, tmp_path: Path) -> None:
    [block] = code_blocks(section("CLI"), "sh")
    values = settings_env(settings)
    settings_file = tmp_path / "local.settings.json"
    settings_file.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    # The one change: this test's services instead of make dev's (a fixed port may be taken).
    script = "set -eu\n" + block.replace("local.settings.json", str(settings_file))
    run = subprocess.run(["bash", "-c", script], cwd=REPO_ROOT, input="Zx-readme-secret\n",
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    assert "imported" in out and "acme smtp_password = ********" in out
    assert "warning: fabrikam graph_client_secret" in run.stderr  # env-only in the demo
    assert 'set GLOBAL smtp_port [int] "587"' in out and "set secret acme--smtp-password" in out
    assert "GLOBAL smtp_port = 587" in out and "acme--smtp-password: 1 versions" in out
    assert "acme smtp-password  acme--smtp-password  enabled" in out
    assert out.count("ok:") == 2 and "Zx-readme-secret" not in out + run.stderr


def test_every_repository_path_the_readme_names_exists() -> None:
    named = set(re.findall(r"(?<![\w/.-])((?:examples|tools|infra|tests|bench|docs|shared)"
                           r"/[\w./-]*\w)", README))
    named |= {"local.settings.json.example", "azure.yaml", ".funcignore",
              "requirements-infra.txt"} & set(re.findall(r"[\w.-]+", README))
    missing = sorted(p for p in named if not (REPO_ROOT / p).exists())
    assert not missing


def test_the_demo_output_shown_is_what_make_demo_prints() -> None:
    shown = section("The two commands")
    block = shown[shown.index("### What `make demo` prints"):]
    [lines] = re.findall(r"```\n(.*?)```", block, re.S)
    run = subprocess.run([sys.executable, "-m", "tools.demo"], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=120, check=True)
    printed = iter(normalized(out) for out in run.stdout.splitlines())
    for line in filter(None, lines.splitlines()):  # abridged: a subsequence of the output
        assert any(out == normalized(line) for out in printed), line


def normalized(line: str) -> str:
    """The first pass's GETs and listing answers vary with when the background listing
    completes (the README says so); keep their sum."""
    counts = re.search(r"vault GETs (\d+) \(of which not-found \d+\).*which answered (\d+) ",
                       line)
    if counts is None:
        return line
    lookups = int(counts.group(1)) + int(counts.group(2))
    line = re.sub(r"vault GETs \d+ \(of which not-found \d+\)", "vault GETs _", line)
    return re.sub(r"which answered \d+ ", f"which answered _ (lookups {lookups}) ", line)
