"""Naive: what the seed code does. A Table client and a Key Vault client per context, and
per read a point read of the org entry, then of the GLOBAL entry; for a secret ref, the
org's vault name, then GLOBAL's. Nothing is cached."""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from bench.clients import BackendInfo, secret_client, table_client
from bench.workload import GLOBAL, Workload


class NaiveContext:
    def __init__(self, info: BackendInfo, org: str) -> None:
        self.org = org
        self.table = table_client(info)
        self.vault = secret_client(info)

    async def get(self, key: str) -> Any:
        try:
            entity = await self.table.get_entity(self.org, key)
        except ResourceNotFoundError:
            entity = await self.table.get_entity(GLOBAL, key)
        value = entity["Value"]
        if entity.get("Type") != "secret_ref":
            return value
        try:
            secret = await self.vault.get_secret(f"{self.org}--{value}")
        except ResourceNotFoundError:
            secret = await self.vault.get_secret(f"{GLOBAL}--{value}")
        return secret.value

    async def close(self) -> None:
        await self.table.close()
        await self.vault.close()


class NaiveReader:
    def __init__(self, info: BackendInfo) -> None:
        self.info = info

    def context(self, org: str) -> NaiveContext:
        return NaiveContext(self.info, org)

    async def aclose(self) -> None:
        return None


async def make_reader(info: BackendInfo, workload: Workload) -> NaiveReader:
    return NaiveReader(info)
