"""The CLI's API verbs (config delete; secret list, delete, versions, rollback, recover), GLOBAL
as a scope of ``get``, and its error discipline: output on stdout; warnings and errors on
stderr, each error one line ``error: ...`` with exit 2, never a traceback, never a value."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import io
import logging
import os
import pty
import select
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from shared.cli import main as cli_main
from shared.cli.main import _parser, run
from shared.core.audit import dimensions
from shared.resolver import ConfigResolver
from tests.cli_io import Pipe
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import REPO_ROOT, Azurite

pytestmark = pytest.mark.integration

MASK = "********"


class Terminal(io.StringIO):
    """stdin as a terminal: the CLI prompts (getpass, patched in the tests)."""

    def isatty(self) -> bool:
        return True


async def cli(env: dict[str, str], *argv: str, stdin: str = "",
              tty: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await run(list(argv), out=out, stdin=Terminal() if tty else Pipe(stdin), env=env,
                     err=err)
    return code, out.getvalue(), err.getvalue()


def one_error_line(code: int, out: str, err: str) -> None:
    assert code == 2 and not out, (code, out, err)
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err


def audit_actions(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    return [(dimensions(r)["action"], dimensions(r)["scope"])
            for r in caplog.records
            if r.name == "orgconfig.audit" and "action" in dimensions(r)]


# -- 1. the hidden prompt -------------------------------------------------------------------
async def test_ctrl_d_at_the_secret_prompt_writes_nothing(
    env: dict[str, str], kv_control: EmulatorControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    def eof(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", eof)
    code, out, err = await cli(env, "secret", "set", "acme", "smtp-password", tty=True)
    one_error_line(code, out, err)
    assert "no value entered; nothing was written" in err
    assert kv_control.count("set_secret") == 0


async def test_ctrl_c_at_the_secret_prompt_exits_130(
    env: dict[str, str], kv_control: EmulatorControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupt(prompt: str = "") -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(getpass, "getpass", interrupt)
    code, out, err = await cli(env, "secret", "set", "acme", "smtp-password", tty=True)
    assert code == 130 and not out and "nothing was written" in err and "Traceback" not in err
    assert kv_control.count("set_secret") == 0


def _on_a_terminal(env: dict[str, str], keys: bytes) -> tuple[int, str]:
    """``python -m shared.cli secret set`` on a real pseudo-terminal: ``keys`` typed at the
    hidden prompt; returns the exit code and everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: a session leader with the pty as its controlling terminal
        os.chdir(REPO_ROOT)
        argv = [sys.executable, "-m", "shared.cli", "secret", "set", "acme", "smtp-password"]
        os.execve(sys.executable, argv, dict(env, PATH=os.environ.get("PATH", "")))  # noqa: S606
    shown, sent, deadline = b"", False, time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            if not sent and b"secret value (hidden):" in shown:
                time.sleep(0.2)  # the prompt is up and the terminal is in no-echo mode
                os.write(fd, keys)
                sent = True
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert sent, shown
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


def test_ctrl_d_and_ctrl_c_on_a_real_terminal_show_no_traceback(
    env: dict[str, str], kv_control: EmulatorControl
) -> None:
    code, shown = _on_a_terminal(env, b"\x04")  # Ctrl-D
    assert code == 2 and "error: no value entered; nothing was written" in shown
    assert "Traceback" not in shown and "EOFError" not in shown
    code, shown = _on_a_terminal(env, b"\x03")  # Ctrl-C, once
    assert code == 130 and "nothing was written" in shown and "Traceback" not in shown
    assert kv_control.count("set_secret") == 0


# -- 2. and 6. errors: stderr, one line, exit 2 ------------------------------------------------
async def test_normal_output_on_stdout_errors_on_stderr(env: dict[str, str]) -> None:
    code, out, err = await cli(env, "set", "acme", "smtp_port", "587", "--type", "int")
    assert code == 0 and out.startswith("set acme smtp_port") and not err
    one_error_line(*await cli(env, "set", "acme", "smtp_port", "Zx-nan", "--type", "int"))


async def test_an_invalid_org_id_is_one_error_line(env: dict[str, str]) -> None:
    for argv in (["get", "Bad Org!", "k"], ["list", "Bad Org!"], ["set", "x--y", "k", "v"],
                 ["secret", "list", "--scope", "Bad Org!"], ["delete", "a_b", "k"]):
        code, out, err = await cli(env, *argv)
        one_error_line(code, out, err)
        assert "org id" in err


async def test_a_missing_settings_file_is_one_error_line(tmp_path: Path) -> None:
    code, out, err = await cli({}, "--settings", str(tmp_path / "absent.json"), "list", "acme")
    one_error_line(code, out, err)
    assert "absent.json" in err


async def test_an_unreachable_table_is_one_error_line(env: dict[str, str],
                                                      azurite: Azurite) -> None:
    broken = dict(env, CONFIG_STORAGE_CONNECTION=azurite.connection_string.replace(
        str(azurite.port), "1"), BACKEND_TIMEOUT_SECONDS="1")
    for argv in (["list", "acme"], ["get", "acme", "k"], ["delete", "acme", "k"]):
        code, out, err = await cli(broken, *argv)
        one_error_line(code, out, err)
        assert "unreachable" in err or "unavailable" in err


async def test_an_unreachable_vault_is_one_error_line(env: dict[str, str]) -> None:
    broken = dict(env, AZURE_KEY_VAULT_URL="https://127.0.0.1:1", BACKEND_TIMEOUT_SECONDS="1")
    for argv in (["secret", "list"], ["secret", "versions", "acme", "x"]):
        one_error_line(*await cli(broken, *argv))


async def test_an_unforeseen_failure_is_one_error_line(env: dict[str, str]) -> None:
    code, out, err = await cli(dict(env, CONFIG_STORAGE_CONNECTION="not a connection string"),
                               "list", "acme")
    one_error_line(code, out, err)


async def test_usage_errors_keep_argparse_exit_2_on_stderr(env: dict[str, str]) -> None:
    code, out, err = await cli(env, "frobnicate")
    assert code == 2 and not out and "invalid choice" in err and "Traceback" not in err
    code, out, err = await cli(env, "secret", "delete", "acme")
    assert code == 2 and not out and "required" in err


# -- 3. help ------------------------------------------------------------------------------
def _commands(parser: argparse.ArgumentParser, path: str = ""
              ) -> dict[str, tuple[str, argparse.ArgumentParser]]:
    """Every (sub)command: its help in the parent's list, and its parser."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, child in action.choices.items():
                found[f"{path}{name}"] = (helps.get(name, ""), child)
                found |= _commands(child, f"{path}{name} ")
    return found


async def test_help_is_plain_text_and_every_command_has_help(env: dict[str, str]) -> None:
    code, out, err = await cli(env, "--help")
    assert code == 0 and not err and "``" not in out and "usage: python -m shared.cli" in out
    assert "Exit codes" in out
    commands = _commands(_parser())
    assert {"get", "list", "set", "delete", "import", "secret set", "secret list",
            "secret delete", "secret versions", "secret rollback", "secret recover",
            "catalog reconcile", "catalog expiring", "doctor", "move-org"} <= set(commands)
    assert not [name for name, (text, parser) in commands.items()
                if not text or not parser.description or "``" in parser.description]
    undocumented = [f"{name}: {action.dest}" for name, (_, parser) in commands.items()
                    for action in parser._actions if not action.help]
    assert not undocumented
    for name in commands:
        code, out, err = await cli(env, *name.split(), "--help")
        assert code == 0 and "``" not in out and not err, name


# -- 4. get GLOBAL ------------------------------------------------------------------------
async def test_get_global_shows_globals_own_value_and_masks_secrets(env: dict[str, str]) -> None:
    await cli(env, "set", "GLOBAL", "smtp_port", "25", "--type", "int")
    await cli(env, "set", "acme", "smtp_port", "587", "--type", "int")
    code, out, err = await cli(env, "get", "GLOBAL", "smtp_port")
    assert code == 0 and out == "GLOBAL smtp_port = 25\n" and not err
    await cli(env, "secret", "set", "GLOBAL", "smtp-password", stdin="Zx-global-get")
    await cli(env, "set", "global", "smtp_password", "smtp-password", "--type", "secret_ref")
    code, out, err = await cli(env, "get", "global", "smtp_password", "--explain")
    assert code == 0 and out.startswith(f"GLOBAL smtp_password = {MASK}\n") and not err
    assert "keyvault:GLOBAL--smtp-password" in out and "Zx-" not in out
    code, out, err = await cli(env, "get", "GLOBAL", "absent")
    assert code == 1 and not out and "not set" in err


async def test_get_global_of_a_dangling_secret_ref_is_an_error(env: dict[str, str]) -> None:
    await cli(env, "set", "GLOBAL", "pwd", "nowhere", "--type", "secret_ref")
    code, out, err = await cli(env, "get", "GLOBAL", "pwd")
    one_error_line(code, out, err)
    assert "GLOBAL--nowhere" in err


# -- 5. config delete ---------------------------------------------------------------------
async def test_delete_removes_an_entry_audits_and_falls_back_to_global(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    await cli(env, "set", "GLOBAL", "smtp_port", "25", "--type", "int")
    await cli(env, "set", "acme", "smtp_port", "587", "--type", "int")
    caplog.set_level(logging.INFO, logger="orgconfig.audit")
    code, out, err = await cli(env, "delete", "Acme", "smtp_port")
    assert code == 0 and "deleted acme smtp_port" in out and "GLOBAL" in out and not err
    assert ("config.delete", "acme") in audit_actions(caplog)
    assert (await cli(env, "get", "acme", "smtp_port"))[1] == "acme smtp_port = 25\n"
    code, out, err = await cli(env, "delete", "acme", "smtp_port")
    one_error_line(code, out, err)
    assert "no config entry" in err


# -- 5. secret list / delete / versions / rollback / recover -------------------------------------
async def test_secret_list_shows_names_and_what_resolves_to_each_never_values(
    env: dict[str, str]
) -> None:
    await cli(env, "secret", "set", "GLOBAL", "smtp-password", stdin="Zx-list-global")
    await cli(env, "secret", "set", "acme", "smtp-password", stdin="Zx-list-acme")
    await cli(env, "set", "GLOBAL", "smtp_password", "smtp-password", "--type", "secret_ref")
    await cli(env, "set", "acme", "mail_pwd", "smtp-password", "--type", "secret_ref")
    await cli(env, "set", "beta", "pwd", "smtp-password", "--type", "secret_ref")
    await cli(env, "set", "acme", "dangling", "nowhere", "--type", "secret_ref")
    code, out, err = await cli(env, "secret", "list", "--scope", "ACME")
    assert code == 0 and "Zx-" not in out + err
    lines = out.splitlines()
    [glob] = [line for line in lines if line.startswith("GLOBAL smtp-password ")]
    [own] = [line for line in lines if line.startswith("acme smtp-password ")]
    # acme resolves both of its references to its own secret, none to GLOBAL's
    assert "acme--smtp-password" in own and "enabled" in own and "no expiry" in own
    assert "used by: GLOBAL/smtp_password, acme/mail_pwd" in own
    assert "GLOBAL--smtp-password" in glob and "used by: none" in glob
    assert "2 secrets" in lines[-1]
    assert err.count("warning:") == 1 and "acme/dangling" in err and "nowhere" in err
    code, out, err = await cli(env, "secret", "list")  # GLOBAL's, as every scope sees it
    [glob] = out.splitlines()[:1]
    assert code == 0 and "used by: GLOBAL/smtp_password, beta/pwd" in glob, out
    assert "acme" not in out


async def test_secret_delete_is_refused_while_referenced_unless_forced(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    await cli(env, "secret", "set", "acme", "api-key", stdin="Zx-del")
    await cli(env, "set", "acme", "api_key", "api-key", "--type", "secret_ref")
    await cli(env, "set", "GLOBAL", "shared_key", "api-key", "--type", "secret_ref")
    caplog.set_level(logging.INFO, logger="orgconfig.audit")
    code, out, err = await cli(env, "secret", "delete", "acme", "api-key")
    one_error_line(code, out, err)
    assert "2 config entries" in err and "GLOBAL/shared_key, acme/api_key" in err
    assert "--force" in err
    assert "acme api-key " in (await cli(env, "secret", "list", "--scope", "acme"))[1]
    code, out, err = await cli(env, "secret", "delete", "acme", "api-key", "--force")
    assert code == 0 and "deleted secret acme--api-key" in out and "recover" in out
    assert "warning:" in err and "acme/api_key" in err
    assert ("secret.delete", "acme") in audit_actions(caplog)
    assert "acme api-key " not in (await cli(env, "secret", "list", "--scope", "acme"))[1]
    code, out, err = await cli(env, "secret", "delete", "acme", "api-key")
    one_error_line(code, out, err)
    assert "soft-deleted" in err and "secret recover acme api-key" in err


async def test_secret_delete_of_an_unused_secret_needs_no_force(env: dict[str, str]) -> None:
    await cli(env, "secret", "set", "acme", "spare", stdin="Zx-spare")
    code, out, err = await cli(env, "secret", "delete", "acme", "spare")
    assert code == 0 and "deleted secret acme--spare" in out and not err


async def test_secret_recover_restores_a_deleted_secret(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    await cli(env, "secret", "set", "acme", "api-key", stdin="Zx-recover")
    await cli(env, "set", "acme", "api_key", "api-key", "--type", "secret_ref")
    await cli(env, "secret", "delete", "acme", "api-key", "--force")
    assert (await cli(env, "get", "acme", "api_key"))[0] == 2
    caplog.set_level(logging.INFO, logger="orgconfig.audit")
    code, out, err = await cli(env, "secret", "recover", "acme", "api-key")
    assert code == 0 and "recovered secret acme--api-key" in out and not err
    assert ("secret.recover", "acme") in audit_actions(caplog)
    assert (await cli(env, "get", "acme", "api_key"))[1] == f"acme api_key = {MASK}\n"
    one_error_line(*await cli(env, "secret", "recover", "acme", "api-key"))


async def test_secret_versions_and_rollback_never_show_a_value(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    await cli(env, "secret", "set", "acme", "api-key", stdin="Zx-first")
    await cli(env, "secret", "set", "acme", "api-key", stdin="Zx-second")
    code, out, err = await cli(env, "secret", "versions", "acme", "api-key")
    assert code == 0 and "acme--api-key: 2 versions" in out and not err
    rows = out.splitlines()[1:]
    assert rows[0].split()[0] == "current" and f"by cli:{getpass.getuser()}" in rows[0]
    first = rows[1].split()[0]
    caplog.set_level(logging.INFO, logger="orgconfig.audit")
    code, out, err = await cli(env, "secret", "rollback", "acme", "api-key", first)
    assert code == 0 and f"to version {first}" in out and MASK in out and not err
    assert ("secret.rollback", "acme") in audit_actions(caplog)
    code, out, _ = await cli(env, "secret", "versions", "acme", "api-key")
    assert "3 versions" in out and f"rolled back from {first}" in out.splitlines()[1]
    one_error_line(*await cli(env, "secret", "rollback", "acme", "api-key", "nosuchversion"))
    one_error_line(*await cli(env, "secret", "versions", "acme", "absent"))
    records = "".join(r.getMessage() + repr(r.__dict__) for r in caplog.records)
    assert "Zx-" not in out + records


async def test_secret_writes_reach_a_resolver_that_cached_the_old_value(
    env: dict[str, str], make_resolver: Callable[..., ConfigResolver]
) -> None:
    """Each write calls notify_change: an instance that read the secret sees the change."""
    await cli(env, "secret", "set", "acme", "api-key", stdin="Zx-v1")
    await cli(env, "secret", "set", "acme", "api-key", stdin="Zx-v2")
    await cli(env, "set", "acme", "api_key", "api-key", "--type", "secret_ref")
    async with make_resolver(coherence_check_seconds=0.1) as other:
        ctx = other.context("acme")
        assert await ctx.get_config("api_key") == "Zx-v2"
        first = (await cli(env, "secret", "versions", "acme", "api-key"))[1].splitlines()[2]
        await cli(env, "secret", "rollback", "acme", "api-key", first.split()[0])
        deadline = time.monotonic() + 10
        while await ctx.get_config("api_key") != "Zx-v1" and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert await ctx.get_config("api_key") == "Zx-v1"


def test_main_turns_ctrl_c_into_exit_130(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    async def interrupted(argv: list[str]) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_main, "run", interrupted)
    assert cli_main.main(["doctor"]) == 130
    assert "Traceback" not in capsys.readouterr().err

