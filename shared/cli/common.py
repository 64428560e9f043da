"""What every CLI command shares: reading ``local.settings.json``, the masked display, the
secret prompt, warnings on stderr and the CLI's actor."""

from __future__ import annotations

import getpass
import json
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
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


class Interrupted(Exception):
    """Ctrl-C at a prompt: the CLI exits 130 without a traceback, nothing written."""


def print_warnings(warnings: list[str], err: TextIO) -> None:
    """Warnings go to stderr (``err``), one line each; they do not change the exit code."""
    for warning in warnings:
        print(f"warning: {warning}", file=err)


@contextmanager
def _interruptible() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt at once while a blocking prompt waits: the event
    loop's own SIGINT handler only cancels the main task, which a blocking read does not
    notice until Enter."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _prompt(text: str) -> str:
    try:
        with _interruptible():
            return getpass.getpass(text)
    except EOFError:
        raise ConfigError("no value entered; nothing was written") from None
    except KeyboardInterrupt:
        raise Interrupted("interrupted; nothing was written") from None


def read_secret_value(stdin: TextIO) -> str:
    """From a pipe: all of stdin minus one trailing newline; from a terminal: a hidden prompt
    (Ctrl-D: :class:`ConfigError`; Ctrl-C: :class:`Interrupted`; nothing written either way)."""
    if stdin.isatty():
        value = _prompt("secret value (hidden): ")
        if _prompt("again: ") != value:
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

