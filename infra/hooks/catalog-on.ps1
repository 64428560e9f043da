# azd postdeploy hook: turn the secret catalog on now, not at the hourly timer. Runs the
$ErrorActionPreference = 'Continue'
# catalog_reconcile timer function once through the Functions admin API (the app's own
# identity lists the vault; the deployer needs no data-plane role). The master key is read
# with the Azure CLI, sent only to the app over HTTPS and never printed. Best effort: when it
# cannot run, the app's first instance builds the catalog on its first request anyway
# (shared/admin/catalog_bootstrap.py), so a failure here never fails the deployment.
$later = "the app's first instance builds it on its first request"
$app = $env:AZURE_FUNCTION_APP_NAME
$group = $env:AZURE_RESOURCE_GROUP
$uri = $env:SERVICE_API_URI
if (-not $app -or -not $group -or -not $uri -or -not (Get-Command az -ErrorAction SilentlyContinue)) {
  Write-Host "secret catalog: not started now (needs the Azure CLI and the azd outputs); $later"
  exit 0
}
$key = az functionapp keys list --resource-group $group --name $app --query masterKey --output tsv 2>$null
if ($LASTEXITCODE -ne 0 -or -not $key) {
  Write-Host "secret catalog: not started now (could not read the app's master key); $later"
  exit 0
}
try {
  $response = Invoke-WebRequest -Method Post -Uri "$uri/admin/functions/catalog_reconcile" `
    -Headers @{ 'x-functions-key' = $key } -ContentType 'application/json' `
    -Body '{"input": ""}' -MaximumRedirection 0 -TimeoutSec 60 -UseBasicParsing
  $status = [int]$response.StatusCode
} catch {
  $status = 'none'
}
if ($status -eq 202) {
  Write-Host "secret catalog: catalog_reconcile started (the hourly timer's reconcile, once, now)"
} else {
  Write-Host "secret catalog: catalog_reconcile did not start (HTTP $status); $later"
}
exit 0
