# azd postdeploy hook: once keyvault_events is deployed, create its Event Grid subscription
# (infra/app/events.bicep, parameter wireKeyVaultEvents) by provisioning once more.
$ErrorActionPreference = 'Stop'
if ($env:ORGCONFIG_WIRE_KEYVAULT_EVENTS -eq 'true') { exit 0 }
Write-Host "keyvault_events is deployed: subscribing it to the vault's secret events"
azd env set ORGCONFIG_WIRE_KEYVAULT_EVENTS true
azd provision --no-prompt
