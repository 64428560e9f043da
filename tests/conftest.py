"""Session fixtures: a real Azurite table service and the project's Key Vault emulator.

Both run as child processes on free loopback ports, with in-memory state, and are
stopped by PID when the session ends. A service that fails to start fails the
tests that need it with the reason, within seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.keyvault_emulator.control import EmulatorControl
from tools.services import Azurite, KeyVaultEmulator


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
