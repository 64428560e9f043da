#!/bin/sh
# azd postdeploy hook: once keyvault_events is deployed, create its Event Grid subscription
# (infra/app/events.bicep, parameter wireKeyVaultEvents) by provisioning once more.
set -eu
if [ "${ORGCONFIG_WIRE_KEYVAULT_EVENTS:-false}" = "true" ]; then
  exit 0
fi
echo "keyvault_events is deployed: subscribing it to the vault's secret events"
azd env set ORGCONFIG_WIRE_KEYVAULT_EVENTS true
azd provision --no-prompt
