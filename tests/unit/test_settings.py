"""Settings from the environment: defaults, parsing, and refusals with clear errors."""

from __future__ import annotations

import json

import pytest

from shared.errors import ConfigError
from shared.settings import APP_ROOT, Settings, is_loopback_url


def test_defaults_match_the_design() -> None:
    s = Settings.from_env({})
    assert (s.table_name, s.config_cache_ttl, s.secret_cache_ttl) == ("Config", 30, 3600)
    assert (s.secret_not_found_ttl, s.max_stale_seconds, s.backend_timeout) == (300, 86400, 5)
    assert s.coherence_check_seconds == 5 and s.secret_env_fallback is True
    assert s.environment == "Production" and not s.is_development
    assert s.key_vault_url is None and s.storage_connection is None


def test_expiry_settings_default_to_serve_and_thirty_days() -> None:
    s = Settings.from_env({})
    assert (s.expired_policy, s.expiry_warning_days) == ("serve", 30)
    s = Settings.from_env({"SECRET_EXPIRED_POLICY": "Refuse", "SECRET_EXPIRY_WARNING_DAYS": "7"})
    assert (s.expired_policy, s.expiry_warning_days) == ("refuse", 7)


def test_connection_defaults_to_azure_webjobs_storage() -> None:
    s = Settings.from_env({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert s.storage_connection == "UseDevelopmentStorage=true"
    s = Settings.from_env({"AzureWebJobsStorage": "a", "CONFIG_STORAGE_CONNECTION": "b"})
    assert s.storage_connection == "b"


def test_every_setting_is_read() -> None:
    s = Settings.from_env({
        "CONFIG_STORAGE_ENDPOINT": "https://acct.table.core.windows.net",
        "CONFIG_TABLE_NAME": "OrgConfig", "AZURE_KEY_VAULT_URL": "https://v.vault.azure.net",
        "CONFIG_CACHE_TTL_SECONDS": "7", "SECRET_CACHE_TTL_SECONDS": "60",
        "SECRET_NOT_FOUND_TTL_SECONDS": "9", "SECRET_ENV_FALLBACK": "false",
        "MAX_STALE_SECONDS": "11", "BACKEND_TIMEOUT_SECONDS": "2.5",
        "COHERENCE_CHECK_SECONDS": "1", "AZURE_FUNCTIONS_ENVIRONMENT": "Development",
    })
    assert s.storage_endpoint == "https://acct.table.core.windows.net"
    assert (s.table_name, s.key_vault_url) == ("OrgConfig", "https://v.vault.azure.net")
    assert (s.config_cache_ttl, s.secret_cache_ttl, s.secret_not_found_ttl) == (7, 60, 9)
    assert (s.secret_env_fallback, s.max_stale_seconds, s.backend_timeout) == (False, 11, 2.5)
    assert s.coherence_check_seconds == 1 and s.is_development


@pytest.mark.parametrize(
    ("name", "value"),
    [("CONFIG_CACHE_TTL_SECONDS", "soon"), ("SECRET_CACHE_TTL_SECONDS", "-1"),
     ("BACKEND_TIMEOUT_SECONDS", "0"), ("MAX_STALE_SECONDS", "nan"),
     ("SECRET_ENV_FALLBACK", "maybe"), ("CONFIG_TABLE_NAME", "Config;drop"),
     ("AZURE_KEY_VAULT_URL", "http://v.vault.azure.net"),
     ("SECRET_EXPIRY_WARNING_DAYS", "a month"), ("SECRET_EXPIRED_POLICY", "ignore")],
)
def test_bad_values_are_clear_errors(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})


def test_ca_file_is_refused_for_a_non_loopback_vault() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        Settings.from_env({
            "AZURE_KEY_VAULT_URL": "https://prod.vault.azure.net",
            "AZURE_KEY_VAULT_CA_FILE": "/tmp/evil.pem",
        })


@pytest.mark.parametrize(
    ("url", "loopback"),
    [("https://127.0.0.1:8443", True), ("https://localhost:8443", True),
     ("https://[::1]:8443", True), ("https://127.8.9.10", True),
     ("https://v.vault.azure.net", False), ("https://localhost.evil.com", False),
     ("https://10.0.0.1", False), ("https://127.0.0.1.nip.io", False)],
)
def test_loopback_detection(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_the_example_local_settings_name_every_setting() -> None:
    import json
    from pathlib import Path

    values = json.loads(Path("local.settings.json.example").read_text())["Values"]
    settings = Settings.from_env(dict(values, AZURE_KEY_VAULT_CA_FILE="/tmp/ca.pem"))
    assert settings.is_development and settings.key_vault_url == "https://127.0.0.1:8443"
    for name in ("CONFIG_STORAGE_CONNECTION", "CONFIG_STORAGE_ENDPOINT", "CONFIG_TABLE_NAME",
                 "AZURE_KEY_VAULT_URL", "AZURE_KEY_VAULT_CA_FILE", "CONFIG_CACHE_TTL_SECONDS",
                 "SECRET_CACHE_TTL_SECONDS", "SECRET_NOT_FOUND_TTL_SECONDS",
                 "SECRET_ENV_FALLBACK", "SECRET_NAME_INDEX", "MAX_STALE_SECONDS",
                 "BACKEND_TIMEOUT_SECONDS", "COHERENCE_CHECK_SECONDS",
                 "AZURE_FUNCTIONS_ENVIRONMENT", "BREAKER_FAILURE_THRESHOLD",
                 "BREAKER_COOLDOWN_SECONDS", "WEBSITE_AUTH_ENABLED",
                 "ORGCONFIG_TRUST_DEV_PRINCIPAL", "AZURE_KEY_VAULT_SHARDS",
                 "AZURE_KEY_VAULT_ORG_VAULTS", "SECRET_EXPIRY_WARNING_DAYS",
                 "SECRET_EXPIRED_POLICY"):
        assert name in values, name


def test_the_example_local_settings_open_no_cors() -> None:
    """With the dev-principal opt-in, `CORS: *` would let any web page the developer visits
    call the local API as PlatformAdmin and read the answers; the page is same-origin."""
    import json
    from pathlib import Path

    document = json.loads(Path("local.settings.json.example").read_text())
    assert "CORS" not in document.get("Host", {})


def test_the_dev_principal_opt_in_is_refused_in_azure_naming_the_setting() -> None:
    env = {"ORGCONFIG_TRUST_DEV_PRINCIPAL": "true", "WEBSITE_INSTANCE_ID": "a1b2c3",
           "AZURE_FUNCTIONS_ENVIRONMENT": "Development"}
    with pytest.raises(ConfigError, match="ORGCONFIG_TRUST_DEV_PRINCIPAL") as raised:
        Settings.from_env(env)
    assert "WEBSITE_INSTANCE_ID" in str(raised.value)


def test_the_dev_principal_opt_in_is_allowed_off_azure() -> None:
    assert Settings.from_env({"ORGCONFIG_TRUST_DEV_PRINCIPAL": "true"}).trust_dev_principal


@pytest.mark.parametrize("value", ["false", ""])
def test_azure_without_the_opt_in_starts(value: str) -> None:
    settings = Settings.from_env({"ORGCONFIG_TRUST_DEV_PRINCIPAL": value,
                                  "WEBSITE_INSTANCE_ID": "a1b2c3"})
    assert settings.running_in_azure and not settings.trust_dev_principal


def test_the_function_app_refuses_to_start_with_the_opt_in_in_azure() -> None:
    import os
    import subprocess
    import sys

    env = dict(os.environ, ORGCONFIG_TRUST_DEV_PRINCIPAL="true", WEBSITE_INSTANCE_ID="a1b2c3")
    started = subprocess.run([sys.executable, "-c", "import function_app"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    assert "ORGCONFIG_TRUST_DEV_PRINCIPAL" in started.stderr


# -- several vaults: AZURE_KEY_VAULT_SHARDS and AZURE_KEY_VAULT_ORG_VAULTS ------------------

MAIN = "https://main.vault.azure.net"
SHARDED = {
    "AZURE_KEY_VAULT_URL": MAIN,
    "AZURE_KEY_VAULT_SHARDS":
        '{"eu": "https://eu.vault.azure.net", "us": "https://us.vault.azure.net/"}',
    "AZURE_KEY_VAULT_ORG_VAULTS": '{"Acme": "eu", "contoso": "us", "fabrikam": "eu"}',
}


def test_no_shards_by_default() -> None:
    s = Settings.from_env({"AZURE_KEY_VAULT_URL": MAIN})
    assert dict(s.key_vault_shards) == {} and dict(s.key_vault_org_vaults) == {}
    assert s.vault_url_for("acme") == MAIN and s.vault_url_for("GLOBAL") == MAIN


def test_empty_shard_settings_mean_unset() -> None:
    s = Settings.from_env({"AZURE_KEY_VAULT_SHARDS": " ", "AZURE_KEY_VAULT_ORG_VAULTS": ""})
    assert dict(s.key_vault_shards) == {} and s.vault_url_for("acme") is None


def test_shards_and_org_vaults_are_read_with_org_ids_canonicalized() -> None:
    s = Settings.from_env(SHARDED)
    assert dict(s.key_vault_shards) == {
        "eu": "https://eu.vault.azure.net", "us": "https://us.vault.azure.net/",
    }
    assert dict(s.key_vault_org_vaults) == {"acme": "eu", "contoso": "us", "fabrikam": "eu"}


def test_a_mapped_org_reads_its_shard() -> None:
    s = Settings.from_env(SHARDED)
    assert s.vault_url_for("acme") == "https://eu.vault.azure.net"
    assert s.vault_url_for("ACME") == "https://eu.vault.azure.net"
    assert s.vault_url_for("contoso") == "https://us.vault.azure.net/"


def test_global_and_unmapped_orgs_read_the_default_vault() -> None:
    s = Settings.from_env(SHARDED)
    assert s.vault_url_for("GLOBAL") == MAIN
    assert s.vault_url_for("global") == MAIN
    assert s.vault_url_for("northwind") == MAIN


def test_the_maps_cannot_be_changed_after_validation() -> None:
    s = Settings.from_env(SHARDED)
    with pytest.raises(TypeError):
        s.key_vault_org_vaults["northwind"] = "eu"  # type: ignore[index]


def test_settings_built_directly_are_validated_too() -> None:
    s = Settings(
        key_vault_url=MAIN, key_vault_shards={"eu": "https://eu.vault.azure.net"},
        key_vault_org_vaults={"Acme": "eu"},
    )
    assert s.vault_url_for("acme") == "https://eu.vault.azure.net"
    with pytest.raises(ConfigError, match="AZURE_KEY_VAULT_ORG_VAULTS"):
        Settings(key_vault_url=MAIN, key_vault_org_vaults={"acme": "eu"})


def test_a_mapping_to_an_unlisted_vault_names_the_setting_and_the_vault() -> None:
    env = dict(SHARDED, AZURE_KEY_VAULT_ORG_VAULTS='{"acme": "apac"}')
    with pytest.raises(ConfigError, match=r"AZURE_KEY_VAULT_ORG_VAULTS.*'apac'.*listed: eu, us"):
        Settings.from_env(env)


def test_org_vaults_without_shards_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"AZURE_KEY_VAULT_ORG_VAULTS.*listed: none"):
        Settings.from_env({"AZURE_KEY_VAULT_URL": MAIN,
                           "AZURE_KEY_VAULT_ORG_VAULTS": '{"acme": "eu"}'})


@pytest.mark.parametrize("org", ["global", "GLOBAL", "not an org", "a--b", "-acme", ""])
def test_reserved_or_invalid_org_ids_are_refused(org: str) -> None:
    env = dict(SHARDED, AZURE_KEY_VAULT_ORG_VAULTS=json.dumps({org: "eu"}))
    with pytest.raises(ConfigError, match="AZURE_KEY_VAULT_ORG_VAULTS"):
        Settings.from_env(env)


def test_one_org_mapped_twice_to_different_vaults_is_refused() -> None:
    env = dict(SHARDED, AZURE_KEY_VAULT_ORG_VAULTS='{"acme": "eu", "ACME": "us"}')
    with pytest.raises(ConfigError, match="twice"):
        Settings.from_env(env)


def test_shards_need_a_default_vault() -> None:
    env = dict(SHARDED)
    del env["AZURE_KEY_VAULT_URL"]
    with pytest.raises(ConfigError, match="AZURE_KEY_VAULT_SHARDS needs AZURE_KEY_VAULT_URL"):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AZURE_KEY_VAULT_SHARDS", "eu=https://eu.vault.azure.net"),
        ("AZURE_KEY_VAULT_SHARDS", '["https://eu.vault.azure.net"]'),
        ("AZURE_KEY_VAULT_SHARDS", '{"eu": 5}'),
        ("AZURE_KEY_VAULT_SHARDS", '{"eu": "http://eu.vault.azure.net"}'),
        ("AZURE_KEY_VAULT_SHARDS", '{"eu": "eu.vault.azure.net"}'),
        ("AZURE_KEY_VAULT_SHARDS", '{"eu": "https://"}'),
        ("AZURE_KEY_VAULT_SHARDS", '{"e u": "https://eu.vault.azure.net"}'),
        ("AZURE_KEY_VAULT_SHARDS", '{"": "https://eu.vault.azure.net"}'),
        ("AZURE_KEY_VAULT_SHARDS", '{"eu": "https://MAIN.vault.azure.net/"}'),
        ("AZURE_KEY_VAULT_SHARDS",
         '{"eu": "https://eu.vault.azure.net", "eu2": "https://eu.vault.azure.net"}'),
        ("AZURE_KEY_VAULT_ORG_VAULTS", "acme"),
        ("AZURE_KEY_VAULT_ORG_VAULTS", '{"acme": ["eu"]}'),
    ],
)
def test_bad_shard_settings_are_clear_errors(name: str, value: str) -> None:
    env = {"AZURE_KEY_VAULT_URL": MAIN, "AZURE_KEY_VAULT_SHARDS": '{"eu": "https://eu.x.net"}',
           name: value}
    with pytest.raises(ConfigError, match=name):
        Settings.from_env(env)


def test_ca_file_needs_every_vault_on_loopback() -> None:
    local = {
        "AZURE_KEY_VAULT_URL": "https://127.0.0.1:8443",
        "AZURE_KEY_VAULT_CA_FILE": "/tmp/ca.pem",
        "AZURE_KEY_VAULT_SHARDS": '{"shard1": "https://127.0.0.1:8445"}',
        "AZURE_KEY_VAULT_ORG_VAULTS": '{"acme": "shard1"}',
    }
    assert Settings.from_env(local).vault_url_for("acme") == "https://127.0.0.1:8445"
    remote = dict(local, AZURE_KEY_VAULT_SHARDS='{"shard1": "https://eu.vault.azure.net"}')
    with pytest.raises(ConfigError, match=r"AZURE_KEY_VAULT_CA_FILE.*AZURE_KEY_VAULT_SHARDS"):
        Settings.from_env(remote)


def test_an_invalid_scope_is_a_name_error() -> None:
    from shared.errors import InvalidNameError

    with pytest.raises(InvalidNameError):
        Settings.from_env(SHARDED).vault_url_for("not an org")


def test_a_relative_ca_file_is_relative_to_the_app_folder() -> None:
    s = Settings.from_env({"AZURE_KEY_VAULT_URL": "https://127.0.0.1:8443",
                           "AZURE_KEY_VAULT_CA_FILE": ".local/kv/keyvault-emulator-cert.pem"})
    assert s.key_vault_ca_file == str(APP_ROOT / ".local" / "kv" / "keyvault-emulator-cert.pem")
    assert (APP_ROOT / "function_app.py").is_file()


def test_an_absolute_ca_file_is_kept() -> None:
    s = Settings.from_env({"AZURE_KEY_VAULT_URL": "https://127.0.0.1:8443",
                           "AZURE_KEY_VAULT_CA_FILE": "/etc/ssl/ca.pem"})
    assert s.key_vault_ca_file == "/etc/ssl/ca.pem"


def test_the_example_ca_path_is_where_make_dev_writes_the_certificate() -> None:
    from tools.devservices import LOCAL
    from tools.keyvault_emulator.certs import CERT_FILE

    values = json.loads((APP_ROOT / "local.settings.json.example").read_text())["Values"]
    assert Settings.from_env(values).key_vault_ca_file == str(LOCAL / "kv" / CERT_FILE)
