#!/bin/sh
# azd postdeploy hook: turn the secret catalog on now, not at the hourly timer. Runs the
# catalog_reconcile timer function once through the Functions admin API (the app's own
# identity lists the vault; the deployer needs no data-plane role). The master key is read
# with the Azure CLI, sent only to the app over HTTPS and never printed. Best effort: when it
# cannot run, the app's first instance builds the catalog on its first request anyway
# (shared/admin/catalog_bootstrap.py), so a failure here never fails the deployment.
set -u
app="${AZURE_FUNCTION_APP_NAME:-}"
group="${AZURE_RESOURCE_GROUP:-}"
uri="${SERVICE_API_URI:-}"
later="the app's first instance builds it on its first request"
if [ -z "$app" ] || [ -z "$group" ] || [ -z "$uri" ] || ! command -v az >/dev/null 2>&1 \
    || ! command -v curl >/dev/null 2>&1; then
  echo "secret catalog: not started now (needs the Azure CLI, curl and the azd outputs); $later"
  exit 0
fi
key=$(az functionapp keys list --resource-group "$group" --name "$app" \
  --query masterKey --output tsv 2>/dev/null) || key=""
if [ -z "$key" ]; then
  echo "secret catalog: not started now (could not read the app's master key); $later"
  exit 0
fi
status=$(curl --silent --output /dev/null --write-out '%{http_code}' --max-time 60 \
  --request POST --header "x-functions-key: $key" --header "Content-Type: application/json" \
  --data '{"input": ""}' "$uri/admin/functions/catalog_reconcile") || status="none"
if [ "$status" = "202" ]; then
  echo "secret catalog: catalog_reconcile started (the hourly timer's reconcile, once, now)"
else
  echo "secret catalog: catalog_reconcile did not start (HTTP $status); $later"
fi
exit 0
