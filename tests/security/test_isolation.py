"""Tenant isolation, property-based: no choice of org ids, config keys and secret names
lets one org's context return, or even request from the vault or the environment,
another org's secret."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from shared.backends.secret_store import SecretStore
from shared.backends.vault_clients import LocalDevelopmentCredential, make_secret_client
from shared.core.metrics import Metrics
from shared.core.naming import (
    GLOBAL,
    SECRET_NAME_MAX,
    env_var_name,
    keyvault_name,
    split_keyvault_name,
)
from shared.core.values import ConfigEntry
from shared.errors import ConfigError, SecretNotFoundError
from shared.resolver import ConfigResolver
from shared.settings import Settings
from tools.keyvault_emulator.control import EmulatorControl
from tools.services import Azurite, KeyVaultEmulator

_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=6)
org_ids = st.lists(_label, min_size=1, max_size=4).map("-".join).filter(
    lambda o: len(o) <= 63 and o != "global")
_name_label = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
                      min_size=1, max_size=8)
secret_names = st.lists(_name_label, min_size=1, max_size=4).map("-".join).filter(
    lambda n: len(n) <= SECRET_NAME_MAX)
config_keys = st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-]{0,20}", fullmatch=True)
# anything at all, including hostile text: must be rejected or stay within its own scope
hostile = st.one_of(st.text(max_size=40), org_ids, st.sampled_from(
    ["GLOBAL", "global", "a--b", "a__b", "acme--x", "../acme", "acme' or '1'='1"]))


@given(a=org_ids, b=org_ids, n1=secret_names, n2=secret_names)
def test_scoped_names_of_two_orgs_never_coincide(a: str, b: str, n1: str, n2: str) -> None:
    assume(a != b)
    assert keyvault_name(a, n1).lower() != keyvault_name(b, n2).lower()
    assert env_var_name(a, n1) != env_var_name(b, n2)
    assert keyvault_name(a, n1).lower() != keyvault_name(GLOBAL, n2).lower()
    assert env_var_name(a, n1) != env_var_name(GLOBAL, n2)
    assert split_keyvault_name(keyvault_name(a, n1)) == (a, n1)


class RecordingEnviron(Mapping[str, str]):
    """The environment as the secret store sees it, recording every name it asks for."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values, self.asked = values, []

    def __getitem__(self, key: str) -> str:
        self.asked.append(key)
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.append(key)
        return self.values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the secret store must not enumerate the environment")

    def __len__(self) -> int:
        return len(self.values)


class RecordingVault:
    """Pure-logic stand-in for SecretClient.get_secret (unit level only)."""

    def __init__(self, secrets: dict[str, str]) -> None:
        self.secrets = {k.lower(): v for k, v in secrets.items()}
        self.asked: list[str] = []

    async def get_secret(self, name: str) -> Any:
        self.asked.append(name)
        if name.lower() not in self.secrets:
            raise ResourceNotFoundError("SecretNotFound")
        return type("Secret", (), {"value": self.secrets[name.lower()]})()

    def list_properties_of_secrets(self) -> Any:
        """Names only, as the real listing: the index may know every name, never a value."""

        async def names() -> Any:
            for name in self.secrets:
                yield type("Properties", (), {"name": name})()

        return names()

    async def close(self) -> None:
        return None


@settings(max_examples=300)
@given(victim=org_ids, attacker=hostile, name=secret_names, ref=hostile)
def test_an_org_never_requests_or_receives_another_orgs_secret(
    victim: str, attacker: str, name: str, ref: str
) -> None:
    victim_secret = f"VICTIM-{uuid.uuid4().hex}"
    vault = RecordingVault({keyvault_name(victim, name): victim_secret})
    environ = RecordingEnviron({env_var_name(victim, name): victim_secret})
    store = SecretStore(Settings(key_vault_url="https://v.vault.azure.net"), Metrics(),
                        lambda: vault, environ)  # type: ignore[arg-type,return-value]

    async def attempt() -> str | None:
        from shared.core.naming import canonical_org_id
        try:
            org = canonical_org_id(attacker)
        except ConfigError:
            return None  # rejected outright
        if org == victim:
            return None  # same org: not an attack
        for secret in {ref, name}:
            try:
                resolution = await store.resolve(org, "k", secret)
            except ConfigError:
                continue
            if resolution.value.get_secret_value() == victim_secret:
                return "leaked"
        return org

    async def attempt_and_close() -> str | None:
        try:
            return await attempt()
        finally:
            await store.aclose()

    org = asyncio.run(attempt_and_close())
    if org is None:
        return
    assert org != "leaked"
    for asked in vault.asked:
        scope = asked.split("--", 1)[0].lower()
        assert scope in (org, "global"), asked
    for asked in environ.asked:
        assert asked.startswith((env_var_name(org, "x")[:-1], "GLOBAL__")), asked


# -- the same property end to end: real Azurite, real emulator, real SDKs ----------------------
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(victim=org_ids, attacker=org_ids, name=secret_names, key=config_keys)
def test_end_to_end_an_org_context_cannot_reach_another_orgs_secret(
    azurite: Azurite, keyvault_service: KeyVaultEmulator, victim: str, attacker: str,
    name: str, key: str,
) -> None:
    assume(victim != attacker)
    control = EmulatorControl(keyvault_service.control_url)
    s = Settings(storage_connection=azurite.connection_string,
                 table_name=f"Iso{uuid.uuid4().hex[:12]}", key_vault_url=keyvault_service.url,
                 key_vault_ca_file=keyvault_service.ca_file, coherence_check_seconds=0,
                 secret_env_fallback=False)
    victim_secret = f"VICTIM-{uuid.uuid4().hex}"

    async def scenario() -> None:
        async with make_secret_client(s, LocalDevelopmentCredential()) as vault:
            await vault.set_secret(keyvault_name(victim, name), victim_secret)
        async with ConfigResolver(s) as resolver:
            # the attacker's own entry, and a GLOBAL one, both naming the victim's secret
            await resolver.config_store.upsert_many([
                ConfigEntry(attacker, key, name, "secret_ref"),
                ConfigEntry(victim, key, name, "secret_ref"),
            ])
            control.reset_counters()
            try:
                value = await resolver.context(attacker).get_config(key)
            except SecretNotFoundError:
                value = None
            assert value != victim_secret
            assert control.count("get_secret", keyvault_name(victim, name)) == 0
            assert await resolver.context(victim).get_config(key) == victim_secret

    asyncio.run(scenario())
    control.reset()
