"""`make serve`'s entry point as a user runs it: a subprocess on free ports that seeds
(with the secret catalog on), serves the API over HTTP and stops everything on Ctrl-C
(SIGINT) or SIGTERM, or when a service dies (naming it); a port in use stops it at once."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.serve import OTHER_PORTS, READY_PREFIX, dev_principal
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
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

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


def test_serve_seeds_with_the_secret_catalog_in_use(serve: Serve) -> None:
    assert any(line.startswith("secret catalog reconciled") for line in serve.lines)
    status, body = serve.get("health/keyvault", principal=dev_principal())
    assert status == 200 and body["status"] == "connected"
    assert body["catalog"] == "in_use" and body["catalog_reconciled_at"]


@pytest.mark.parametrize(("index", "name"), [(0, "Azurite"), (1, "Key Vault emulator")])
def test_a_service_dying_stops_everything_naming_it(serve: Serve, index: int, name: str
                                                    ) -> None:
    died = serve.ready["pids"][index]
    os.killpg(died, signal.SIGKILL)
    assert serve.proc.wait(30) == 1
    serve.reader.join(5)
    output = "\n".join(serve.lines)
    assert f"{name} exited unexpectedly (killed by SIGKILL); last lines of its log:" in output
    assert "a service exited unexpectedly" not in output
    if name == "Key Vault emulator":  # it prints where it serves once ready: its log's tail
        assert "  | Stop with Ctrl+C." in output
    assert [pid for pid in serve.ready["pids"] if alive(pid)] == []
    assert "stopped the host, Azurite and the Key Vault emulator" in serve.lines


@pytest.mark.parametrize("option", ["--port", "--table-port", "--vault-port", "--control-port"])
def test_a_port_in_use_stops_serve_at_once_suggesting_the_make_variables(
    tmp_path: Path, option: str
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        ports = {"--port": free_port(), "--table-port": 0, "--vault-port": 0,
                 "--control-port": 0, option: port}
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "tools.serve", *[str(x) for kv in ports.items() for x in kv],
             "--state", str(tmp_path / "state")],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
        )
    elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert elapsed < 10  # the interpreter's start and imports; no service start timeout
    assert f"port {port} of 127.0.0.1 is in use" in done.stdout
    assert OTHER_PORTS in done.stdout and "--port" not in done.stdout
    assert not (tmp_path / "state").exists()  # nothing was started


def test_serve_points_the_emulators_events_at_keyvault_events(serve: Serve) -> None:
    """A secret rotated directly in the emulator with the SDK (no admin API call) reaches the
    app through the emulator's Event Grid delivery: the catalog row is refreshed, so the
    health report lists the new version's near expiry."""
    import datetime

    from azure.keyvault.secrets import SecretClient

    from tests.test_keyvault_emulator import FakeCredential
    from tools.keyvault_emulator.control import EmulatorControl

    events_url = serve.ready["events_url"]
    assert events_url == (serve.ready["url"]
                          + "/runtime/webhooks/eventgrid?functionName=keyvault_events")
    assert any(events_url in line for line in serve.lines)
    control = EmulatorControl(serve.ready["control_url"])
    assert control.events()["endpoint"] == events_url.split("?")[0] + "?..."
    client = SecretClient(serve.ready["vault_url"], FakeCredential(),
                          verify_challenge_resource=False,
                          connection_verify=serve.ready["ca_file"])
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)
    with client:
        client.set_secret("acme--graph-client-secret", "rotated-in-vault", expires_on=expires)
    deadline = time.monotonic() + 20
    while True:
        status, body = serve.get("health/keyvault", principal=dev_principal())
        found = [s["name"] for s in body.get("expiring_secrets", {}).get("acme", [])]
        if status == 200 and "graph-client-secret" in found:
            break
        assert time.monotonic() < deadline, f"no event reached the app: {body}"
        time.sleep(0.1)
    shown = control.events()
    assert shown["validated"] is True and shown["delivered"] >= 1
    assert "rotated-in-vault" not in "\n".join(serve.lines)
