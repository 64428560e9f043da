"""The CLI over several vaults: ``secret set`` and ``import`` write each scope's secrets to
its vault, ``doctor`` checks every vault and fails when one is down."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from shared.cli.main import run
from shared.settings import Settings
from tests.cli_io import Pipe
from tests.integration.shards import names_read, sharded_env, sharded_settings
from tools.services import Azurite, KeyVaultEmulator

pytestmark = pytest.mark.integration


@pytest.fixture
def env(azurite: Azurite, sharded_keyvault: KeyVaultEmulator) -> dict[str, str]:
    settings: Settings = sharded_settings(azurite, sharded_keyvault)
    return sharded_env(settings)


async def cli(env: dict[str, str], *argv: str, stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = await run(list(argv), out=out, stdin=Pipe(stdin), env=env)
    return code, out.getvalue()


async def test_secret_set_writes_to_the_orgs_vault_and_says_which(
    env: dict[str, str], sharded_keyvault: KeyVaultEmulator,
) -> None:
    code, output = await cli(env, "secret", "set", "acme", "smtp-password",
                             stdin="cli-shard-canary\n")
    assert code == 0 and "acme--smtp-password (vault 'shard1')" in output
    assert "cli-shard-canary" not in output
    assert names_read(sharded_keyvault, "shard1", "set_secret") == {"acme--smtp-password"}
    assert names_read(sharded_keyvault, "default", "set_secret") == set()


async def test_import_writes_each_scopes_secrets_to_its_vault(
    env: dict[str, str], sharded_keyvault: KeyVaultEmulator, tmp_path: Path,
) -> None:
    document = {scope: {"secrets": {"token": f"import-{scope}"}}
                for scope in ("GLOBAL", "acme", "beta", "contoso")}
    path = tmp_path / "import.json"
    path.write_text(json.dumps(document))
    code, output = await cli(env, "import", str(path))
    assert code == 0, output
    assert names_read(sharded_keyvault, "default", "set_secret") == {
        "global--token", "contoso--token"}
    assert names_read(sharded_keyvault, "shard1", "set_secret") == {"acme--token"}
    assert names_read(sharded_keyvault, "shard2", "set_secret") == {"beta--token"}


async def test_doctor_checks_every_vault_and_fails_when_one_is_down(
    env: dict[str, str], sharded_keyvault: KeyVaultEmulator,
) -> None:
    code, output = await cli(env, "doctor")
    assert code == 0, output
    for vault in ("default", "shard1", "shard2"):
        assert f"vault '{vault}': {sharded_keyvault.urls[vault]}" in output
    assert "holds 1 orgs (acme)" in output and output.count("ok: vault reachable") == 3
    sharded_keyvault.control("shard2").refuse_connections()
    try:
        code, output = await cli({**env, "BACKEND_TIMEOUT_SECONDS": "2"}, "doctor")
    finally:
        sharded_keyvault.control("shard2").refuse_connections(False)
    assert code == 1 and output.count("ok: vault reachable") == 2
    assert "FAIL: Key Vault 'shard2'" in output
