"""``make dev``: the Values it prints are complete, and a second run fails at once."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from shared.settings import Settings
from tools import devservices
from tools.services import REPO_ROOT, free_port

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def running_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[int], str]]:
    """``make dev`` (tools.devservices) on free ports with its state in a temp folder;
    yields its ports and what it printed up to "Ctrl-C stops both."."""
    ports = [free_port(), free_port(), free_port()]
    local = tmp_path_factory.mktemp("dev-local")
    code = f"from tools.devservices import main; main({ports[0]}, {ports[1]}, {ports[2]}, " \
           f"__import__('pathlib').Path({str(local)!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("Ctrl-C stops both."):
            break
    try:
        yield ports, "".join(lines)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)


def printed_values(output: str) -> dict[str, str]:
    start = output.index("{")
    document = json.loads(output[start: output.rindex("}") + 1])
    return dict(document["Values"])


def test_the_printed_values_include_the_dev_principal_opt_in(running_dev: tuple[list[int], str]
                                                             ) -> None:
    values = printed_values(running_dev[1])
    assert values["ORGCONFIG_TRUST_DEV_PRINCIPAL"] == "true"
    settings = Settings.from_env(values)
    assert settings.is_development and settings.trust_dev_principal
    assert settings.key_vault_ca_file and Path(settings.key_vault_ca_file).is_file()


def test_a_second_make_dev_fails_at_once_saying_why(running_dev: tuple[list[int], str],
                                                    tmp_path: Path) -> None:
    out = io.StringIO()
    started = time.monotonic()
    with redirect_stdout(out):
        code = devservices.main(*running_dev[0], local=tmp_path)
    assert code == 1 and time.monotonic() - started < 2
    message = out.getvalue()
    assert str(running_dev[0][0]) in message and "already running" in message
    assert "--port" not in message
    assert not (tmp_path / "azurite").exists()  # nothing was started
