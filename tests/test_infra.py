"""The deployment template (infra/, Bicep) agrees with the app: the settings it sets are the
ones the app reads and the README documents, no secret travels in a parameter or an output,
and the roles, app roles and events it wires are the ones the code checks and handles.

checkov (``make checkov``) covers the security baseline; these tests cover the contract
between the template and this code base, which no generic scanner knows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

import app_telemetry
from shared.admin import events
from shared.api import auth
from shared.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
FUNCTION_BICEP = INFRA / "app" / "function.bicep"

#: Settings the template sets for the platform (host, identity, telemetry, sign-in), not for
#: orgconfig's own code; each is explained in the README's deploy section.
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "AZURE_CLIENT_ID",
    "OVERRIDE_USE_MI_FIC_ASSERTION_CLIENTID",
    "PYTHON_ENABLE_OPENTELEMETRY",
}
#: What Azure needs so the app reaches its table and vault by identity.
REQUIRED_IN_AZURE = {"CONFIG_STORAGE_ENDPOINT", "CONFIG_TABLE_NAME", "AZURE_KEY_VAULT_URL"}
#: Never in a deployed app: keys and connection strings (identity instead), local-only
#: switches, what the platform sets itself, and what Flex Consumption deprecates.
FORBIDDEN = {
    "CONFIG_STORAGE_CONNECTION", "AzureWebJobsStorage", "AZURE_KEY_VAULT_CA_FILE",
    "ORGCONFIG_TRUST_DEV_PRINCIPAL", "WEBSITE_AUTH_ENABLED",
    "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION", "FUNCTIONS_WORKER_RUNTIME_VERSION",
    "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTSHARE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "SCM_DO_BUILD_DURING_DEPLOYMENT", "ENABLE_ORYX_BUILD", "APPINSIGHTS_INSTRUMENTATIONKEY",
    "AzureWebJobsDashboard",
}
#: Built-in role definition ids the template assigns, and their names in the README.
ROLES = {
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
}


def bicep_files() -> Iterator[Path]:
    return INFRA.rglob("*.bicep")


def template_app_settings() -> list[str]:
    """Names in the Function App's siteConfig.appSettings, as written in function.bicep."""
    text = FUNCTION_BICEP.read_text()
    block = text[text.index("appSettings: ["):]
    block = block[: block.index("\n      ]")]
    return re.findall(r"\{ name: '([^']+)', value: ", block)


class RecordingEnv(dict[str, str]):
    """An empty environment that remembers every name it is asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return default

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return False


def settings_the_app_reads() -> set[str]:
    """What shared/settings.py and app_telemetry.py read (the platform's own aside)."""
    env = RecordingEnv()
    Settings.from_env(env)
    app_telemetry._choose(env)
    return env.asked - PLATFORM_SETTINGS


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start: end if end != -1 else None]


def readme_settings_table() -> set[str]:
    """The app's settings in the README's table (the emulator's, listed there too for the
    local stack, are not the app's)."""
    return {name for name in re.findall(r"^\| `([A-Za-z_0-9]+)` \|", readme_section("Settings"),
                                        re.M) if not name.startswith("KEYVAULT_EMULATOR_")}


def test_the_host_and_the_worker_speak_opentelemetry() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["telemetryMode"] == "OpenTelemetry"
    assert "PYTHON_ENABLE_OPENTELEMETRY" in template_app_settings()
    assert "value: 'true'" in next(line for line in FUNCTION_BICEP.read_text().splitlines()
                                   if "'PYTHON_ENABLE_OPENTELEMETRY'" in line)


def test_the_template_sets_only_settings_the_app_reads() -> None:
    names = template_app_settings()
    assert len(names) == len(set(names)), "a setting is set twice"
    assert set(names) - PLATFORM_SETTINGS <= settings_the_app_reads()


def test_the_template_sets_what_azure_needs() -> None:
    assert set(template_app_settings()) >= REQUIRED_IN_AZURE | PLATFORM_SETTINGS


def test_the_template_never_sets_keys_local_switches_or_deprecated_settings() -> None:
    assert not set(template_app_settings()) & FORBIDDEN


def test_the_readme_table_documents_exactly_the_settings_the_app_reads() -> None:
    read = settings_the_app_reads()
    documented = readme_settings_table()
    # AzureWebJobsStorage is read only as the documented default of CONFIG_STORAGE_CONNECTION.
    assert documented == read - {"AzureWebJobsStorage"}
    assert "`AzureWebJobsStorage`" in readme_section("Settings")


def test_the_readme_explains_every_platform_setting_and_role() -> None:
    deploy = readme_section("Deploy to Azure")
    for name in PLATFORM_SETTINGS:
        assert f"`{name}`" in deploy, name
    for role in ROLES.values():
        assert role in deploy, role


def test_every_role_assignment_is_a_known_least_privilege_role() -> None:
    guid = re.compile(r"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'")
    assigned = set()
    for path in bicep_files():
        assigned |= set(guid.findall(path.read_text()))
    assert assigned == set(ROLES)


def test_no_parameter_or_output_carries_a_secret() -> None:
    secretish = re.compile(r"secret|password|connection|(?<!vault)key\b|token", re.I)
    for path in bicep_files():
        text = path.read_text()
        assert "@secure()" not in text, f"{path.name}: a secure parameter means a secret travels"
        assert "listKeys" not in text and "AccountKey=" not in text, path.name
        for kind, name in re.findall(r"^(param|output) (\w+) (?:string|object)", text, re.M):
            assert not secretish.search(name), f"{path.name}: {kind} {name}"
        for line in re.findall(r"^output .*$", text, re.M):
            assert "ConnectionString" not in line, f"{path.name}: {line}"
    # The parameters file holds azd environment references only, never a literal value.
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    for name, spec in parameters.items():
        assert re.fullmatch(r"\$\{[A-Z_]+(=(true|false)?)?\}", spec["value"]), name


@pytest.mark.parametrize(
    ("file", "line"),
    [("storage-account.bicep", "allowSharedKeyAccess: false"),
     ("storage-account.bicep", "allowBlobPublicAccess: false"),
     ("keyvault-vault.bicep", "enableRbacAuthorization: true"),
     ("keyvault-vault.bicep", "enableSoftDelete: true"),
     ("keyvault-vault.bicep", "enablePurgeProtection: true"),
     ("monitoring.bicep", "DisableLocalAuth: true"),
     ("function.bicep", "runtime: { name: 'python', version: '3.11' }"),
     ("function.bicep", "type: 'UserAssignedIdentity'"),
     ("function.bicep", "requireAuthentication: true")],
)
def test_the_baseline_the_issue_asks_for_is_in_the_template(file: str, line: str) -> None:
    assert line in (INFRA / "app" / file).read_text()


def test_the_app_registration_defines_the_roles_the_app_checks() -> None:
    entra = (INFRA / "app" / "entra.bicep").read_text()
    assert f"value: '{auth.PLATFORM_ADMIN}'" in entra
    assert f"value: '{auth.ORG_ROLE_PREFIX}${{toLower(org)}}'" in entra
    assert "appRoleAssignmentRequired: true" in entra


def test_the_event_subscription_feeds_the_events_the_function_handles() -> None:
    bicep = (INFRA / "app" / "events.bicep").read_text()
    subscribed = set(re.findall(r"'(Microsoft\.KeyVault\.Secret\w+)'", bicep))
    assert subscribed == events.HANDLED | {events.NEAR_EXPIRY}
    assert "/functions/keyvault_events'" in bicep


def test_the_event_grid_webhook_is_reachable_past_app_service_authentication() -> None:
    # Event Grid authenticates with the function's system key, not with Entra ID sign-in.
    assert "'/runtime/webhooks/EventGrid'" in FUNCTION_BICEP.read_text()


def test_azd_finds_the_service_the_template_tags() -> None:
    azure_yaml = (ROOT / "azure.yaml").read_text()
    assert re.search(r"^  api:\n    project: \.\n    language: python\n    host: function$",
                     azure_yaml, re.M)
    assert "'azd-service-name': 'api'" in FUNCTION_BICEP.read_text()
