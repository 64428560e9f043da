"""What the CLI tests hand the CLI: the settings as its environment, and a stdin that is
not a terminal (so a secret is read from it without a prompt)."""

from __future__ import annotations

import io

from shared.settings import Settings


class Pipe(io.StringIO):
    def isatty(self) -> bool:
        return False


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings``' table and vault as the environment variables the CLI reads."""
    return {
        "CONFIG_STORAGE_CONNECTION": settings.storage_connection or "",
        "CONFIG_TABLE_NAME": settings.table_name,
        "AZURE_KEY_VAULT_URL": settings.key_vault_url or "",
        "AZURE_KEY_VAULT_CA_FILE": settings.key_vault_ca_file or "",
    }
