"""The runnable examples under examples/ run against Azurite and the emulator as the
README says, after ``examples/seed.json`` is imported, and print no secret value."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from shared.cli.config import parse_import
from shared.cli.secrets import set_secret
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests.cli_io import settings_env
from tools.services import REPO_ROOT

pytestmark = pytest.mark.integration

SEED = json.loads((REPO_ROOT / "examples" / "seed.json").read_text())


def local_settings(settings: Settings, path: Path) -> Path:
    """A local.settings.json pointing at this test's services."""
    values = {"AZURE_FUNCTIONS_ENVIRONMENT": "Development", **settings_env(settings)}
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    return path


async def test_read_config_runs_against_the_seeded_example_data(
    settings: Settings, resolver: ConfigResolver, tmp_path: Path
) -> None:
    entries, secrets = parse_import(SEED)
    await resolver.config_store.upsert_many(entries)
    for scope, name, value in secrets:
        await set_secret(resolver, scope, name, value)
    settings_file = local_settings(settings, tmp_path / "local.settings.json")

    run = subprocess.run(
        [sys.executable, "-m", "examples.read_config", "--settings", str(settings_file)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=False)

    assert run.returncode == 0, run.stderr
    assert "not set: config key 'no_such_key'" in run.stdout
    assert "smtp.acme.example:587 tls=True absent=None" in run.stdout
    assert "password (str) from keyvault:GLOBAL--smtp-password" in run.stdout
    assert "in the model: **********" in run.stdout
    for _, _, value in secrets:
        assert value not in run.stdout + run.stderr
