"""The azd postdeploy hook turns the secret catalog on at once: ``infra/hooks/catalog-on.sh``
runs the ``catalog_reconcile`` timer function once through the Functions admin API, over
real HTTP (curl) to a stand-in of the app; only the Azure CLI, which would need a
subscription, is a stub that prints a master key."""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from shared.admin import reconcile_timer

ROOT = Path(__file__).resolve().parent.parent
HOOKS = ROOT / "infra" / "hooks"
MASTER_KEY = "master-key-0123456789abcdef"


@dataclass
class App:
    """A stand-in of the function app's host: records each request, answers ``status``."""

    url: str
    status: int = 202
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def app() -> Iterator[App]:
    state = App("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.requests.append(("POST", self.path, dict(self.headers.items()), body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def run_hook(tmp_path: Path, app: App, *,
             key: str = MASTER_KEY) -> subprocess.CompletedProcess[str]:
    stub = tmp_path / "bin"
    stub.mkdir(exist_ok=True)
    az = stub / "az"
    az.write_text(f"#!/bin/sh\n[ -n '{key}' ] && echo '{key}' || exit 1\n")
    az.chmod(0o755)
    env = {"PATH": f"{stub}{os.pathsep}{os.environ['PATH']}", "AZURE_FUNCTION_APP_NAME": "func-x",
           "AZURE_RESOURCE_GROUP": "rg-x", "SERVICE_API_URI": app.url}
    return subprocess.run(["sh", str(HOOKS / "catalog-on.sh")], env=env, text=True,
                          capture_output=True, timeout=60, check=False)


def test_the_hook_runs_the_catalog_reconcile_once_through_the_admin_api(
    tmp_path: Path, app: App,
) -> None:
    done = run_hook(tmp_path, app)
    assert done.returncode == 0
    assert "catalog_reconcile started" in done.stdout
    assert MASTER_KEY not in done.stdout + done.stderr  # the key is never printed
    [(method, path, headers, body)] = app.requests
    assert (method, path) == ("POST", "/admin/functions/catalog_reconcile")
    assert path.rsplit("/", 1)[1] == reconcile_timer.catalog_reconcile._function.get_function_name()
    assert headers["x-functions-key"] == MASTER_KEY
    assert body == b'{"input": ""}'


@pytest.mark.parametrize("status", [302, 401, 500])
def test_a_refused_run_leaves_it_to_the_first_request_and_never_fails_the_deploy(
    tmp_path: Path, app: App, status: int,
) -> None:
    app.status = status  # e.g. 302: App Service authentication sent it to the login page
    done = run_hook(tmp_path, app)
    assert done.returncode == 0
    assert f"did not start (HTTP {status})" in done.stdout
    assert "first instance builds it on its first request" in done.stdout


def test_without_the_master_key_nothing_is_sent(tmp_path: Path, app: App) -> None:
    done = run_hook(tmp_path, app, key="")
    assert done.returncode == 0 and "could not read the app's master key" in done.stdout
    assert app.requests == []


def test_azd_runs_it_after_each_deploy_and_the_admin_path_passes_sign_in() -> None:
    azure_yaml = (ROOT / "azure.yaml").read_text()
    assert "run: ./infra/hooks/postdeploy.sh" in azure_yaml
    assert "run: ./infra/hooks/postdeploy.ps1" in azure_yaml
    for suffix in ("sh", "ps1"):
        script = (HOOKS / f"postdeploy.{suffix}").read_text()
        assert script.index(f"catalog-on.{suffix}") < script.index(f"wire-keyvault-events.{suffix}")
    bicep = (ROOT / "infra" / "app" / "function.bicep").read_text()
    excluded = re.search(r"excludedPaths: \[(.*?)\]", bicep, re.S)
    assert excluded is not None and "'/admin/functions/catalog_reconcile'" in excluded.group(1)
