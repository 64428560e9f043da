"""Per-request cache: clients shared by the process, but the cache lives in the context.

On its first read a context queries the org's partition (parameterized), and GLOBAL's
when a key is not the org's; secrets it resolved are kept for the rest of the execution.
The next execution starts from nothing.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables.aio import TableClient
from azure.keyvault.secrets.aio import SecretClient

from bench.clients import BackendInfo, secret_client, table_client
from bench.workload import GLOBAL, Workload

_SELECT = ["RowKey", "Value", "Type"]


class PerRequestContext:
    def __init__(self, table: TableClient, vault: SecretClient, org: str) -> None:
        self.table, self.vault, self.org = table, vault, org
        self.partitions: dict[str, dict[str, tuple[str, str]]] = {}
        self.secrets: dict[str, str | None] = {}

    async def _partition(self, scope: str) -> dict[str, tuple[str, str]]:
        if scope not in self.partitions:
            rows = self.table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": scope}, select=_SELECT
            )
            self.partitions[scope] = {
                e["RowKey"]: (e["Value"], e.get("Type", "string")) async for e in rows
            }
        return self.partitions[scope]

    async def get(self, key: str) -> Any:
        entry = (await self._partition(self.org)).get(key)
        if entry is None:
            entry = (await self._partition(GLOBAL)).get(key)
        if entry is None:
            raise KeyError(key)
        value, kind = entry
        if kind != "secret_ref":
            return value
        if value not in self.secrets:
            try:
                secret = await self.vault.get_secret(f"{self.org}--{value}")
            except ResourceNotFoundError:
                secret = await self.vault.get_secret(f"{GLOBAL}--{value}")
            self.secrets[value] = secret.value
        return self.secrets[value]

    async def close(self) -> None:
        return None


class PerRequestReader:
    def __init__(self, info: BackendInfo) -> None:
        self.table = table_client(info)
        self.vault = secret_client(info)

    def context(self, org: str) -> PerRequestContext:
        return PerRequestContext(self.table, self.vault, org)

    async def aclose(self) -> None:
        await self.table.close()
        await self.vault.close()


async def make_reader(info: BackendInfo, workload: Workload) -> PerRequestReader:
    return PerRequestReader(info)
