"""What every CLI command shares: reading ``local.settings.json``, the masked display, the
secret prompt and the CLI's actor."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import TextIO

from shared.core.audit import Actor
from shared.errors import ConfigError
from shared.settings import CA_FILE_SETTING

MASK = "********"


def load_settings_file(path: Path) -> dict[str, str]:
    """The ``Values`` of a Functions ``local.settings.json``.

    A relative ``AZURE_KEY_VAULT_CA_FILE`` is taken relative to the file's folder (as
    ``func start``, which runs there, would), so the CLI works from any directory.
    """
    try:
        values = json.loads(path.read_text())["Values"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"cannot read Values from {path}: {exc.__class__.__name__}") from None
    values = {str(k): str(v) for k, v in values.items()}
    ca_file = values.get(CA_FILE_SETTING)
    if ca_file and not Path(ca_file).is_absolute():
        values[CA_FILE_SETTING] = str(path.resolve().parent / ca_file)
    return values


def print_warnings(warnings: list[str], out: TextIO) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=out)


def read_secret_value(stdin: TextIO) -> str:
    """From a pipe: all of stdin minus one trailing newline; from a terminal: a hidden prompt."""
    if stdin.isatty():
        value = getpass.getpass("secret value (hidden): ")
        if getpass.getpass("again: ") != value:
            raise ConfigError("the two entries differ; nothing was written")
    else:
        value = stdin.read()
        value = value[:-1] if value.endswith("\n") else value
    if not value:
        raise ConfigError("empty secret value; nothing was written")
    return value


def cli_actor() -> Actor:
    """The CLI's actor in audit records and ``UpdatedBy``: the local user name."""
    return Actor.of(f"cli:{getpass.getuser()}", "")

