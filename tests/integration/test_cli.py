"""The CLI against Azurite and the emulator: outputs never show a secret value."""

from __future__ import annotations

import getpass
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from shared.cli.common import load_settings_file
from shared.cli.config import parse_import
from shared.cli.main import run
from shared.core.audit import dimensions
from shared.errors import ConfigError, InvalidNameError
from tests.cli_io import Pipe
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import Azurite
from workflows import registry

pytestmark = pytest.mark.integration


async def cli(env: dict[str, str], *argv: str, stdin: str = "") -> tuple[int, str, str]:
    """Exit code, stdout and stderr of one CLI run."""
    out, err = io.StringIO(), io.StringIO()
    code = await run(list(argv), out=out, stdin=Pipe(stdin), env=env, err=err)
    return code, out.getvalue(), err.getvalue()


async def test_set_then_get(env: dict[str, str]) -> None:
    assert (await cli(env, "set", "GLOBAL", "smtp_port", "25", "--type", "int"))[0] == 0
    assert (await cli(env, "set", "Acme", "smtp_port", "587", "--type", "int"))[0] == 0
    code, out, err = await cli(env, "get", "acme", "smtp_port")
    assert code == 0 and out.strip() == "acme smtp_port = 587"
    code, out, err = await cli(env, "get", "beta", "smtp_port", "--explain")
    assert code == 0 and "beta smtp_port = 25" in out and '"scope": "GLOBAL"' in out and not err


async def test_secret_set_reads_stdin_and_get_masks(env: dict[str, str]) -> None:
    code, out, err = await cli(env, "secret", "set", "acme", "smtp-password",
                               stdin="Zx-cli-canary\n")
    assert code == 0 and "acme--smtp-password" in out and "Zx-cli-canary" not in out
    await cli(env, "set", "acme", "smtp_password", "smtp-password", "--type", "secret_ref")
    code, out, err = await cli(env, "get", "acme", "smtp_password", "--explain")
    assert code == 0 and "********" in out and "keyvault:acme--smtp-password" in out and not err
    assert "Zx-cli-canary" not in out


async def test_secret_value_is_never_taken_from_argv(env: dict[str, str]) -> None:
    code, out, err = await cli(env, "secret", "set", "acme", "smtp-password",
                               "Zx-on-the-command-line")
    assert code == 2 and "unrecognized arguments" in err and not out


async def test_empty_secret_writes_nothing(env: dict[str, str], kv_control: EmulatorControl
                                           ) -> None:
    code, out, err = await cli(env, "secret", "set", "acme", "smtp-password", stdin="")
    assert code == 2 and err.startswith("error: ") and "empty" in err and not out
    assert kv_control.count("set_secret") == 0


async def test_bad_input_is_a_clear_error(env: dict[str, str]) -> None:
    code, out, err = await cli(env, "set", "acme", "port", "Zx-not-int", "--type", "int")
    assert code == 2 and "int" in err and "Zx-not-int" not in err + out and not out
    code, out, err = await cli(env, "get", "Global-Corp!", "k")
    assert code == 2 and "org id" in err and not out
    code, out, err = await cli(env, "set", "acme", "ref", "acme--x", "--type", "secret_ref")
    assert code == 2 and "--" in err and not out
    assert err.count("\n") == 1 and err.startswith("error: ")


async def test_import_writes_entries_and_secrets(env: dict[str, str], tmp_path: Path) -> None:
    document = {
        "GLOBAL": {"config": {"smtp_host": "mail.example", "retries": 3, "tls": True,
                              "mapping": {"value": {"a": "b"}, "type": "json"},
                              "pwd": {"secret_ref": "smtp-password"}},
                   "secrets": {"smtp-password": "Zx-import-global"}},
        "acme": {"config": {"smtp_host": "mail.acme"}, "secrets": {"smtp-password": "Zx-imp-acme"}},
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(document))
    code, out, err = await cli(env, "import", str(path))
    assert code == 0 and "imported 6 config entries and 2 secrets" in out
    assert (await cli(env, "get", "acme", "retries"))[1].strip() == "acme retries = 3"
    # the import registered acme (the registry is on): beta is unknown until registered
    code, _, err = await cli(env, "get", "beta", "mapping")
    assert code == 2 and "no org 'beta' is registered" in err
    assert (await cli(env, "orgs", "add", "beta"))[0] == 0
    assert (await cli(env, "get", "beta", "mapping"))[1].strip() == 'beta mapping = {"a": "b"}'
    code, out, err = await cli(env, "list", "GLOBAL")
    assert "pwd [secret_ref] -> secret smtp-password" in out and "Zx-" not in out and not err


def test_import_is_validated_whole_before_writing() -> None:
    with pytest.raises(InvalidNameError):
        parse_import({"acme": {"config": {"ok": "1"}}, "bad org!": {"config": {}}})
    with pytest.raises(ConfigError):
        parse_import({"acme": {"config": {"n": {"value": "x", "type": "int"}}}})
    with pytest.raises(ConfigError):
        parse_import({"acme": {"secrets": {"name": 5}}})
    with pytest.raises(ConfigError):
        parse_import(["not", "an", "object"])


async def test_doctor_reports_both_backends(env: dict[str, str]) -> None:
    code, out, err = await cli(env, "doctor")
    assert code == 0 and out.count("ok:") == 2 and "local development (emulator)" in out and not err


async def test_doctor_explains_an_unreachable_table(env: dict[str, str], azurite: Azurite) -> None:
    broken = dict(env, CONFIG_STORAGE_CONNECTION=azurite.connection_string.replace(
        str(azurite.port), "1"), BACKEND_TIMEOUT_SECONDS="2")
    code, out, err = await cli(broken, "doctor")
    assert code == 1 and "FAIL" in out and "unreachable" in out and not err  # a report


async def test_doctor_without_a_vault(env: dict[str, str]) -> None:
    code, out, err = await cli(dict(env, AZURE_KEY_VAULT_URL="", AZURE_KEY_VAULT_CA_FILE=""),
                               "doctor")
    assert code == 0 and "not configured" in out and not err


async def test_settings_file_supplies_settings_and_env_secrets(
    env: dict[str, str], tmp_path: Path
) -> None:
    values = dict(env, AZURE_KEY_VAULT_URL="", AZURE_KEY_VAULT_CA_FILE="",
                  ACME__API_KEY="Zx-from-settings-file")
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    await cli(env, "set", "acme", "api_key", "api-key", "--type", "secret_ref")
    code, out, err = await cli({}, "--settings", str(path), "get", "acme", "api_key",
                               "--explain")
    assert code == 0 and "env:ACME__API_KEY" in out and "Zx-" not in out and not err


async def test_a_secret_ref_to_a_secret_that_exists_nowhere_warns(env: dict[str, str]) -> None:
    code, out, err = await cli(env, "set", "acme", "pwd", "smtp-password", "--type", "secret_ref")
    assert code == 0 and "warning:" in err and "warning" not in out
    assert "acme--smtp-password" in err and "GLOBAL--smtp-password" in err


async def test_a_secret_ref_to_an_existing_secret_does_not_warn(env: dict[str, str]) -> None:
    await cli(env, "secret", "set", "GLOBAL", "smtp-password", stdin="Zx-exists")
    code, out, err = await cli(env, "set", "acme", "pwd", "smtp-password", "--type", "secret_ref")
    assert code == 0 and "warning" not in out + err


async def test_import_warns_about_references_to_missing_secrets(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"acme": {"config": {"ok": {"secret_ref": "in-file"},
                                                    "dangling": {"secret_ref": "nowhere"}},
                                         "secrets": {"in-file": "Zx-in-file"}}}))
    code, out, err = await cli(env, "import", str(path))
    assert code == 0 and err.count("warning:") == 1 and "warning" not in out
    assert "acme dangling:" in err and "acme--nowhere" in err and "Zx-" not in out + err


async def test_an_import_file_with_a_json_syntax_error_names_line_and_column(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "seed.json"
    path.write_text('{\n  "acme": {\n    "config": {"a": 1,}\n  }\n}\n')
    code, out, err = await cli(env, "import", str(path))
    assert code == 2 and "line 3 column" in err and "not valid JSON" in err and not out


async def test_an_import_value_that_does_not_parse_names_its_key(
    env: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"acme": {"config": {
        "smtp_port": {"value": "Zx-not-a-port", "type": "int"}}}}))
    code, out, err = await cli(env, "import", str(path))
    assert code == 2 and "acme smtp_port" in err and "'int'" in err
    assert "Zx-not-a-port" not in out + err


def test_a_pasted_secret_as_import_reference_is_not_repeated() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_import({"acme": {"config": {"pwd": {"secret_ref": "Zx pasted secret!"}}}})
    assert "acme pwd" in str(caught.value) and "Zx" not in str(caught.value)


async def test_set_lists_the_allowed_types(env: dict[str, str]) -> None:
    code, _, err = await cli(env, "set", "acme", "k", "v", "--type", "integer")
    assert code == 2 and "string, int, float, bool, json, secret_ref" in err.replace("'", "")


def test_a_relative_ca_file_in_a_settings_file_is_relative_to_that_file(tmp_path: Path) -> None:
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"Values": {"AZURE_KEY_VAULT_CA_FILE": ".local/kv/ca.pem"}}))
    assert load_settings_file(path)["AZURE_KEY_VAULT_CA_FILE"] == str(
        tmp_path / ".local" / "kv" / "ca.pem")


async def test_cli_writes_leave_audit_records_naming_the_local_user(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="orgconfig.audit")
    await cli(env, "set", "acme", "smtp_port", "587", "--type", "int")
    await cli(env, "secret", "set", "acme", "smtp-password", stdin="Zx-cli-audit\n")
    records = [dimensions(r) for r in caplog.records
               if r.name == "orgconfig.audit" and "action" in dimensions(r)]
    actor = f"cli:{getpass.getuser()}"
    assert [(r["action"], r["scope"], r["actor_id"]) for r in records] == [
        ("config.put", "acme", actor), ("secret.put", "acme", actor)]
    assert not any("Zx-cli-audit" in r.getMessage() + repr(r.__dict__) for r in caplog.records)


class CliDeclared(BaseModel):
    cli_port: int = Field(ge=1, le=65535)


@pytest.fixture
def cli_declared_workflow() -> Iterator[str]:
    async def run_it(context: object, params: object, config: CliDeclared) -> dict[str, int]:
        return {"port": config.cli_port}

    registry.workflow("cli-test-declared", config=CliDeclared)(run_it)
    yield "cli-test-declared"
    registry.unregister("cli-test-declared")


async def test_set_warns_on_stderr_when_a_value_breaks_a_declared_constraint(
    env: dict[str, str], cli_declared_workflow: str
) -> None:
    # as the API's PUT answer: saved (exit 0), the warning on stderr, never the value
    code, out, err = await cli(env, "set", "acme", "cli_port", "70000", "--type", "int")
    assert code == 0 and out.startswith("set acme cli_port") and "warning" not in out
    (line,) = err.splitlines()
    assert line.startswith("warning: ") and cli_declared_workflow in line
    assert "cli_port" in line and "(invalid)" in line and "70000" not in line
    code, out, err = await cli(env, "get", "acme", "cli_port")
    assert code == 0 and out.strip() == "acme cli_port = 70000"
    code, _, err = await cli(env, "set", "acme", "cli_port", "Zx-not-a-port")
    assert code == 0 and "(wrong_type)" in err and "Zx-not-a-port" not in err
    code, _, err = await cli(env, "set", "acme", "cli_port", "587", "--type", "int")
    assert (code, err) == (0, "")


async def test_import_warns_on_stderr_for_each_entry_breaking_a_declared_constraint(
    env: dict[str, str], tmp_path: Path, cli_declared_workflow: str
) -> None:
    path = tmp_path / "seed.json"
    path.write_text(json.dumps({"acme": {"config": {"cli_port": 0}},
                                "beta": {"config": {"cli_port": 587}},
                                "GLOBAL": {"config": {"cli_port": "Zx-text"}}}))
    code, out, err = await cli(env, "import", str(path))
    assert code == 0 and "imported 3 config entries" in out and "warning" not in out
    lines = sorted(err.splitlines())
    assert len(lines) == 2 and all(line.startswith("warning: ") for line in lines)
    assert lines[0].startswith("warning: GLOBAL cli_port: ") and "(wrong_type)" in lines[0]
    assert lines[1].startswith("warning: acme cli_port: ") and "(invalid)" in lines[1]
    assert "Zx-text" not in err


async def test_set_with_a_workflows_module_that_does_not_import_still_saves(
    env: dict[str, str]
) -> None:
    code, out, err = await cli(env, "set", "acme", "k", "v", "--workflows", "no_such_wf_mod")
    assert code == 0 and out.startswith("set acme k")
    assert err.startswith("warning: declared config not checked") and "no_such_wf_mod" in err
    assert (await cli(env, "get", "acme", "k"))[1].strip() == 'acme k = "v"'
