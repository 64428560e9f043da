"""`make serve`'s entry point as a user runs it: a subprocess on free ports that seeds,
serves the API over HTTP and stops everything on Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.serve import READY_PREFIX, dev_principal
from tools.services import REPO_ROOT, free_port

pytestmark = pytest.mark.integration


class Serve:
    """``python -m tools.serve`` on free ports with its state in a temporary folder."""

    def __init__(self, state: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONFIG_", "AZURE_"))}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tools.serve", "--port", str(free_port()),
             "--table-port", "0", "--vault-port", "0", "--control-port", "0",
             "--state", str(state)],
            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self.lines: list[str] = []
        self.ready: dict[str, Any] = {}
        got_ready = threading.Event()

        def read() -> None:
            assert self.proc.stdout is not None
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace").rstrip()
                self.lines.append(line)
                if line.startswith(READY_PREFIX):
                    self.ready = json.loads(line[len(READY_PREFIX):])
                    got_ready.set()
            got_ready.set()

        self.reader = threading.Thread(target=read, daemon=True)
        self.reader.start()
        if not got_ready.wait(90) or not self.ready:
            self.kill()
            pytest.fail("make serve did not get ready:\n" + "\n".join(self.lines[-40:]))

    def get(self, path: str, principal: str | None = None) -> tuple[int, Any]:
        request = urllib.request.Request(f"{self.ready['base_url']}/{path}")
        if principal:
            request.add_header("X-MS-CLIENT-PRINCIPAL", principal)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        code = self.proc.wait(30)
        self.reader.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for pid in self.ready.get("pids", []):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Serve]:
    running = Serve(tmp_path / "state")
    try:
        yield running
    finally:
        running.kill()


def test_serve_seeds_serves_and_stops_everything_on_ctrl_c(serve: Serve) -> None:
    assert serve.get("health") == (200, {"status": "ok"})
    status, body = serve.get("orgs/acme/config", principal=dev_principal())
    assert status == 200 and "smtp_host" in [e["key"] for e in body["entries"]]
    assert f"{serve.ready['base_url']}/admin" in "\n".join(serve.lines)
    assert any("curl -H 'X-MS-CLIENT-PRINCIPAL: " in line for line in serve.lines)
    assert len(serve.ready["pids"]) == 2

    assert serve.stop(signal.SIGINT) == 0
    assert [pid for pid in serve.ready["pids"] if alive(pid)] == []
    assert "stopped the host, Azurite and the Key Vault emulator" in serve.lines


def test_serve_stops_everything_on_sigterm(serve: Serve) -> None:
    assert serve.stop(signal.SIGTERM) == 0
    assert [pid for pid in serve.ready["pids"] if alive(pid)] == []


def test_a_second_start_keeps_the_state_and_does_not_seed_again(tmp_path: Path) -> None:
    first = Serve(tmp_path / "state")
    try:
        assert any(line.startswith("seeded ") for line in first.lines)
        assert first.stop(signal.SIGINT) == 0
    finally:
        first.kill()
    second = Serve(tmp_path / "state")
    try:
        assert not any(line.startswith("seeded ") for line in second.lines)
        status, body = second.get("orgs/acme/config", principal=dev_principal())
        assert status == 200 and body["entries"]
        assert second.stop(signal.SIGINT) == 0
    finally:
        second.kill()
