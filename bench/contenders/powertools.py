"""Powertools-style: the real ``aws_lambda_powertools`` parameters ``BaseProvider``.

Two providers, one per backend, each implementing only ``_get`` / ``_get_multiple`` as
Powertools' own providers do; caching is the base class's, at its default ``max_age``
(``DEFAULT_MAX_AGE_SECS``, 300 s in Powertools 3):

- config: a Table provider modelled on Powertools' ``DynamoDBProvider``: ``get_multiple``
  of a partition (the org, then GLOBAL) returns all its entries, cached per partition;
- secrets: a Key Vault provider whose ``_get`` is ``SecretClient.get_secret``; the org's
  name is tried first and, on ``GetParameterError`` (a 404), GLOBAL's. Powertools caches
  only values it got, so the 404 is asked again on every read.

Powertools is synchronous, so each execution runs as a sync function in a thread pool of
``concurrency`` workers: how the Azure Functions Python worker runs a sync handler. The
providers and their sync SDK clients are shared by the process, like Powertools' helpers.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import sys
import time
import types
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from azure.data.tables import TableClient
from azure.keyvault.secrets import SecretClient

from bench.clients import BackendInfo, sync_secret_client, sync_table_client
from bench.harness import Sink
from bench.workload import GLOBAL, Workload


def _parameters_package() -> None:
    """Make ``aws_lambda_powertools.utilities.parameters`` importable without boto3.

    The package's ``__init__`` imports its AWS providers, which import boto3; the base
    class does not need it. Without boto3 installed, the package is registered without
    running that ``__init__``, so its real ``base``, ``constants`` and ``exceptions``
    modules load unchanged. With boto3 installed, the normal import is used.
    """
    name = "aws_lambda_powertools.utilities.parameters"
    if name in sys.modules or importlib.util.find_spec("boto3") is not None:
        return
    utilities = importlib.util.find_spec("aws_lambda_powertools.utilities")
    assert utilities is not None and utilities.submodule_search_locations is not None
    package = types.ModuleType(name)
    package.__path__ = [os.path.join(next(iter(utilities.submodule_search_locations)),
                                     "parameters")]
    sys.modules[name] = package


_parameters_package()
from aws_lambda_powertools.utilities.parameters.base import BaseProvider  # noqa: E402
from aws_lambda_powertools.utilities.parameters.constants import (  # noqa: E402
    DEFAULT_MAX_AGE_SECS,
)
from aws_lambda_powertools.utilities.parameters.exceptions import (  # noqa: E402
    GetParameterError,
)

MAX_AGE_S = int(DEFAULT_MAX_AGE_SECS)


class TableConfigProvider(BaseProvider):
    """Config entries from the table, like ``DynamoDBProvider`` (one partition per path)."""

    def __init__(self, client: TableClient) -> None:
        super().__init__()
        self.client = client

    def _get(self, name: str, **sdk_options: Any) -> dict[str, Any]:
        scope, _, key = name.partition("/")
        entity = self.client.get_entity(scope, key)
        return {"Value": entity["Value"], "Type": entity.get("Type", "string")}

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, Any]:
        rows = self.client.query_entities(
            "PartitionKey eq @pk", parameters={"pk": path}, select=["RowKey", "Value", "Type"]
        )
        return {e["RowKey"]: {"Value": e["Value"], "Type": e.get("Type", "string")} for e in rows}


class KeyVaultProvider(BaseProvider):
    """Secrets from Key Vault, like Powertools' ``SecretsProvider``."""

    def __init__(self, client: SecretClient) -> None:
        super().__init__()
        self.client = client

    def _get(self, name: str, **sdk_options: Any) -> str:
        value = self.client.get_secret(name).value
        if value is None:
            raise KeyError(name)
        return value

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, str]:
        raise NotImplementedError


class PowertoolsReader:
    def __init__(self, info: BackendInfo, workers: int) -> None:
        self.table = sync_table_client(info)
        self.vault = sync_secret_client(info)
        self.config = TableConfigProvider(self.table)
        self.secrets = KeyVaultProvider(self.vault)
        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="powertools")

    def read(self, org: str, key: str) -> Any:
        """What a Powertools user writes: providers at their default max_age."""
        entry: Any = self.config.get_multiple(org).get(key)
        if entry is None:
            entry = self.config.get_multiple(GLOBAL).get(key)
        if entry is None:
            raise KeyError(key)
        if entry["Type"] != "secret_ref":
            return entry["Value"]
        try:
            return self.secrets.get(f"{org}--{entry['Value']}")
        except GetParameterError:
            return self.secrets.get(f"{GLOBAL}--{entry['Value']}")

    def _execute_sync(self, org: str, keys: Sequence[str]) -> tuple[list[Any], list[Exception]]:
        results: list[Any] = []
        errors: list[Exception] = []
        for key in keys:
            started = time.perf_counter_ns()
            try:
                value = self.read(org, key)
            except Exception as exc:
                errors.append(exc)
                continue
            results.append((key, value, time.perf_counter_ns() - started))
        return results, errors

    async def execute(self, org: str, keys: Sequence[str], sink: Sink) -> None:
        loop = asyncio.get_running_loop()
        results, errors = await loop.run_in_executor(self.pool, self._execute_sync, org, keys)
        for key, value, elapsed in results:
            sink.record(org, key, value, elapsed)
        for exc in errors:
            sink.error(exc)

    async def aclose(self) -> None:
        self.pool.shutdown(wait=True)
        self.table.close()
        self.vault.close()


async def make_reader(info: BackendInfo, workload: Workload) -> PowertoolsReader:
    return PowertoolsReader(info, workload.spec.concurrency)
