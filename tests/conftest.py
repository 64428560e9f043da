"""Session fixtures: a real Azurite table service and the project's Key Vault emulator.

Both run as child processes on free loopback ports, with in-memory state, and are
stopped by PID when the session ends. A service that fails to start fails the
tests that need it with the reason, within seconds.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from azure.keyvault.secrets.aio import SecretClient

from shared.backends.vault_clients import LocalDevelopmentCredential, make_secret_client
from shared.core.values import ConfigEntry
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tests import telemetry_capture
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import Azurite, KeyVaultEmulator


def pytest_configure(config: pytest.Config) -> None:
    """Every OpenTelemetry signal of the session goes to memory (tests/telemetry_capture.py)."""
    telemetry_capture.install()


@pytest.fixture(autouse=True)
def _fresh_telemetry() -> Iterator[None]:
    """Each test sees only its own spans and log records (metrics are cumulative)."""
    telemetry_capture.clear()
    yield


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    service = Azurite().start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def keyvault_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeyVaultEmulator]:
    state: Path = tmp_path_factory.mktemp("kv-state")
    service = KeyVaultEmulator(state=state).start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def keyvault(keyvault_service: KeyVaultEmulator) -> Iterator[KeyVaultEmulator]:
    """The emulator with no secrets, zeroed counters and no faults for this test."""
    control = EmulatorControl(keyvault_service.control_url)
    control.reset()
    yield keyvault_service
    control.reset()


@pytest.fixture
def kv_control(keyvault: KeyVaultEmulator) -> EmulatorControl:
    return EmulatorControl(keyvault.control_url)


SHARD_VAULTS = ("default", "shard1", "shard2")


@pytest.fixture(scope="session")
def sharded_keyvault_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[KeyVaultEmulator]:
    """One emulator process serving several vaults (:data:`SHARD_VAULTS`), each on its port."""
    state: Path = tmp_path_factory.mktemp("kv-shards-state")
    service = KeyVaultEmulator(state=state, vaults=SHARD_VAULTS).start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def sharded_keyvault(sharded_keyvault_service: KeyVaultEmulator) -> Iterator[KeyVaultEmulator]:
    """The multi-vault emulator with every vault empty, counters zeroed, no faults."""
    control = sharded_keyvault_service.control()
    control.reset_all()
    yield sharded_keyvault_service
    control.reset_all()


# -- resolver fixtures over a fresh table per test ---------------------------------------
@pytest.fixture
def settings(azurite: Azurite, keyvault: KeyVaultEmulator) -> Settings:
    """Settings for one test: its own table, the emulator as vault, short timeouts."""
    return Settings(
        storage_connection=azurite.connection_string,
        table_name=f"Cfg{uuid.uuid4().hex[:12]}",
        key_vault_url=keyvault.url,
        key_vault_ca_file=keyvault.ca_file,
        backend_timeout=5,
    )


@pytest.fixture
async def resolver(settings: Settings) -> AsyncIterator[ConfigResolver]:
    async with ConfigResolver(settings) as r:
        yield r


@pytest.fixture
def make_resolver(settings: Settings) -> Iterable[Callable[..., ConfigResolver]]:
    """Build more resolvers over the same stores (``make_resolver(secret_cache_ttl=1)``);
    they are closed by the test through ``async with``."""

    def build(**overrides: object) -> ConfigResolver:
        return ConfigResolver(replace(settings, **overrides))  # type: ignore[arg-type]

    yield build


@pytest.fixture
async def vault(settings: Settings) -> AsyncIterator[SecretClient]:
    """A real aio SecretClient on the emulator, for seeding and rotating secrets."""
    client = make_secret_client(settings, LocalDevelopmentCredential())
    async with client:
        yield client


@pytest.fixture
def seed(resolver: ConfigResolver) -> Callable[..., object]:
    """``await seed(("acme", "smtp_host", "mail.acme.com"), ("GLOBAL", "k", "5", "int"))``"""

    async def write(*rows: tuple[str, ...]) -> None:
        entries = [ConfigEntry(*row) for row in rows]  # type: ignore[arg-type]
        await resolver.config_store.upsert_many(entries)

    return write


@pytest.fixture
def private_azurite(tmp_path: Path) -> Iterable[Azurite]:
    """An Azurite of this test's own, with data on disk so it survives the stop and restart
    of an outage test."""
    service = Azurite(location=tmp_path / "azurite").start()
    try:
        yield service
    finally:
        service.stop()
