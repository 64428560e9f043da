"""Fixtures of the integration tests beyond the session's (tests/conftest.py)."""

from __future__ import annotations

import pytest

from shared.settings import Settings
from tests.cli_io import settings_env


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    """The test's table and vault as the CLI's environment."""
    return settings_env(settings)
