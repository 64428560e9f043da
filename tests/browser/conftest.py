"""Browser tests: Debian's Chromium, driven by Playwright, against ``make serve``'s stack.

One ``python -m tools.serve`` subprocess per run of this package (Azurite, the Key Vault emulator
and the local Functions host, all on free loopback ports, state in a temporary folder,
``examples/seed.json`` seeded), one Chromium per run, a fresh browser context per
test. The browser sends ``X-MS-CLIENT-PRINCIPAL`` as App Service authentication would
after sign-in (the stack runs in Development with the dev-principal opt-in); a tab that
sends none is signed in by ``make serve`` as its dev admin.

Tests write their own orgs (``t-…``) and secret names, so they need no reset between
them. Each test fails if the page logged a console error (a CSP violation is one) or
opened a dialog (``alert(1)`` from an injected script would be one).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tools.keyvault_emulator.certs import CERT_FILE
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import REPO_ROOT, Azurite, free_port

CHROMIUM = os.environ.get("ORGCONFIG_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: Screenshots of the main views (git-ignored); docs/admin-page.png is copied from here.
SCREENSHOTS = REPO_ROOT / "tests" / "browser" / "screenshots"
READY_PREFIX = "ORGCONFIG_SERVE_READY "


def principal(*roles: str, name: str = "admin@example.com") -> str:
    """An X-MS-CLIENT-PRINCIPAL as App Service authentication sends it."""
    claims = [{"typ": "name", "val": name}] + [{"typ": "roles", "val": r} for r in roles]
    document = {"auth_typ": "aad", "claims": claims, "name_typ": "name", "role_typ": "roles"}
    return base64.b64encode(json.dumps(document).encode()).decode()


ADMIN = principal("PlatformAdmin")
OTHER_ADMIN = principal("PlatformAdmin", name="other-admin@example.com")
NOT_ADMIN = principal("org:acme", name="member@acme.example")


# -- the stack ----------------------------------------------------------------------------------
@dataclass
class Stack:
    """``make serve`` on free ports: the API's base URL and the emulator's control API."""

    base_url: str
    control: EmulatorControl
    #: settings pointing another app process at the same table and vault
    app_env: dict[str, str]

    @property
    def page_url(self) -> str:
        return f"{self.base_url}/admin"


# Package scope, not session: the sync Playwright keeps an event loop running in this
# thread while it lives, which the asyncio tests of other packages cannot share.
@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("serve")
    control_port, table_port, vault_port = free_port(), free_port(), free_port()
    log_path = state / "serve.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "BREAKER_COOLDOWN_SECONDS": "1",
           "BACKEND_TIMEOUT_SECONDS": "2"}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tools.serve", "--port", str(free_port()),
             "--table-port", str(table_port), "--vault-port", str(vault_port),
             "--control-port", str(control_port), "--state", str(state)],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        ready = _wait_ready(proc, log_path)
        app_env = {
            "CONFIG_STORAGE_CONNECTION": Azurite(port=table_port).connection_string,
            "CONFIG_TABLE_NAME": "Config", "AZURE_KEY_VAULT_URL": f"https://127.0.0.1:{vault_port}",
            "AZURE_KEY_VAULT_CA_FILE": str(state / "kv" / CERT_FILE),
            "AZURE_FUNCTIONS_ENVIRONMENT": "Development", "ORGCONFIG_TRUST_DEV_PRINCIPAL": "true",
        }
        yield Stack(ready["base_url"], EmulatorControl(f"http://127.0.0.1:{control_port}"),
                    app_env)
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


FUNCTION_KEY = "page-test-function-key"


@pytest.fixture(scope="package")
def keyed_base_url(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same app over the same stores, served by a host that enforces function keys
    (as Azure does): the page's production auth path. The key is :data:`FUNCTION_KEY`."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("keyed") / "host.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tools.localhost", "--port", str(port),
             "--function-key", FUNCTION_KEY],
            cwd=REPO_ROOT, env={**os.environ, **stack.app_env, "PYTHONUNBUFFERED": "1"},
            stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while "Functions on" not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the keyed host did not start:\n{log_path.read_text()[-2000:]}")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/api"
    finally:
        _stop(proc)


def _wait_ready(proc: subprocess.Popen[bytes], log_path: Path) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        for line in log_path.read_text().splitlines():
            if line.startswith(READY_PREFIX):
                ready: dict[str, Any] = json.loads(line[len(READY_PREFIX):])
                return ready
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"make serve's stack did not start:\n{log_path.read_text()[-3000:]}")


# -- the API, for arranging what the page will show ----------------------------------------------
@dataclass
class AdminApi:
    """The HTTP API as another admin uses it (a client without a browser)."""

    base_url: str
    who: str = ADMIN

    def call(self, method: str, path: str, body: Any = None, *, query: dict[str, str] | None
             = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
        url = f"{self.base_url}/{path}" + (f"?{urlencode(query)}" if query else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method, headers={
            "X-MS-CLIENT-PRINCIPAL": self.who, **({"Content-Type": "application/json"}
                                                  if data is not None else {}),
            **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as exc:
            text = exc.read()
            return exc.code, json.loads(text) if text else None

    def register(self, org_id: str) -> None:
        """Register an org (the registry is on: make serve's seed registered its orgs)."""
        status, body = self.call("POST", "orgs", {"id": org_id})
        assert status in (201, 409), body

    def put(self, scope: str, key: str, value: Any, type_: str = "string", **more: Any) -> Any:
        path = f"orgs/{quote(scope)}/config/{quote(key)}"
        status, body = self.call("PUT", path, {"type": type_, "value": value, **more})
        if status == 404 and (body or {}).get("error") == "unknown_org":
            self.register(scope)  # a second org of the test's own
            status, body = self.call("PUT", path, {"type": type_, "value": value, **more})
        assert status == 200, body
        return body

    def secret(self, scope: str, name: str, value: str) -> Any:
        secret = {"scope": scope, "name": name, "value": value}
        status, body = self.call("POST", "secrets", secret)
        if status == 404 and (body or {}).get("error") == "unknown_org":
            self.register(scope)
            status, body = self.call("POST", "secrets", secret)
        assert status == 201, body
        return body


@pytest.fixture
def admin_api(stack: Stack) -> AdminApi:
    return AdminApi(stack.base_url, OTHER_ADMIN)


@pytest.fixture
def org(admin_api: AdminApi) -> str:
    """An org of this test's own, registered (``make serve``'s seed turns the registry on)."""
    org_id = f"t-{uuid.uuid4().hex[:8]}"
    admin_api.call("POST", "orgs", {"id": org_id, "display_name": f"Test {org_id}"})
    return org_id


@pytest.fixture
def unique() -> str:
    """A suffix for names this test creates (secrets, GLOBAL keys)."""
    return uuid.uuid4().hex[:6]


# -- the browser -----------------------------------------------------------------------------------
@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        found = shutil.which("chromium")
        hint = f" (found {found}: set ORGCONFIG_CHROMIUM)" if found else ""
        pytest.fail(f"Chromium is missing at {CHROMIUM}{hint}: run "
                    "`sudo apt-get update && sudo apt-get install -y chromium` "
                    "(make test does this itself when run as root)", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What a page did that no test wants: console errors, dialogs."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


def _open(browser: Browser, who: str | None, watch: Watch) -> tuple[BrowserContext, Page]:
    headers = {"X-MS-CLIENT-PRINCIPAL": who} if who else {}
    context = browser.new_context(extra_http_headers=headers,
                                  viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(8000)

    def on_console(message: ConsoleMessage) -> None:
        # a failed API call the page handles (401, 404, 409, 412, 503) is logged by
        # Chromium as a resource error; anything else is a defect (e.g. a CSP violation)
        if message.type == "error" and "Failed to load resource" not in message.text:
            watch.errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: watch.errors.append(f"uncaught: {exc}"))

    def on_dialog(dialog: Any) -> None:
        watch.dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return context, page


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A signed-in PlatformAdmin's tab (nothing loaded yet)."""
    watch = Watch()
    context, tab = _open(browser, ADMIN, watch)
    yield tab
    context.close()
    assert watch.dialogs == [], "the page opened a dialog"
    assert watch.errors == [], "the page logged errors"


@pytest.fixture
def plain_page(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A tab that sends no principal: ``make serve`` signs it in as its dev admin."""
    watch = Watch()
    context, tab = _open(browser, None, watch)
    yield tab
    context.close()
    assert watch.dialogs == [] and watch.errors == []


@pytest.fixture
def guest_page(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A tab of someone signed in without the PlatformAdmin role."""
    watch = Watch()
    context, tab = _open(browser, NOT_ADMIN, watch)
    yield tab
    context.close()
    assert watch.dialogs == [] and watch.errors == []


def screenshot(page: Page, name: str) -> Path:
    """Write a screenshot of the whole page to tests/browser/screenshots/{name}.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
