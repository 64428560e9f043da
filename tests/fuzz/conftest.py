"""The app served over real HTTP for schemathesis: the local Functions host in a child
process (its log captured to a file), over Azurite and the Key Vault emulator seeded with
``examples/seed.json``, trusting ``X-MS-CLIENT-PRINCIPAL`` as App Service does when its
authentication is on.

How much to run comes from the environment (``make fuzz`` sets it; ``make test`` runs the
defaults, a short deterministic slice): ``FUZZ_EXAMPLES`` per operation in the fuzzing
phase, ``FUZZ_SCENARIOS`` stateful scenarios of up to ``FUZZ_STEPS`` calls, ``FUZZ_SEED``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr

from shared.admin.orgs import register_many
from shared.admin.secret_admin import SecretAdmin
from shared.api.openapi import document
from shared.cli.config import parse_import
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests.fuzz.ledger import CountingSession, Ledger
from tests.fuzz.stores import StoreState, read_state
from tools.demo import SEED
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import REPO_ROOT, Azurite, KeyVaultEmulator, free_port


@dataclass(frozen=True)
class Budget:
    """How much a run generates."""

    examples: int
    scenarios: int
    steps: int
    seed: int
    derandomize: bool

    @classmethod
    def from_env(cls) -> Budget:
        seed = os.environ.get("FUZZ_SEED")
        return cls(
            examples=int(os.environ.get("FUZZ_EXAMPLES", "8")),
            scenarios=int(os.environ.get("FUZZ_SCENARIOS", "12")),
            steps=int(os.environ.get("FUZZ_STEPS", "6")),
            seed=int(seed) if seed else 20261124,
            # The CI slice is the same requests every run; a long run explores.
            derandomize=os.environ.get("FUZZ_EXPLORE", "") != "1",
        )


@dataclass
class FuzzTarget:
    """The served app and what the run has done to it."""

    base_url: str
    log: Path
    settings: Settings
    ledger: Ledger
    session: CountingSession
    seeded_secrets: list[str]
    started: float
    #: the host's OpenTelemetry export (file exporter): traces/metrics/logs.jsonl
    telemetry: Path | None = None


def _app_environment(settings: Settings, telemetry: Path | None = None) -> dict[str, str]:
    assert settings.storage_connection and settings.key_vault_url and settings.key_vault_ca_file
    cleared = {"AzureWebJobsStorage", "CONFIG_STORAGE_ENDPOINT", "SECRET_ENV_FALLBACK",
               "ORGCONFIG_TRUST_DEV_PRINCIPAL", "CONFIG_CACHE_TTL_SECONDS",
               "SECRET_CACHE_TTL_SECONDS", "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"}
    env = {k: v for k, v in os.environ.items() if k not in cleared}
    env.update(
        CONFIG_STORAGE_CONNECTION=settings.storage_connection,
        CONFIG_TABLE_NAME=settings.table_name, AZURE_KEY_VAULT_URL=settings.key_vault_url,
        AZURE_KEY_VAULT_CA_FILE=settings.key_vault_ca_file,
        AZURE_FUNCTIONS_ENVIRONMENT="Production", WEBSITE_AUTH_ENABLED="true",
        BACKEND_TIMEOUT_SECONDS="10", PYTHONUNBUFFERED="1",
    )
    if telemetry is not None:  # every signal to files, exported within a second
        env.update(OTEL_TRACES_EXPORTER="file", OTEL_METRICS_EXPORTER="file",
                   OTEL_LOGS_EXPORTER="file", ORGCONFIG_TELEMETRY_DIR=str(telemetry),
                   OTEL_BSP_SCHEDULE_DELAY="200", OTEL_BLRP_SCHEDULE_DELAY="200",
                   OTEL_METRIC_EXPORT_INTERVAL="1000")
    return env


async def _seed(settings: Settings) -> list[str]:
    """examples/seed.json into the table and the vault; returns the secret values."""
    entries, secrets = parse_import(SEED)
    async with ConfigResolver(settings) as resolver:
        await resolver.config_store.ensure_table()
        await resolver.config_store.upsert_many(entries)
        admin = SecretAdmin(resolver)
        for scope, name, value in secrets:
            await admin.create(scope, name, SecretStr(value))
        # the registry on, as after `make serve`: the seed's orgs and the fuzzer's own
        # dictionary orgs are registered, any other org id answers 404 unknown_org
        await register_many(resolver, ["acme", "contoso", "fabrikam", "beta"], "fuzz")
    return [value for _, _, value in secrets]


def _wait_until_serving(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the host exited ({proc.returncode}): {log.read_text()[-2000:]}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"the host did not answer within 60 s: {log.read_text()[-2000:]}")


def _public_text(base_url: str, log: Path, initial: StoreState) -> str:
    """Text anyone can see, so a generated "secret" equal to a piece of it is no sign of a
    leak: the OpenAPI document, the seeded names, the app's source, and what the host
    logs for ordinary requests that reach the table and the vault (e.g. a value sent as
    "custom_dimensions" is in every log line)."""
    admin = {"X-MS-CLIENT-PRINCIPAL": _ADMIN}
    for path in ("health", "openapi.json", "orgs/acme/config", "secrets?scope=acme"):
        requests.get(f"{base_url}/{path}", headers=admin, timeout=30)
    sources = [p.read_text() for folder in ("shared", "workflows", "tools/localhost")
               for p in sorted((REPO_ROOT / folder).rglob("*.py"))]
    return "\n".join([json.dumps(document()), json.dumps(sorted(initial.table)), *sources,
                      log.read_text(errors="replace")])


_ADMIN = base64.b64encode(json.dumps(
    {"userDetails": "fuzz-setup", "userRoles": ["PlatformAdmin"]}).encode()).decode()


@pytest.fixture(scope="module")
def fuzz_target(
    azurite: Azurite, keyvault_service: KeyVaultEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FuzzTarget]:
    control = EmulatorControl(keyvault_service.control_url)
    control.reset()
    settings = Settings(
        storage_connection=azurite.connection_string, table_name=f"Fuzz{uuid.uuid4().hex[:12]}",
        key_vault_url=keyvault_service.url, key_vault_ca_file=keyvault_service.ca_file,
    )
    seeded = asyncio.run(_seed(settings))
    initial: StoreState = asyncio.run(read_state(settings))
    ledger = Ledger(table=dict(initial.table), active=dict(initial.active),
                    deleted=dict(initial.deleted))
    port = free_port()
    folder = tmp_path_factory.mktemp("fuzz")
    log, telemetry = folder / "host.log", folder / "telemetry"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.fuzz.host_process", "--port", str(port)],
            cwd=REPO_ROOT, env=_app_environment(settings, telemetry), stdout=out, stderr=out,
            start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}/api"
    session = CountingSession()
    try:
        _wait_until_serving(base_url, proc, log)
        ledger.public = _public_text(base_url, log, initial)
        ledger.secrets.update(seeded)
        yield FuzzTarget(base_url, log, settings, ledger, session, seeded, time.monotonic(),
                         telemetry)
    finally:
        session.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        control.reset()
